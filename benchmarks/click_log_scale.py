"""`--format=clicks` at Yoochoose's raw size: a synthetic 30-million-click log, time and peak memory.

  python -m benchmarks.click_log_scale --clicks=30000000 --json_out=benchmarks/results/click_log_scale.json

Writes the log (`benchmarks.click_log_data`: text session and SKU ids, unix
seconds, 180 days) as CSV, gzipped CSV or Parquet, then runs the
preprocessing (`tagnn_tf.data.click_log.run_clicks`, with the defaults:
items clicked >= 5 times, sessions >= 2 clicks, the last 7 days as test) in a
fresh process that reports its wall time and peak RSS (`VmHWM`).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

flags.DEFINE_integer("clicks", 30_000_000, "Clicks in the synthetic log.")
flags.DEFINE_list("formats", ["csv", "parquet"], "Input formats to time: csv, csv.gz, parquet.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose CLICK_LOG_SCALE block gets the table.")
FLAGS = flags.FLAGS

CHILD = r"""
import json, sys, time
start = time.perf_counter()
from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.click_log import run_clicks
result = run_clicks(sys.argv[1], ClickLogConfig(session_column="session_id", item_column="item_id", time_column="ts"),
                    sys.argv[2], "synthetic", log=None)
seconds = time.perf_counter() - start
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 2**20
print("RESULT" + json.dumps({"seconds": round(seconds, 1), "peak_rss_gb": round(hwm, 2), "report": result.report}))
"""


def write_log(path: str, clicks: int) -> None:
    import pyarrow as pa
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    from benchmarks.click_log_data import click_columns

    table = pa.table({k: pa.array(v) for k, v in click_columns(clicks).items()})
    if path.endswith(".parquet"):
        pq.write_table(table, path)
    elif path.endswith(".gz"):
        with pa.CompressedOutputStream(path, "gzip") as out:
            csv.write_csv(table, out)
    else:
        csv.write_csv(table, path)


def main(argv):
    del argv
    from benchmarks import measure
    from tagnn_tf import run_directory

    work = tempfile.mkdtemp(prefix="click_scale_")
    rows = []
    for fmt in FLAGS.formats:
        path = os.path.join(work, f"clicks.{fmt}")
        start = time.perf_counter()
        write_log(path, FLAGS.clicks)
        written = time.perf_counter() - start
        out = subprocess.run([sys.executable, "-c", CHILD, path, os.path.join(work, "out")], capture_output=True,
                             text=True, timeout=7200)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        result = json.loads([x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1][6:])
        row = {"format": fmt, "file_mb": round(os.path.getsize(path) / 2**20, 1), "write_seconds": round(written, 1),
               **result}
        print(json.dumps(row), flush=True)
        rows.append(row)
        os.remove(path)
    import polars

    figures = {"clicks": FLAGS.clicks, "polars": polars.__version__, "rows": rows,
               "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}
    measure.write_json(FLAGS.json_out, figures)
    if FLAGS.readme:
        measure.replace_block(FLAGS.readme, "CLICK_LOG_SCALE", render(figures))


def render(figures: dict) -> str:
    m = figures["machine"]
    lines = [f"Written by `python -m benchmarks.click_log_scale` (`benchmarks/results/click_log_scale.json`): "
             f"{figures['clicks']:,} synthetic clicks, polars {figures['polars']}, {m['cpu']}, "
             f"{m['usable_cpus']} cores; time and peak RSS of the whole `--format=clicks` run (read, rules, "
             "pickles, items.txt) in a fresh process.", "",
             "| input | file (MB) | seconds | peak RSS (GB) | training sessions | test sessions | items |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in figures["rows"]:
        rep = r["report"]
        lines.append(f"| {r['format']} | {r['file_mb']} | {r['seconds']} | {r['peak_rss_gb']} | "
                     f"{rep['train_sessions']:,} | {rep['test_sessions']:,} | {rep['items']:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    app.run(main)
