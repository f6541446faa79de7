"""Every `--model`, in one place: what it is, where its class lives, what it reads and what it can do.

A leaf module (no TensorFlow, no other part of the library), so the configs,
the binaries' flags, the run directory checks, the trainer, the exporters and
the experiments all ask the same table. Adding a model is one `ModelSpec` here
plus its module; `tests/test_model_registry.py` then runs the shared checks
(config and `.keras` round trips, SavedModel in a process without `tagnn_tf`,
sampled = full loss, exact resume) on it.

The class is named by its import path (`"package.module:Class"`) and imported
by the floor that builds it: `tagnn_tf.models.build_model` for the neural
models (classes under `tagnn_tf.models`), `tagnn_tf.baselines.make_baseline`
for the fitted ones (classes under `tagnn_tf.baselines`), so this table never
imports upward.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Mapping, Tuple

from tagnn_tf.errors import InputError

NEURAL = "neural"  # a Keras model trained by `tagnn_tf.training`, exported by `tagnn_tf.serving`
NON_NEURAL = "non_neural"  # fitted on the training sessions by `tagnn_tf.baselines`, scored, never exported
KINDS = (NEURAL, NON_NEURAL)
# What a trained run can be exported to (`export.export_savedmodel`, `export.export_tflite`), and the
# rerank signatures (`--rerank_candidates`: the model rescores a shortlist).
EXPORTS = ("savedmodel", "tflite", "rerank")
# What a model supports beyond the shared training loop.
#   sampled: `--train_candidates=sampled`; repeat_mechanism: `--repeat_mechanism`;
#   warm_start: `--warm_start_from` (rows copied by vocabulary, `Model.warm_start_from`);
#   official_padding: `--padding=official` (the official code's padding defect, a diagnostic).
OPTIONS = ("sampled", "repeat_mechanism", "warm_start", "official_padding")

# TAGNN's architecture (ModelConfig fields) and the sequence models' (they read the width only).
_GRAPH_FIELDS = ("hidden_size", "gnn_steps", "variant", "readout", "global_attention", "padding", "repeat_mechanism",
                 "item_norm_scale", "repeat_gate", "repeat_floor")
_SEQUENCE_FIELDS = ("hidden_size", "repeat_mechanism", "repeat_gate", "repeat_floor")
_NEURAL_OPTIONS = frozenset({"sampled", "repeat_mechanism"})
_KNN_FIELDS = ("neighbours", "sample_size")
_STAN_FIELDS = _KNN_FIELDS + ("position_lambda", "recency_lambda", "match_lambda")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One `--model`.

    Attributes:
      name: the `--model` value.
      kind: `NEURAL` or `NON_NEURAL`.
      summary: one line for `--help` and the docs.
      class_path: `"module:Class"`; built with `num_items`, `constructor_args`
        and the config fields in `fields` (neural: `Class(num_items=, seed=,
        **fields)` then `build_weights()`; non-neural: `Class(num_items,
        **constructor_args, **fields)`).
      fields: the config fields it reads, its hyper-parameters: `ModelConfig`
        fields for the neural models, `BaselineConfig` fields for the others
        (the tuning searches these; a flag of another field is refused).
      constructor_args: fixed keyword arguments of the class (the k-NN
        method's name).
      fixed: `ModelConfig` values this name implies (`srgnn` is TAGNN with
        `variant="local_att"`), applied by `ModelConfig`.
      exports: a subset of `EXPORTS`.
      options: a subset of `OPTIONS`.
    """

    name: str
    kind: str
    summary: str
    class_path: str
    fields: Tuple[str, ...] = ()
    constructor_args: Mapping[str, object] = dataclasses.field(default_factory=dict)
    fixed: Mapping[str, object] = dataclasses.field(default_factory=dict)
    exports: frozenset = frozenset()
    options: frozenset = frozenset()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {list(KINDS)}. Received: kind={self.kind!r}")
        unknown = (set(self.exports) - set(EXPORTS)) | (set(self.options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"Unknown exports/options {sorted(unknown)} of model {self.name!r}")

    @property
    def neural(self) -> bool:
        return self.kind == NEURAL

    def supports(self, option: str) -> bool:
        return option in self.options

    def model_class(self):
        """The class (imported now, by the floor that builds it)."""
        module, _, attr = self.class_path.partition(":")
        return getattr(importlib.import_module(module), attr)


def _neural(name, summary, class_path, fields=_SEQUENCE_FIELDS, exports=("savedmodel", "tflite"),
            options=_NEURAL_OPTIONS, fixed=None):
    return ModelSpec(name, NEURAL, summary, class_path, fields, fixed=fixed or {}, exports=frozenset(exports),
                     options=frozenset(options))


def _fitted(name, summary, class_path, fields=(), **constructor_args):
    return ModelSpec(name, NON_NEURAL, summary, class_path, fields, constructor_args=constructor_args)


_SEQUENCE = "tagnn_tf.models.sequence_models:"
_SESSION_KNN = "tagnn_tf.baselines.session_knn:SessionKNN"
_TAGNN_OPTIONS = _NEURAL_OPTIONS | {"warm_start", "official_padding"}

SPECS = (
    _neural("tagnn", "TAGNN (SIGIR 2020): gated graph + target attention", "tagnn_tf.models.tagnn:TAGNN",
            _GRAPH_FIELDS, ("savedmodel", "tflite", "rerank"), _TAGNN_OPTIONS),
    _neural("srgnn", "SR-GNN (AAAI 2019): TAGNN's local + attention readout", "tagnn_tf.models.tagnn:TAGNN",
            _GRAPH_FIELDS, ("savedmodel", "tflite", "rerank"), _TAGNN_OPTIONS, fixed={"variant": "local_att"}),
    _neural("gru4rec", "GRU4Rec: a GRU over the clicks", _SEQUENCE + "GRU4Rec", exports=("savedmodel",)),
    _neural("narm", "NARM: GRU + attention", _SEQUENCE + "NARM", exports=("savedmodel",)),
    _neural("stamp", "STAMP: short-term attention / memory priority", _SEQUENCE + "STAMP"),
    _neural("bpr_mf", "BPR-MF: the mean of the session's item vectors", _SEQUENCE + "BPRMF"),
    _neural("fpmc", "FPMC: the last click's transition vector", _SEQUENCE + "FPMC"),
    _fitted("pop", "POP: the most clicked items", "tagnn_tf.baselines.popularity:Popularity"),
    _fitted("spop", "S-POP: the session's items, most clicked first",
            "tagnn_tf.baselines.popularity:SessionPopularity"),
    _fitted("item_knn", "Item-KNN: co-occurrence with the last click", "tagnn_tf.baselines.item_knn:ItemKNN",
            ("shrink",)),
    _fitted("sknn", "SKNN: session neighbours", _SESSION_KNN, _KNN_FIELDS, method="sknn"),
    _fitted("vsknn", "V-SKNN: position-weighted session neighbours", _SESSION_KNN, _KNN_FIELDS + ("idf_lambda",),
            method="vsknn"),
    _fitted("stan", "STAN: session neighbours weighted by time and position", _SESSION_KNN, _STAN_FIELDS,
            method="stan"),
    _fitted("vstan", "VSTAN: STAN with V-SKNN's weights", _SESSION_KNN, _STAN_FIELDS + ("idf_lambda",),
            method="vstan"),
    _fitted("sr", "SR: sequential rules", "tagnn_tf.baselines.sequential_rules:SequentialRules",
            ("rule_steps", "rule_weighting")),
)
REGISTRY = {spec.name: spec for spec in SPECS}
MODELS = tuple(REGISTRY)
NEURAL_MODELS = tuple(spec.name for spec in SPECS if spec.neural)
NON_NEURAL_MODELS = tuple(spec.name for spec in SPECS if not spec.neural)


def get(name: str) -> ModelSpec:
    """The spec of `--model=name`.

    Raises:
      InputError: no such model (the message lists them).
    """
    spec = REGISTRY.get(name)
    if spec is None:
        raise InputError(f"`model` must be one of {list(MODELS)}. Received: model={name!r}")
    return spec


def names_with(capability: str):
    """The models whose `options` or `exports` hold `capability` (for the messages that refuse the others)."""
    return [spec.name for spec in SPECS if capability in spec.options or capability in spec.exports]


def is_neural(name: str) -> bool:
    return get(name).neural
