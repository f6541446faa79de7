"""NumPy reference of TAGNN, written per click straight from the paper's equations
(see ../shared/docs/TAGNN_SPEC.md), materialising the `[N, d]` target vectors
of every candidate. float64; no code shared with the library."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def session_graph(session):
    """SR-GNN construction: nodes = sorted unique items, alias, A_in, A_out.

    Item 0 (padding, as in the official code's padded sessions) becomes a node
    like any other, but no edge touches it.
    """
    nodes = np.unique(session)
    alias = np.array([np.where(nodes == v)[0][0] for v in session])
    u = len(nodes)
    m = np.zeros((u, u))
    for k in range(len(session) - 1):
        if session[k] and session[k + 1]:
            m[alias[k], alias[k + 1]] = 1.0
    indeg, outdeg = m.sum(0), m.sum(1)
    a_in = np.divide(m.T, indeg[:, None], out=np.zeros_like(m), where=indeg[:, None] > 0)
    a_out = np.divide(m, outdeg[:, None], out=np.zeros_like(m), where=outdeg[:, None] > 0)
    return nodes, alias, a_in, a_out


def weights_of(model):
    w = {v.path.split("/")[-1] if "/" in v.path else v.name: np.asarray(v, np.float64) for v in model.weights}
    w["embeddings"] = np.asarray(model.embedding.embeddings, np.float64)
    return w


def gnn(h, a_in, a_out, w, steps):
    d = h.shape[1]
    for _ in range(steps):
        w_in, w_out = w["edge_kernel"][:, :d], w["edge_kernel"][:, d:]
        b_in, b_out = w["edge_bias"][:d], w["edge_bias"][d:]
        b_iah, b_oah = w["message_bias"][:d], w["message_bias"][d:]
        m_in = a_in @ (h @ w_in + b_in) + b_iah  # eq. 1, incoming
        m_out = a_out @ (h @ w_out + b_out) + b_oah  # eq. 1, outgoing
        gi = np.concatenate([m_in, m_out], 1) @ w["input_kernel"] + w["input_bias"]
        gh = h @ w["hidden_kernel"] + w["hidden_bias"]
        r = sigmoid(gi[:, :d] + gh[:, :d])  # eq. 3
        z = sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])  # eq. 2
        n = np.tanh(gi[:, 2 * d:] + r * gh[:, 2 * d:])  # eq. 4
        h = n + z * (h - n)  # eq. 5 (GRU convention)
    return h


def unit_rows(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def scores(session, w, variant, readout, global_attention, steps=1, padded_length=0, item_norm_scale=0.0):
    """Logits over items 1..N for one session (list of ids).

    `item_norm_scale` c > 0 (NISER): the node inputs are the unit-length item
    vectors and the candidates' vectors have length c.

    `padded_length` > 0 copies the official code's padding: the session is
    padded with item 0 to that length, the padded positions take part in both
    softmaxes (eq. 9 over all positions, then multiplied by the mask; eq. 6
    with the padded node vectors zeroed first, so logit 0) and add nothing.
    """
    emb = w["embeddings"]
    n = len(session)
    padded = np.asarray(list(session) + [0] * max(padded_length - n, 0))
    mask = (padded > 0).astype(np.float64)
    nodes, alias, a_in, a_out = session_graph(padded)
    h = gnn(unit_rows(emb[nodes]) if item_norm_scale else emb[nodes], a_in, a_out, w, steps)
    x = h[alias]  # per position, [L, d]
    s_local = x[n - 1]
    cand = item_norm_scale * unit_rows(emb[1:]) if item_norm_scale else emb[1:]  # [N, d]
    if variant == "local":
        return cand @ s_local
    if variant == "avg":
        return cand @ x[:n].mean(0)
    alpha = sigmoid(s_local @ w["last_kernel"] + w["last_bias"] + x @ w["node_kernel"]) @ w["query"][:, 0]  # eq. 8
    if global_attention == "softmax":
        alpha = np.exp(alpha - alpha.max())
        alpha /= alpha.sum()
    s_global = (alpha * mask) @ x  # eq. 9
    x = x * mask[:, None]
    if variant == "att":
        return cand @ s_global
    if variant == "local_att":
        return cand @ (np.concatenate([s_local, s_global]) @ w["combine_kernel"])
    # TAGNN: target attention for every candidate t (eq. 6-7), [N, n] weights.
    logits = cand @ (x @ w["key_kernel"]).T  # v_t^T W x_k
    beta = np.exp(logits - logits.max(1, keepdims=True))
    beta /= beta.sum(1, keepdims=True)
    s_target = beta @ x  # [N, d]
    if readout == "paper":  # eq. 10: W3 [s_target; s_local; s_global]
        s = s_target @ w["value_kernel"] + np.concatenate([s_local, s_global]) @ w["combine_kernel"]
    else:  # official: W_h [s_global; s_local] + b_h + s_target
        s = s_target + (np.concatenate([s_global, s_local]) @ w["combine_kernel"] + w["combine_bias"])
    return np.sum(s * cand, axis=1)  # eq. 11
