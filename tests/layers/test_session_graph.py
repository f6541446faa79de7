import numpy as np
import tensorflow as tf

from tagnn_tf.layers.session_graph import densify
from numpy_reference import session_graph


def test_hand_checked_batch():
    batch = tf.ragged.constant([[5, 7, 5, 9], [3], [2, 2, 4]])
    d = {k: v.numpy() for k, v in densify(batch, with_click_alias=True).items()}
    # Session 0: nodes 5,7,9 (first-click order); edges 5->7, 7->5, 5->9.
    assert d["items"].tolist() == [[5, 7, 9], [3, 0, 0], [2, 4, 0]]
    assert d["node_counts"].tolist() == [[2, 1, 1], [1, 0, 0], [2, 1, 0]]
    # out-degree of node 5 is 2 -> 1/2 to each of 7 and 9.
    np.testing.assert_array_equal(d["adj_out"][0], [[0, .5, .5], [1, 0, 0], [0, 0, 0]])
    # A_in[i, j] = M[j, i] / indeg(i): 5 is entered from 7; 7 and 9 from 5.
    np.testing.assert_array_equal(d["adj_in"][0], [[0, 1, 0], [1, 0, 0], [1, 0, 0]])
    # Session 2: self loop 2->2 and 2->4 (out-degree 2); node 2 entered from itself, 4 from 2.
    np.testing.assert_array_equal(d["adj_out"][2], [[.5, .5, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(d["adj_in"][2], [[1, 0, 0], [1, 0, 0], [0, 0, 0]])
    assert np.all(d["adj_in"][1] == 0) and np.all(d["adj_out"][1] == 0)
    assert d["last_node"].tolist() == [2, 0, 1]
    # Clicks after each node's last click: session 0 [5, 7, 5, 9]: 5 last at position 2 of 0..3 -> 1,
    # 7 at 1 -> 2, 9 -> 0; session 2 [2, 2, 4]: 2 last at 1 of 0..2 -> 1, 4 -> 0; padding 0.
    assert d["node_recency"].tolist() == [[1, 2, 0], [0, 0, 0], [1, 0, 0]]
    assert d["alias"].tolist() == [[0, 1, 0, 2], [0, 0, 0, 0], [0, 0, 1, 0]]
    assert d["click_mask"].tolist() == [[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0]]
    # Without the per-click view: the same graph tensors, nothing else.
    plain = densify(batch)
    assert sorted(plain) == ["adj_in", "adj_out", "items", "last_node", "node_counts", "node_recency"]
    for key, value in plain.items():
        np.testing.assert_array_equal(value.numpy(), d[key])


def test_matches_srgnn_construction_on_random_sessions():
    rng = np.random.default_rng(0)
    sessions = [rng.integers(1, 9, size=int(rng.integers(1, 15))).tolist() for _ in range(50)]
    d = {k: v.numpy() for k, v in densify(tf.ragged.constant(sessions, dtype=tf.int64), True).items()}
    for b, s in enumerate(sessions):
        nodes, alias, a_in, a_out = session_graph(np.array(s))
        u = len(nodes)
        items = d["items"][b]
        assert np.all(items[u:] == 0) and sorted(items[:u]) == nodes.tolist()
        perm = [int(np.where(items == v)[0][0]) for v in nodes]  # reference node -> our node
        np.testing.assert_allclose(d["adj_in"][b][np.ix_(perm, perm)], a_in, atol=1e-7)
        np.testing.assert_allclose(d["adj_out"][b][np.ix_(perm, perm)], a_out, atol=1e-7)
        assert [items[a] for a in d["alias"][b][:len(s)]] == s
        assert items[d["last_node"][b]] == s[-1]
        np.testing.assert_array_equal(d["node_counts"][b][perm], [s.count(v) for v in nodes])


def test_runs_inside_tf_function_with_dynamic_shapes():
    fn = tf.function(densify, input_signature=[tf.RaggedTensorSpec([None, None], tf.int64)])
    out = fn(tf.ragged.constant([[4, 4, 4], [1, 2]], dtype=tf.int64))
    assert out["items"].numpy().tolist() == [[4, 0], [1, 2]]
    assert out["adj_out"].numpy()[0].tolist() == [[1, 0], [0, 0]]
