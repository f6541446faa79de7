"""Serving speed of the exported model, SavedModel and TFLite, on Diginetica test sessions.

  python -m benchmarks.serving --data_dir=../shared/data --model_dir=runs/diginetica_epoch1 --json_out=PATH

Exports `<model_dir>/best.keras` (or, without --model_dir, a randomly
initialised Diginetica-sized model: speed does not depend on the weights),
converts it to TFLite (float32, float16 and dynamic-range weights) and reports
for each: single-session latency p50/p99 over real test sessions (one request
of shape [1, length], as a client sends it) and batch-256 throughput
(sessions/s). The models are timed in --rounds interleaved rounds (each round
times every model once), so a slow phase of the machine hits all of them:
latency percentiles pool every round's requests, throughput is the median of
the rounds. With --model_dir it also reports HR@20 / MRR@20 (%) of every
variant on the test set, from its own top-20 output. With
--compare_whole_requests it also times the SavedModel exported with
`--max_batch_sessions=0` (requests scored whole, as before slicing) and the
float32 TFLite model converted with slicing (`--tflite_max_batch_sessions=16`,
not the default), interleaved with the others: what slicing costs or saves,
measured in one run.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_string("model_dir", None, "Trained Diginetica run to export (default: random weights, no HR@20).")
flags.DEFINE_integer("latency_requests", 300, "Single-session requests timed per model and round.")
flags.DEFINE_integer("throughput_batches", 20, "Batches of --batch_size timed per model and round.")
flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds.")
flags.DEFINE_integer("batch_size", 256, "Sessions per throughput request.")
flags.DEFINE_integer("hr_examples", 0, "Test examples for HR@20 (0 = all).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose SERVING block gets the table.")
flags.DEFINE_boolean("render_only", False, "Only rewrite --readme's table from the existing --json_out.")
flags.DEFINE_boolean("compare_whole_requests", False, "Also time a SavedModel scoring requests whole "
                     "(savedmodel_whole) and a TFLite model scoring them in slices (tflite_float32_sliced).")
flags.DEFINE_string("block", "SERVING", "Name of the --readme block the table goes to.")
FLAGS = flags.FLAGS


def render(figures: dict, json_path: str) -> str:
    """Markdown table of a serving.json."""
    model = f"model `{figures['model_dir']}`" if figures["model_dir"] else "random weights (no HR@20)"
    lines = [f"Written by `python -m benchmarks.serving` (`benchmarks/results/{os.path.basename(json_path)}`): "
             f"Diginetica, {figures['num_items']:,} items, {figures['machine'].get('cpu_count', '?')} CPU cores, "
             f"{model}. Latency: one session per request `[1, length]`, "
             f"real test sessions, Python client in process; throughput: batches of "
             f"{figures['rows'][0]['batch']} sessions, median of {figures.get('rounds', 1)} rounds "
             f"interleaved across the models.", "",
             "| model | size (MB) | p50 latency (ms) | p99 latency (ms) | sessions/s (batch) | test HR@20 | test MRR@20 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in figures["rows"]:
        lines.append(f"| {r['model']} | {r['size_mb']} | {r['latency_p50_ms']} | {r['latency_p99_ms']} | "
                     f"{r['throughput_sessions_per_sec']} | {r.get('test_hr@20', '-')} | {r.get('test_mrr@20', '-')} |")
    return "\n".join(lines)


def main(argv):
    del argv
    import json

    from benchmarks import measure

    if FLAGS.render_only:
        with open(FLAGS.json_out) as f:
            measure.replace_block(FLAGS.readme, FLAGS.block, render(json.load(f), FLAGS.json_out))
        return
    run()


def run():
    import json

    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from benchmarks import measure
    from tagnn_tf.config import DataConfig, ExperimentConfig
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import build_model
    from tagnn_tf.serving.savedmodel_export import export_savedmodel
    from tagnn_tf.serving.session_recommender import pad_sessions as pad
    from tagnn_tf.serving.tflite_export import convert_savedmodel
    from tagnn_tf import run_directory

    splits = load_splits(DataConfig(dataset="diginetica", data_dir=FLAGS.data_dir))
    test = splits.test
    work = tempfile.mkdtemp(prefix="tagnn_serving_")
    model_dir = FLAGS.model_dir
    if model_dir is None:
        model_dir = os.path.join(work, "run")
        os.makedirs(model_dir)
        config = ExperimentConfig(data=DataConfig(dataset="diginetica", data_dir=FLAGS.data_dir,
                                                  num_items=splits.num_items))
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            f.write(config.to_json())
        build_model(config.model, splits.num_items, seed=1).save(os.path.join(model_dir, "best.keras"))
    models, sizes = {}, {}

    def add_savedmodel(name, version_dir):
        signature = tf.saved_model.load(version_dir).signatures["by_index"]  # item numbers, as TFLite
        models[name] = lambda x: {k: v.numpy() for k, v in signature(session_items=tf.constant(x)).items()}
        sizes[name] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(version_dir) for f in fs)

    def add_tflite(name, version_dir, quant):
        path = convert_savedmodel(version_dir, os.path.join(work, f"{name}.tflite"), quant)
        runner = Interpreter(model_path=path, num_threads=os.cpu_count()).get_signature_runner("serving_default")
        models[name] = lambda x, r=runner: r(session_items=x)
        sizes[name] = os.path.getsize(path)

    version_dir = export_savedmodel(model_dir, os.path.join(work, "export"), warmup_sessions=[test.prefix(0)])
    add_savedmodel("savedmodel", version_dir)
    for quant in ("none", "float16", "dynamic_range"):
        add_tflite("tflite_float32" if quant == "none" else f"tflite_{quant}", version_dir, quant)
    if FLAGS.compare_whole_requests:
        whole_dir = export_savedmodel(model_dir, os.path.join(work, "export_whole"), warmup_sessions=[test.prefix(0)],
                                      max_batch_sessions=0)
        add_savedmodel("savedmodel_whole", whole_dir)
        sliced_dir = export_savedmodel(model_dir, os.path.join(work, "export_sliced"),
                                       warmup_sessions=[test.prefix(0)], tflite_max_batch_sessions=16)
        add_tflite("tflite_float32_sliced", sliced_dir, "none")

    rng = np.random.default_rng(0)
    latency_ids = rng.choice(len(test), FLAGS.latency_requests, replace=False)
    singles = [np.asarray([test.prefix(int(i))], np.int64) for i in latency_ids]
    batch_ids = rng.choice(len(test), FLAGS.batch_size * FLAGS.throughput_batches, replace=False)
    batches = [pad([test.prefix(int(i)) for i in batch_ids[b * FLAGS.batch_size:(b + 1) * FLAGS.batch_size]])
               for b in range(FLAGS.throughput_batches)]
    n_hr = len(test) if not FLAGS.hr_examples else min(FLAGS.hr_examples, len(test))

    times = {name: [] for name in models}
    throughputs = {name: [] for name in models}
    for fn in models.values():
        fn(singles[0]), fn(batches[0])  # warm up both shapes
    for _ in range(FLAGS.rounds):
        for name, fn in models.items():
            for x in singles:
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            for x in batches:
                fn(x)
            throughputs[name].append(FLAGS.batch_size * len(batches) / (time.perf_counter() - start))

    rows = []
    for name, fn in models.items():
        row = {"model": name, "size_mb": round(sizes[name] / 2**20, 1),
               "latency_p50_ms": round(1000 * float(np.percentile(times[name], 50)), 2),
               "latency_p99_ms": round(1000 * float(np.percentile(times[name], 99)), 2),
               "batch": FLAGS.batch_size,
               "throughput_sessions_per_sec": round(float(np.median(throughputs[name])), 1),
               "throughput_per_round": [round(t, 1) for t in throughputs[name]]}
        if FLAGS.model_dir:
            hits = rr = 0.0
            for b in range(0, n_hr, FLAGS.batch_size):
                idx = range(b, min(b + FLAGS.batch_size, n_hr))
                top = fn(pad([test.prefix(i) for i in idx]))["top_k_ids"]
                match = top == test.labels[b:b + len(idx), None]
                found = match.any(axis=1)
                hits += found.sum()
                rr += (found / (match.argmax(axis=1) + 1)).sum()
            row.update({"test_hr@20": round(100 * hits / n_hr, 2), "test_mrr@20": round(100 * rr / n_hr, 2),
                        "hr_examples": n_hr})
        rows.append(row)
        print(" | ".join(f"{k} {v}" for k, v in row.items()), flush=True)

    measure.write_json(FLAGS.json_out, {
        "num_items": splits.num_items, "model_dir": FLAGS.model_dir, "rows": rows, "rounds": FLAGS.rounds,
        "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info(),
        "peak_rss_gb": round(measure.peak_rss_gb(), 2)})
    if FLAGS.readme and FLAGS.json_out:
        with open(FLAGS.json_out) as f:
            measure.replace_block(FLAGS.readme, FLAGS.block, render(json.load(f), FLAGS.json_out))


if __name__ == "__main__":
    app.run(main)
