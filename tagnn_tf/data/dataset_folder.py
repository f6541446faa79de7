"""Writing a dataset folder (`<output_dir>/<dataset>/`) without overwriting another dataset.

Every preprocessing path (`--format=clicks`, `diginetica`, `yoochoose`) writes
its files through `write_dataset_files`: a folder that already holds a dataset
whose files differ from the new ones is refused unless `overwrite` (a run
trained on the old data would otherwise be scored against the new one); the
same output again (a rerun) is accepted. Each file is written to a temporary
name and renamed, and with `overwrite` the old dataset's files the new one
does not write are removed, so no mix of the two datasets is left.
"""

from __future__ import annotations

import os
import pickle
from typing import Dict

from tagnn_tf.errors import InputError

# The files that make a folder a dataset (`tagnn_tf.data.sessions` reads them; items.txt: the vocabulary).
DATASET_FILES = ("all_train_seq.txt", "train.txt", "test.txt", "items.txt")


def pickled(obj) -> bytes:
    """A dataset file's bytes: a plain-data pickle (protocol 4, as the SR-GNN files)."""
    return pickle.dumps(obj, protocol=4)


def items_text(items) -> bytes:
    """`items.txt`'s bytes: line i is the raw id of item i."""
    return "".join(item + "\n" for item in items).encode("utf-8")


def check_output_dir(output_dir: str) -> None:
    """Refuses an `--output_dir` that exists and is not a folder."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InputError(f"--output_dir={output_dir} is a file, not a folder")


def _differing(folder: str, files: Dict[str, bytes]):
    """The first dataset file in `folder` that the new `files` would change or leave behind, or None."""
    for name in DATASET_FILES:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        if name not in files or os.path.getsize(path) != len(files[name]):
            return name
        with open(path, "rb") as f:
            if f.read() != files[name]:
                return name
    return None


def write_dataset_files(folder: str, files: Dict[str, bytes], overwrite: bool = False) -> None:
    """Writes `files` (name -> bytes) into `folder` (module docstring).

    Raises:
      InputError: `folder` is a file, or holds a dataset whose files differ
        and `overwrite` is False.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"{folder} is a file, not a dataset folder")
    differing = _differing(folder, files) if os.path.isdir(folder) else None
    if differing and not overwrite:
        raise InputError(f"{folder} already holds another dataset ({differing} differs from this output); pass "
                         "--overwrite to replace it (runs trained on it then no longer match its data), or write "
                         "to another --output_dir / --dataset")
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        final = os.path.join(folder, name)
        tmp = f"{final}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    for name in DATASET_FILES:
        if name not in files and os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
