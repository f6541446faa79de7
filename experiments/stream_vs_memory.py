"""Diginetica trained from session shards: the streamed pipeline against the in-memory one, within the seed spread.

  python -m experiments.stream_vs_memory --seeds=1,2,3 --epochs=1 --results_dir=results/stream_vs_memory

The in-memory pipeline reads the shards as the same examples in the same order
as the pickles (`tests/data/test_real_data.py` checks it), so its metrics for a
seed are those of the pickles. The stream shuffles within blocks of shards, so
its batch order necessarily differs: this measures whether that moves the
metrics beyond the spread of seeds. Both train `TrainConfig`'s defaults (the paper's model, the
official code's learning-rate schedule) with
`--valid_split=time` (the two pipelines then hold out the same validation
examples) and the sampled softmax, for `--epochs` epochs, one run per
(pipeline, seed). Diginetica is converted into shards of 20,000 sessions under
`--work_dir` (10 training shards, so the stream's blocks of 4 shuffle across
three blocks). Writes each run's logs (no weights) under `<results_dir>/<pipeline>/seed-<s>/` and
`<results_dir>/stream_vs_memory.json`: test HR@20 / MRR@20 of every run, the mean and range
per pipeline, and the difference of the means.
"""

from __future__ import annotations

import os
import shutil
import statistics

from absl import app, flags

from tagnn_tf.cli import parse_flags_or_exit
from tagnn_tf.config import DEFAULT_DATA_DIR

flags.DEFINE_list("seeds", ["1", "2", "3"], "Training seeds.")
flags.DEFINE_integer("epochs", 1, "Epochs of each run.")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Where diginetica/ (SR-GNN files) is.")
flags.DEFINE_string("work_dir", "runs/stream_vs_memory", "The shards and the runs' weights.")
flags.DEFINE_string("results_dir", "results/stream_vs_memory", "Where the logs and the summary go.")
FLAGS = flags.FLAGS

PIPELINES = ("memory", "stream")
KEPT_FILES = ("config.json", "metrics.jsonl", "result.json", "run_info.json", "run_log.jsonl")


def run(seeds, epochs: int, data_dir: str, work_dir: str, results_dir: str) -> dict:
    from tagnn_tf import run_directory
    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.data.dataset_folder import convert_srgnn_folder
    from tagnn_tf.training.trainer import train

    data = os.path.join(work_dir, "data")
    if not os.path.exists(os.path.join(data, "diginetica", "shards.json")):
        convert_srgnn_folder(os.path.join(data_dir, "diginetica"), os.path.join(data, "diginetica"), 20_000)
    rows = {p: {} for p in PIPELINES}
    for seed in seeds:
        for pipeline in PIPELINES:
            model_dir = os.path.join(work_dir, pipeline, f"seed-{seed}")
            config = ExperimentConfig(
                data=DataConfig(dataset="diginetica", data_dir=data, valid_split="time", input_pipeline=pipeline),
                train=TrainConfig(epochs=epochs, seed=seed, train_candidates="sampled"))
            result = train(config, model_dir, log=lambda m: print(m, flush=True))
            out = os.path.join(results_dir, pipeline, f"seed-{seed}")
            os.makedirs(out, exist_ok=True)
            for name in KEPT_FILES:
                shutil.copy(os.path.join(model_dir, name), os.path.join(out, name))
            rows[pipeline][seed] = {k: result["test"][k] for k in ("hr@20", "mrr@20")}
    summary = {}
    for pipeline in PIPELINES:
        values = rows[pipeline].values()
        summary[pipeline] = {m: {"mean": round(statistics.mean(v[m] for v in values), 3),
                                 "min": min(v[m] for v in values), "max": max(v[m] for v in values)}
                             for m in ("hr@20", "mrr@20")}
    difference = {m: round(summary["stream"][m]["mean"] - summary["memory"][m]["mean"], 3) for m in ("hr@20", "mrr@20")}
    spread = {m: round(max(summary[p][m]["max"] - summary[p][m]["min"] for p in PIPELINES), 3)
              for m in ("hr@20", "mrr@20")}
    figures = {"epochs": epochs, "seeds": [int(s) for s in seeds], "runs": rows, "summary": summary,
               "stream_minus_memory": difference, "largest_seed_range": spread,
               "within_seed_spread": {m: abs(difference[m]) <= spread[m] for m in difference},
               "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}
    run_directory.write_json_atomic(os.path.join(results_dir, "stream_vs_memory.json"), figures)
    return figures


def main(argv):
    del argv
    figures = run([int(s) for s in FLAGS.seeds], FLAGS.epochs, FLAGS.data_dir, FLAGS.work_dir, FLAGS.results_dir)
    print(figures["summary"], figures["stream_minus_memory"], figures["largest_seed_range"])


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
