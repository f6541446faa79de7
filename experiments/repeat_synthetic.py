"""The repeat mechanism on a repeat-heavy synthetic log, against S-POP and a tuned STAN.

  python -m experiments.repeat_synthetic --work_dir=runs/repeat_synthetic --results_dir=results/repeat_synthetic

Writes a synthetic log (`tagnn_tf.data.synthetic`, `--repeat_share` of the
next clicks repeat a session item) as a dataset folder, profiles it
(`tagnn_tf.data_profile`), then runs the fair tuning's protocol on it
(`experiments.tune_baselines_lib`: the `time` validation split, selection on
validation HR@20, the sampled softmax and at most 6 epochs for the neural
models): S-POP, STAN tuned with its full budget of 20 tries, TAGNN and
TAGNN with `--repeat_mechanism=repeat_explore` (`tagnn_repeat`, the first
`--neural_tries` of their 4 tries), and TAGNN with the post-hoc boost
(`--repeat_mechanism=boost`, the configuration of TAGNN's try 0). Every
method's test HR@20 / MRR@20, overall and on the repeat / new labels, go to
`<results_dir>/repeat_synthetic.json` (with the profile, the machine and the
commit), the tries' run folders stay under `--work_dir`. Rerunning resumes.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Sequence

from experiments.tune_baselines_lib import TUNING_TRAIN
from tagnn_tf.arguments import LR_SCHEDULES
from tagnn_tf.config import DataConfig, TrainConfig

DATASET = "synthetic_repeat"
METHODS = ("spop", "stan", "tagnn", "tagnn_repeat")


def write_synthetic_dataset(folder: str, num_items: int, num_sessions: int, seed: int, repeat_share: float) -> None:
    """The synthetic log (`synthetic.synthetic_dataset`'s sessions and split) as SR-GNN files in `folder`."""
    from tagnn_tf.data.raw_preprocess import write_srgnn
    from tagnn_tf.data.sessions import augment_lists
    from tagnn_tf.data.synthetic import TEST_SHARE, generate_sessions

    if os.path.exists(os.path.join(folder, "test.txt")):
        return
    sessions = generate_sessions(num_items, num_sessions, seed, repeat_share=repeat_share)
    n_test = int(num_sessions * TEST_SHARE)  # as synthetic_dataset: the first sessions are the test ones
    train, test = sessions[n_test:], sessions[:n_test]
    write_srgnn(folder, train, augment_lists(train), augment_lists(test))


def run_study(work_dir: str, num_items: int, num_sessions: int, seed: int, repeat_share: float,
              neural_tries: int = 1, methods: Sequence[str] = METHODS, train: TrainConfig = TUNING_TRAIN,
              log: Callable = print, repeat_tries: Optional[int] = None) -> dict:
    """Writes the log, profiles it, tunes `methods` and trains the boost; returns the figures.

    `neural_tries` of each neural method's budget of 4 are run (resuming), `repeat_tries` (default the
    same) of `tagnn_repeat`'s."""
    from experiments.tune_baselines_lib import NEURAL_METHODS, tune
    from tagnn_tf import run_directory
    from tagnn_tf.data_profile import profile_dataset
    from tagnn_tf.training.trainer import train as train_run

    data_dir = os.path.join(work_dir, "data")
    write_synthetic_dataset(os.path.join(data_dir, DATASET), num_items, num_sessions, seed, repeat_share)
    data = DataConfig(dataset=DATASET, data_dir=data_dir, valid_split="time")
    out = {"synthetic": {"num_items": num_items, "num_sessions": num_sessions, "seed": seed,
                         "repeat_share": repeat_share},
           "train": dataclasses.asdict(train), "profile": profile_dataset(DATASET, data_dir), "methods": {},
           "machine": run_directory.machine_info(), "git_commit": run_directory.git_commit()}
    out["bayes_optimal"] = bayes_optimal_metrics(num_items, num_sessions, seed, repeat_share)
    tuning_dir = os.path.join(work_dir, "tuning")
    for method in methods:
        budget = (repeat_tries if method == "tagnn_repeat" and repeat_tries else neural_tries)
        summary = tune(method, tuning_dir, data, train, budget if method in NEURAL_METHODS else 0, log=log)
        out["methods"][method] = {k: summary[k] for k in ("best_try", "tries", "tries_done", "complete", "overrides",
                                                          "val", "test")}
    if "tagnn" in methods:
        # The post-hoc boost on TAGNN's try-0 configuration (the same training as that try; `a` picked
        # on validation after each epoch).
        from experiments.tune_baselines_lib import tries, try_config

        config = try_config("tagnn", tries("tagnn")[0], data, train)
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, repeat_mechanism="boost"))
        result = train_run(config, os.path.join(work_dir, "tagnn_boost"), log=log)
        out["methods"]["tagnn_boost"] = {"boost_weight": result["boost_weight"], "val": result["val"],
                                         "test": result["test"]}
    return out


