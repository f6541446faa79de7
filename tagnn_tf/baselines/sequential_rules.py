"""SR, sequential rules (Kamehkhosh et al. 2017; Ludewig & Jannach 2018).

A rule `a -> b` gains `w(d)` each time b follows a in a training session
`d <= steps` clicks later; a session is scored by the rules of its last
click. `w(d)`: `div` 1/d (the reference default), `linear` max(0, 1 - 0.1 (d - 1)),
`same` 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tagnn_tf import item_ids
from tagnn_tf.arguments import RULE_WEIGHTINGS, check_choice, check_positive
from tagnn_tf.baselines.session_matrices import Sequences


def rule_weight(distance: np.ndarray, weighting: str) -> np.ndarray:
    if weighting == "div":
        return 1.0 / distance
    if weighting == "linear":
        return np.maximum(0.0, 1.0 - 0.1 * (distance - 1))
    return np.ones_like(distance, dtype=np.float64)


class SequentialRules:
    """Hyper-parameters (`BaselineConfig`): `rule_steps` (largest distance) and `rule_weighting`."""

    def __init__(self, num_items: int, rule_steps: int = 10, rule_weighting: str = "div"):
        check_positive("rule_steps", rule_steps)
        check_choice("rule_weighting", rule_weighting, RULE_WEIGHTINGS)
        self.num_items, self.steps, self.weighting = num_items, rule_steps, rule_weighting
        self.rules = None

    def fit(self, sessions: Sequences) -> "SequentialRules":
        rows, cols, data = [], [], []
        session_of = sessions.rows()
        columns = item_ids.id_to_column(sessions.values)
        for d in range(1, self.steps + 1):  # one vectorised pass per distance
            same = session_of[:-d] == session_of[d:]
            if not same.any():
                break
            rows.append(columns[:-d][same])
            cols.append(columns[d:][same])
            data.append(np.full(int(same.sum()), rule_weight(np.float64(d), self.weighting)))
        n = self.num_items
        if not rows:
            self.rules = sp.csr_matrix((n, n), dtype=np.float32)
            return self
        self.rules = sp.csr_matrix((np.concatenate(data).astype(np.float32),
                                    (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        self.rules.sum_duplicates()
        return self

    def score(self, prefixes: Sequences) -> np.ndarray:
        return self.rules[item_ids.id_to_column(prefixes.last_items())].toarray()
