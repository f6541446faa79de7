"""Which columnar library preprocesses click logs fastest here: pyarrow, polars or pandas.

  python -m benchmarks.click_log_libraries --clicks=3000000 --json_out=benchmarks/results/click_log_libraries.json

Writes one synthetic click log (CSV: session id, SKU-like item id, unix
seconds; `benchmarks.click_log_data`), then times the core of the
`--format=clicks` preprocessing in each library on it, each in a fresh process
(peak RSS is the process's own `VmHWM`), alternating libraries over
`--rounds`: read the CSV with ids as text, count clicks per item, drop items
seen fewer than 5 times, order clicks by (session, time), and collect each
session's items as a list. Medians of the rounds.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

flags.DEFINE_integer("clicks", 3_000_000, "Clicks in the synthetic log.")
flags.DEFINE_integer("rounds", 3, "Timed rounds per library (alternating).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose CLICK_LOG_LIBRARIES block gets the table.")
FLAGS = flags.FLAGS

CHILD = {
    "polars": r"""
import polars as pl
df = pl.read_csv(PATH, schema_overrides={"session_id": pl.String, "item_id": pl.String, "ts": pl.Int64})
counts = df.group_by("item_id").len()
keep = counts.filter(pl.col("len") >= 5).select("item_id")
df = df.join(keep, on="item_id", how="semi").sort(["session_id", "ts"], maintain_order=True)
sessions = df.group_by("session_id", maintain_order=True).agg(pl.col("item_id"), pl.col("ts").max())
n = sessions.height
""",
    "pyarrow": r"""
import pyarrow as pa, pyarrow.csv as csv, pyarrow.compute as pc
table = csv.read_csv(PATH, convert_options=csv.ConvertOptions(column_types={
    "session_id": pa.string(), "item_id": pa.string(), "ts": pa.int64()}))
counts = table.group_by("item_id").aggregate([([], "count_all")])
keep = counts.filter(pc.greater_equal(counts["count_all"], 5))["item_id"]
table = table.filter(pc.is_in(table["item_id"], value_set=keep))
table = table.sort_by([("session_id", "ascending"), ("ts", "ascending")])
sessions = table.group_by("session_id", use_threads=False).aggregate([("item_id", "list"), ("ts", "max")])
n = sessions.num_rows
""",
    "pandas": r"""
import pandas as pd
df = pd.read_csv(PATH, dtype={"session_id": str, "item_id": str, "ts": "int64"}, engine="pyarrow")
counts = df["item_id"].value_counts()
df = df[df["item_id"].isin(counts.index[counts >= 5])]
df = df.sort_values(["session_id", "ts"], kind="stable")
sessions = df.groupby("session_id", sort=False).agg(items=("item_id", list), ts=("ts", "max"))
n = len(sessions)
""",
}

TIMER = r"""
import json, sys, time
PATH = sys.argv[1]
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 2**20
print("RESULT" + json.dumps({{"seconds": round(seconds, 2), "peak_rss_gb": round(hwm, 3), "sessions": n}}))
"""


def main(argv):
    del argv
    import statistics

    from benchmarks import click_log_data, measure

    work = tempfile.mkdtemp(prefix="click_libs_")
    path = os.path.join(work, "clicks.csv")
    click_log_data.write_csv(path, FLAGS.clicks)
    runs = {name: [] for name in CHILD}
    for _ in range(FLAGS.rounds):
        for name, body in CHILD.items():
            out = subprocess.run([sys.executable, "-c", TIMER.format(body=body), path], capture_output=True,
                                 text=True, timeout=3600, check=True)
            runs[name].append(json.loads([x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1][6:]))
            print(name, runs[name][-1], flush=True)
    import pandas
    import polars
    import pyarrow

    rows = [{"library": name, "version": {"polars": polars, "pyarrow": pyarrow, "pandas": pandas}[name].__version__,
             "seconds_median": statistics.median(r["seconds"] for r in results),
             "peak_rss_gb_median": statistics.median(r["peak_rss_gb"] for r in results),
             "sessions": results[0]["sessions"], "rounds": results} for name, results in runs.items()]
    for row in rows:
        print(f"{row['library']} {row['version']}: {row['seconds_median']} s, {row['peak_rss_gb_median']} GB",
              flush=True)
    from tagnn_tf import run_directory

    figures = {"clicks": FLAGS.clicks, "csv_mb": round(os.path.getsize(path) / 2**20, 1), "rows": rows,
               "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}
    measure.write_json(FLAGS.json_out, figures)
    if FLAGS.readme:
        lines = [f"Written by `python -m benchmarks.click_log_libraries` "
                 f"(`benchmarks/results/click_log_libraries.json`): {FLAGS.clicks:,} synthetic clicks "
                 f"({figures['csv_mb']} MB CSV), {figures['machine']['cpu']}; medians of {FLAGS.rounds} alternating "
                 "rounds, each in a fresh process.", "",
                 "| library | version | seconds | peak RSS (GB) |", "|---|---|---:|---:|"]
        lines += [f"| {r['library']} | {r['version']} | {r['seconds_median']} | {r['peak_rss_gb_median']} |"
                  for r in rows]
        measure.replace_block(FLAGS.readme, "CLICK_LOG_LIBRARIES", "\n".join(lines))


if __name__ == "__main__":
    app.run(main)
