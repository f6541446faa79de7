"""Out-of-core preprocessing (`--out_of_core`) against the log's size, beside the in-memory path.

  python -m benchmarks.click_log_out_of_core --clicks=30000000,300000000 \
      --json_out=benchmarks/results/click_log_out_of_core.json --readme=benchmarks/README.md

Writes synthetic Parquet logs (`benchmarks.click_log_data`, in chunks of 10M
clicks so the writer's memory stays small; each chunk its own sessions over
the same 180 days and SKU names), then preprocesses each in a fresh process
that reports its wall time and peak RSS (`VmHWM`): out of core at every
size, in memory at the sizes up to `--in_memory_up_to`, and on Apache Beam's
DirectRunner (`trainers.preprocess_beam` in `.venv-beam`, 2 workers) up to
`--beam_up_to` (all writing session shards). Where the in-memory path ran too,
the out-of-core output's manifest (the shards' SHA-256) and report must equal
it; the Beam output's sessions and report must equal it (its shards are cut
per day, so their hashes differ).

The engine comparison (Beam against Spark, on the same logs, checked against
the one-machine output; `make .venv-spark/.installed` first):

  python -m benchmarks.click_log_out_of_core --clicks=3000000,30000000 --beam_up_to=30000000 \
      --spark_up_to=30000000 --json_out=benchmarks/results/preprocess_engines.json \
      --readme=benchmarks/README.md --readme_block=PREPROCESS_ENGINES

Spark runs `benchmarks/spark_click_log.py` (PySpark, `local[*]`), whose sessions
and items must equal the in-memory output. Besides the launcher's peak RSS,
every mode records the peak RSS summed over its process tree (sampled every
0.25 s: Beam's worker processes, Spark's JVM).
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_list("clicks", ["30000000", "300000000"], "Sizes of the synthetic logs, in clicks.")
flags.DEFINE_integer("in_memory_up_to", 30_000_000, "Also run the in-memory path on logs up to this size.")
flags.DEFINE_integer("beam_up_to", 3_000_000, "Also run the Beam pipeline (DirectRunner, .venv-beam) up to this size.")
flags.DEFINE_integer("spark_up_to", 0, "Also run the PySpark job (benchmarks/spark_click_log.py, local[*], "
                     ".venv-spark) up to this size.")
flags.DEFINE_string("work_dir", "/tmp/tagnn_out_of_core_benchmark", "Where logs and outputs go (removed after).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose `--readme_block` block gets the table.")
flags.DEFINE_string("readme_block", "CLICK_LOG_OUT_OF_CORE", "Name of that block (the engine comparison writes "
                    "PREPROCESS_ENGINES).")
FLAGS = flags.FLAGS

CHUNK = 10_000_000
CHILD = r"""
import json, sys, time
start = time.perf_counter()
from tagnn_tf.config import ClickLogConfig
config = ClickLogConfig(session_column="session_id", item_column="item_id", time_column="ts")
if sys.argv[3] == "out_of_core":
    from tagnn_tf.data.click_log_out_of_core import preprocess_clicks_out_of_core
    report = preprocess_clicks_out_of_core(sys.argv[1], config, sys.argv[2], log=None).report
else:
    import os
    from tagnn_tf.data.click_log import run_clicks
    report = run_clicks(sys.argv[1], config, os.path.dirname(sys.argv[2]), os.path.basename(sys.argv[2]),
                        log=None).report
seconds = time.perf_counter() - start
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 2**20
print("RESULT" + json.dumps({"seconds": round(seconds, 1), "peak_rss_gb": round(hwm, 2), "report": report}))
"""


def write_log(path: str, clicks: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.click_log_data import click_columns

    writer = None
    try:
        for k, start in enumerate(range(0, clicks, CHUNK)):
            columns = click_columns(min(CHUNK, clicks - start), seed=k)
            columns["session_id"] = [f"c{k}{s}" for s in columns["session_id"].tolist()]
            table = pa.table({name: pa.array(v) for name, v in columns.items()})
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


BEAM_CHILD = r"""
import json, os, sys, time
start = time.perf_counter()
from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.beam_preprocess import run_beam
config = ClickLogConfig(session_column="session_id", item_column="item_id", time_column="ts")
report = run_beam(sys.argv[1], config, os.path.dirname(sys.argv[2]), os.path.basename(sys.argv[2]), log=None,
                  pipeline_args=["--runner=DirectRunner", "--direct_num_workers=2",
                                 "--direct_running_mode=multi_processing"]).report
