"""`ModelConfig.name` -> a built Keras model (TAGNN or a neural baseline), and a saved run's model."""

from __future__ import annotations

import os

from tagnn_tf import model_registry, run_directory
from tagnn_tf.errors import DataFileError, InputError


def needs_click_alias(model) -> bool:
    """Whether `model` reads the per-click `alias` / `click_mask` inputs."""
    return bool(getattr(model, "needs_click_alias", False))


def build_model(config, num_items: int, seed=None):
    """The model `config.name` (a `ModelConfig`) with its weights built.

    The class and the fields it reads come from `tagnn_tf.model_registry`
    (`tagnn` and `srgnn` take every architecture field; the sequence models
    the width and the repeat mechanism).

    Raises:
      InputError: `config.name` is a non-neural baseline (`tagnn_tf.baselines`).
    """
    spec = model_registry.get(config.name)
    if not spec.neural:
        raise InputError(f"`--model={config.name}` is fitted by tagnn_tf.baselines, not built as a Keras model")
    model = spec.model_class()(num_items=num_items, seed=seed, **{f: getattr(config, f) for f in spec.fields})
    model.build_weights()
    return model


def check_model_matches_config(config, model, config_path: str) -> None:
    """Refuses a `config.json` (an `ExperimentConfig`) that does not describe the saved model.

    Raises:
      DataFileError: naming `config_path` and the first field that differs.
    """
    spec = model_registry.get(config.model.name)
    if not spec.neural or type(model) is not spec.model_class():
        raise DataFileError(f"{config_path}: model.name={config.model.name!r} but the saved model is a "
                            f"{type(model).__name__}; the file does not describe this run's best.keras")
    saved = model.get_config()
    fields = [(f"model.{name}", getattr(config.model, name), name) for name in spec.fields if name in saved]
    fields.append(("data.num_items", config.data.num_items, "num_items"))
    for field, value, name in fields:
        if saved.get(name) != value:
            raise DataFileError(f"{config_path}: {field}={value!r} but the saved model has {name}="
                                f"{saved.get(name)!r}; the file does not describe this run's best.keras")


def load_run(model_dir: str):
    """(config, model) of a finished or running training run: `config.json` and `best.keras`.

    Raises:
      DataFileError: either file is missing, or `config.json` is invalid or
        does not describe `best.keras`.
      InputError: the run is of a non-neural baseline (nothing to load).
    """
    config = run_directory.read_config(model_dir)
    if not model_registry.is_neural(config.model.name):
        raise InputError(f"{model_dir} is a --model={config.model.name} run: the non-neural baselines are fitted "
                         "and scored (trainers.evaluate refits them), they have no Keras model to load or export")
    model_path = os.path.join(model_dir, run_directory.BEST_MODEL)
    if not os.path.exists(model_path):
        raise DataFileError(f"{model_path}: not found; is {model_dir!r} a model dir written by trainers.train?")
    import keras

    import tagnn_tf.models  # noqa: F401  (registers the models' classes for loading)

    model = keras.saving.load_model(model_path)
    check_model_matches_config(config, model, os.path.join(model_dir, run_directory.CONFIG))
    return config, model
