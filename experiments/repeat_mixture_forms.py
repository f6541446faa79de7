"""Two forms of the repeat-explore mixture, scored with the same trained weights.

  python -m experiments.repeat_mixture_forms --run=results/baselines/diginetica/tagnn_repeat/try-0 \
      --json_out=results/repeat_mixture_forms/diginetica.json

The mechanism's training (`training.sampled_softmax.repeat_explore_loss`) does not depend on how the
two parts are mixed at scoring time, so one trained `repeat_explore` run scores the test set three ways:

- `exclusive` (the library's, RepeatNet's): repeat mode `sigmoid(g) softmax_u(ρ)` on the session's
  items, explore mode `sigmoid(-g) softmax(z)` restricted to the other items;
- `additive`: `sigmoid(g) softmax_u(ρ) + sigmoid(-g) softmax(z)` everywhere (the explore part keeps
  its own probability of the session's items);
- `explore`: the explore scores `z` alone, i.e. the plain model (its training is the plain model's).

Writes test HR@20 / MRR@20 (%) overall and on the repeat / new labels of each form.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

FORMS = ("exclusive", "additive", "explore")


def additive_log_scores(explore, items, gate, node_logits):
    """`log(sigmoid(g) P_repeat(i) + sigmoid(-g) softmax(z)_i)` `[batch, N]` (the form not kept)."""
    import tensorflow as tf

    from tagnn_tf.layers.repeat_scores import repeat_log_probabilities, scatter_to_columns

    log_explore_weight, log_repeat = repeat_log_probabilities(gate, node_logits)
    log_explore = explore + (log_explore_weight - tf.reduce_logsumexp(explore, axis=1))[:, None]
    repeat = scatter_to_columns(tf.where(items > 0, tf.exp(log_repeat), 0.0), items, explore.shape[1])
    return tf.math.log(tf.exp(log_explore) + repeat)


def score_forms(run_dir: str, data_dir: str = "", batch_size: int = 500) -> dict:
    """{form: metrics} of `run_dir`'s `best.keras` on its test set (`data_dir` overrides the run's)."""
    import tensorflow as tf

    from tagnn_tf import item_ids, run_directory
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.layers.repeat_scores import item_columns, mixture_log_scores
    from tagnn_tf.metrics import ranking_metrics
    from tagnn_tf.models import model_builder
    from tagnn_tf.training.trainer import model_preprocessor

    config, model = model_builder.load_run(run_dir)
    if getattr(model, "repeat_mechanism", "none") != "repeat_explore":
        raise ValueError(f"{run_dir} is not a --repeat_mechanism=repeat_explore run")
    data = config.data if not data_dir else dataclasses.replace(config.data, data_dir=data_dir)
    test = load_splits(data).test
    ranks = {form: [] for form in FORMS}
    repeats = []  # in the batches' order (the pipeline may reorder the examples)
    for features, labels in pipeline.eval_dataset(test, batch_size, preprocessor=model_preprocessor(model)):
        z, (gate, node_logits) = model.explore_and_repeat(features, model.candidate_table_t(), training=False)
        scores = {"exclusive": mixture_log_scores(z, features["items"], gate, node_logits),
                  "additive": additive_log_scores(z, features["items"], gate, node_logits), "explore": z}
        columns = tf.cast(item_ids.id_to_column(labels), tf.int32)
        repeats.append(tf.reduce_any(tf.equal(item_columns(features["items"]), columns[:, None]), axis=1).numpy())
        for form, s in scores.items():
            target = tf.gather(s, columns, batch_dims=1)
            ranks[form].append((1 + tf.reduce_sum(tf.cast(s > target[:, None], tf.int32), axis=1)).numpy())
    repeats = np.concatenate(repeats)
    return {form: ranking_metrics.finalize(ranking_metrics.numpy_rank_sums(np.concatenate(r), repeats=repeats))
            for form, r in ranks.items()}


if __name__ == "__main__":
    from tagnn_tf.runtime import configure_process

    configure_process()
    from absl import app, flags

    flags.DEFINE_string("run", None, "A finished --repeat_mechanism=repeat_explore run directory.", required=True)
    flags.DEFINE_string("data_dir", "", "Data folder (default: the run's config).")
    flags.DEFINE_string("json_out", "", "Where to write the figures (JSON).")
    FLAGS = flags.FLAGS

    def _main(argv):
        import json

        from tagnn_tf import run_directory
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        forms = run_or_exit(score_forms, FLAGS.run, FLAGS.data_dir)
        keys = ("hr@20", "mrr@20", "repeat/hr@20", "repeat/mrr@20", "new/hr@20", "new/mrr@20")
        out = {"run": FLAGS.run, "forms": {f: {k: round(m[k], 2) for k in keys} for f, m in forms.items()},
               "machine": run_directory.machine_info(), "git_commit": run_directory.git_commit()}
        if FLAGS.json_out:
            os.makedirs(os.path.dirname(FLAGS.json_out) or ".", exist_ok=True)
            run_directory.write_json_atomic(FLAGS.json_out, out)
        print(json.dumps(out["forms"], indent=1))

    app.run(_main)
