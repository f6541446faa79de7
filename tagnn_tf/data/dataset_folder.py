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
from typing import Dict, Optional, Sequence

from tagnn_tf.arguments import DATASET_OUTPUTS, check_choice
from tagnn_tf.data import session_shards
from tagnn_tf.errors import InputError

# The files that make a folder a dataset (`tagnn_tf.data.sessions` reads them; items.txt: the vocabulary;
# shards.json: the manifest of the session shards, `tagnn_tf.data.session_shards`).
DATASET_FILES = ("all_train_seq.txt", "train.txt", "test.txt", "items.txt", session_shards.MANIFEST)


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
        session_shards.remove_unlisted_shards(folder)  # new shards staged for this output
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
    session_shards.remove_unlisted_shards(folder)


def session_files(folder: str, train_sessions: Sequence[Sequence[int]], test_sessions: Sequence[Sequence[int]],
                  output_format: str, shard_sessions: int = session_shards.DEFAULT_SHARD_SESSIONS,
                  num_items: int = 0, train_examples: Optional[tuple] = None,
                  times: Optional[tuple] = None) -> Dict[str, bytes]:
    """The files of a dataset of `train_sessions` / `test_sessions` (lists of item numbers) for
    `write_dataset_files`.

    `output_format`: `shards` stages the session shards in `folder` and
    returns their manifest (`session_shards`); `pickles` returns the SR-GNN
    files (`all_train_seq.txt`, `test.txt` as augmented examples, and
    `train.txt` when `train_examples` is given). `times`: the sessions'
    `(train, test)` times in seconds for the shards (None: unknown).
    """
    check_choice("output_format", output_format, DATASET_OUTPUTS)
    from tagnn_tf.data.sessions import augment_lists

    if output_format == "pickles":
        files = {"all_train_seq.txt": pickled(train_sessions), "test.txt": pickled(augment_lists(test_sessions))}
        if train_examples is not None:
            files["train.txt"] = pickled(train_examples)
        return files
    parts = {"train": session_shards.sessions_to_arrays(train_sessions),
             "test": session_shards.sessions_to_arrays(test_sessions)}
    num_items = num_items or max([int(v.max()) for v, _ in parts.values() if v.size] or [0])
    times = dict(zip(session_shards.PARTS, times)) if times is not None else None
    return {session_shards.MANIFEST: session_shards.stage_sessions(folder, parts, num_items, shard_sessions, times)}


def convert_srgnn_folder(source: str, folder: str, shard_sessions: int = session_shards.DEFAULT_SHARD_SESSIONS,
                         overwrite: bool = False) -> dict:
    """Writes the session shards of the SR-GNN dataset in `source` into `folder` (`--format=srgnn`).

    Training sessions come from `all_train_seq.txt` (else they are recovered
    from `train.txt`), test sessions from `test.txt`'s examples
    (`sessions.session_sequences`); `items.txt` is copied when present.
    Returns counts for the log.

    Raises:
      DataFileError: missing or invalid files, or a `test.txt` whose examples
        are not every prefix of whole sessions (its sessions cannot be recovered).
    """
    import numpy as np

    from tagnn_tf.data.safe_pickle import load_restricted_pickle
    from tagnn_tf.data.sessions import (ALL_TRAIN_SEQ, TEST, expand_sessions, load_test_examples,
                                        load_train_examples, session_sequences, validate_sessions)
    from tagnn_tf.errors import DataFileError

    if not os.path.isdir(source):
        raise DataFileError(f"{source}: data directory not found")
    if os.path.abspath(source) == os.path.abspath(folder):
        raise InputError(f"--output_dir/--dataset names the source folder {source}; write the shards elsewhere")
    seq_path = os.path.join(source, ALL_TRAIN_SEQ)
    if os.path.isfile(seq_path):
        sessions = load_restricted_pickle(seq_path)
        validate_sessions(sessions, seq_path, min_length=2)
        train = session_shards.sessions_to_arrays(sessions)
    else:
        train = session_sequences(load_train_examples(source))
    test_examples = load_test_examples(source)
    test = session_sequences(test_examples)
    again = expand_sessions(*test)
    if not (np.array_equal(again.labels, test_examples.labels) and np.array_equal(again.values, test_examples.values)):
        raise DataFileError(f"{os.path.join(source, TEST)}: its examples are not every prefix of whole sessions "
                            "(longest first, as SR-GNN writes them), so its sessions cannot be recovered")
    files = {}
    items_path = os.path.join(source, "items.txt")
    if os.path.isfile(items_path):
        with open(items_path, "rb") as f:
            files["items.txt"] = f.read()
    num_items = max(int(train[0].max()), int(test[0].max()) if test[0].size else 0)
    if "items.txt" in files:
        num_items = max(num_items, files["items.txt"].count(b"\n"))
    files[session_shards.MANIFEST] = session_shards.stage_sessions(folder, {"train": train, "test": test}, num_items,
                                                                   shard_sessions)
    write_dataset_files(folder, files, overwrite)
    return {"train_sessions": len(train[1]) - 1, "test_sessions": len(test[1]) - 1, "num_items": num_items}