def bayes_optimal_metrics(num_items: int, num_sessions: int, seed: int, repeat_share: float,
                          grid_size: int = 400) -> dict:
    """Test HR@K / MRR@K (%, overall and on the repeat / new labels) of the generator's own probabilities.

    The ceiling of any model on the log `write_synthetic_dataset` writes: each test prefix is scored
    with `P(next | prefix)` from the generator's hidden parameters (`synthetic.synthetic_catalogue`),
    the session's unknown repeat propensity integrated out under its Beta prior and the prefix's
    likelihood (on a grid of `grid_size` values):

        P(i) = E[p | prefix] P_repeat(i) + (1 - E[p | prefix]) P_walk(i | last click)

    with `P_repeat` the recency-weighted choice of an earlier click (`REPEAT_RECENCY ** age`) and
    `P_walk` the walk's transition row. Ties count against the label (`numpy_target_ranks`).
    """
    import numpy as np

    from tagnn_tf import item_ids
    from tagnn_tf.data import synthetic
    from tagnn_tf.metrics.ranking_metrics import finalize, numpy_rank_sums, numpy_target_ranks

    catalogue = synthetic.synthetic_catalogue(num_items, seed)
    deliberate = synthetic.deliberate_repeat_share(num_items, num_sessions, seed, repeat_share)
    values, row_splits = synthetic.generate_session_arrays(num_items, num_sessions, seed, repeat_share=repeat_share)
    rank_of = np.zeros(int(catalogue.ids.max()) + 1, np.int64)
    rank_of[catalogue.ids] = np.arange(num_items)
    column_of_rank = item_ids.id_to_column(catalogue.ids.astype(np.int64))
    grid = np.linspace(0.5, grid_size - 0.5, grid_size) / grid_size  # propensity values
    a, b = synthetic.REPEAT_CONCENTRATION * deliberate, synthetic.REPEAT_CONCENTRATION * (1.0 - deliberate)
    prior = (a - 1.0) * np.log(grid) + (b - 1.0) * np.log1p(-grid) if deliberate > 0 else None
    # Scores are ranked a chunk at a time: memory stays [chunk, num_items] whatever the test set's size.
    chunk, chunk_labels = np.empty((1024, num_items)), []
    repeats, ranks = [], []

    def flush():
        if chunk_labels:
            ranks.append(numpy_target_ranks(chunk[:len(chunk_labels)], np.array(chunk_labels)))
            chunk_labels.clear()

    for s in range(int(num_sessions * synthetic.TEST_SHARE)):  # the test sessions come first
        session = rank_of[values[row_splits[s]:row_splits[s + 1]]]
        log_posterior = None if prior is None else prior.copy()
        steps = catalogue.transition_rows(session[:-1])  # [len - 1, num_items]: the walk from each click
        for j in range(1, len(session)):
            recency = synthetic.REPEAT_RECENCY ** np.arange(j)
            repeat = np.zeros(num_items)
            np.add.at(repeat, session[:j][::-1], recency / recency.sum())  # age 0 = the last click
            step = steps[j - 1]
            if log_posterior is None:
                probs = step
            else:
                w = np.exp(log_posterior - log_posterior.max())
                p = float((w * grid).sum() / w.sum())
                probs = p * repeat + (1.0 - p) * step
                log_posterior += np.log(grid * repeat[session[j]] + (1.0 - grid) * step[session[j]])
            chunk[len(chunk_labels), column_of_rank] = probs
            chunk_labels.append(catalogue.ids[session[j]])
            repeats.append(session[j] in session[:j])
            if len(chunk_labels) == len(chunk):
                flush()
    flush()
    return finalize(numpy_rank_sums(np.concatenate(ranks), repeats=np.array(repeats)))


