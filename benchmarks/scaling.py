"""Training examples/s under tf.distribute strategies on this host, as in-run ratios.

  python -m benchmarks.scaling --data_dir=../shared/data --steps=40 --json_out=PATH

Each setting trains the real model on Diginetica (global batch 100, the real
input pipeline) for two epochs of --steps steps in fresh processes; the figure
is epoch 2's examples/s from the trainer's own `run_log.jsonl` (epoch 1
includes tracing). Settings: one device; MirroredStrategy over 2 logical CPU
devices; MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1.
On a 2-core CPU host every setting shares the same two cores, so ratios near
or below 1 are expected: this checks that the distributed paths work at full
size and what they cost, not that they scale (that needs GPUs or hosts).
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_string("dataset", "diginetica", "Dataset.")
flags.DEFINE_integer("steps", 40, "Steps per epoch (2 epochs; epoch 2 is timed).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = r"""
import sys
from tagnn_tf.config import DataConfig, DistributeConfig, ExperimentConfig, TrainConfig
from tagnn_tf.training.strategies import make_strategy
strategy = make_strategy(DistributeConfig(strategy=sys.argv[2], num_devices=int(sys.argv[3])))
from tagnn_tf.training.trainer import train
cfg = ExperimentConfig(data=DataConfig(dataset=sys.argv[4], data_dir=sys.argv[5]),
                       train=TrainConfig(epochs=2, steps_per_epoch=int(sys.argv[6]), max_eval_examples=1000))
train(cfg, sys.argv[1], strategy=strategy, log=lambda m: None)
"""


def run_setting(name, strategy, num_devices, processes):
    model_dir = tempfile.mkdtemp(prefix=f"tagnn_scaling_{name}_")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    ports = []
    for _ in range(processes if processes > 1 else 0):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    procs = []
    try:
        for i in range(processes):
            if processes > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                               "task": {"type": "worker", "index": i}})
            procs.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, model_dir, strategy, str(num_devices), FLAGS.dataset,
                 os.path.abspath(FLAGS.data_dir), str(FLAGS.steps)],
                cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate(timeout=3600)
            if p.returncode != 0:
                raise RuntimeError(f"{name}: a process failed:\n{err[-3000:]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    rows = [json.loads(x) for x in open(os.path.join(model_dir, "run_log.jsonl"))]
    info = json.load(open(os.path.join(model_dir, "run_info.json")))["sessions"][0]
    return {"setting": name, "strategy": info["strategy"], "replicas": info["replicas"], "processes": processes,
            "examples_per_sec": rows[-1]["examples_per_sec"], "peak_rss_gb_chief": rows[-1]["peak_rss_gb"]}


def main(argv):
    del argv
    from benchmarks import measure
    from tagnn_tf import run_directory

    settings = [("one_device", "default", 0, 1), ("mirrored_2_logical_cpus", "mirrored", 2, 1),
                ("multi_worker_2_processes", "multi_worker", 0, 2)]
    rows = []
    for name, strategy, devices, processes in settings:
        rows.append(run_setting(name, strategy, devices, processes))
        print(f"{name}: {rows[-1]['examples_per_sec']} examples/s ({rows[-1]['strategy']}, "
              f"{rows[-1]['replicas']} replicas)", flush=True)
    base = rows[0]["examples_per_sec"]
    for r in rows:
        r["ratio_to_one_device"] = round(r["examples_per_sec"] / base, 3)
        print(f"{r['setting']}: ratio {r['ratio_to_one_device']}")
    measure.write_json(FLAGS.json_out, {"dataset": FLAGS.dataset, "global_batch": 100, "steps_timed": FLAGS.steps,
                                        "rows": rows, "git_commit": run_directory.git_commit(),
                                        "machine": run_directory.machine_info()})


if __name__ == "__main__":
    app.run(main)
