"""The official code's formulation, in TF, for comparison only: per-click
vectors padded to the batch's longest session and a materialised
`[batch, num_items, hidden]` target-embedding tensor. Uses the weights of a
`tagnn_tf` TAGNN (official readout, softmax global attention)."""

import tensorflow as tf


def naive_scores(model, features):
    items, alias, mask = features["items"], features["alias"], features["click_mask"]
    h = model.embedding(items)
    nodes = model.gnn(h, features["adj_in"], features["adj_out"])
    x = tf.gather(nodes, alias, batch_dims=1) * mask[..., None]  # [B, L, d], per click
    last = tf.reduce_sum(mask, 1) - 1
    s_local = tf.gather(x, tf.cast(last, tf.int32), batch_dims=1)
    readout = model.readout
    alpha = tf.matmul(tf.sigmoid(tf.matmul(s_local, readout.last_kernel)[:, None] + readout.last_bias
                                 + tf.einsum("bld,de->ble", x, readout.node_kernel)), readout.query)[..., 0]
    alpha = tf.nn.softmax(alpha + (mask - 1.0) * 1e9, axis=1)
    s_global = tf.reduce_sum(alpha[..., None] * x, 1)
    cand = model.embedding.embeddings[1:]
    keys = tf.einsum("bld,de->ble", x, model.target_attention.key_kernel)
    beta = tf.nn.softmax(tf.einsum("ble,ne->bnl", keys, cand) + (mask[:, None, :] - 1.0) * 1e9, axis=2)
    s_target = tf.einsum("bnl,bld->bnd", beta, x)  # [B, N, d]
    base = tf.matmul(tf.concat([s_global, s_local], -1), readout.combine_kernel) + readout.combine_bias
    session = s_target + base[:, None, :]  # [B, N, d]
    return tf.reduce_sum(session * cand[None], -1)
