"""Generated blocks inside hand-written Markdown files (README tables written by the scripts that measure them)."""

from __future__ import annotations


def replace_block(path: str, name: str, body: str) -> None:
    """Replaces the text between `<!-- NAME:BEGIN -->` and `<!-- NAME:END -->` in `path`."""
    text = open(path).read()
    begin, end = f"<!-- {name}:BEGIN -->", f"<!-- {name}:END -->"
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} ... {end} block")
    text = text[:text.index(begin) + len(begin)] + "\n" + body + "\n" + text[text.index(end):]
    with open(path, "w") as f:
        f.write(text)
