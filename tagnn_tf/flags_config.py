"""absl flags for every config field, mapped onto the frozen dataclasses."""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from tagnn_tf.config import (BaselineConfig, DataConfig, DistributeConfig, ExperimentConfig, ModelConfig,
                             TrainConfig, TRAINER_LR_SCHEDULE, TRAINER_REPEAT_FLOOR, TRAINER_REPEAT_GATE,
                             fields_not_read, trainer_default_repeat)
from tagnn_tf import model_registry, run_directory
from tagnn_tf.arguments import FIELD_CHOICES
from tagnn_tf.errors import InputError

_SECTIONS = (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig), ("baseline", BaselineConfig))
# Fields whose flag has another name: `--model` chooses ModelConfig.name.
_FLAG_NAMES = {(ModelConfig, "name"): "model"}


# The fields whose default under `config_from_flags` is not the dataclass's (`--help` text).
_TRAINER_DEFAULTS = {
    (ModelConfig, "repeat_mechanism"): "'repeat_explore' for the neural models with padding='masked', else 'none'; "
                                       "a rerun keeps its run's",
    (TrainConfig, "lr_schedule"): f"{TRAINER_LR_SCHEDULE!r}; a rerun keeps its run's",
    (ModelConfig, "item_norm_scale"): "0.0; a rerun keeps its run's, a warm start its old run's",
    (ModelConfig, "repeat_gate"): f"{TRAINER_REPEAT_GATE!r} with --repeat_mechanism=repeat_explore, else "
                                  "'session'; a rerun keeps its run's",
    (ModelConfig, "repeat_floor"): f"{TRAINER_REPEAT_FLOOR!r} with --repeat_mechanism=repeat_explore, else "
                                   "'none'; a rerun keeps its run's",
}


def flag_name(klass, field_name: str) -> str:
    return _FLAG_NAMES.get((klass, field_name), field_name)


def _fields(sections=_SECTIONS):
    for section, klass in sections:
        for f in dataclasses.fields(klass):
            yield section, klass, f


def _choices(klass, field_name: str):
    """The values a field takes (shown by `--help`, refused by absl otherwise), or None."""
    if (klass, field_name) == (ModelConfig, "name"):
        return model_registry.MODELS
    return FIELD_CHOICES.get(field_name)


def define_config_flags(flag_values=flags.FLAGS, sections=_SECTIONS) -> None:
    """Defines one flag per config field (default None = the dataclass default, or `config_from_flags`' own)."""
    for _, klass, f in _fields(sections):
        default = f.default
        name = flag_name(klass, f.name)
        text = f"{klass.__name__}.{f.name} (default {_TRAINER_DEFAULTS.get((klass, f.name), repr(default))})"
        if f.type in ("int", int):
            flags.DEFINE_integer(name, None, text, flag_values=flag_values)
        elif f.type in ("float", float):
            flags.DEFINE_float(name, None, text, flag_values=flag_values)
        elif f.type in ("bool", bool):
            flags.DEFINE_boolean(name, None, text, flag_values=flag_values)
        elif _choices(klass, f.name):
            flags.DEFINE_enum(name, None, list(_choices(klass, f.name)), text, flag_values=flag_values)
        else:
            flags.DEFINE_string(name, None, text, flag_values=flag_values)


