"""Sampled training (`train_candidates="sampled"`) and lazy embedding updates."""

import keras
import keras_rs
import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.data import pipeline
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.models import build_model
from tagnn_tf.training.lazy_adam import LazyAdam, add_coupled_l2, merge_duplicate_rows
from tagnn_tf.training.sampled_softmax import (ACCIDENTAL_HIT_LOGIT, CandidateSampler, label_counts,
                                               remove_accidental_hits, sampled_logits)
from tagnn_tf.training.trainer import DistributedSteps, make_optimizer, train

NUM_ITEMS = 30


class WholeCatalogue(CandidateSampler):
    """Negatives = every item, in column order (the sampled softmax's exact limit)."""

    def negatives(self, seed):
        return tf.range(self.num_items, dtype=tf.int32)


def _batch(sessions, labels, num_items=NUM_ITEMS):
    from tagnn_tf.data.sessions import SessionExamples
    examples = SessionExamples.from_lists(sessions, labels)
    return next(iter(pipeline.eval_dataset(examples, len(labels))))


@pytest.mark.parametrize("labels", [[7], [4, 4, 4]])
def test_sampled_loss_equals_full_loss_when_the_negatives_are_the_whole_catalogue(labels):
    # Candidates = the batch's labels + all N items. For row i the other copies of
    # its label (column b + label, and other rows' columns holding the same id)
    # are accidental hits and get -1e9; with uniform sampling and no label
    # counts every logQ correction is the same constant, which the softmax
    # ignores. What is left is the full softmax over the N items.
    model = build_model(ModelConfig(readout="paper"), NUM_ITEMS, seed=3)
    sessions = [[1, 2, 1, 3], [5, 6], [9]][:len(labels)]
    features, label_ids = _batch(sessions, labels)
    sampler = WholeCatalogue(np.zeros(NUM_ITEMS), NUM_ITEMS, "uniform", len(labels))
    sampled = sampled_logits(model, features, label_ids, sampler, tf.constant([0, 0]))
    assert sampled.shape == (len(labels), len(labels) + NUM_ITEMS)
    sampled_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.range(len(labels)), sampled)
    full = model(features, training=True)
    full_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(item_ids.id_to_column(label_ids), full)
    np.testing.assert_allclose(sampled_loss.numpy(), full_loss.numpy(), rtol=1e-5)


def test_accidental_hits_are_removed():
    # Row 0's label is column 5: candidate 2 (also 5) is an accidental hit, its own
    # column 0 is not. Row 1's label 7 appears only in its own column 1.
    logits = tf.constant([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    out = remove_accidental_hits(logits, tf.constant([5, 7]), tf.constant([5, 7, 5, 9]))
    np.testing.assert_array_equal(out.numpy(), [[1.0, 2.0, ACCIDENTAL_HIT_LOGIT, 4.0], [5.0, 6.0, 7.0, 8.0]])


def test_keras_rs_remove_accidental_hits_is_still_a_no_op():
    # keras-rs 0.4.0 adds ~1e-40 to accidental hits (keras-rs pull request #206),
    # which is why `remove_accidental_hits` exists. When this fails, a keras-rs
    # release has fixed the layer: use it instead.
    logits = np.array([[1.0, 2.0, 3.0]], np.float32)
    out = keras_rs.layers.RemoveAccidentalHits()(logits, np.array([[1.0, 0.0, 0.0]], np.float32),
                                                 np.array([5, 5, 7]))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), logits)


def test_sampler_shares_and_draws():
    counts = np.array([0, 10, 30, 60], np.float64)
    sampler = CandidateSampler(counts, 4, "popularity", batch_size=4)
    # popularity negatives: (1 + c) / (100 + 4) = [1, 11, 31, 61] / 104; label shares c / 100;
    # expected share = (4 * label + 4 * negative) / 8.
    expected = (4 * counts / 100 + 4 * (counts + 1) / 104) / 8
    np.testing.assert_allclose(sampler.expected_share.numpy(), expected, rtol=1e-6)
    draws = tf.concat([sampler.negatives(tf.constant([s, 0])) for s in range(5000)], 0).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, (counts + 1) / 104, atol=0.01)
    uniform = CandidateSampler(counts, 4, "uniform", batch_size=4)
    draws = tf.concat([uniform.negatives(tf.constant([s, 0])) for s in range(2000)], 0).numpy()
    assert draws.min() == 0 and draws.max() == 3
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, 0.25, atol=0.02)
    np.testing.assert_array_equal(label_counts(np.array([1, 3, 3, 4]), 4), [1, 0, 2, 1])


