import numpy as np
import tensorflow as tf

from tagnn_tf.data import pipeline
from tagnn_tf.data.sessions import SessionExamples


def _examples(n=1000, seed=0):
    # Label i + 1 identifies example i; prefix lengths 1..30.
    rng = np.random.default_rng(seed)
    prefixes = [rng.integers(1, 50, size=int(rng.integers(1, 31))).tolist() for _ in range(n)]
    return SessionExamples.from_lists(prefixes, list(range(1, n + 1))), prefixes


def _labels(ds):
    return [b[1].numpy().tolist() for b in ds]


def test_each_example_once_and_batches_pad_to_their_own_longest():
    ex, prefixes = _examples()
    batches = list(pipeline.train_dataset(ex, 100, seed=1))
    seen = sorted(int(y) for _, labels in batches for y in labels.numpy())
    assert seen == list(range(1, 1001))
    assert [len(b[1]) for b in batches] == [100] * 10
    for features, labels in batches:
        rows = [prefixes[y - 1] for y in labels.numpy()]
        assert features["items"].shape[1] == max(len(set(r)) for r in rows)
        assert features["node_counts"].numpy().sum(axis=1).tolist() == [len(r) for r in rows]
        assert "alias" not in features  # the per-click view is computed only on request


def test_length_bucketing_reduces_padding():
    ex, _ = _examples(4000)
    width = lambda w: np.mean([f["items"].shape[1] for f, _ in pipeline.train_dataset(ex, 100, 1, w)])  # noqa
    assert width(20) < 0.8 * width(1)


def test_seeded_shuffle():
    ex, _ = _examples()
    a, b = _labels(pipeline.train_dataset(ex, 100, 5)), _labels(pipeline.train_dataset(ex, 100, 5))
    c = _labels(pipeline.train_dataset(ex, 100, 6))
    assert a == b and a != c


def test_replica_slices_rebuild_the_single_device_global_batches():
    ex, _ = _examples(1001)
    single = _labels(pipeline.train_dataset(ex, 100, 3))
    # 2 workers x 2 replicas: worker w holds replicas 2w, 2w+1 of each global step.
    per_worker = []
    for pid in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pid, num_replicas_in_sync=4)
        per_worker.append(_labels(pipeline.train_dataset(ex, 100, 3, input_context=ctx)))
        assert max(len(b) for b in per_worker[-1]) == 25
    for step, global_batch in enumerate(single):
        parts = per_worker[0][2 * step:2 * step + 2] + per_worker[1][2 * step:2 * step + 2]
        assert [y for p in parts for y in p] == global_batch
    # One worker with 2 replicas: consecutive elements are the replicas' slices.
    ctx = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2)
    local = _labels(pipeline.train_dataset(ex, 100, 3, input_context=ctx))
    assert [local[2 * i] + local[2 * i + 1] for i in range(len(single))] == single


def test_eval_batches_cap_clicks_and_cover_everything():
    ex, prefixes = _examples()
    batches = list(pipeline.eval_dataset(ex, 500, max_clicks=300))
    labels = [y for _, b in batches for y in b.numpy().tolist()]
    assert sorted(labels) == list(range(1, 1001))
    for _, b in batches:
        clicks = sum(len(prefixes[y - 1]) for y in b.numpy())
        assert clicks <= 300 or len(b) == 1
    assert len(list(pipeline.eval_dataset(ex, 500, max_examples=120))[0][1]) == 120


def test_padded_length_feature_only_when_asked():
    # The official code's padding (ModelConfig.padding="official") needs the
    # split-wide length in every batch; the default pipeline does not add it.
    ex, _ = _examples(300)
    train = next(iter(pipeline.train_dataset(ex, 100, 1, padded_length=30)))[0]
    assert train["padded_length"].numpy().tolist() == [30] * 100
    evaluation = next(iter(pipeline.eval_dataset(ex, 64, padded_length=30)))[0]
    assert evaluation["padded_length"].numpy().tolist() == [30] * 64
    assert "padded_length" not in next(iter(pipeline.train_dataset(ex, 100, 1)))[0]
