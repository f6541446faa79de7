"""Sparse matrices of sessions and prefixes shared by the non-neural baselines.

Item ids are 1..N; matrix column i is item id i + 1 (`tagnn_tf.item_ids`), so
a method's scores `[batch, N]` line up with the neural models' logits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from tagnn_tf import item_ids
from tagnn_tf.data.sessions import SessionExamples, session_sequences


@dataclasses.dataclass(frozen=True)
class Sequences:
    """Ragged item sequences: row j is `values[splits[j]:splits[j + 1]]` (ids, click order)."""

    values: np.ndarray
    splits: np.ndarray

    def __len__(self) -> int:
        return int(self.splits.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.splits)

    def rows(self) -> np.ndarray:
        """The row of every value."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def positions(self) -> np.ndarray:
        """1-based position of every value within its row."""
        return np.arange(self.values.size) - np.repeat(self.splits[:-1], self.lengths) + 1

    def last_items(self) -> np.ndarray:
        return self.values[self.splits[1:] - 1]

    @classmethod
    def of_prefixes(cls, examples: SessionExamples) -> "Sequences":
        return cls(examples.values, examples.row_splits)

    def concatenate(self, other: "Sequences") -> "Sequences":
        """This sequence's rows, then `other`'s."""
        return Sequences(np.concatenate([self.values, other.values]),
                         np.concatenate([self.splits, other.splits[1:] + self.splits[-1]]))

    @classmethod
    def of_sessions(cls, examples: SessionExamples) -> "Sequences":
        """The training sessions behind `examples` (`session_sequences`)."""
        return cls(*session_sequences(examples))


def last_occurrences(seqs: Sequences):
    """Each row's distinct items with their last 1-based position.

    Returns (rows, items, positions), sorted by row then position.
    """
    rows, positions = seqs.rows(), seqs.positions()
    key = rows.astype(np.int64) * (item_ids.MAX_ITEM_ID + 1) + seqs.values
    # The last occurrence is the first one in reversed order.
    _, first_reversed = np.unique(key[::-1], return_index=True)
    keep = np.sort(key.size - 1 - first_reversed)
    return rows[keep], seqs.values[keep], positions[keep]


def incidence(seqs: Sequences, num_items: int, weights=None) -> sp.csr_matrix:
    """CSR `[rows, N]`: entry (j, i) = weight of item id i + 1 in row j (default 1), duplicates once."""
    rows, items, positions = last_occurrences(seqs)
    data = np.ones(rows.size, np.float32) if weights is None else weights(rows, items, positions)
    return sp.csr_matrix((data.astype(np.float32), (rows, item_ids.id_to_column(items))),
                         shape=(len(seqs), num_items))


def click_counts(seqs: Sequences, num_items: int) -> np.ndarray:
    """float64 `[N]`: clicks on each item over all rows."""
    return np.bincount(item_ids.id_to_column(seqs.values), minlength=num_items).astype(np.float64)
