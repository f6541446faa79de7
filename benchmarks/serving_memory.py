"""Working memory of one serving request, by batch size, with and without slicing.

  python -m benchmarks.serving_memory --json_out=benchmarks/results/serving_memory.json \
      --readme=benchmarks/README.md

Exports a randomly initialised Diginetica-sized model (43,097 items by
default; memory does not depend on the weights) twice: with requests scored in
slices of `--max_batch_sessions` (the TFLite graph too, which is not the
TFLite default) and with whole requests (`0`, the behaviour before slicing),
and converts both to TFLite. Each measurement runs in a fresh
process that loads one model and records its resident memory, resets the
kernel's peak-RSS mark (`/proc/self/clear_refs`), serves one request of
`sessions` x `clicks` random item ids and reads the peak again (`VmHWM`): the
difference is the request's working memory (outputs included). (`ru_maxrss`
would not do: Linux carries the parent's peak across fork and exec.) `top_k`
rows call the signature without the `[batch, N]` `scores` output.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("num_items", 43097, "Catalogue size of the random model.")
flags.DEFINE_integer("max_session_length", 69, "The export's max_session_length (Diginetica's).")
flags.DEFINE_integer("max_batch_sessions", 16, "Slice size of the sliced exports (TF signatures and TFLite).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose SERVING_MEMORY block gets the table.")
FLAGS = flags.FLAGS

# (format, sliced, signature, sessions, clicks per session). Whole-request
# rows stop at 500 sessions: 2,000 twenty-click sessions would need ~28 GB.
CASES = [(fmt, sliced, "by_index", sessions, 20)
         for fmt in ("savedmodel", "tflite") for sliced in (True, False) for sessions in (1, 100, 250, 500)]
CASES += [(fmt, True, "by_index", 2000, clicks) for fmt in ("savedmodel", "tflite") for clicks in (4, 20)]
CASES += [("savedmodel", False, "by_index", 2000, 4), ("savedmodel", True, "top_k", 2000, 20)]

CHILD = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
fmt, path, signature, sessions, clicks, num_items = sys.argv[1:7]
sessions, clicks, num_items = int(sessions), int(clicks), int(num_items)
request = np.random.default_rng(0).integers(1, num_items + 1, (sessions, clicks)).astype(np.int64)
def status_gb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20

if fmt == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    call = lambda: runner(session_items=request)
else:
    import tensorflow as tf
    fn = tf.saved_model.load(path).signatures[signature]
    kwargs = {"k": tf.constant(20, tf.int32)} if signature == "top_k" else {}
    items = tf.constant(request.astype(str)) if signature == "top_k" else tf.constant(request)  # top_k: raw ids
    call = lambda: {k: v.numpy() for k, v in fn(session_items=items, **kwargs).items()}
loaded = status_gb("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current RSS
out = call()
print("RESULT" + json.dumps({"loaded_gb": round(loaded, 3), "peak_gb": round(status_gb("VmHWM"), 3),
                             "outputs": sorted(out)}))
"""


def measure_case(path: str, case) -> dict:
    fmt, sliced, signature, sessions, clicks = case
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", CHILD, fmt, path, signature, str(sessions), str(clicks),
                           str(FLAGS.num_items)], capture_output=True, text=True, timeout=1800, env=env)
    row = {"format": fmt, "sliced": sliced, "signature": signature, "sessions": sessions, "clicks": clicks}
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
        return row
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("RESULT")][-1][6:])
    row.update(loaded_gb=result["loaded_gb"], peak_gb=result["peak_gb"],
               request_gb=round(result["peak_gb"] - result["loaded_gb"], 3))
    return row


def render(figures: dict) -> str:
    lines = [f"Written by `python -m benchmarks.serving_memory` (`benchmarks/results/serving_memory.json`): a "
             f"random {figures['num_items']:,}-item model (Diginetica's size), requests of random ids, "
             f"one fresh process per row; 'loaded' = RSS with the model loaded, 'peak' = peak RSS during the "
             f"request, 'request' = the difference (outputs included). Sliced: slices of "
             f"{figures['max_batch_sessions']} sessions (the default of the TensorFlow signatures; TFLite: "
             "`--tflite_max_batch_sessions`); whole: `--max_batch_sessions=0` (the behaviour before slicing; the "
             "TFLite default).", "",
             "| format | requests | signature | sessions x clicks | loaded (GB) | peak (GB) | request (GB) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in figures["rows"]:
        shape = f"{r['sessions']:,} x {r['clicks']}"
        if "error" in r:
            lines.append(f"| {r['format']} | {'sliced' if r['sliced'] else 'whole'} | {r['signature']} | {shape} | "
                         f"failed: {r['error']} | | |")
            continue
        lines.append(f"| {r['format']} | {'sliced' if r['sliced'] else 'whole'} | {r['signature']} | {shape} | "
                     f"{r['loaded_gb']:.2f} | {r['peak_gb']:.2f} | {r['request_gb']:.2f} |")
    return "\n".join(lines)


def main(argv):
    del argv
    import keras

    from benchmarks import measure
    from tagnn_tf import run_directory
    from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig
    from tagnn_tf.models import build_model
    from tagnn_tf.serving.savedmodel_export import export_savedmodel
    from tagnn_tf.serving.tflite_export import convert_savedmodel

    work = tempfile.mkdtemp(prefix="serving_memory_")
    model_dir = os.path.join(work, "run")
    os.makedirs(model_dir)
    config = ExperimentConfig(data=DataConfig(num_items=FLAGS.num_items))
    run_directory.write_text_atomic(os.path.join(model_dir, run_directory.CONFIG), config.to_json())
    keras.utils.set_random_seed(1)
    build_model(ModelConfig(), FLAGS.num_items, seed=1).save(os.path.join(model_dir, run_directory.BEST_MODEL))
    paths = {}
    for sliced, slices in ((True, FLAGS.max_batch_sessions), (False, 0)):
        version = export_savedmodel(model_dir, os.path.join(work, f"export_{slices}"), FLAGS.max_session_length,
                                    warmup_sessions=[[1, 2]], log=lambda *_: None, max_batch_sessions=slices,
                                    tflite_max_batch_sessions=slices)
        paths[("savedmodel", sliced)] = version
        paths[("tflite", sliced)] = convert_savedmodel(version, os.path.join(work, f"tagnn_{slices}.tflite"))
    rows = []
    for case in CASES:
        row = measure_case(paths[(case[0], case[1])], case)
        print(json.dumps(row), flush=True)
        rows.append(row)
    figures = {"num_items": FLAGS.num_items, "max_batch_sessions": FLAGS.max_batch_sessions, "rows": rows,
               "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}
    measure.write_json(FLAGS.json_out, figures)
    if FLAGS.readme:
        measure.replace_block(FLAGS.readme, "SERVING_MEMORY", render(figures))


if __name__ == "__main__":
    app.run(main)
