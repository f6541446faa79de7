"""Each repeat floor applied after training to a finished repeat-explore run: what the floor alone changes.

  python -m experiments.repeat_floor_posthoc --run_dir=RUN --output=RUN_floors.json

Loads the run's `best.keras`, sets its floor to 0 and scores its validation
and test splits with every floor of `layers.repeat_scores.REPEAT_FLOORS`
(`trainer.FLOOR_CHOICE`: one forward pass per batch), with the weights and the
schedule decisions of the run as they are, so the difference from floor 0 is
the floor's alone. Writes {"run", "floors", "val": [metrics per floor], "test":
[...], "git_commit", "machine"} (HR@K / MRR@K in %, overall and on the repeat
and new labels) and prints HR@20 / MRR@20 per floor. The run needs
`--repeat_mechanism=repeat_explore`; it may have been trained with or without
`--repeat_floor`.
"""

from __future__ import annotations

import os
from typing import Callable

from tagnn_tf.errors import InputError


def score_floors(run_dir: str, output: str, log: Callable = print) -> str:
    """Writes the per-floor validation and test metrics of the run at `run_dir` to `output`; returns it."""
    import tensorflow as tf

    from tagnn_tf import run_directory
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import model_builder
    from tagnn_tf.training.trainer import FLOOR_CHOICE, DistributedSteps, evaluate_examples

    config, model = model_builder.load_run(run_dir)
    if config.model.repeat_mechanism != "repeat_explore":
        raise InputError(f"{run_dir}: the floor is repeat-explore's; this run has "
                         f"repeat_mechanism={config.model.repeat_mechanism!r}")
    model.repeat.floor.assign(0.0)
    splits = load_splits(config.data)
    steps = DistributedSteps(model, None, tf.distribute.get_strategy(), 0.0)
    out = {"run": os.path.relpath(run_dir, os.path.dirname(output) or "."), "floors": list(FLOOR_CHOICE.values)}
    for split, examples in (("val", splits.valid), ("test", splits.test)):
        out[split] = evaluate_examples(steps, examples, config.train, FLOOR_CHOICE)
        log(f"{split}: " + ", ".join(f"floor {e:g} {m['hr@20']:.2f} / {m['mrr@20']:.2f}"
                                     for e, m in zip(FLOOR_CHOICE.values, out[split])))
    out.update(git_commit=run_directory.git_commit(), machine=run_directory.machine_info())
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    run_directory.write_json_atomic(output, out)
    return output


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("run_dir", None, "A finished trainers.train run with repeat-explore.", required=True)
    flags.DEFINE_string("output", None, "JSON to write.", required=True)
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(score_floors, FLAGS.run_dir, FLAGS.output))

    app.run(_main)
