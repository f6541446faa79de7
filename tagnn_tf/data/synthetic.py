"""Synthetic sessions with Zipf-like popularity and learnable transitions.

Each item has a few preferred successors; a session starts at a popular item
and mostly follows successor edges, sometimes jumping to a popular item. A
model that learns transitions beats the popularity baseline by a wide margin.

With `repeat_share` > 0 some clicks go back to an item already in the
session, as shoppers return to a product they looked at: each session has its
own repeat propensity (a Beta draw whose mean is calibrated so that about
`repeat_share` of all next clicks repeat a session item), and a repeat picks
an earlier click, the more recent the likelier (weight `REPEAT_RECENCY ** age`,
age 0 = the last click); the walk then goes on from that item.
Generation is vectorised over sessions (one NumPy step per click position),
so a catalogue of millions of items and sessions is built in seconds
(`benchmarks.large_catalogue`).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from tagnn_tf import item_ids
from tagnn_tf.data import session_shards
from tagnn_tf.data.dataset_folder import write_dataset_files
from tagnn_tf.data.session_shards import DEFAULT_SHARD_SESSIONS
from tagnn_tf.data.sessions import SessionExamples, expand_sessions
from tagnn_tf.errors import InputError

MAX_SESSION_LENGTH = 40
# Share of the generated sessions (the first ones) that are the test sessions.
TEST_SHARE = 0.15
# Weight of a repeat of the click `age` clicks back (`repeat_share` > 0).
REPEAT_RECENCY = 0.6
# Concentration of the per-session repeat propensity's Beta distribution.
REPEAT_CONCENTRATION = 2.0
# Probability that the walk follows a successor edge (else it jumps to a popular item).
FOLLOW_PROB = 0.85


@dataclasses.dataclass(frozen=True)
class SyntheticCatalogue:
    """The generator's hidden parameters, what a Bayes-optimal scorer knows (all indexed by popularity rank).

    Attributes:
      ids: int32 `[num_items]` the item id of each rank.
      popularity: float64 `[num_items]` the probability of each rank on a jump (Zipf-like).
      successors: int64 `[num_items, k]` each rank's preferred successors (ranks).
      successor_cdf: float32 `[num_items, k]` cumulative probabilities of picking each of them.
    """

    ids: np.ndarray
    popularity: np.ndarray
    successors: np.ndarray
    successor_cdf: np.ndarray

    def transition_rows(self, ranks, follow_prob: float = FOLLOW_PROB) -> np.ndarray:
        """float64 `[len(ranks), num_items]`: the walk's next-rank distribution from each of `ranks`
        (repeats aside); `transition_rows(np.arange(num_items))` is the whole transition matrix.

        A successor with probability `follow_prob` (the successor draw's last pick also takes the
        cumulative probabilities' rounding, as the generator's clipped count does), a jump otherwise.
        """
        ranks = np.asarray(ranks, np.int64)
        k = self.successors.shape[1]
        cdf = self.successor_cdf[ranks].astype(np.float64)
        weights = np.diff(np.concatenate([np.zeros((len(ranks), 1)), cdf[:, :-1], np.ones((len(ranks), 1))], axis=1),
                          axis=1)
        rows = np.tile((1.0 - follow_prob) * self.popularity, (len(ranks), 1))
        for j in range(k):
            np.add.at(rows, (np.arange(len(ranks)), self.successors[ranks, j]), follow_prob * weights[:, j])
        return rows


def _draw_catalogue(rng: np.random.Generator, num_items: int, successors: int, zipf_a: float) -> SyntheticCatalogue:
    popularity = 1.0 / np.arange(1, num_items + 1) ** zipf_a
    # Item ids are a random permutation of popularity ranks.
    ids = item_ids.column_to_id(rng.permutation(num_items)).astype(np.int32)
    succ = rng.integers(0, num_items, size=(num_items, successors), dtype=np.int64)  # transitions, not popularity
    succ_cdf = np.cumsum(rng.dirichlet(np.full(successors, 0.7), size=num_items).astype(np.float32), axis=1)
    return SyntheticCatalogue(ids, popularity / popularity.sum(), succ, succ_cdf)


def synthetic_catalogue(num_items: int, seed: int, successors: int = 4, zipf_a: float = 1.1) -> SyntheticCatalogue:
    """The catalogue `generate_session_arrays` draws from `seed` (the same arguments)."""
    return _draw_catalogue(np.random.default_rng(seed), num_items, successors, zipf_a)


def deliberate_repeat_share(num_items: int, num_sessions: int, seed: int, repeat_share: float,
                            session_seed: Optional[int] = None, **kwargs) -> float:
    """The mean per-session probability p of a deliberate repeat that `generate_session_arrays` uses for
    `repeat_share` (the walk returns to a session item on its own at some rate r0; deliberate repeats p
    then give p + (1 - p) r0 in all). `kwargs`: the generator's other arguments."""
    if repeat_share <= 0:
        return 0.0
    values, row_splits = generate_session_arrays(num_items, num_sessions, seed, session_seed=session_seed, **kwargs)
    r0 = float(repeat_rate(values, row_splits))
    return max(0.0, (repeat_share - r0) / (1.0 - r0))


