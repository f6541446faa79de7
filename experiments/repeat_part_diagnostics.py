"""Where a repeat-explore run's repeat labels lose rank: the repeat part's order, the gate or the explore part.

  python -m experiments.repeat_part_diagnostics --run_dirs=RUN_A,RUN_B --output=diagnostics.json

For each `trainers.train` run with `--repeat_mechanism=repeat_explore`, its
`best.keras` scores the run's test examples and the mixture is taken apart
(`tagnn_tf.layers.repeat_scores`): P(i) = g softmax_u(rho)_i at the session's
items, (1 - g) P_explore(i) outside them. Per run (percentages):

  repeat_labels.mrr_within_session   the label's reciprocal rank among the session's items by the repeat
                                     part's own logits rho (ties count against it): the repeat part's order
  repeat_labels.outranked_by_new     share of repeat labels with an item outside the session above them in
                                     the mixture
  repeat_labels.mean_gate, new_labels.mean_gate   the mean g on each kind of label
  explore_top_probability            the mean largest P_explore over the items outside the session: how
                                     sharp the explore part is (over the examples with such items)

and the run's own test HR@20 / MRR@20 (its `result.json`).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

OUTPUT = "repeat_part_diagnostics.json"


def diagnose(model, examples, batch_size: int = 500) -> dict:
    """The figures above for a repeat-explore `model` on `examples` (`SessionExamples`)."""
    from keras import ops

    from tagnn_tf import item_ids
    from tagnn_tf.data.pipeline import eval_dataset
    from tagnn_tf.layers.repeat_scores import mixture_log_scores

    if getattr(model, "repeat_mechanism", None) != "repeat_explore":
        from tagnn_tf.errors import InputError

        raise InputError("The diagnostics take a repeat_explore model apart. Received: repeat_mechanism="
                         f"{getattr(model, 'repeat_mechanism', None)!r}")
    within, outranked, gate_repeat, gate_new, explore_top = [], [], [], [], []
    candidates_t = model.candidate_table_t()  # the whole catalogue, once
    for features, labels in eval_dataset(examples, batch_size):
        explore, (gate, node_logits) = model.explore_and_repeat(features, candidates_t)
        log_p = ops.convert_to_numpy(mixture_log_scores(explore, features["items"], gate, node_logits))
        items, labels = ops.convert_to_numpy(features["items"]), ops.convert_to_numpy(labels)
        node_logits, explore = ops.convert_to_numpy(node_logits), ops.convert_to_numpy(explore)
        g = 1.0 / (1.0 + np.exp(-ops.convert_to_numpy(gate)))
        for b, label in enumerate(labels):
            real = items[b] > 0
            outside = np.ones(explore.shape[1], bool)
            outside[item_ids.id_to_column(items[b][real])] = False
            z = explore[b][outside]
            if z.size:  # else the session holds the whole catalogue
                explore_top.append(float(np.exp(z.max() - np.logaddexp.reduce(z))))
            node = np.flatnonzero(items[b] == label)
            if node.size:
                target = node_logits[b][node[0]]
                within.append(1.0 / float((node_logits[b][real] >= target).sum()))
                outranked.append(bool((log_p[b][outside] > log_p[b][item_ids.id_to_column(label)]).any()))
                gate_repeat.append(float(g[b]))
            else:
                gate_new.append(float(g[b]))

    def pct(values):
        return round(100.0 * float(np.mean(values)), 2) if values else None

    return {"repeat_labels": {"count": len(within), "mrr_within_session": pct(within),
                              "outranked_by_new": pct(outranked),
                              "mean_gate": round(float(np.mean(gate_repeat)), 4) if gate_repeat else None},
            "new_labels": {"count": len(gate_new),
                           "mean_gate": round(float(np.mean(gate_new)), 4) if gate_new else None},
            "explore_top_probability": pct(explore_top)}


def diagnose_runs(run_dirs: Sequence[str], log=print) -> dict:
    """{run folder name: the figures of its `best.keras` on its test split, with its result.json's test metrics}."""
    from tagnn_tf import run_directory
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import model_builder

    out = {}
    for run_dir in run_dirs:
        config, model = model_builder.load_run(run_dir)
        data = load_splits(config.data)
        run_directory.check_run_items(run_dir, data.items, "diagnose it")
        test = run_directory.read_json(os.path.join(run_dir, run_directory.RESULT))["test"]
        name = os.path.basename(os.path.normpath(run_dir))
        out[name] = {"item_norm_scale": config.model.item_norm_scale,
                     "test": {k: test[k] for k in ("hr@20", "mrr@20", "repeat/mrr@20", "new/mrr@20")},
                     **diagnose(model, data.test, config.train.eval_batch_size)}
        log(f"{name}: {out[name]}")
    return out


if __name__ == "__main__":
    from tagnn_tf.runtime import configure_process

    configure_process()
    from absl import app, flags

    flags.DEFINE_list("run_dirs", [], "trainers.train runs with --repeat_mechanism=repeat_explore.")
    flags.DEFINE_string("output", OUTPUT, "The JSON to write.")
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf import run_directory
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1 or not FLAGS.run_dirs:
            raise app.UsageError("--run_dirs: one or more run folders, and no other arguments")
        out = {"runs": run_or_exit(diagnose_runs, FLAGS.run_dirs), "machine": run_directory.machine_info(),
               "git_commit": run_directory.git_commit()}
        os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
        run_directory.write_json_atomic(FLAGS.output, out)

    app.run(_main)
