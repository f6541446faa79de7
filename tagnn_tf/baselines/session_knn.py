"""Session-based nearest neighbours: SKNN, V-SKNN, STAN and VSTAN, vectorised.

All four score an item by the similarity-weighted votes of the k training
sessions most similar to the current one; they differ in the weights:

* SKNN (Jannach & Ludewig 2017): binary cosine similarity
  `|s ∩ n| / sqrt(|s| |n|)`; an item gets the summed similarity of the
  neighbours holding it.
* V-SKNN (Ludewig & Jannach 2018): the current session's items are weighted
  by recency, `w(p) = 1 / (l - p + 1)` for the click at position p of l
  (session-rec's `div` weighting) in the similarity, and a scored item by
  its IDF to the power `idf_lambda` (0 = off).
* STAN (Garg et al., SIGIR 2019): `w1(p) = exp((p - l) / lambda1)` in the
  similarity; each neighbour's vote times `w2 = exp(-age / lambda2)` (age of
  the neighbour session, here its distance from the end of the training
  sessions, which are in date order, as a fraction of them: the SR-GNN files
  carry no timestamps); an item in neighbour n times
  `w3 = exp(-|p_n(i) - p_n(m)| / lambda3)`, m the most recent item of the
  current session that n also holds.
* VSTAN (Ludewig et al. 2021): STAN with V-SKNN's IDF weighting of the
  scored items (`idf_lambda`). Their VSTAN also has an option to score only
  items after the match, not implemented here.

Neighbours are picked as in session-rec: among the training sessions sharing
an item with the current one, the `sample_size` most recent (0 = all), then
the `neighbours` most similar (STAN: by similarity times `w2`).

Everything is array arithmetic on a batch of sessions: a sparse product for
the similarities `[batch, sessions]` (only sessions sharing an item), one
sort for the neighbours, and one `bincount` over the neighbours' (item, position) entries for the scores.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tagnn_tf import item_ids
from tagnn_tf.arguments import check_choice, check_positive
from tagnn_tf.baselines.session_matrices import Sequences, last_occurrences

SESSION_KNN_METHODS = ("sknn", "vsknn", "stan", "vstan")


class SessionKNN:
    """One of `SESSION_KNN_METHODS`.

    Args:
      num_items: catalogue size N.
      method: `sknn`, `vsknn`, `stan` or `vstan`.
      neighbours: k.
      sample_size: most recent candidate sessions considered (0 = all).
      position_lambda: STAN/VSTAN lambda1, in clicks.
      recency_lambda: STAN/VSTAN lambda2, as a fraction of the training
        sessions; 0 = off.
      match_lambda: STAN/VSTAN lambda3, in clicks; 0 = off.
      idf_lambda: V-SKNN/VSTAN exponent of the scored item's IDF; 0 = off.
    """

    def __init__(self, num_items: int, method: str = "sknn", neighbours: int = 100, sample_size: int = 1000,
                 position_lambda: float = 1.02, recency_lambda: float = 0.0, match_lambda: float = 2.05,
                 idf_lambda: float = 0.0):
        check_choice("method", method, SESSION_KNN_METHODS)
        check_positive("neighbours", neighbours)
        check_positive("sample_size", sample_size, allow_zero=True)
        check_positive("position_lambda", position_lambda)
        for name, value in (("recency_lambda", recency_lambda), ("match_lambda", match_lambda),
                            ("idf_lambda", idf_lambda)):
            check_positive(name, value, allow_zero=True)
        self.num_items, self.method = num_items, method
        self.neighbours, self.sample_size = neighbours, sample_size
        stan = method in ("stan", "vstan")
        self.position_lambda = position_lambda if stan else 0.0
        self.recency_lambda = recency_lambda if stan else 0.0
        self.match_lambda = match_lambda if stan else 0.0
        self.idf_lambda = idf_lambda if method in ("vsknn", "vstan") else 0.0

    def fit(self, sessions: Sequences) -> "SessionKNN":
        rows, items, positions = last_occurrences(sessions)
        n = len(sessions)
        columns = item_ids.id_to_column(items)
        self.incidence = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, columns)),
                                       shape=(n, self.num_items))
        self.incidence_t = self.incidence.T.tocsr()
        # Sessions holding an item, its IDF, the sessions' sizes (distinct items).
        holding = np.bincount(columns, minlength=self.num_items).astype(np.float64)
        idf = np.log(n / np.maximum(holding, 1.0))
        self.item_weight = (idf ** self.idf_lambda if self.idf_lambda else np.ones(self.num_items)).astype(np.float32)
        self.sizes = np.bincount(rows, minlength=n).astype(np.float32)
        age = (n - 1 - np.arange(n)) / max(n, 1)
        self.recency = (np.exp(-age / self.recency_lambda) if self.recency_lambda else np.ones(n)).astype(np.float32)
        # Entries (session, column, position) of the distinct items, grouped by session.
        self.entry_splits = np.concatenate([[0], np.cumsum(self.sizes.astype(np.int64))])
        self.entry_columns, self.entry_positions = columns.astype(np.int64), positions.astype(np.int32)
        return self

    def _current_weights(self, prefixes: Sequences):
        """CSR `[batch, N]` of the current sessions' item weights, sizes `[batch]`, and positions."""
        rows, items, positions = last_occurrences(prefixes)
        lengths = prefixes.lengths[rows]
        if self.method == "vsknn":
            w = 1.0 / (lengths - positions + 1)
        elif self.position_lambda:
            w = np.exp((positions - lengths) / self.position_lambda)
        else:
            w = np.ones(rows.size)
        shape = (len(prefixes), self.num_items)
        weights = sp.csr_matrix((w.astype(np.float32), (rows, item_ids.id_to_column(items))), shape=shape)
        sizes = np.bincount(rows, minlength=len(prefixes)).astype(np.float32)
        return weights, sizes, (rows, items, positions)

    def _neighbours(self, weights, sizes):
        """Rows, session indices and vote weights of each session's neighbours (flat, grouped by row).

        Works on the sparse similarities (only sessions sharing an item): the
        product's rows hold their sessions in increasing index, that is date,
        order, so the `sample_size` most recent are each row's last entries.
        """
        overlap = (weights @ self.incidence_t).tocsr()  # [batch, sessions], sparse
        overlap.sort_indices()
        counts = np.diff(overlap.indptr)
        rows = np.repeat(np.arange(overlap.shape[0]), counts)
        sessions = overlap.indices
        sim = overlap.data / np.sqrt(np.maximum(sizes[rows], 1.0) * np.maximum(self.sizes[sessions], 1.0))
        if self.sample_size:
            from_end = np.repeat(overlap.indptr[1:], counts) - np.arange(sessions.size)  # 1 = the row's last
            recent = from_end <= self.sample_size
            rows, sessions, sim = rows[recent], sessions[recent], sim[recent]
        vote = sim * self.recency[sessions]
        # The `neighbours` largest votes of each row: sort by (row, -vote), keep each row's first k.
        order = np.lexsort((-vote, rows))
        rows, sessions, vote = rows[order], sessions[order], vote[order]
        starts = np.searchsorted(rows, rows, side="left")
        keep = np.arange(rows.size) - starts < self.neighbours
        return rows[keep], sessions[keep], vote[keep]

    def score(self, prefixes: Sequences) -> np.ndarray:
        """float32 `[batch, N]`."""
        batch = len(prefixes)
        weights, sizes, current = self._current_weights(prefixes)
        pair_row, pair_session, pair_vote = self._neighbours(weights, sizes)
        if not self.match_lambda:
            votes_matrix = sp.csr_matrix((pair_vote.astype(np.float32), (pair_row, pair_session)),
                                         shape=(batch, self.incidence.shape[0]))
            return np.asarray((votes_matrix @ self.incidence).toarray() * self.item_weight, np.float32)
        return self._score_by_match(batch, pair_row, pair_session, pair_vote, current)

    def _score_by_match(self, batch, pair_row, pair_session, pair_vote, current) -> np.ndarray:
        """STAN's scores: every neighbour item's vote decays with its distance to the match."""
        rows, items, positions = current
        # Position (1-based, 0 = absent) of each item in each current session.
        where = np.zeros((batch, self.num_items), np.int32)
        where[rows, item_ids.id_to_column(items)] = positions
        counts = self.sizes.astype(np.int64)[pair_session]
        starts = self.entry_splits[pair_session]
        entry = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        entry_pair = np.repeat(np.arange(pair_session.size), counts)
        columns, positions_n = self.entry_columns[entry], self.entry_positions[entry]
        in_current = where[pair_row[entry_pair], columns]
        # The match: the neighbour's entry of the most recent current-session item it holds.
        best = np.full(pair_session.size, -1, np.int64)
        np.maximum.at(best, entry_pair, in_current.astype(np.int64) * (1 << 20) + positions_n)
        match_position = (best & ((1 << 20) - 1)).astype(np.float64)
        decay = np.exp(-np.abs(positions_n - match_position[entry_pair]) / self.match_lambda)
        contribution = pair_vote[entry_pair] * decay * self.item_weight[columns]
        flat = pair_row[entry_pair].astype(np.int64) * self.num_items + columns
        return np.bincount(flat, weights=contribution, minlength=batch * self.num_items).reshape(
            batch, self.num_items).astype(np.float32)
