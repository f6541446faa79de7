"""One harness over `tagnn_tf.model_registry`: every model gets these checks by being registered.

Per neural model here: config and `.keras` round trips (same scores), and the sampled softmax equal to
the full one when the negatives are the whole catalogue. Registered elsewhere over the same names:
exact resume inside and between epochs (`tests/training/test_trainer.py`,
`test_every_model_resumes_inside_and_between_epochs_exactly`) and the SavedModel reloaded in a process
that does not import tagnn_tf (`tests/models/test_sequence_models.py`, `test_export_round_trip`).
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from tagnn_tf import item_ids, model_registry
from tagnn_tf.arguments import FIELD_CHOICES
from tagnn_tf.baselines import make_baseline
from tagnn_tf.baselines.session_matrices import Sequences
from tagnn_tf.config import BaselineConfig, ModelConfig, fields_not_read
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import InputError
from tagnn_tf.flags_config import define_config_flags
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor
from tagnn_tf.models import build_model
from tagnn_tf.models.catalogue_scorer import CatalogueScorer
from tagnn_tf.training.sampled_softmax import CandidateSampler, sampled_logits

NUM_ITEMS = 12
SESSIONS = [[3, 1, 4, 1, 5], [9, 2], [6]]
LABELS = [4, 4, 4]  # one label: other rows' label columns are then accidental hits too


def _features(sessions=SESSIONS):
    return SessionPreprocessor(with_click_alias=True)(tf.ragged.constant(sessions, dtype=tf.int64))


def _sequences(rows):
    splits = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    return Sequences(np.array([v for r in rows for v in r], np.int32), splits)


def _model(name, mechanism="none"):
    return build_model(ModelConfig(name=name, hidden_size=8, repeat_mechanism=mechanism), NUM_ITEMS, seed=5)


def test_every_spec_names_a_class_and_fields_of_its_config():
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    baseline_fields = {f.name for f in dataclasses.fields(BaselineConfig)}
    for spec in model_registry.SPECS:
        assert set(spec.fields) <= (model_fields if spec.neural else baseline_fields), spec.name
        if spec.neural:
            assert issubclass(spec.model_class(), CatalogueScorer), spec.name
        # What a model reads is exactly what a flag may set for it.
        unread = fields_not_read(spec.name)
        assert not {f"{'model' if spec.neural else 'baseline'}.{f}" for f in spec.fields} & unread, spec.name


def test_the_model_flag_lists_the_registry_and_refuses_other_names():
    values = flags.FlagValues()
    define_config_flags(values)
    assert tuple(values["model"].parser.enum_values) == model_registry.MODELS
    # Every choice of the configs is an enum flag, so `--help` lists its values.
    for name, choices in FIELD_CHOICES.items():
        if name in values:
            assert tuple(values[name].parser.enum_values) == tuple(choices), name
    assert {"variant", "loss", "repeat_mechanism", "train_candidates", "rule_weighting"} <= set(values)
    with pytest.raises(flags.IllegalFlagValueError):
        values(["prog", "--model=tagnn2"])
    with pytest.raises(InputError, match=r"`model` must be one of \['tagnn', "):
        model_registry.get("tagnn2")


@pytest.mark.parametrize("name", model_registry.NEURAL_MODELS)
def test_config_and_keras_round_trips_keep_the_scores(name, tmp_path):
    model = _model(name)
    features = _features()
    expected = model(features).numpy()
    clone = type(model).from_config(model.get_config())
    clone.build_weights()
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(features).numpy(), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is model_registry.get(name).model_class()
    np.testing.assert_allclose(loaded(features).numpy(), expected, rtol=1e-5, atol=1e-6)


class WholeCatalogue(CandidateSampler):
    """Negatives = every item, in column order (the sampled softmax's exact limit)."""

    def negatives(self, seed):
        return tf.range(self.num_items, dtype=tf.int32)


@pytest.mark.parametrize("name", [s.name for s in model_registry.SPECS if s.supports("sampled")])
def test_the_sampled_loss_is_the_full_loss_when_the_negatives_are_the_catalogue(name):
    # Candidates = the labels + all N items; the other copies of a row's label are accidental hits, and the
    # uniform logQ correction is one constant: what is left is the softmax over the catalogue.
    from tagnn_tf.data import pipeline

    model = _model(name)
    examples = SessionExamples.from_lists(SESSIONS, LABELS)
    preprocessor = SessionPreprocessor(with_click_alias=True)
    features, labels = next(iter(pipeline.eval_dataset(examples, len(LABELS), preprocessor=preprocessor)))
    sampler = WholeCatalogue(np.zeros(NUM_ITEMS), NUM_ITEMS, "uniform", len(LABELS))
    # Outside training: dropout (NARM) would draw other masks in the two passes.
    sampled = sampled_logits(model, features, labels, sampler, tf.constant([0, 0]), training=False)
    sampled_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.range(len(LABELS)), sampled)
    full_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(item_ids.id_to_column(labels),
                                                               model(features, training=False))
    np.testing.assert_allclose(sampled_loss.numpy(), full_loss.numpy(), rtol=1e-5)


