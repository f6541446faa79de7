"""Training from session shards: the trainer's memory and start-up against the size of the log.

  python -m benchmarks.stream_training --clicks=3000000,30000000,300000000 \
      --json_out=benchmarks/results/stream_training.json --readme=benchmarks/README.md

For each size, writes a synthetic log of that many clicks as session shards
(`tagnn_tf.data.synthetic.write_synthetic_shards`: Diginetica's catalogue of
43,097 items, 100,000 sessions a shard), then trains TAGNN from it in a fresh
process with `input_pipeline=stream`, the `time` validation split and
sampled training (the library's defaults otherwise) for `--steps` steps, and records: the seconds from the
process start to the end of the first training step, the peak RSS of the
process (`VmHWM`) and the training examples/s after the first 50 steps.

Then, on Diginetica (`../shared/data`, converted into shards here), the same
training with the in-memory pipeline and with the stream, alternated
`--repeats` times in fresh processes: the examples/s of each and their ratio
(medians). By default each process trains one whole epoch, so both pipelines
train on the same examples (in different batches): over a few hundred steps
the two orders draw batches of different lengths, and the cost of a step
follows its batch's longest session.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from absl import app, flags

from tagnn_tf.config import DEFAULT_DATA_DIR

flags.DEFINE_list("clicks", ["3000000", "30000000", "300000000"], "Sizes of the synthetic logs, in clicks.")
flags.DEFINE_integer("steps", 400, "Training steps timed in each process.")
flags.DEFINE_integer("repeats", 3, "Diginetica: alternated in-memory / streamed processes.")
flags.DEFINE_integer("diginetica_steps", 0, "Diginetica: steps a process trains (0 = one whole epoch, so that "
                     "both pipelines train on the same examples; a short window compares different batches).")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Where diginetica/ is (SR-GNN files).")
flags.DEFINE_string("work_dir", "/tmp/tagnn_stream_benchmark", "Where the shards are written (removed after).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_list("valid_splits", ["time"], "Validation splits timed at every size (`time` planned from the "
                  "shards' order; `sessions` and `examples` hash every session or example at start-up).")
flags.DEFINE_string("readme", None, "Markdown file whose `--readme_block` block gets the table.")
flags.DEFINE_string("readme_block", "STREAM_TRAINING", "Name of that block.")
FLAGS = flags.FLAGS

NUM_ITEMS = 43097  # Diginetica's catalogue
CLICKS_PER_SESSION = 5.0  # the generator's mean session length

CHILD = r"""
import json, sys, time
start = time.time()
from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
from tagnn_tf.training import trainer
data_dir, dataset, pipeline, steps, model_dir = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
valid_split = sys.argv[6]
stamps, sizes = [], []
original = trainer.DistributedSteps.train
def timed(self, batch, spec):
    out = original(self, batch, spec)
    stamps.append(time.time())
    sizes.append(int(batch[1].shape[0]))
    return out
trainer.DistributedSteps.train = timed
config = ExperimentConfig(data=DataConfig(dataset=dataset, data_dir=data_dir, input_pipeline=pipeline,
                                          valid_split=valid_split),
                          train=TrainConfig(epochs=1, steps_per_epoch=steps, train_candidates="sampled",
                                            max_eval_examples=2000))
trainer.train(config, model_dir, log=lambda m: None)
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 2**20
warm = stamps[50:]
print("RESULT" + json.dumps({"first_step_seconds": round(stamps[0] - start, 1), "peak_rss_gb": round(hwm, 2),
                             "examples_per_sec": round(sum(sizes[51:]) / (warm[-1] - warm[0]), 1),
                             "steps": len(stamps)}))
