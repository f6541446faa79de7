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
"""

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
flags.DEFINE_string("work_dir", "/tmp/tagnn_out_of_core_benchmark", "Where logs and outputs go (removed after).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose CLICK_LOG_OUT_OF_CORE block gets the table.")
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


def _sessions(folder: str):
    from tagnn_tf.data import session_shards

    manifest = session_shards.read_manifest(folder)
    return [a.tolist() for p in session_shards.PARTS for a in session_shards.read_part(manifest, p)]


def _run(path: str, out: str, mode: str) -> dict:
    python, child = (BEAM_PYTHON, BEAM_CHILD) if mode == "beam" else (sys.executable, CHILD)
    result = subprocess.run([python, "-c", child, path, out, mode], capture_output=True, text=True,
                            timeout=4 * 3600)
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    from benchmarks.measure import child_result

    return child_result(result.stdout)


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
                     + (["beam"] if clicks <= FLAGS.beam_up_to else []))
            manifests, sessions = {}, {}
            for mode in modes:
                out = os.path.join(FLAGS.work_dir, mode)
                result = _run(path, out, mode)
                manifests[mode] = json.load(open(os.path.join(out, "shards.json")))["parts"]
                sessions[mode] = _sessions(out)
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
        measure.replace_block(FLAGS.readme, "CLICK_LOG_OUT_OF_CORE", render(figures))
    print(render(figures))


def render(figures: dict) -> str:
    lines = ["| clicks | Parquet (MB) | mode | seconds | µs / click | peak RSS (GB, launcher) | training sessions | "
             "items |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in figures["rows"]:
        for mode in ("out_of_core", "in_memory", "beam"):
            if mode in r:
                m = r[mode]
                lines.append(f"| {r['clicks']:,} | {r['file_mb']} | {mode.replace('_', ' ')} | {m['seconds']} | "
                             f"{m['us_per_click']} | {m['peak_rss_gb']} | {m['report']['train_sessions']:,} | "
                             f"{m['report']['items']:,} |")
    notes = [f"{r['clicks']:,} clicks: out of core and in memory, the outputs are "
             f"{'equal' if r['outputs_equal'] else 'DIFFERENT'} (manifests with the shards' SHA-256, reports)."
             for r in figures["rows"] if "outputs_equal" in r]
    notes += [f"{r['clicks']:,} clicks: Beam (DirectRunner, 2 worker processes) and in memory, the sessions and "
              f"reports are {'equal' if r['beam_output_equal'] else 'DIFFERENT'}."
              for r in figures["rows"] if "beam_output_equal" in r]
    if "peak_rss_ratio_largest_to_smallest" in figures:
        ratio = figures["peak_rss_ratio_largest_to_smallest"]
        notes.append(f"Out-of-core peak RSS, largest log over smallest: {ratio}.")
    return "\n".join(lines + [""] + notes)


if __name__ == "__main__":
    app.run(main)
