"""Fit and full-test scoring time of the non-neural baselines on Diginetica.

  python -m benchmarks.knn_eval_time --json_out=benchmarks/results/knn_eval_time.json \
      --readme=benchmarks/README.md

Each method is fitted on the training split (`valid_split=time`) with the
configuration its tuning selected (`<tuned_dir>/<method>/tuning.jsonl`, else
its defaults) and scores all 60,858 Diginetica test examples over the whole
catalogue (`score_batch_size` sessions at a time), `--repeats` times; the
figures are medians. The 1-minute load average before each method is
recorded: other processes on the machine slow these single-threaded runs.
"""

import os
import statistics
import time

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder holding the dataset folders.")
flags.DEFINE_string("dataset", "diginetica", "Dataset.")
flags.DEFINE_string("tuned_dir", "results/baselines/diginetica", "Where the tuning logs of the methods are.")
flags.DEFINE_list("methods", ["pop", "spop", "item_knn", "sr", "sknn", "vsknn", "stan", "vstan"], "Methods.")
flags.DEFINE_integer("repeats", 3, "Timed repetitions per method.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose KNN_EVAL_TIME block gets the table.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from benchmarks.measure import replace_block, write_json
    from experiments.tune_baselines_lib import try_config
    from tagnn_tf import run_directory
    from tagnn_tf.baselines import make_baseline
    from tagnn_tf.baselines.baseline_run import evaluate_scorer
    from tagnn_tf.baselines.session_matrices import Sequences
    from tagnn_tf.config import DataConfig
    from tagnn_tf.data.datasets import load_splits

    data = DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, valid_split="time")
    splits = load_splits(data)
    sessions = Sequences.of_sessions(splits.train)
    rows = []
    for method in FLAGS.methods:
        tuned = run_directory.read_jsonl(os.path.join(FLAGS.tuned_dir, method, "tuning.jsonl"))
        overrides = max(tuned, key=lambda r: (r["val"]["hr@20"], -r["try"]))["overrides"] if tuned else {}
        config = try_config(method, overrides, data)
        load = os.getloadavg()[0]
        fits, scores = [], []
        for _ in range(FLAGS.repeats):
            started = time.perf_counter()
            scorer = make_baseline(method, splits.num_items, config.baseline).fit(sessions)
            fits.append(time.perf_counter() - started)
            started = time.perf_counter()
            metrics, _ = evaluate_scorer(scorer, splits.test, config.baseline.score_batch_size, log=lambda *_: None)
            scores.append(time.perf_counter() - started)
        row = {"method": method, "configuration": overrides or "defaults", "fit_seconds": round(statistics.median(fits), 2),
               "test_seconds": round(statistics.median(scores), 1), "test_examples": len(splits.test),
               "test_hr@20": metrics["hr@20"], "load_average_1min_before": round(load, 2)}
        print(row, flush=True)
        rows.append(row)
    out = {"dataset": FLAGS.dataset, "machine": run_directory.machine_info(), "git_commit": run_directory.git_commit(),
           "repeats": FLAGS.repeats, "rows": rows}
    write_json(FLAGS.json_out, out)
    if FLAGS.readme:
        table = ["| method | configuration | fit | score the 60,858 test sessions | test HR@20 | load before |",
                 "|---|---|---|---|---|---|"]
        for r in rows:
            conf = r["configuration"] if isinstance(r["configuration"], str) else ", ".join(
                f"{k.split('.')[1]}={v}" for k, v in sorted(r["configuration"].items()))
            table.append(f"| {r['method']} | {conf} | {r['fit_seconds']:.2f} s | {r['test_seconds']:.1f} s | "
                         f"{r['test_hr@20']:.2f} | {r['load_average_1min_before']:.2f} |")
        replace_block(FLAGS.readme, "KNN_EVAL_TIME", "\n".join(table))


if __name__ == "__main__":
    app.run(main)