seconds = time.perf_counter() - start
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 2**20
print("RESULT" + json.dumps({"seconds": round(seconds, 1), "peak_rss_gb": round(hwm, 2), "report": report}))
"""
BEAM_PYTHON = os.path.join(".venv-beam", "bin", "python")
SPARK_PYTHON = os.path.join(".venv-spark", "bin", "python")
SPARK_CONFIG = {"session_column": "session_id", "item_column": "item_id", "time_column": "ts"}


def _sessions(folder: str):
    from tagnn_tf.data import session_shards

    manifest = session_shards.read_manifest(folder)
    return [a.tolist() for p in session_shards.PARTS for a in session_shards.read_part(manifest, p)]


def _spark_sessions(out: str):
    """The Spark job's output (`benchmarks/spark_click_log.py`) as `_sessions` gives it, and its items."""
    import glob

    import pyarrow.parquet as pq

    from tagnn_tf.data import session_shards

    sessions = []
    for part in session_shards.PARTS:
        lists = []
        for name in sorted(glob.glob(os.path.join(out, part, "*.parquet"))):
            lists += pq.read_table(name, columns=["items"]).column("items").to_pylist()
        sessions += [a.tolist() for a in session_shards.sessions_to_arrays(lists)]
    items = [r for name in sorted(glob.glob(os.path.join(out, "items", "*.parquet")))
             for r in pq.read_table(name, columns=["item"]).column("item").to_pylist()]
    return sessions, items


def _run(path: str, out: str, mode: str) -> dict:
    from benchmarks.measure import child_result, run_with_tree_peak

    if mode == "spark":
        from tagnn_tf.config import ClickLogConfig

        config = {**SPARK_CONFIG, **{k: v for k, v in dataclasses.asdict(ClickLogConfig()).items()
                                     if k in ("min_session_length", "min_item_count", "max_session_length",
                                              "test_days")}}
        args = [SPARK_PYTHON, os.path.join(os.path.dirname(__file__), "spark_click_log.py"), path, out,
                json.dumps(config)]
    else:
        python, child = (BEAM_PYTHON, BEAM_CHILD) if mode == "beam" else (sys.executable, CHILD)
        args = [python, "-c", child, path, out, mode]
    start = time.perf_counter()
    result, tree_peak = run_with_tree_peak(args)
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    figures = child_result(result.stdout)
    figures["process_seconds"] = round(time.perf_counter() - start, 1)
    figures["tree_peak_rss_gb"] = tree_peak
    return figures


