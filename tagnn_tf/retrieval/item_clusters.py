"""Item clusters for approximate retrieval inside the SavedModel (an IVF index in TF ops).

At a million items the retrieval step of retrieve-then-rerank is a pass over
the whole `[d, N]` table per request (a GEMV that streams 400 MB: ~27 ms on
one core here) plus a top-K over N scores per session. Clustering the
candidate vectors (k-means) lets a request score the C centroids, keep its
`probe` best clusters and score only their members: `probe * N / C` items
instead of N. Everything is plain TensorFlow ops on frozen variables, so it
runs inside the SavedModel (TF Serving, the C API) with no extra library.
Retrieval by centroid score is approximate (an item whose cluster is not
probed is missed); `benchmarks.large_catalogue` measures the top-20 agreement
with exact scoring.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.errors import InputError


def kmeans_clusters(vectors: np.ndarray, num_clusters: int, iterations: int = 8, seed: int = 0,
                    sample_per_cluster: int = 64):
    """(centroids float32 `[C, d]`, members int32 `[C, M]`): k-means of `vectors` `[N, d]`
    (rows = score columns); `members[c]` lists cluster c's columns, padded with N.

    Lloyd's iterations run on a random sample of `sample_per_cluster * C`
    rows (as FAISS trains its IVF quantiser); then every row is assigned to
    its nearest centroid once. Squared Euclidean distances come from GEMMs
    (`|c|^2 - 2 x.c`) over chunks of rows; an empty cluster is re-seeded with
    a random sample row.
    """
    vectors = np.asarray(vectors, np.float32)
    n = vectors.shape[0]
    if not 1 <= num_clusters <= n:
        raise InputError(f"`num_clusters` must be in [1, {n}] (the catalogue). Received: {num_clusters}")
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(n, min(n, sample_per_cluster * num_clusters), replace=False))]
    centroids = sample[rng.choice(sample.shape[0], num_clusters, replace=False)].copy()
    for _ in range(iterations):
        assign = _nearest(sample, centroids)
        counts = np.bincount(assign, minlength=num_clusters)
        sums = np.zeros_like(centroids)
        _add_rows(sums, assign, sample)
        reseed = sample[rng.choice(sample.shape[0], num_clusters)]
        centroids = np.where((counts == 0)[:, None], reseed, sums / np.maximum(counts, 1)[:, None])
    assign = _nearest(vectors, centroids)
    order = np.argsort(assign, kind="stable")
    counts = np.bincount(assign, minlength=num_clusters)
    members = np.full((num_clusters, max(int(counts.max()), 1)), n, np.int32)
    starts = np.cumsum(counts) - counts
    members[assign[order], np.arange(n) - np.repeat(starts, counts)] = order
    return centroids.astype(np.float32), members


def _nearest(vectors, centroids, max_block: int = 1 << 25):
    """Index of each row's nearest centroid, in row chunks of at most `max_block` distances."""
    norms = (centroids ** 2).sum(axis=1)
    chunk = max(1, max_block // centroids.shape[0])
    out = np.empty(vectors.shape[0], np.int64)
    for start in range(0, vectors.shape[0], chunk):
        out[start:start + chunk] = np.argmin(norms[None, :] - 2.0 * vectors[start:start + chunk] @ centroids.T, axis=1)
    return out


def _add_rows(sums, assign, vectors):
    """`sums[assign[i]] += vectors[i]` as one sparse product (np.add.at is slow at millions of rows)."""
    from scipy import sparse

    n = vectors.shape[0]
    one_hot = sparse.csr_matrix((np.ones(n, np.float32), (assign, np.arange(n))), shape=(sums.shape[0], n))
    sums += one_hot @ vectors


def retrieve(session, centroids_t, members, candidate_vectors, num_items: int, probe: int, num_candidates: int):
    """Each session's `num_candidates` best columns by `session . v_t` among the members
    of its `probe` best clusters (by `session . centroid`).

    Args:
      session: `[batch, d]` the candidate-independent part of the score.
      centroids_t: `[d, C]`; members: int32 `[C, M]` (padded with `num_items`).
      candidate_vectors: the model's `candidate_vectors`: item ids `[...]` -> their candidate vectors
        `[..., d]` (only the probed members' rows are read).

    Returns:
      (base scores `[batch, K]`, columns int32 `[batch, K]`); a slot without a
      real member (fewer than K in the probed clusters) has score -inf.
    """
    _, clusters = tf.math.top_k(tf.matmul(session, centroids_t), probe)  # [batch, P]
    columns = tf.reshape(tf.gather(members, clusters), [tf.shape(session)[0], -1])  # [batch, P * M]
    real = columns < num_items
    vectors = candidate_vectors(item_ids.column_to_id(tf.minimum(columns, num_items - 1)))
    scores = tf.where(real, tf.einsum("bd,bkd->bk", session, vectors), float("-inf"))
    base, best = tf.math.top_k(scores, num_candidates)
    return base, tf.gather(columns, best, batch_dims=1)
