"""POP and S-POP (the paper's simplest baselines).

POP scores every session with the items' click counts in training. S-POP
scores an item by its clicks in the current session, ties broken by POP
(Ludewig & Jannach 2018; the NARM/STAMP papers' S-POP).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tagnn_tf.baselines.session_matrices import Sequences, click_counts
from tagnn_tf import item_ids


class Popularity:
    """POP. Hyper-parameters: none."""

    def __init__(self, num_items: int):
        self.num_items = num_items
        self.popularity = None

    def fit(self, sessions: Sequences) -> "Popularity":
        counts = click_counts(sessions, self.num_items)
        # In (0, 1): a tie-breaker S-POP adds to its session counts.
        self.popularity = (counts / (counts.max() + 1.0)).astype(np.float32)
        return self

    def score(self, prefixes: Sequences) -> np.ndarray:
        """float32 `[batch, N]`."""
        return np.broadcast_to(self.popularity, (len(prefixes), self.num_items)).copy()


class SessionPopularity(Popularity):
    """S-POP: clicks in the session + POP in (0, 1) as the tie-breaker."""

    def score(self, prefixes: Sequences) -> np.ndarray:
        in_session = sp.csr_matrix((np.ones(prefixes.values.size, np.float32),
                                    (prefixes.rows(), item_ids.id_to_column(prefixes.values))),
                                   shape=(len(prefixes), self.num_items))  # duplicates add up
        return in_session.toarray() + self.popularity