def config_from_flags(flag_values=flags.FLAGS, model_dir: str = "") -> ExperimentConfig:
    """The ExperimentConfig with every flag that was set applied.

    Without `--repeat_mechanism`, a neural model gets `trainers.train`'s default
    (`config.trainer_default_repeat`), or, when `model_dir` already holds a run,
    the mechanism that run was started with (its rerun resumes it); likewise
    `--lr_schedule` (`config.TRAINER_LR_SCHEDULE`), `--repeat_gate` and
    `--repeat_floor` (`config.TRAINER_REPEAT_GATE`, `config.TRAINER_REPEAT_FLOOR`
    with repeat-explore; a rerun keeps its run's when the mechanism is the same)
    and `--item_norm_scale`
    (the dataclass's 0), which a new run started with `--warm_start_from` also
    takes from that old run (its weights were learned so).
    """
    values = {section: {} for section, _ in _SECTIONS}
    for section, klass, f in _fields():
        v = flag_values[flag_name(klass, f.name)].value
        if v is not None:
            values[section][f.name] = v
    given = {section: set(fields) for section, fields in values.items()}
    earlier = (run_directory.read_config(model_dir)
               if model_dir and os.path.isfile(os.path.join(model_dir, run_directory.CONFIG)) else None)
    if "repeat_mechanism" not in values["model"]:
        if earlier:
            values["model"]["repeat_mechanism"] = earlier.model.repeat_mechanism
        else:
            # Name and padding only: the fields that need a mechanism (`repeat_gate`) are checked below.
            model = ModelConfig(**{k: v for k, v in values["model"].items() if k in ("name", "padding")})
            values["model"]["repeat_mechanism"] = trainer_default_repeat(model.name, model.padding)
    if "lr_schedule" not in values["train"]:
        values["train"]["lr_schedule"] = earlier.train.lr_schedule if earlier else TRAINER_LR_SCHEDULE
    if "item_norm_scale" not in values["model"]:
        values["model"]["item_norm_scale"] = _default_item_norm(values, earlier)
    for field, trainer_value in (("repeat_gate", TRAINER_REPEAT_GATE), ("repeat_floor", TRAINER_REPEAT_FLOOR)):
        if field not in values["model"]:
            values["model"][field] = _default_repeat_option(values, earlier, field, trainer_value)
    config = ExperimentConfig.from_dict(values)
    ignored = sorted(f"--{flag_name(klass, f.name)}" for section, klass, f in _fields()
                     if f.name in given[section] and f"{section}.{f.name}" in fields_not_read(config.model.name))
    if ignored:
        raise InputError(f"--model={config.model.name} does not read {', '.join(ignored)}: leave "
                         f"{'them' if len(ignored) > 1 else 'it'} out (it would be written to config.json and "
                         "ignored)")
    return config


def _default_repeat_option(values: dict, earlier, field: str, trainer_value: str) -> str:
    """ModelConfig `field` (`repeat_gate`, `repeat_floor`) without its flag: the rerun's run's (same model and
    mechanism), else `trainer_value` with `repeat_explore` for the models that read the field, else the
    dataclass's."""
    name, mechanism = values["model"].get("name", ModelConfig.name), values["model"]["repeat_mechanism"]
    if earlier and earlier.model.name == name and earlier.model.repeat_mechanism == mechanism:
        return getattr(earlier.model, field)
    if mechanism == "repeat_explore" and f"model.{field}" not in fields_not_read(name):
        return trainer_value
    return getattr(ModelConfig, field)


def _default_item_norm(values: dict, earlier) -> float:
    """`item_norm_scale` without the flag: the rerun's run's, the warm start's old run's, or the dataclass's."""
    name = values["model"].get("name", ModelConfig.name)
    old_dir = values["train"].get("warm_start_from", "")
    if earlier is None and old_dir and os.path.isfile(os.path.join(old_dir, run_directory.CONFIG)):
        earlier = run_directory.read_config(old_dir)
    if earlier is None or earlier.model.name != name or "item_norm_scale" not in model_registry.get(name).fields:
        return ModelConfig.item_norm_scale  # another model's run: the warm start refuses it with its own message
    return earlier.model.item_norm_scale


def define_dataclass_flags(klass, flag_values=flags.FLAGS) -> None:
    """One flag per field of the config dataclass `klass` (default None = the dataclass default)."""
    define_config_flags(flag_values, ((klass.__name__, klass),))


def dataclass_from_flags(klass, flag_values=flags.FLAGS):
    """`klass` with every flag of its fields that was set applied."""
    values = {f.name: flag_values[f.name].value for _, _, f in _fields(((klass.__name__, klass),))
              if flag_values[f.name].value is not None}
    return klass(**values)


def define_distribute_flags(flag_values=flags.FLAGS) -> None:
    """`--strategy` and `--num_devices` (DistributeConfig)."""
    define_dataclass_flags(DistributeConfig, flag_values)


def distribute_config_from_flags(flag_values=flags.FLAGS) -> DistributeConfig:
    return dataclass_from_flags(DistributeConfig, flag_values)