def test_lazy_adam_equals_adam_on_dense_gradients_and_touches_only_sparse_rows():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 3)).astype(np.float32)
    grad = rng.normal(size=(6, 3)).astype(np.float32)
    a, b = tf.Variable(start), tf.Variable(start)
    adam, lazy = keras.optimizers.Adam(0.1), LazyAdam(0.1)
    for _ in range(2):
        adam.apply_gradients([(tf.constant(grad), a)])
        lazy.apply_gradients([(tf.constant(grad), b)])
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6)

    # Sparse: rows 1 and 4 (row 4 twice: its values are summed). One step from
    # zero moments: m = 0.1 g, v = 0.001 g^2, alpha = 0.1 sqrt(0.001) / 0.1,
    # so w -= alpha * m / (sqrt(v) + eps) = 0.1 * sign(g) (to ~1e-6).
    c = tf.Variable(start)
    lazy = LazyAdam(0.1)
    values = np.array([[1.0, -2.0, 3.0], [0.5, 0.5, -0.5], [0.5, -1.5, 0.25]], np.float32)
    lazy.apply_gradients([(tf.IndexedSlices(tf.constant(values), tf.constant([1, 4, 4]), tf.constant([6, 3])), c)])
    summed = {1: values[0], 4: values[1] + values[2]}
    expected = start.copy()
    for row, g in summed.items():
        expected[row] -= 0.1 * np.sign(g)
    np.testing.assert_allclose(c.numpy(), expected, atol=1e-5)
    untouched = [0, 2, 3, 5]
    np.testing.assert_array_equal(c.numpy()[untouched], start[untouched])
    m = lazy._momentums[0].numpy()
    np.testing.assert_array_equal(m[untouched], 0.0)
    np.testing.assert_allclose(m[[1, 4]], 0.1 * np.stack([summed[1], summed[4]]), rtol=1e-6)


def test_coupled_l2_of_a_sparse_gradient_is_added_once_per_row():
    variable = tf.constant([[1.0], [2.0], [3.0]])
    g = add_coupled_l2(tf.IndexedSlices(tf.constant([[1.0], [1.0]]), tf.constant([2, 2]), tf.constant([3, 1])),
                       variable, 0.5)
    # row 2: 1 + 1 (merged) + 0.5 * 3
    assert g.indices.numpy().tolist() == [2]
    np.testing.assert_allclose(g.values.numpy(), [[3.5]])
    merged = merge_duplicate_rows(tf.IndexedSlices(tf.constant([[1.0], [2.0], [4.0]]), tf.constant([0, 2, 0]),
                                                   tf.constant([3, 1])))
    assert sorted(zip(merged.indices.numpy().tolist(), merged.values.numpy()[:, 0].tolist())) == [(0, 5.0), (2, 2.0)]


def test_a_sampled_step_leaves_rows_outside_the_batch_and_its_candidates_untouched():
    # The embedding update is lazy: rows that are neither in the batch's sessions
    # nor among its candidates keep their values bit for bit (no pass over N rows).
    num_items = 500
    splits = load_splits(DataConfig(dataset="synthetic", synthetic_num_items=num_items, synthetic_num_sessions=300))
    model = build_model(ModelConfig(), num_items, seed=1)
    optimizer = make_optimizer(TrainConfig())
    optimizer.build(model.trainable_variables)
    sampler = CandidateSampler(label_counts(splits.train.labels, num_items), 20, "uniform", 16)
    steps = DistributedSteps(model, optimizer, tf.distribute.get_strategy(), 1e-5, sampler=sampler)
    ds = pipeline.train_dataset(splits.train, 16, seed=3)
    batch = next(iter(ds))
    before = model.embedding.embeddings.numpy().copy()
    steps.train(batch, ds.element_spec)
    changed = np.flatnonzero(np.any(model.embedding.embeddings.numpy() != before, axis=1))
    negatives = item_ids.column_to_id(sampler.negatives(tf.constant([0, 0])).numpy())  # step 0, part 0
    # The batch's items include the padding row 0 (padded node slots are embedded too).
    touched = set(batch[0]["items"].numpy().ravel().tolist()) | set(batch[1].numpy().tolist()) | set(negatives)
    assert len(touched) < num_items / 2
    assert set(changed.tolist()) == touched


def test_sampled_training_learns_and_evaluates_on_the_whole_catalogue(tmp_path):
    config = ExperimentConfig(data=DataConfig(dataset="synthetic"),
                              train=TrainConfig(epochs=2, train_candidates="sampled", num_negatives=100))
    from tagnn_tf.data.synthetic import popularity_baseline

    result = train(config, str(tmp_path), log=lambda m: None)
    splits = load_splits(config.data)
    # Scored by full ranking over the whole catalogue, as a `full` run.
    assert result["test"]["hr@20"] > popularity_baseline(splits.train, splits.test) + 20, result


def test_a_million_item_model_trains_sampled_steps():
    # N = 1,000,000: the sampled step scores b + K candidates and updates only
    # the touched embedding rows, so a few steps take seconds on 2 cores (a full
    # softmax step is ~500 GFLOP here: benchmarks/README.md, Large catalogues).
    from tagnn_tf.data.synthetic import synthetic_dataset

    num_items = 1_000_000
    train_examples, _, _ = synthetic_dataset(num_items, 3000, seed=1)
    model = build_model(ModelConfig(), num_items, seed=1)
    optimizer = make_optimizer(TrainConfig())
    optimizer.build(model.trainable_variables)
    sampler = CandidateSampler(label_counts(train_examples.labels, num_items), 500, "popularity", 100)
    steps = DistributedSteps(model, optimizer, tf.distribute.get_strategy(), 1e-5, sampler=sampler)
    ds = pipeline.train_dataset(train_examples, 100, seed=1)
    before = model.embedding.embeddings[1:].numpy()[:1000].copy()
    losses = [float(steps.train(batch, ds.element_spec)) for batch in ds.take(4)]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0] + 0.5, losses
    # At most 4 x (a batch's items + 100 labels + 500 negatives) rows moved: lazy updates.
    moved = np.any(model.embedding.embeddings[1:].numpy()[:1000] != before, axis=1).sum()
    assert moved < 50, moved
