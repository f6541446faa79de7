"""Independent training runs side by side: one core each vs one run on every core.

  python -m benchmarks.parallel_runs --dataset=yoochoose1_64 --rounds=2 --json_out=PATH

The reproduction suite (`trainers.reproduce`) trains a dozen independent runs. This
measures whether they finish sooner one at a time on all cores or several at once,
each pinned to its own core (`taskset`-style affinity, set before TF starts, so TF
sizes its thread pools to one core). Each round times, with the same code and data:
  - `all_cores`: one `benchmarks.train_throughput` process on every core;
  - `pinned`: one such process per core, started together, each on its own core.
Rounds alternate the two settings; the figures are medians over rounds, and the
ratio is aggregate pinned examples/s over one process's examples/s.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_string("dataset", "yoochoose1_64", "Dataset to train on.")
flags.DEFINE_integer("steps", 60, "Timed training steps per process.")
flags.DEFINE_integer("rounds", 2, "Alternating rounds of the two settings.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


def _throughput_processes(cores_per_process, workdir: str, tag: str) -> list:
    """Starts one train_throughput process per entry (its CPU set), waits, returns their figures."""
    procs = []
    for i, cpus in enumerate(cores_per_process):
        out = os.path.join(workdir, f"{tag}-{i}.json")
        cmd = [sys.executable, "-m", "benchmarks.train_throughput", f"--data_dir={FLAGS.data_dir}",
               f"--datasets={FLAGS.dataset}", f"--steps={FLAGS.steps}", "--naive_steps=0",
               f"--json_out={out}"]
        log = open(os.path.join(workdir, f"{tag}-{i}.log"), "w")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=lambda c=frozenset(cpus): os.sched_setaffinity(0, c)),
                      out, log))
    figures = []
    for proc, out, log in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"{' '.join(proc.args)} failed; see {log.name}")
        log.close()
        with open(out) as f:
            figures.append(json.load(f))
    return figures


def main(argv):
    del argv
    from benchmarks import measure
    from tagnn_tf.run_directory import git_commit, machine_info

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise app.UsageError(f"Needs at least 2 usable cores. Received: {cores}")
    rows = {"all_cores": [], "pinned": []}
    with tempfile.TemporaryDirectory() as workdir:
        for r in range(FLAGS.rounds):
            one = _throughput_processes([cores], workdir, f"all{r}")[0]
            rows["all_cores"].append(one["examples_per_sec"])
            pinned = _throughput_processes([[c] for c in cores], workdir, f"pin{r}")
            rows["pinned"].append([p["examples_per_sec"] for p in pinned])
            print(f"round {r + 1}: one process on {len(cores)} cores {one['examples_per_sec']:.1f} ex/s; "
                  f"{len(cores)} pinned processes {[p['examples_per_sec'] for p in pinned]} ex/s "
                  f"(sum {sum(p['examples_per_sec'] for p in pinned):.1f})", flush=True)
    one_med = statistics.median(rows["all_cores"])
    agg_med = statistics.median(sum(p) for p in rows["pinned"])
    summary = {
        "dataset": FLAGS.dataset, "steps": FLAGS.steps, "rounds": FLAGS.rounds, "cores": len(cores),
        "all_cores_examples_per_sec": rows["all_cores"],
        "pinned_examples_per_sec": rows["pinned"],
        "all_cores_median": round(one_med, 1),
        "pinned_aggregate_median": round(agg_med, 1),
        "pinned_per_process_median": round(statistics.median(x for p in rows["pinned"] for x in p), 1),
        "aggregate_ratio": round(agg_med / one_med, 3),
        "git_commit": git_commit(),
        "machine": machine_info(),
    }
    print(f"median: one process {one_med:.1f} ex/s; {len(cores)} pinned processes together "
          f"{agg_med:.1f} ex/s; ratio {agg_med / one_med:.2f}x")
    measure.write_json(FLAGS.json_out, summary)


if __name__ == "__main__":
    app.run(main)