"""


def _child(data_dir: str, dataset: str, pipeline: str, steps: int, model_dir: str, valid_split: str = "time") -> dict:
    shutil.rmtree(model_dir, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", CHILD, data_dir, dataset, pipeline, str(steps), model_dir,
                          valid_split],
                         capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    shutil.rmtree(model_dir, ignore_errors=True)
    from benchmarks.measure import child_result

    return child_result(out.stdout)


def main(argv):
    del argv
    from benchmarks import measure
    from tagnn_tf.data.dataset_folder import convert_srgnn_folder
    from tagnn_tf.data.synthetic import write_synthetic_shards

    os.makedirs(FLAGS.work_dir, exist_ok=True)
    sizes = []
    for clicks in map(int, FLAGS.clicks):
        folder = os.path.join(FLAGS.work_dir, "generated")
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        counts = write_synthetic_shards(folder, NUM_ITEMS, int(clicks / CLICKS_PER_SESSION), seed=1,
                                        overwrite=True)
        written = time.perf_counter() - start
        for valid_split in FLAGS.valid_splits:
            row = {"clicks": counts["train"]["clicks"] + counts["test"]["clicks"],
                   "train_examples": counts["train"]["examples"], "train_shards": counts["train"]["shards"],
                   "write_seconds": round(written, 1), "valid_split": valid_split,
                   **_child(FLAGS.work_dir, "generated", "stream", FLAGS.steps, os.path.join(FLAGS.work_dir, "run"),
                            valid_split)}
            print(json.dumps(row), flush=True)
            sizes.append(row)
        shutil.rmtree(folder, ignore_errors=True)

    if FLAGS.repeats:
        convert_srgnn_folder(os.path.join(FLAGS.data_dir, "diginetica"), os.path.join(FLAGS.work_dir, "diginetica"),
                             overwrite=True)
    runs = {"memory": [], "stream": []}
    for _ in range(FLAGS.repeats):
        for pipeline in ("memory", "stream"):
            runs[pipeline].append(_child(FLAGS.work_dir, "diginetica", pipeline, FLAGS.diginetica_steps,
                                         os.path.join(FLAGS.work_dir, "run")))
            print(pipeline, json.dumps(runs[pipeline][-1]), flush=True)
    figures = {"steps": FLAGS.steps, "diginetica_steps": FLAGS.diginetica_steps, "num_items": NUM_ITEMS,
               "sizes": sizes}
    if FLAGS.repeats:
        rates = {p: statistics.median(r["examples_per_sec"] for r in runs[p]) for p in runs}
        figures["diginetica"] = {"runs": runs, "median_examples_per_sec": rates,
                                 "stream_over_memory": round(rates["stream"] / rates["memory"], 3)}
    measure.write_json(FLAGS.json_out or "", figures)
    if FLAGS.readme:
        measure.replace_block(FLAGS.readme, FLAGS.readme_block, render(figures))
    print(render(figures))


def render(figures: dict) -> str:
    lines = ["| clicks | training examples | shards | write (s) | validation split | start to first step (s) | "
             "trainer peak RSS (GB) | examples/s |", "|---|---|---|---|---|---|---|---|"]
    for r in figures["sizes"]:
        lines.append(f"| {r['clicks']:,} | {r['train_examples']:,} | {r['train_shards']} | {r['write_seconds']} | "
                     f"{r.get('valid_split', 'time')} | {r['first_step_seconds']} | {r['peak_rss_gb']} | "
                     f"{r['examples_per_sec']:,.0f} |")
    if "diginetica" not in figures:
        return "\n".join(lines)
    d = figures["diginetica"]
    window = f"{figures['diginetica_steps']} steps" if figures.get("diginetica_steps") else "one epoch"
    lines += ["", f"Diginetica, {window} a process, medians of {len(d['runs']['memory'])} "
              f"alternated processes: in memory {d['median_examples_per_sec']['memory']:,.0f} examples/s, streamed "
              f"{d['median_examples_per_sec']['stream']:,.0f} (ratio {d['stream_over_memory']})."]
    return "\n".join(lines)


if __name__ == "__main__":
    app.run(main)