def margins(out: dict, method: str = "tagnn_repeat", against=("spop", "stan")) -> dict:
    """{other: {"hr@20", "mrr@20"}}: `method`'s test metrics minus each other method's (points)."""
    mine = out["methods"][method]["test"]
    return {other: {k: round(mine[k] - out["methods"][other]["test"][k], 2) for k in ("hr@20", "mrr@20")}
            for other in against if other in out["methods"]}


if __name__ == "__main__":
    from tagnn_tf.runtime import configure_process

    configure_process()
    from absl import app, flags

    flags.DEFINE_string("work_dir", "runs/repeat_synthetic", "The synthetic dataset and the tries' run folders.")
    flags.DEFINE_string("results_dir", "results/repeat_synthetic", "Where repeat_synthetic.json goes.")
    flags.DEFINE_integer("num_items", 20000, "Catalogue size.")
    flags.DEFINE_integer("num_sessions", 60000, "Sessions (15% of them are the test sessions).")
    flags.DEFINE_integer("seed", 7, "Generator seed.")
    flags.DEFINE_float("repeat_share", 0.45, "Share of next clicks that repeat a session item.")
    flags.DEFINE_integer("neural_tries", 1, "Tries of each neural method's budget of 4 run now.")
    flags.DEFINE_integer("repeat_tries", 0, "Tries of tagnn_repeat's budget of 4 run now; 0 = --neural_tries.")
    flags.DEFINE_list("methods", list(METHODS), f"Methods to run: some of {list(METHODS)} (the boost comes with "
                      "tagnn).")
    flags.DEFINE_enum("lr_schedule", TUNING_TRAIN.lr_schedule, list(LR_SCHEDULES),
                      "The neural tries' learning-rate schedule (TrainConfig.lr_schedule): the tuning protocol's (the "
                      "official code's) or another. Use another --work_dir for each.")
    FLAGS = flags.FLAGS

    def _main(argv):
        import json

        from tagnn_tf import run_directory
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        unknown = [m for m in FLAGS.methods if m not in METHODS]
        if unknown or not FLAGS.methods:
            raise app.UsageError(f"--methods: some of {list(METHODS)}. Received: {FLAGS.methods}")
        out = run_or_exit(run_study, FLAGS.work_dir, FLAGS.num_items, FLAGS.num_sessions, FLAGS.seed,
                          FLAGS.repeat_share, FLAGS.neural_tries, methods=FLAGS.methods,
                          repeat_tries=FLAGS.repeat_tries,
                          train=dataclasses.replace(TUNING_TRAIN, lr_schedule=FLAGS.lr_schedule))
        if "tagnn_repeat" in out["methods"]:
            out["margins_of_tagnn_repeat"] = margins(out)
        os.makedirs(FLAGS.results_dir, exist_ok=True)
        run_directory.write_json_atomic(os.path.join(FLAGS.results_dir, "repeat_synthetic.json"), out)
        print(json.dumps({m: r["test"] for m, r in out["methods"].items()}, indent=1))
        if "margins_of_tagnn_repeat" in out:
            print(json.dumps(out["margins_of_tagnn_repeat"]))

    app.run(_main)
