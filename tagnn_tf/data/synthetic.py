"""Synthetic sessions with Zipf-like popularity and learnable transitions.

Each item has a few preferred successors; a session starts at a popular item
and mostly follows successor edges, sometimes jumping to a popular item. A
model that learns transitions beats the popularity baseline by a wide margin.
"""

from __future__ import annotations

import numpy as np

from tagnn_tf import item_ids
from tagnn_tf.data.sessions import SessionExamples, augment
from tagnn_tf.errors import InputError


def generate_sessions(num_items: int, num_sessions: int, seed: int, successors: int = 4,
                      follow_prob: float = 0.85, zipf_a: float = 1.1, mean_length: float = 5.0):
    """Returns a list of sessions (lists of item ids in 1..num_items, length >= 2)."""
    if num_items < successors + 1:
        raise InputError(f"`num_items` must be > successors={successors}. Received: num_items={num_items}")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, num_items + 1) ** zipf_a
    popularity /= popularity.sum()
    # Item ids are a random permutation of popularity ranks.
    ids = item_ids.column_to_id(rng.permutation(num_items))
    succ = rng.choice(num_items, size=(num_items, successors))  # uniform: transitions, not popularity, predict
    succ_p = rng.dirichlet(np.full(successors, 0.7), size=num_items)
    sessions = []
    for _ in range(num_sessions):
        length = 2 + rng.geometric(1.0 / (mean_length - 1.0)) - 1
        length = int(min(length, 40))
        cur = rng.choice(num_items, p=popularity)
        seq = [cur]
        for _ in range(length - 1):
            if rng.random() < follow_prob:
                cur = succ[cur, rng.choice(successors, p=succ_p[cur])]
            else:
                cur = rng.choice(num_items, p=popularity)
            seq.append(cur)
        sessions.append([int(ids[i]) for i in seq])
    return sessions


def synthetic_dataset(num_items: int, num_sessions: int, seed: int, test_share: float = 0.15):
    """(train_examples, test_examples, train_sessions) from generated sessions."""
    sessions = generate_sessions(num_items, num_sessions, seed)
    n_test = int(len(sessions) * test_share)
    train_sessions, test_sessions = sessions[n_test:], sessions[:n_test]
    return augment(train_sessions), augment(test_sessions), train_sessions


def popularity_baseline(train: SessionExamples, test: SessionExamples, k: int = 20) -> float:
    """HR@k (%) of always recommending the k most frequent training labels."""
    counts = np.bincount(train.labels)
    counts[item_ids.PADDING_ID] = -1  # padding is never recommended
    top = np.argsort(-counts, kind="stable")[:k]
    return 100.0 * float(np.isin(test.labels, top).mean())
