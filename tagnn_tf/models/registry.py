"""`ModelConfig.name` -> a built Keras model (TAGNN or a neural baseline)."""

from __future__ import annotations

from tagnn_tf.arguments import NEURAL_MODELS
from tagnn_tf.errors import InputError
from tagnn_tf.models.sequence_models import BPRMF, FPMC, GRU4Rec, NARM, STAMP
from tagnn_tf.models.tagnn import TAGNN, build_tagnn

SEQUENCE_MODEL_CLASSES = {"gru4rec": GRU4Rec, "narm": NARM, "stamp": STAMP, "bpr_mf": BPRMF, "fpmc": FPMC}
# The class each name builds (`tagnn_tf.run_directory.load_run` checks a saved model against it).
MODEL_CLASSES = {"tagnn": TAGNN, "srgnn": TAGNN, **SEQUENCE_MODEL_CLASSES}


def needs_click_alias(model) -> bool:
    """Whether `model` reads the per-click `alias` / `click_mask` inputs."""
    return bool(getattr(model, "needs_click_alias", False))


def build_model(config, num_items: int, seed=None):
    """The model `config.name` (a `ModelConfig`) with its weights built.

    `tagnn` and `srgnn` (TAGNN's `local_att` variant, as SR-GNN) take every
    architecture field; the sequence models read `hidden_size`.

    Raises:
      InputError: `config.name` is a non-neural baseline (`tagnn_tf.baselines`).
    """
    if config.name not in NEURAL_MODELS:
        raise InputError(f"`--model={config.name}` is fitted by tagnn_tf.baselines, not built as a Keras model")
    if config.name in ("tagnn", "srgnn"):
        return build_tagnn(config, num_items, seed)
    model = SEQUENCE_MODEL_CLASSES[config.name](num_items=num_items, hidden_size=config.hidden_size, seed=seed,
                                                repeat_mechanism=config.repeat_mechanism)
    model.build_weights()
    return model