def generate_session_arrays(num_items: int, num_sessions: int, seed: int, successors: int = 4,
                            follow_prob: float = FOLLOW_PROB, zipf_a: float = 1.1, mean_length: float = 5.0,
                            repeat_share: float = 0.0, session_seed: Optional[int] = None):
    """Sessions as flat arrays: `(values int32 [clicks], row_splits int64 [num_sessions + 1])`.

    The catalogue (popularity ranks, successors) is drawn from `seed`; the
    sessions from the same generator, or with `session_seed` from their own
    (chunks of one large log: the same catalogue, other sessions).

    Item ids are in `1..num_items`; lengths are `1 + Geometric(1 / (mean_length - 1))`,
    capped at `MAX_SESSION_LENGTH` (so >= 2). `repeat_share`: the share of
    next clicks (every click after a session's first) that repeat an item
    already in the session (about; the walk's own returns are counted in).
    """
    if not 0.0 <= repeat_share < 1.0:
        raise InputError(f"`repeat_share` must be in [0, 1). Received: repeat_share={repeat_share!r}")
    deliberate = deliberate_repeat_share(num_items, num_sessions, seed, repeat_share, session_seed,
                                         successors=successors, follow_prob=follow_prob, zipf_a=zipf_a,
                                         mean_length=mean_length)
    if num_items < successors + 1:
        raise InputError(f"`num_items` must be > successors={successors}. Received: num_items={num_items}")
    if num_sessions < 1:
        raise InputError(f"`num_sessions` must be >= 1. Received: num_sessions={num_sessions}")
    rng = np.random.default_rng(seed)
    catalogue = _draw_catalogue(rng, num_items, successors, zipf_a)
    ids, succ, succ_cdf = catalogue.ids, catalogue.successors, catalogue.successor_cdf
    popularity_cdf = np.cumsum(catalogue.popularity)
    if session_seed is not None:
        rng = np.random.default_rng([seed, session_seed])

    def popular(n):
        return np.minimum(np.searchsorted(popularity_cdf, rng.random(n)), num_items - 1)

    lengths = np.minimum(1 + rng.geometric(1.0 / (mean_length - 1.0), size=num_sessions), MAX_SESSION_LENGTH)
    walk = np.zeros((num_sessions, MAX_SESSION_LENGTH), np.int64)  # popularity ranks; row i's first lengths[i]
    walk[:, 0] = popular(num_sessions)
    if deliberate:
        propensity = rng.beta(REPEAT_CONCENTRATION * deliberate, REPEAT_CONCENTRATION * (1.0 - deliberate),
                              size=num_sessions)
    for j in range(1, int(lengths.max())):
        rows = np.flatnonzero(lengths > j)  # sessions still going (mean length 5: most stop early)
        cur = walk[rows, j - 1]
        follow = rng.random(rows.size) < follow_prob
        choice = (rng.random(rows.size)[:, None] > succ_cdf[cur]).sum(axis=1)
        walk[rows, j] = np.where(follow, succ[cur, np.minimum(choice, successors - 1)], popular(rows.size))
        if deliberate:
            # Age of the repeated click, in [0, j): truncated geometric by inversion.
            u = rng.random(rows.size)
            age = np.floor(np.log1p(-u * (1.0 - REPEAT_RECENCY ** j)) / np.log(REPEAT_RECENCY)).astype(np.int64)
            again = rng.random(rows.size) < propensity[rows]
            walk[rows, j] = np.where(again, walk[rows, j - 1 - np.minimum(age, j - 1)], walk[rows, j])
    row_splits = np.zeros(num_sessions + 1, np.int64)
    np.cumsum(lengths, out=row_splits[1:])
    values = ids[walk[np.arange(MAX_SESSION_LENGTH)[None, :] < lengths[:, None]]]
    return values, row_splits


