"""Session examples in memory: loading the SR-GNN format, validation,
augmentation `(s[:i], s[i])` and the seeded validation split.

Examples are stored as a ragged array: `values` (all prefix items, int32),
`row_splits` (int64, len = num_examples + 1) and `labels` (int32).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np

from tagnn_tf import item_ids
from tagnn_tf.arguments import VALID_SPLITS, check_choice
from tagnn_tf.data import session_shards
from tagnn_tf.data.safe_pickle import load_restricted_pickle
from tagnn_tf.errors import DataFileError, InputError

ALL_TRAIN_SEQ = "all_train_seq.txt"
TRAIN = "train.txt"
TEST = "test.txt"


@dataclasses.dataclass(frozen=True)
class SessionExamples:
    """`(prefix, label)` examples; prefix i is `values[row_splits[i]:row_splits[i+1]]`."""

    values: np.ndarray
    row_splits: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_splits)

    @property
    def max_prefix_length(self) -> int:
        """The longest prefix (0 when there is none)."""
        return int(self.lengths.max()) if len(self) else 0

    def prefix(self, i: int) -> list:
        return self.values[self.row_splits[i]:self.row_splits[i + 1]].tolist()

    def max_item_id(self) -> int:
        hi = int(self.labels.max()) if len(self) else 0
        if self.values.size:
            hi = max(hi, int(self.values.max()))
        return hi

    def label_repeats(self) -> np.ndarray:
        """bool `[len(self)]`: whether each label is an item of its own prefix (a repeat)."""
        rows = np.repeat(np.arange(len(self)), self.lengths)
        hits = np.bincount(rows, weights=(self.values == self.labels[rows]), minlength=len(self))
        return hits > 0

    def take(self, indices: np.ndarray) -> "SessionExamples":
        """The examples at `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[indices]
        splits = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        starts = self.row_splits[indices]
        gather = np.repeat(starts - splits[:-1], lengths) + np.arange(splits[-1], dtype=np.int64)
        return SessionExamples(self.values[gather], splits, self.labels[indices])

    @classmethod
    def from_lists(cls, prefixes: Sequence[Sequence[int]], labels: Sequence[int]) -> "SessionExamples":
        """Examples from python lists of item ids.

        Raises:
          InputError: an id outside `[1, item_ids.MAX_ITEM_ID]` (they are int32
            in the model; a larger one would wrap silently).
        """
        lengths = np.fromiter((len(p) for p in prefixes), dtype=np.int64, count=len(prefixes))
        splits = np.zeros(len(prefixes) + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        values = _item_ids_int32((v for p in prefixes for v in p), int(splits[-1]), "prefix")
        return cls(values, splits, _item_ids_int32(labels, len(labels), "label"))


def _item_ids_int32(ids, count: int, what: str) -> np.ndarray:
    try:
        wide = np.fromiter(ids, dtype=np.int64, count=count)
    except (OverflowError, ValueError, TypeError) as e:
        raise InputError(f"a {what} item id is not an integer in [1, {item_ids.MAX_ITEM_ID}] ({e})") from None
    bad = np.flatnonzero((wide < item_ids.FIRST_ITEM_ID) | (wide > item_ids.MAX_ITEM_ID))
    if bad.size:
        raise InputError(f"{what} item id {int(wide[bad[0]])} is outside [1, {item_ids.MAX_ITEM_ID}]")
    return wide.astype(np.int32)


def _bad(source: str, what: str, index: int, record) -> DataFileError:
    text = repr(record)
    if len(text) > 200:
        text = text[:200] + "..."
    return DataFileError(f"{source}: {what} at record {index}: {text}")


def _is_id(v) -> bool:
    # bool is an int subclass; numpy ints are accepted too. Ids are int32 in the model.
    return (isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            and item_ids.FIRST_ITEM_ID <= v <= item_ids.MAX_ITEM_ID)


_ID_RULE = f"an integer in [1, {item_ids.MAX_ITEM_ID}]"


def validate_sessions(sessions, source: str, min_length: int = 1) -> None:
    """Checks a list of sessions (lists of item ids >= 1, non-empty).

    Raises:
      DataFileError naming `source` and the first bad record.
    """
    if not isinstance(sessions, (list, tuple)):
        raise DataFileError(f"{source}: expected a list of sessions, got {type(sessions).__name__}")
    for i, s in enumerate(sessions):
        if not isinstance(s, (list, tuple)):
            raise _bad(source, "session is not a list", i, s)
        if len(s) < min_length:
            raise _bad(source, f"session shorter than {min_length}", i, s)
        for v in s:
            if not _is_id(v):
                raise _bad(source, f"item id is not {_ID_RULE}", i, s)


def validate_examples(data, source: str) -> tuple:
    """Checks a `(prefixes, labels)` pair and returns it."""
    if not isinstance(data, (list, tuple)) or len(data) != 2:
        raise DataFileError(f"{source}: expected a (prefixes, labels) pair, got {type(data).__name__}"
                            + (f" of length {len(data)}" if isinstance(data, (list, tuple)) else ""))
    prefixes, labels = data
    if not isinstance(labels, (list, tuple)):
        raise DataFileError(f"{source}: labels must be a list, got {type(labels).__name__}")
    validate_sessions(prefixes, source)
    if len(prefixes) != len(labels):
        raise DataFileError(
            f"{source}: {len(prefixes)} prefixes but {len(labels)} labels (they must pair up)")
    for i, y in enumerate(labels):
        if not _is_id(y):
            raise _bad(source, f"label is not {_ID_RULE}", i, y)
    return prefixes, labels


def augment_lists(sessions: Sequence[Sequence[int]]):
    """Every prefix of every session as an example `(s[:i], s[i])`: `(prefixes, labels)` lists,
    the SR-GNN `train.txt` / `test.txt` format.

    Order follows the reference preprocessing (SR-GNN `process_seqs`): per
    session, the longest prefix first.
    """
    prefixes, labels = [], []
    for s in sessions:
        for i in range(1, len(s)):
            prefixes.append(list(s[:-i]))
            labels.append(s[-i])
    return prefixes, labels


def example_positions(row_splits: np.ndarray):
    """Which session and prefix length each example of `expand_sessions` has.

    Returns `(session, prefix_length)`, int64 `[num_examples]`: example e is
    `(s[:prefix_length[e]], s[prefix_length[e]])` of session `session[e]`
    (the row of `row_splits`), in the reference order (per session, the
    longest prefix first).
    """
    lengths = np.diff(row_splits)
    per_session = np.maximum(lengths - 1, 0)  # examples of each session
    session = np.repeat(np.arange(len(lengths), dtype=np.int64), per_session)
    # Example e of session s (0 = longest): prefix length lengths[s] - 1 - e.
    e = np.arange(int(per_session.sum()), dtype=np.int64) - np.repeat(np.cumsum(per_session) - per_session,
                                                                       per_session)
    return session, lengths[session] - 1 - e


def expand_sessions(values: np.ndarray, row_splits: np.ndarray, keep: Optional[np.ndarray] = None
                    ) -> SessionExamples:
    """Every prefix of every session as an example, vectorised: `augment` on arrays.

    Args:
      values, row_splits: session j is `values[row_splits[j]:row_splits[j + 1]]`.
      keep: optional bool `[num_examples]` over `example_positions`' order;
        only those examples are built (a validation split), so the prefixes
        of the others are never materialised.
    """
    session, prefix_lengths = example_positions(row_splits)
    if keep is not None:
        session, prefix_lengths = session[keep], prefix_lengths[keep]
    labels = values[row_splits[:-1][session] + prefix_lengths]
    splits = np.zeros(len(labels) + 1, np.int64)
    np.cumsum(prefix_lengths, out=splits[1:])
    offsets = np.arange(int(splits[-1]), dtype=np.int64) - np.repeat(splits[:-1], prefix_lengths)
    prefix_values = values[np.repeat(row_splits[:-1][session], prefix_lengths) + offsets]
    return SessionExamples(prefix_values.astype(np.int32), splits, labels.astype(np.int32))


def augment(sessions: Sequence[Sequence[int]]) -> SessionExamples:
    """`augment_lists` as `SessionExamples`."""
    return SessionExamples.from_lists(*augment_lists(sessions))


def example_sessions(examples: SessionExamples) -> np.ndarray:
    """int64 `[num_examples]`: the index of the session each example was cut from.

    Examples are in the reference order (`augment_lists`: per session, the
    longest prefix first), so example i continues example i-1's session
    when its prefix is the start of that prefix and its label the click that
    follows there. That also holds when some of a session's examples were
    taken out (a validation split) in between. Sessions are numbered in
    order of appearance (the reference preprocessing keeps training sessions
    in date order).
    """
    n = len(examples)
    if n == 0:
        return np.zeros([0], np.int64)
    lengths, starts, values = examples.lengths, examples.row_splits, examples.values
    # Candidates: shorter, and labelled with the click after that length in the previous prefix.
    rows = np.flatnonzero((lengths[1:] < lengths[:-1]) & (lengths[1:] > 0)) + 1
    rows = rows[examples.labels[rows] == values[starts[rows - 1] + lengths[rows]]]
    cont = np.zeros(n, bool)
    if rows.size:
        lens = lengths[rows]
        offsets = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        mine = values[np.repeat(starts[rows], lens) + offsets]
        previous = values[np.repeat(starts[rows - 1], lens) + offsets]
        differs = np.bincount(np.repeat(np.arange(rows.size), lens), weights=mine != previous,
                              minlength=rows.size)
        cont[rows[differs == 0]] = True
    return np.cumsum(~cont) - 1


def session_sequences(examples: SessionExamples):
    """The sessions the examples were cut from, as far as they show them.

    Returns `(values, row_splits)`: session j is `values[row_splits[j]:
    row_splits[j + 1]]`, the longest example of the session's prefix plus its
    label (the whole session when that example is present), in order of
    appearance (`example_sessions`).
    """
    sessions = example_sessions(examples)
    first = np.flatnonzero(np.diff(sessions, prepend=-1))
    heads = examples.take(first)
    lengths = heads.lengths + 1
    splits = np.zeros(len(first) + 1, np.int64)
    np.cumsum(lengths, out=splits[1:])
    values = np.empty(int(splits[-1]), np.int32)
    is_label = np.zeros(values.size, bool)
    is_label[splits[1:] - 1] = True
    values[~is_label] = heads.values
    values[is_label] = heads.labels
    return values, splits


def split_validation(examples: SessionExamples, portion: float, seed: int, how: str = "examples"):
    """Returns (train, valid) with about `portion` of the examples in valid.

    how:
      examples: a seeded random `portion` of the examples (SR-GNN's split; a
        validation example's session usually has longer prefixes, which
        contain its label, in training);
      sessions: whole sessions, drawn at random (seeded), until `portion` of
        the examples are held out;
      time: the most recent sessions (the last in file order) holding
        `portion` of the examples, as the test split is the last days.
    """
    if not 0.0 < portion < 1.0:
        raise InputError(f"`portion` must be in (0, 1). Received: portion={portion!r}")
    check_choice("valid_split", how, VALID_SPLITS)
    n_valid = int(round(len(examples) * portion))
    if how == "examples":
        order = np.random.default_rng(seed).permutation(len(examples))
        return examples.take(np.sort(order[n_valid:])), examples.take(np.sort(order[:n_valid]))
    sessions = example_sessions(examples)
    num_sessions = int(sessions[-1]) + 1 if sessions.size else 0
    if num_sessions < 2:
        raise InputError(f"valid_split={how!r} needs at least 2 sessions; the data holds {num_sessions}")
    order = (np.random.default_rng(seed).permutation(num_sessions) if how == "sessions"
             else np.arange(num_sessions)[::-1])
    sizes = np.bincount(sessions, minlength=num_sessions)[order]
    # Held out: the first sessions of `order` whose examples reach n_valid (at least one, never all).
    taken = int(np.clip(np.searchsorted(np.cumsum(sizes), max(n_valid, 1)) + 1, 1, num_sessions - 1))
    held = np.zeros(num_sessions, bool)
    held[order[:taken]] = True
    in_valid = held[sessions]
    return examples.take(np.flatnonzero(~in_valid)), examples.take(np.flatnonzero(in_valid))


def load_train_examples(dataset_dir: str) -> SessionExamples:
    """Training examples: the session shards' training sessions (augmented) when the folder has
    `shards.json`, else `all_train_seq.txt` (augmented), else `train.txt`.

    When both pickles exist, `train.txt` must equal the augmentation of the sessions.
    """
    seq_path = os.path.join(dataset_dir, ALL_TRAIN_SEQ)
    train_path = os.path.join(dataset_dir, TRAIN)
    if not os.path.isdir(dataset_dir):
        raise DataFileError(f"{dataset_dir}: data directory not found")
    manifest = session_shards.read_manifest(dataset_dir)
    if manifest is not None:
        return expand_sessions(*session_shards.read_part(manifest, "train"))
    if os.path.isfile(seq_path):
        sessions = load_restricted_pickle(seq_path)
        validate_sessions(sessions, seq_path, min_length=2)
        examples = augment(sessions)
        if os.path.isfile(train_path):
            given = SessionExamples.from_lists(*validate_examples(load_restricted_pickle(train_path), train_path))
            if not (np.array_equal(given.labels, examples.labels)
                    and np.array_equal(given.row_splits, examples.row_splits)
                    and np.array_equal(given.values, examples.values)):
                raise DataFileError(
                    f"{train_path}: does not equal the augmentation of {seq_path} "
                    f"({len(given)} vs {len(examples)} examples)")
        return examples
    if os.path.isfile(train_path):
        return SessionExamples.from_lists(*validate_examples(load_restricted_pickle(train_path), train_path))
    raise DataFileError(f"{dataset_dir}: neither {ALL_TRAIN_SEQ} nor {TRAIN} found")


def load_test_examples(dataset_dir: str) -> SessionExamples:
    """Test examples: the session shards' test sessions (augmented), else `test.txt`."""
    manifest = session_shards.read_manifest(dataset_dir)
    if manifest is not None:
        return expand_sessions(*session_shards.read_part(manifest, "test"))
    path = os.path.join(dataset_dir, TEST)
    return SessionExamples.from_lists(*validate_examples(load_restricted_pickle(path), path))


def check_catalogue(num_items: int, *parts: Optional[SessionExamples]) -> int:
    """Returns the catalogue size: `num_items` if > 0, else the largest id.

    Raises:
      InputError: `num_items` is smaller than an id present in the data.
    """
    hi = max(p.max_item_id() for p in parts if p is not None)
    if num_items and num_items < hi:
        raise InputError(
            f"Catalogue size num_items={num_items} is smaller than the largest item id {hi} in the data")
    return num_items or hi
