"""Non-neural baselines: POP, S-POP, Item-KNN, SKNN, V-SKNN, STAN, VSTAN, SR.

Each is fitted on the training sessions (`fit(Sequences)`) and scores a batch
of session prefixes over the whole catalogue (`score(Sequences) ->
[batch, N]`, columns as in `tagnn_tf.item_ids`), so it is evaluated by the
same rank metrics as the neural models. `fit_baseline` runs one in a run
directory (`python -m trainers.train --model=sknn ...`).
"""

from tagnn_tf import model_registry
from tagnn_tf.baselines.item_knn import ItemKNN
from tagnn_tf.baselines.popularity import Popularity, SessionPopularity
from tagnn_tf.baselines.sequential_rules import SequentialRules
from tagnn_tf.baselines.session_knn import SessionKNN
from tagnn_tf.errors import InputError


def make_baseline(name: str, num_items: int, config):
    """The unfitted method `name` (`tagnn_tf.model_registry`) with its hyper-parameters read from `config`
    (a `BaselineConfig`: the spec's `fields`)."""
    spec = model_registry.get(name)
    if spec.neural:
        raise InputError(f"{name!r} is not a non-neural baseline")
    fields = {field: getattr(config, field) for field in spec.fields}
    return spec.model_class()(num_items, **spec.constructor_args, **fields)


__all__ = ["ItemKNN", "Popularity", "SequentialRules", "SessionKNN", "SessionPopularity", "make_baseline"]
