"""Non-neural baselines: POP, S-POP, Item-KNN, SKNN, V-SKNN, STAN, VSTAN, SR.

Each is fitted on the training sessions (`fit(Sequences)`) and scores a batch
of session prefixes over the whole catalogue (`score(Sequences) ->
[batch, N]`, columns as in `tagnn_tf.item_ids`), so it is evaluated by the
same rank metrics as the neural models. `fit_baseline` runs one in a run
directory (`python -m trainers.train --model=sknn ...`).
"""

from tagnn_tf.baselines.item_knn import ItemKNN
from tagnn_tf.baselines.popularity import Popularity, SessionPopularity
from tagnn_tf.baselines.sequential_rules import SequentialRules
from tagnn_tf.baselines.session_knn import SESSION_KNN_METHODS, SessionKNN
from tagnn_tf.errors import InputError


def make_baseline(name: str, num_items: int, config):
    """The unfitted method `name` with the hyper-parameters of `config` (a `BaselineConfig`)."""
    if name == "pop":
        return Popularity(num_items)
    if name == "spop":
        return SessionPopularity(num_items)
    if name == "item_knn":
        return ItemKNN(num_items, config.shrink)
    if name == "sr":
        return SequentialRules(num_items, config.rule_steps, config.rule_weighting)
    if name in SESSION_KNN_METHODS:
        return SessionKNN(num_items, name, config.neighbours, config.sample_size, config.position_lambda,
                          config.recency_lambda, config.match_lambda, config.idf_lambda)
    raise InputError(f"{name!r} is not a non-neural baseline")


# The BaselineConfig fields each method reads (the tuning searches these; the report states them).
HYPER_PARAMETERS = {
    "pop": (), "spop": (), "item_knn": ("shrink",), "sr": ("rule_steps", "rule_weighting"),
    "sknn": ("neighbours", "sample_size"), "vsknn": ("neighbours", "sample_size", "idf_lambda"),
    "stan": ("neighbours", "sample_size", "position_lambda", "recency_lambda", "match_lambda"),
    "vstan": ("neighbours", "sample_size", "position_lambda", "recency_lambda", "match_lambda", "idf_lambda"),
}

__all__ = ["HYPER_PARAMETERS", "ItemKNN", "Popularity", "SequentialRules", "SessionKNN", "SessionPopularity",
           "make_baseline"]
