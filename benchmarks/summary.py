"""The summary and the machines table at the top of benchmarks/README.md, from the committed JSON files.

  python -m benchmarks.summary --readme=benchmarks/README.md

Writes two blocks of the README: `SUMMARY` (five lines of headline figures, each with the machine its
file records) and `MACHINES` (every `benchmarks/results/*.json`: the CPU, vector ISA, time and commit it
records, or that it records none). Nothing is typed by hand: rerun after a benchmark.
"""

import glob
import json
import os

from absl import app, flags

from benchmarks.measure import replace_block

flags.DEFINE_string("results_dir", "benchmarks/results", "The benchmarks' JSON files.")
flags.DEFINE_string("readme", "benchmarks/README.md", "The README whose SUMMARY and MACHINES blocks are rewritten.")
FLAGS = flags.FLAGS


def _load(results_dir: str, name: str):
    path = os.path.join(results_dir, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def machine_text(record) -> str:
    """`cpu (ISA), N CPUs, date` from a file's `machine` record, or that it has none."""
    machine = record.get("machine") if isinstance(record, dict) else None
    if not machine:
        return "machine not recorded"
    isa = f" ({machine['cpu_isa']})" if machine.get("cpu_isa") else ""
    cpus = machine.get("usable_cpus") or machine.get("cpu_count")
    return f"{machine.get('cpu', '?')}{isa}, {cpus} CPUs, {machine.get('time', '?')[:10]}"


def summary_lines(results_dir: str):
    """At most five lines, each quoting its file and that file's machine."""
    lines = []
    train = _load(results_dir, "train_throughput")
    if train:
        lines.append(f"- Training TAGNN on {train['dataset']} (full softmax, batch {train['batch_size']}): "
                     f"{train['examples_per_sec']:.0f} examples/s, {train['projected_epoch_minutes']:.0f} min per "
                     f"epoch, peak RSS {train['peak_rss_gb']} GB (`train_throughput.json`; {machine_text(train)}).")
    large = _load(results_dir, "large_catalogue")
    if large:
        rows = {(r["num_items"], r["mode"], r["updates"]): r for r in large["training"]}
        big = max(n for n, _, _ in rows)
        sampled = rows.get((big, "sampled", "lazy"))
        serve = {r["num_items"]: r for r in large["serving"]}.get(max(r["num_items"] for r in large["serving"]))
        if sampled and serve:
            lines.append(f"- Large catalogues: sampled training at {big:,} items {sampled['examples_per_sec']:.0f} "
                         f"examples/s at {sampled['peak_rss_gb']} GB; serving {serve['num_items']:,} items, p50 "
                         f"{serve['exact']['latency_p50_ms']} ms exact, {serve['rerank_clusters']['latency_p50_ms']} "
                         f"ms cluster rerank (`large_catalogue.json`; {machine_text(large)}).")
    serving = _load(results_dir, "serving")
    if serving:
        rows = {r["model"]: r for r in serving["rows"]}
        parts = [f"{name} p50 {r['latency_p50_ms']} ms, {r['throughput_sessions_per_sec']:.0f} sessions/s at "
                 f"batch {r['batch']}" for name, r in rows.items() if name in ("savedmodel", "tflite_float32")]
        lines.append(f"- Serving {serving['num_items']:,} items: " + "; ".join(parts)
                     + f" (`serving.json`; {machine_text(serving)}).")
    evaluation = _load(results_dir, "eval_throughput")
    if evaluation:
        lines.append(f"- Evaluating the {evaluation['test_examples']:,} {evaluation['dataset']} test examples over "
                     f"the whole catalogue: {evaluation['seconds']} s (`eval_throughput.json`; "
                     f"{machine_text(evaluation)}).")
    logs = _load(results_dir, "click_log_scale")
    if logs:
        parts = [f"{r['seconds']} s from {r['format']} at {r['peak_rss_gb']} GB" for r in logs["rows"]]
        lines.append(f"- Preprocessing a {logs['clicks']:,}-click log: " + ", ".join(parts)
                     + f" (`click_log_scale.json`; {machine_text(logs)}).")
    return lines[:5]


def machines_lines(results_dir: str):
    lines = ["| file | machine (its own record) | commit |", "|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            record = json.load(f)
        commit = record.get("git_commit", "") if isinstance(record, dict) else ""
        text = machine_text(record)
        if text == "machine not recorded":
            text += " (written before the benchmarks recorded it; rerun to record)"
        commit = commit[:10] + ("-dirty" if commit.endswith("-dirty") else "")
        lines.append(f"| `{os.path.basename(path)}` | {text} | {commit} |")
    return lines


def write(readme: str, results_dir: str) -> None:
    replace_block(readme, "SUMMARY", "\n".join(summary_lines(results_dir)))
    replace_block(readme, "MACHINES", "\n".join(machines_lines(results_dir)))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    write(FLAGS.readme, FLAGS.results_dir)
    print(f"wrote the SUMMARY and MACHINES blocks of {FLAGS.readme}")


if __name__ == "__main__":
    app.run(main)