@pytest.mark.parametrize("name", model_registry.NON_NEURAL_MODELS)
def test_every_fitted_model_builds_from_its_fields_and_scores_the_catalogue(name):
    scorer = make_baseline(name, NUM_ITEMS, BaselineConfig(neighbours=5, sample_size=0))
    train = _sequences([[1, 2, 3], [2, 3, 4], [5, 6], [1, 3]])
    scores = np.asarray(scorer.fit(train).score(_sequences([[2, 3], [6]])))
    assert scores.shape == (2, NUM_ITEMS)
    assert np.isfinite(scores).all()


def test_a_neural_name_is_not_a_baseline_and_a_baseline_is_not_built_as_keras():
    with pytest.raises(InputError, match="not a non-neural baseline"):
        make_baseline("tagnn", NUM_ITEMS, BaselineConfig())
    with pytest.raises(InputError, match="fitted by tagnn_tf.baselines"):
        build_model(ModelConfig(name="stan"), NUM_ITEMS)


def test_the_exporter_refuses_rerank_signatures_for_a_model_the_registry_gives_none(tmp_path):
    from tagnn_tf.config import DataConfig, ExperimentConfig
    from tagnn_tf.serving.savedmodel_export import export_savedmodel

    assert "rerank" not in model_registry.get("stamp").exports
    config = ExperimentConfig(model=ModelConfig(name="stamp", hidden_size=8), data=DataConfig(num_items=NUM_ITEMS))
    (tmp_path / "config.json").write_text(config.to_json())
    _model("stamp").save(str(tmp_path / "best.keras"))
    with pytest.raises(InputError, match=r"--model=stamp has no rerank signatures \(the models with them: "
                                         r"\['tagnn', 'srgnn'\]\)"):
        export_savedmodel(str(tmp_path), str(tmp_path / "exports"), rerank_candidates=5, log=lambda *_: None)
    assert not (tmp_path / "exports").exists()


def test_options_the_registry_does_not_give_a_model_are_refused():
    # `official_padding`: TAGNN and SR-GNN only; `repeat_mechanism`: the neural models only.
    with pytest.raises(InputError, match=r"`--model=stamp` has no such option. Received: padding='official'"):
        ModelConfig(name="stamp", padding="official")
    with pytest.raises(InputError, match="applies to the neural models"):
        ModelConfig(name="sr", repeat_mechanism="boost")
    assert ModelConfig(name="srgnn", padding="official").variant == "local_att"  # the spec's fixed value
    with pytest.raises(InputError, match=r"`--model=srgnn` sets variant='local_att'; leave `variant` unset"):
        ModelConfig(name="srgnn", variant="avg")
