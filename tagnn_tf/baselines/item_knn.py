"""Item-KNN: items similar to the session's last click (the paper's baseline; Sarwar et al. 2001).

Two items are similar when they occur in the same training sessions:
`sim(i, j) = c_ij / (sqrt(c_i c_j) + shrink)`, `c_ij` the sessions holding
both, `c_i` those holding i (cosine of the binary session vectors, shrunk
towards 0 for rare items). A session is scored by its last click's row.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tagnn_tf import item_ids
from tagnn_tf.baselines.session_matrices import Sequences, incidence
from tagnn_tf.errors import InputError


class ItemKNN:
    """Hyper-parameters: `shrink` >= 0."""

    def __init__(self, num_items: int, shrink: float = 20.0):
        if shrink < 0:
            raise InputError(f"`shrink` must be >= 0. Received: shrink={shrink}")
        self.num_items, self.shrink = num_items, shrink
        self.similarity = None

    def fit(self, sessions: Sequences) -> "ItemKNN":
        b = incidence(sessions, self.num_items)
        co = (b.T @ b).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        counts = np.asarray(b.sum(axis=0)).ravel()
        coo = co.tocoo()
        data = coo.data / (np.sqrt(counts[coo.row] * counts[coo.col]) + self.shrink)
        self.similarity = sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=co.shape)
        return self

    def score(self, prefixes: Sequences) -> np.ndarray:
        return self.similarity[item_ids.id_to_column(prefixes.last_items())].toarray()
