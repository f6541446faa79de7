"""In-graph session-graph construction (SR-GNN), batched, TF ops only.

`densify(sessions)` turns a ragged batch of item-id sequences into the dense
tensors the model reads. The same function runs in the tf.data pipeline and
inside exported serving signatures, so clients send only item ids.
"""

from __future__ import annotations

import tensorflow as tf

# Row stride of the (row, item) keys: item ids must be below 2**32.
_ROW_STRIDE = 1 << 32


def densify(sessions: tf.RaggedTensor, with_click_alias: bool = False) -> dict:
    """Builds the session graphs of a batch.

    Args:
      sessions: int RaggedTensor `[batch, (clicks)]` of item ids in click order.
        Every row must be non-empty.
      with_click_alias: also return `alias` and `click_mask` (the per-click
        view; the model does not read it).

    Returns:
      A dict of dense tensors, U = the batch's largest number of unique items,
      L = its longest session:
        items: int32 `[batch, U]` unique items of each session in order of first
          click, 0 = padding node.
        node_counts: float32 `[batch, U]` clicks on each node (0 for padding);
          attention over nodes with these multiplicities equals attention over
          clicks.
        adj_in: float32 `[batch, U, U]`, `adj_in[i, j] = M[j, i] / indeg(i)`.
        adj_out: float32 `[batch, U, U]`, `adj_out[i, j] = M[i, j] / outdeg(i)`,
          M the binary transition matrix of consecutive clicks.
        last_node: int32 `[batch]` node index of the last click.
        node_recency: float32 `[batch, U]` clicks after each node's last
          click (0 for the last node and for padding).
        alias: int32 `[batch, L]` node index of each click (0 where padded);
          only with `with_click_alias`.
        click_mask: float32 `[batch, L]` 1 for real clicks; only with
          `with_click_alias`.
    """
    sessions = tf.cast(sessions, tf.int64)
    batch = tf.cast(sessions.nrows(), tf.int32)
    flat = sessions.values
    rowids = sessions.value_rowids()
    # Unique per row in one tf.unique over (row, item) keys. Keys of a row are
    # contiguous, so the unique keys (in order of first click) are grouped by
    # row too. Only ops with TFLite builtins (no bit ops, no ragged-to-dense)
    # are used, so exported signatures convert to TFLite.
    keys = rowids * _ROW_STRIDE + flat
    unique_keys, global_alias = tf.unique(keys, out_idx=tf.int32)
    num_unique = tf.shape(unique_keys)[0]
    first_click = tf.math.unsorted_segment_min(tf.range(tf.shape(flat)[0]), global_alias, num_unique)
    rowids32 = tf.cast(rowids, tf.int32)
    unique_rows = tf.gather(rowids32, first_click)
    nodes_per_row = tf.math.unsorted_segment_sum(tf.ones_like(unique_rows), unique_rows, batch)
    node_starts = tf.cumsum(nodes_per_row, exclusive=True)
    width = tf.reduce_max(tf.concat([nodes_per_row, tf.zeros([1], tf.int32)], axis=0))
    node_index = tf.stack([unique_rows, tf.range(num_unique) - tf.gather(node_starts, unique_rows)], axis=1)
    alias_flat = global_alias - tf.gather(node_starts, rowids32)

    items = tf.scatter_nd(node_index, tf.cast(tf.gather(flat, first_click), tf.int32), tf.stack([batch, width]))
    counts_flat = tf.math.unsorted_segment_sum(tf.ones_like(global_alias, tf.float32), global_alias, num_unique)
    node_counts = tf.scatter_nd(node_index, counts_flat, tf.stack([batch, width]))

    # Binary transition matrix from consecutive clicks of the same row.
    same_row = tf.equal(rowids[:-1], rowids[1:])
    edge_index = tf.stack([
        tf.boolean_mask(tf.cast(rowids[:-1], tf.int32), same_row),
        tf.boolean_mask(alias_flat[:-1], same_row),
        tf.boolean_mask(alias_flat[1:], same_row),
    ], axis=1)
    edges = tf.scatter_nd(edge_index, tf.ones(tf.shape(edge_index)[:1], tf.float32),
                          tf.stack([batch, width, width]))
    edges = tf.minimum(edges, 1.0)
    edges_t = tf.transpose(edges, [0, 2, 1])
    adj_out = tf.math.divide_no_nan(edges, tf.reduce_sum(edges, axis=2, keepdims=True))
    adj_in = tf.math.divide_no_nan(edges_t, tf.reduce_sum(edges_t, axis=2, keepdims=True))

    lengths = tf.cast(sessions.row_lengths(), tf.int32)
    last_pos = tf.cast(sessions.row_limits(), tf.int32) - 1
    # Clicks after each node's last click: the row's last position minus the node's.
    click_index = tf.range(tf.shape(flat)[0])
    node_last_click = tf.math.unsorted_segment_max(click_index, global_alias, num_unique)
    recency_flat = tf.cast(tf.gather(last_pos, unique_rows) - node_last_click, tf.float32)
    node_recency = tf.scatter_nd(node_index, recency_flat, tf.stack([batch, width]))
    padded_alias = tf.concat([alias_flat, tf.zeros([1], tf.int32)], axis=0)
    last_node = tf.where(lengths > 0, tf.gather(padded_alias, tf.maximum(last_pos, 0)), 0)

    features = {
        "items": items,
        "node_counts": node_counts,
        "adj_in": adj_in,
        "adj_out": adj_out,
        "last_node": last_node,
        "node_recency": node_recency,
    }
    if with_click_alias:
        # Scattered by (row, position), not RaggedTensor.to_tensor (no TFLite builtin).
        longest = tf.reduce_max(tf.concat([lengths, tf.zeros([1], tf.int32)], axis=0))
        position = click_index - tf.gather(tf.cast(sessions.row_starts(), tf.int32), rowids32)
        features["alias"] = tf.scatter_nd(tf.stack([rowids32, position], axis=1), alias_flat,
                                          tf.stack([batch, longest]))
        features["click_mask"] = tf.sequence_mask(lengths, longest, dtype=tf.float32)
    return features