def repeat_rate(values: np.ndarray, row_splits: np.ndarray) -> float:
    """Share of the clicks after each session's first whose item is already earlier in the session."""
    lengths = np.diff(row_splits)
    session = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(values)) - np.repeat(row_splits[:-1], lengths)
    # A click repeats when its (session, item) pair occurred at an earlier position.
    keys = session.astype(np.int64) * (int(values.max()) + 1) + values
    order = np.lexsort((position, keys))
    first = np.ones(len(values), bool)
    first[order[1:]] = keys[order[1:]] != keys[order[:-1]]
    later = position > 0
    return float((~first[later]).mean()) if later.any() else 0.0


def generate_sessions(num_items: int, num_sessions: int, seed: int, **kwargs):
    """`generate_session_arrays` as a list of sessions (lists of item ids)."""
    values, row_splits = generate_session_arrays(num_items, num_sessions, seed, **kwargs)
    return [values[a:b].tolist() for a, b in zip(row_splits[:-1], row_splits[1:])]


def synthetic_dataset(num_items: int, num_sessions: int, seed: int, test_share: float = TEST_SHARE,
                      repeat_share: float = 0.0):
    """(train_examples, test_examples, num_train_sessions) from generated sessions (the first
    `test_share` of the sessions are the test sessions; `repeat_share` as in `generate_session_arrays`)."""
    values, row_splits = generate_session_arrays(num_items, num_sessions, seed, repeat_share=repeat_share)
    n_test = int(num_sessions * test_share)
    cut = int(row_splits[n_test])
    test = expand_sessions(values[:cut], row_splits[:n_test + 1])
    train = expand_sessions(values[cut:], row_splits[n_test:] - cut)
    return train, test, num_sessions - n_test


def write_synthetic_shards(folder: str, num_items: int, num_sessions: int, seed: int,
                           shard_sessions: int = DEFAULT_SHARD_SESSIONS, chunk_sessions: int = 500_000,
                           test_share: float = TEST_SHARE, repeat_share: float = 0.0, overwrite: bool = False) -> dict:
    """Writes a generated log of `num_sessions` sessions as a sharded dataset folder, chunk by chunk
    (memory bounded by `chunk_sessions`, whatever the size): the first `test_share` of the sessions are
    the test part. Returns the manifest's counts."""
    n_test = int(num_sessions * test_share)
    stage = session_shards.stage_folder(folder)
    written = {}
    for part, total, offset in (("test", n_test, 0), ("train", num_sessions - n_test, n_test)):
        writer = session_shards.ShardWriter(stage, part, shard_sessions)
        for start in range(0, total, chunk_sessions):
            n = min(chunk_sessions, total - start)
            writer.add(*generate_session_arrays(num_items, n, seed, repeat_share=repeat_share,
                                                session_seed=(offset + start) // chunk_sessions + 1))
        written[part] = writer.close()
    manifest = session_shards.finish_shards(folder, stage, written, num_items)
    write_dataset_files(folder, {session_shards.MANIFEST: manifest}, overwrite)
    return {part: {"sessions": sum(s.sessions for s in shards), "clicks": sum(s.clicks for s in shards),
                   "examples": sum(s.examples for s in shards), "shards": len(shards)}
            for part, shards in written.items()}


def popularity_baseline(train: SessionExamples, test: SessionExamples, k: int = 20) -> float:
    """HR@k (%) of always recommending the k most frequent training labels."""
    counts = np.bincount(train.labels)
    counts[item_ids.PADDING_ID] = -1  # padding is never recommended
    top = np.argsort(-counts, kind="stable")[:k]
    return 100.0 * float(np.isin(test.labels, top).mean())