def main(argv):
    del argv
    from benchmarks import measure

    shutil.rmtree(FLAGS.work_dir, ignore_errors=True)
    os.makedirs(FLAGS.work_dir)
    rows = []
    try:
        for clicks in map(int, FLAGS.clicks):
            path = os.path.join(FLAGS.work_dir, "clicks.parquet")
            start = time.perf_counter()
            write_log(path, clicks)
            row = {"clicks": clicks, "file_mb": round(os.path.getsize(path) / 2**20, 1),
                   "write_seconds": round(time.perf_counter() - start, 1)}
            modes = (["out_of_core"] + (["in_memory"] if clicks <= FLAGS.in_memory_up_to else [])
                     + (["beam"] if clicks <= FLAGS.beam_up_to else [])
                     + (["spark"] if clicks <= FLAGS.spark_up_to else []))
            manifests, sessions = {}, {}
            spark_items = None
            for mode in modes:
                out = os.path.join(FLAGS.work_dir, mode)
                result = _run(path, out, mode)
                if mode == "spark":
                    sessions[mode], spark_items = _spark_sessions(out)
                    report = {"train_sessions": result.pop("train_sessions"),
                              "test_sessions": result.pop("test_sessions"), "items": result.pop("items")}
                else:
                    manifests[mode] = json.load(open(os.path.join(out, "shards.json")))["parts"]
                    sessions[mode] = _sessions(out)
                    if mode == "in_memory":
                        items = open(os.path.join(out, "items.txt")).read().splitlines()
                    report = result.pop("report")
                    report.pop("config", None)
                row[mode] = {**result, "us_per_click": round(1e6 * result["seconds"] / clicks, 2),
                             "report": report}
                shutil.rmtree(out)
            if "in_memory" in manifests:
                row["outputs_equal"] = (manifests["out_of_core"] == manifests["in_memory"]
                                        and row["out_of_core"]["report"] == row["in_memory"]["report"])
                if "beam" in manifests:
                    row["beam_output_equal"] = (sessions["beam"] == sessions["in_memory"]
                                                and row["beam"]["report"] == row["in_memory"]["report"])
                if "spark" in sessions:
                    row["spark_output_equal"] = sessions["spark"] == sessions["in_memory"] and spark_items == items
            print(json.dumps(row), flush=True)
            rows.append(row)
            os.remove(path)
    finally:
        shutil.rmtree(FLAGS.work_dir, ignore_errors=True)
    figures = {"rows": rows}
    sizes = [r for r in rows if "out_of_core" in r]
    if len(sizes) >= 2:
        figures["peak_rss_ratio_largest_to_smallest"] = round(
            sizes[-1]["out_of_core"]["peak_rss_gb"] / sizes[0]["out_of_core"]["peak_rss_gb"], 3)
    measure.write_json(FLAGS.json_out or "", figures)
    if FLAGS.readme:
        measure.replace_block(FLAGS.readme, FLAGS.readme_block, render(figures))
    print(render(figures))


def render(figures: dict) -> str:
    lines = ["| clicks | Parquet (MB) | mode | seconds | µs / click | peak RSS (GB, launcher) | peak RSS (GB, all "
             "processes) | training sessions | items |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in figures["rows"]:
        for mode in ("out_of_core", "in_memory", "beam", "spark"):
            if mode in r:
                m = r[mode]
                lines.append(f"| {r['clicks']:,} | {r['file_mb']} | {mode.replace('_', ' ')} | {m['seconds']} | "
                             f"{m['us_per_click']} | {m.get('peak_rss_gb', '-')} | {m.get('tree_peak_rss_gb', '-')} | "
                             f"{m['report']['train_sessions']:,} | "
                             f"{m['report']['items']:,} |")
    notes = [f"{r['clicks']:,} clicks: out of core and in memory, the outputs are "
             f"{'equal' if r['outputs_equal'] else 'DIFFERENT'} (manifests with the shards' SHA-256, reports)."
             for r in figures["rows"] if "outputs_equal" in r]
    notes += [f"{r['clicks']:,} clicks: Beam (DirectRunner, 2 worker processes) and in memory, the sessions and "
              f"reports are {'equal' if r['beam_output_equal'] else 'DIFFERENT'}."
              for r in figures["rows"] if "beam_output_equal" in r]
    notes += [f"{r['clicks']:,} clicks: Spark (local[*]) and in memory, the sessions and items are "
              f"{'equal' if r['spark_output_equal'] else 'DIFFERENT'}."
              for r in figures["rows"] if "spark_output_equal" in r]
    if "peak_rss_ratio_largest_to_smallest" in figures:
        ratio = figures["peak_rss_ratio_largest_to_smallest"]
        notes.append(f"Out-of-core peak RSS, largest log over smallest: {ratio}.")
    return "\n".join(lines + [""] + notes)


if __name__ == "__main__":
    app.run(main)
