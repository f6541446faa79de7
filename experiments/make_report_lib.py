"""`results/README.md` from the reproduction runs' own files (nothing typed by hand).

Reads `<results_dir>/<dataset>/<config>/` (`config.json`, `metrics.jsonl`,
`run_log.jsonl`, `run_info.json`, `result.json` when finished), the paper's
numbers from the data README's "Published results" table, and writes the
report with a Figure-2-style bar chart and training curves (PNG).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from experiments.published_results import paper_numbers
from experiments.reproduce_lib import DATASETS, DIAGNOSTICS_SUITE, PAPER_SUITE
from tagnn_tf import run_directory
from tagnn_tf.errors import InputError
from tagnn_tf.run_lock import live_claim
from tagnn_tf.training.model_selection import summarize

METRICS = ("hr@10", "hr@20", "mrr@10", "mrr@20")
DATASET_TITLES = {"diginetica": "Diginetica", "yoochoose1_64": "Yoochoose1/64"}
FIGURE2_ORDER = ("local", "avg", "att", "local-att", "tagnn", "tagnn-official-readout")
# Figure 2's claim is about these five (TAGNN = the paper's eq. 10 readout).
ABLATION = ("local", "avg", "att", "local-att", "tagnn")
# Issue 6's acceptance thresholds: test metrics of the validation-selected epoch.
TARGETS = {"yoochoose1_64": {"hr@20": 70.7, "mrr@20": 30.9}, "diginetica": {"hr@20": 51.0, "mrr@20": 17.8}}


def load_run(run_dir: str) -> Optional[dict]:
    """One run's state, or None when it has not finished an epoch yet."""
    history = run_directory.read_jsonl(os.path.join(run_dir, run_directory.METRICS))
    if not history:
        return None
    config = run_directory.read_json(os.path.join(run_dir, run_directory.CONFIG))
    result_path = os.path.join(run_dir, run_directory.RESULT)
    finished = os.path.exists(result_path)
    summary = summarize(history, config["train"]["selection_metric"])
    log = run_directory.read_jsonl(os.path.join(run_dir, run_directory.RUN_LOG))
    info = run_directory.read_json(os.path.join(run_dir, run_directory.RUN_INFO))
    sessions = info.get("sessions", [info])  # single-process files of early versions
    abandoned = sorted((name, [r["epoch"] for r in
                               run_directory.read_jsonl(os.path.join(run_dir, name, run_directory.METRICS))])
                       for name in os.listdir(run_dir) if name.startswith(run_directory.ABANDONED_PREFIX))
    return {"history": history, "summary": summary, "finished": finished, "config": config,
            "running": not finished and live_claim(run_dir) is not None,
            "has_model": os.path.exists(os.path.join(run_dir, run_directory.BEST_MODEL)),
            # (folder, its epochs) of attempts whose checkpoints were lost.
            "abandoned": abandoned,
            "train_seconds": sum(r["seconds"] for r in history),
            "cpus": sorted({f"{s['machine'].get('cpu', '?')}, {s['machine'].get('cpu_count', '?')} CPUs"
                            for s in sessions if "machine" in s}),
            "examples_per_sec": [r["examples_per_sec"] for r in log],
            # Per process, in order: its commit and the cores it could use
            # (`usable_cpus`; older files only know the machine's count).
            "processes": [(s["git_commit"], s.get("machine", {}).get("usable_cpus",
                                                                      s.get("machine", {}).get("cpu_count")))
                          for s in sessions]}


# What each diagnostic run measures (report text).
DIAGNOSTIC_PURPOSES = {
    "tagnn-valid-1pct": "`tagnn` with 1% of the training examples held out for validation instead of 10% "
                        "(the paper trains on all of them): what the hold-out costs, epoch by epoch.",
    "tagnn-seed2": "`tagnn` with another initialisation and shuffling seed (2021 instead of 2020; same "
                   "split): the run-to-run spread, against which the gaps to the paper can be read.",
    "tagnn-no-bucketing": "`tagnn` with batches of randomly mixed sessions, as in the official code, instead "
                          "of sessions grouped by length inside windows of 20 batches (our default, which "
                          "pads less).",
    "tagnn-official-padding": "`tagnn` with the official code's padding copied (`ModelConfig.padding="
                              "\"official\"`): every session padded to the longest session of its split "
                              "(training, validation or test set), the padded positions inside both softmaxes "
                              "(logit 0 in the target attention, the padding item's node in the global one) "
                              "with value 0.",
    "tagnn-paper-lr": "`tagnn` with the paper's learning-rate schedule (1e-3 for epochs 1-3, 1e-4 for 4-6, "
                      "1e-5 for 7-9) instead of the official code's, which decays one epoch early.",
}


def collect(results_dir: str, suite=PAPER_SUITE) -> Dict[tuple, dict]:
    runs = {}
    for dataset, name in suite:
        run = load_run(os.path.join(results_dir, dataset, name))
        if run is not None:
            runs[(dataset, name)] = run
    return runs


def _plots(runs: Dict[tuple, dict], out_dir: str, paper: Dict[str, Dict[str, float]]) -> List[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, dataset in zip(axes, ("yoochoose1_64", "diginetica")):
        names = [n for n in FIGURE2_ORDER if (dataset, n) in runs]
        for j, metric in enumerate(("hr@20", "mrr@20")):
            values = [runs[(dataset, n)]["summary"]["test"][metric] for n in names]
            xs = [i + (j - 0.5) * 0.38 for i in range(len(names))]
            bars = ax.bar(xs, values, width=0.38, label=metric.upper())
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n + ("" if runs[(dataset, n)]["finished"] else "*") for n in names],
                           rotation=20, fontsize=8)
        ax.set_title(f"{DATASET_TITLES[dataset]} (test, validation-selected epoch)")
        if names:
            ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room for the legend above the bars
            ax.legend(fontsize=8, ncol=2, loc="upper right")
    if not all(run["finished"] for run in runs.values()):
        fig.text(0.01, 0.01, "* unfinished (training or stopped): best validation epoch so far", fontsize=7)
    fig.tight_layout()
    path = os.path.join(out_dir, "figure2_ablation.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    # Rows: HR@20, MRR@20; columns: datasets.
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for row, metric in zip(axes, ("hr@20", "mrr@20")):
        for ax, dataset in zip(row, ("yoochoose1_64", "diginetica")):
            for (d, name), run in runs.items():
                if d != dataset:
                    continue
                epochs = [r["epoch"] for r in run["history"]]
                line, = ax.plot(epochs, [r["val"][metric] for r in run["history"]], marker="o",
                                label=f"{name} val")
                ax.plot(epochs, [r["test"][metric] for r in run["history"]], marker="x", linestyle="--",
                        color=line.get_color(), label=f"{name} test")
            if ax.lines and dataset in paper:
                ax.axhline(paper[dataset][metric], color="grey", linestyle=":", label="paper TAGNN (test)")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{metric.upper()} (%)")
            ax.set_title(DATASET_TITLES[dataset])
            if ax.lines:
                ax.legend(fontsize=6)
    fig.tight_layout()
    path = os.path.join(out_dir, "training_curves.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def _verdict(reached: bool, finished: bool) -> str:
    if finished:
        return "met" if reached else "missed"
    return "met so far" if reached else "not reached yet"  # a later epoch may be selected


# Diagnostics that are `tagnn` itself with another seed: the targets are judged
# on `tagnn`, and these lines show how the same verdict comes out for them.
SEED_REPLICAS = ("tagnn-seed2",)


def _target_checks(run: dict, target: Dict[str, float]) -> str:
    test = run["summary"]["test"]
    return ", ".join(f"{m.upper()} {_fmt(test[m])} vs >= {target[m]} "
                     f"{_verdict(test[m] >= target[m], run['finished'])}" for m in target)


def _progress(run: dict) -> str:
    epochs = run["summary"]["epochs_run"]
    if run["finished"]:
        return "final"
    return f"so far: {epochs} epoch{'s' * (epochs != 1)}, {'still training' if run['running'] else 'stopped'}"


def _missed_target_interval(run: dict, target: Dict[str, float], row: Optional[dict],
                            paper: Dict[str, float]) -> List[str]:
    """For a finished run's missed targets: a line placing each one against the
    run's test-set 95% interval (`row`: its `test_uncertainty.json` entry), or none."""
    if row is None or not run["finished"] or row["selected_epoch"] != run["summary"]["selected_epoch"]:
        return []

    def where(value: float, lo: float, hi: float) -> str:
        return "inside" if lo <= value <= hi else ("above" if value > hi else "below")

    test, parts = run["summary"]["test"], []
    for m, threshold in target.items():
        if test[m] < threshold:
            lo, hi = row[f"{m}_ci95"]
            parts.append(f"{m.upper()} {_interval((lo, hi))}: the target {threshold} is {where(threshold, lo, hi)} "
                         f"it, the paper's {_fmt(paper[m])} {where(paper[m], lo, hi)} it")
    return ["  - the missed target against the test-set 95% interval of this run (bootstrap over the test "
            "examples, section below): " + "; ".join(parts) + "."] if parts else []


def target_lines(runs: Dict[tuple, dict], diagnostics: Optional[Dict[tuple, dict]] = None,
                 uncertainty: Optional[dict] = None, paper: Optional[Dict[str, Dict[str, float]]] = None) -> List[str]:
    """One line per dataset: the `tagnn` run's selected test metrics against
    `TARGETS`, where a missed target lies against its test-set interval (from
    `uncertainty` and `paper`, when given), then one sub-line per other-seed
    replica of it in `diagnostics`."""
    lines = []
    for dataset, target in TARGETS.items():
        title = DATASET_TITLES[dataset]
        run = runs.get((dataset, "tagnn"))
        if run is None:
            lines.append(f"- {title}: no finished epoch yet.")
            continue
        lines.append(f"- {title} ({_progress(run)}): {_target_checks(run, target)}.")
        if uncertainty is not None and paper is not None:
            row = uncertainty["datasets"].get(dataset, {}).get("runs", {}).get("tagnn")
            lines += _missed_target_interval(run, target, row, paper[dataset])
        for name in SEED_REPLICAS:
            replica = (diagnostics or {}).get((dataset, name))
            if replica is not None:
                lines.append(f"  - the same configuration with another seed (`{name}`, diagnostics; "
                             f"{_progress(replica)}): {_target_checks(replica, target)}.")
    return lines


def selection_lines(runs: Dict[tuple, dict]) -> List[str]:
    """Test HR@20 / MRR@20 of each run under the three selection rules (epochs in brackets)."""
    lines = ["| dataset | config | one epoch, best validation HR@20 (ours) | each metric at its best validation "
             "epoch | each metric at its best test epoch (official code) |", "|---|---|---|---|---|"]
    for (dataset, name), run in runs.items():
        s = run["summary"]
        cells = [f"{_fmt(s['test']['hr@20'])} / {_fmt(s['test']['mrr@20'])} ({s['selected_epoch']})"]
        for rule in ("per_metric_validation_selection", "best_on_test_official_protocol"):
            r = s[rule]
            cells.append(f"{_fmt(r['hr@20'])} ({r['hr@20_epoch']}) / {_fmt(r['mrr@20'])} ({r['mrr@20_epoch']})")
        lines.append(f"| {DATASET_TITLES[dataset]} | {name} | " + " | ".join(cells) + " |")
    return lines


def ordering_lines(runs: Dict[tuple, dict], diagnostics: Optional[Dict[tuple, dict]] = None) -> List[str]:
    """Per dataset: whether Figure 2's ordering (TAGNN best, Avg worst) holds among finished runs."""
    lines = []
    for dataset in TARGETS:
        title = DATASET_TITLES[dataset]
        pending = [n for n in ABLATION if not runs.get((dataset, n), {}).get("finished")]
        if pending:
            lines.append(f"- {title}: not judged yet; unfinished: {', '.join(pending)}.")
            continue
        parts = []
        for metric in ("hr@20", "mrr@20"):
            ranked = sorted(ABLATION, key=lambda n: -runs[(dataset, n)]["summary"]["test"][metric])
            order = " > ".join(f"{n} {_fmt(runs[(dataset, n)]['summary']['test'][metric])}" for n in ranked)
            best, worst = ranked[0] == "tagnn", ranked[-1] == "avg"
            verdict = "holds" if best and worst else "does not hold (" + "; ".join(
                ([] if best else [f"best is {ranked[0]}, not tagnn"])
                + ([] if worst else [f"worst is {ranked[-1]}, not avg"])) + ")"
            parts.append(f"{metric.upper()}: {order}: {verdict}")
        lines.append(f"- {title}: " + "; ".join(parts) + ".")
        lines += _seed_scale_lines(runs.get((dataset, "tagnn")), diagnostics or {}, dataset)
    return lines


def _srgnn_lines(runs: Dict[tuple, dict], srgnn: Optional[Dict[str, Dict[str, float]]]) -> List[str]:
    """`local-att` (SR-GNN's architecture, trained here like every variant) next to SR-GNN's published numbers."""
    lines = []
    for dataset in TARGETS if srgnn else ():
        run, published = runs.get((dataset, "local-att")), srgnn[dataset]
        if run is None:
            continue
        t = run["summary"]["test"]
        lines.append(f"- {DATASET_TITLES[dataset]}: `local-att` HR@20 / MRR@20 {_fmt(t['hr@20'])} / "
                     f"{_fmt(t['mrr@20'])} ({_progress(run)}); SR-GNN as published (AAAI 2019, the SR-GNN row "
                     f"of the data README) {_fmt(published['hr@20'])} / {_fmt(published['mrr@20'])}: "
                     f"{t['hr@20'] - published['hr@20']:+.2f} / {t['mrr@20'] - published['mrr@20']:+.2f}.")
    return ["", "The `local-att` variant is SR-GNN's architecture (L+Att, no target attention), trained "
            "here with the same schedule and budget as every variant:", "", *lines] if lines else []


def _seed_scale_lines(tagnn: Optional[dict], diagnostics: Dict[tuple, dict], dataset: str) -> List[str]:
    """For scale: finished seed replicas of `tagnn` minus `tagnn` (training randomness)."""
    lines = []
    for name in SEED_REPLICAS:
        replica = diagnostics.get((dataset, name))
        if tagnn is None or replica is None or not replica["finished"]:
            continue
        t, r = tagnn["summary"]["test"], replica["summary"]["test"]
        lines.append(f"  - for scale, the same `tagnn` configuration with another seed (`{name}`) minus `tagnn`: "
                     f"HR@20 {r['hr@20'] - t['hr@20']:+.2f}, MRR@20 {r['mrr@20'] - t['mrr@20']:+.2f}; "
                     "gaps of that size between variants are within training randomness.")
    return lines


TABLE_HEADER = (
    "| dataset | config | status | epochs | selected | HR@10 | HR@20 | MRR@10 | MRR@20 | paper HR@20 | "
    "paper MRR@20 | ΔHR@20 | ΔMRR@20 | best on test HR@20 / MRR@20 (official protocol) | training time (h) |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
)


# The suspects the issue names for a gap to the paper, and how each is settled:
# by construction (same as the official code, which produced the paper's
# numbers) or by a Yoochoose 1/64 run of this report (its status is appended).
GAP_SUSPECTS = (
    ("learning-rate schedule", "tagnn-paper-lr", "the official code's (decay one epoch early: 1e-3 for "
     "epochs 1-2, 1e-4 for 3-5, 1e-5 for 6-8), the schedule that produced the paper's numbers; measured "
     "against the paper's (`TrainConfig.lr_schedule=paper`) by `tagnn-paper-lr`."),
    ("initialisation", None, "the official code's: every parameter U(-1/sqrt(d), 1/sqrt(d))."),
    ("L2 on embeddings", None, "the official code's coupled L2 (1e-5 added to every gradient, embeddings "
     "included), not Keras' decoupled weight decay."),
    ("optimizer", None, "Adam with PyTorch's epsilon (1e-8). Keras adds epsilon after the bias correction, "
     "PyTorch before it, so Keras' epsilon weighs 1/sqrt(1 - 0.999^t) times more at step t: 32x at the "
     "first step, 1.02x after Yoochoose's first epoch (3,329 steps); the two updates are the same from "
     "then on to within 2% of epsilon."),
    ("readout", "tagnn-official-readout", "measured by `tagnn` (eq. 10) against `tagnn-official-readout` "
     "(rows above)."),
    ("training data", "tagnn-valid-1pct", "measured by `tagnn-valid-1pct` (the paper trains on every "
     "training example; we hold out 10%)."),
    ("batching", "tagnn-no-bucketing", "measured by `tagnn-no-bucketing` (random batches, as in the "
     "official code)."),
    ("run-to-run spread", "tagnn-seed2", "measured by `tagnn-seed2`."),
    ("masking", "tagnn-official-padding", "measured by `tagnn-official-padding`. `tagnn` keeps padded "
     "positions out of both softmaxes. The official code pads every session to the longest session of its "
     "split (training or test set) and lets the padded positions into both softmaxes (zero logits in the "
     "target attention), so a session's attention weights depend on that split-wide length, which differs "
     "between training and test: a defect, copied only in this diagnostic."),
)


def run_status(run: Optional[dict], started: Optional[bool]) -> str:
    """A run's status as the tables show it: "running" only while a live runner holds it.

    `started` matters only for a run without a finished epoch: None when its
    folder does not exist, else whether a live runner holds it."""
    if run is None:
        if started is None:
            return "not started"
        return "started, no epoch finished yet" if started else "stopped before its first epoch ended"
    if run["finished"]:
        return "finished"
    return "running" if run["running"] else f"stopped after epoch {run['history'][-1]['epoch']}"


def _against_tagnn(run: dict, tagnn: Optional[dict]) -> str:
    """`; test HR@20 / MRR@20 a / b (selected epoch e), minus `tagnn`: x / y` for a suspect's line."""
    s = run["summary"]
    t = s["test"]
    text = (f"; {'' if run['finished'] else 'so far, '}test HR@20 / MRR@20 {_fmt(t['hr@20'])} / "
            f"{_fmt(t['mrr@20'])} (selected epoch {s['selected_epoch']})")
    if tagnn is not None and tagnn is not run:
        ref = tagnn["summary"]["test"]
        text += f", minus `tagnn`: {t['hr@20'] - ref['hr@20']:+.2f} / {t['mrr@20'] - ref['mrr@20']:+.2f}"
    return text


def diagnostics_lines(diagnostics: Dict[tuple, dict], runs: Dict[tuple, dict],
                      paper: Dict[str, Dict[str, float]], started) -> List[str]:
    """The diagnostics section: what each run measures, its row, and its test
    metrics epoch by epoch next to the `tagnn` run of the same dataset."""
    lines = ["## Diagnostics (`python -m experiments.reproduce --suite=diagnostics`)", ""]
    lines += ["Where a gap to the paper could come from, and how each suspect is handled:", ""]
    measured = {**runs, **diagnostics}
    for suspect, name, how in GAP_SUSPECTS:
        key = ("yoochoose1_64", name)
        status = f" Status: {run_status(measured.get(key), started.get(key))}" if name else ""
        if name and key in measured:
            status += _against_tagnn(measured[key], measured.get(("yoochoose1_64", "tagnn")))
        lines.append(f"- {suspect}: {how}{status}{'.' if name else ''}")
    lines += ["", "The diagnostic runs:", ""]
    lines += [f"- `{name}`: {DIAGNOSTIC_PURPOSES[name]}" for name in dict.fromkeys(n for _, n in DIAGNOSTICS_SUITE)]
    lines += ["", *TABLE_HEADER, *_table_rows(diagnostics, paper, DIAGNOSTICS_SUITE, started), ""]
    for dataset in dict.fromkeys(d for d, _ in DIAGNOSTICS_SUITE):
        others = [(n, diagnostics[(d, n)]) for d, n in DIAGNOSTICS_SUITE if d == dataset and (d, n) in diagnostics]
        if (dataset, "tagnn") not in runs or not others:
            continue
        compared = [(n, {r["epoch"]: r for r in run["history"]})
                    for n, run in [("tagnn", runs[(dataset, "tagnn")])] + others]
        lines.append(f"Test HR@20 / MRR@20 per epoch on {DATASET_TITLES[dataset]}:")
        lines.append("")
        lines.append("| epoch | " + " | ".join(n for n, _ in compared) + " |")
        lines.append("|---:|" + "---|" * len(compared))
        for epoch in sorted(set().union(*(h for _, h in compared))):
            cells = [f"{_fmt(h[epoch]['test']['hr@20'])} / {_fmt(h[epoch]['test']['mrr@20'])}" if epoch in h
                     else "" for _, h in compared]
            lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


UNCERTAINTY_FILE = "test_uncertainty.json"


def _interval(ci) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _uncertainty_stamps(uncertainty: dict) -> str:
    """When each dataset's rows were computed (entries written before the
    per-dataset stamps carry the file's one stamp)."""
    default = (uncertainty["git_commit"][:10], uncertainty["machine"]["time"])
    stamps = {}
    for dataset in DATASETS:
        entry = uncertainty["datasets"].get(dataset)
        if entry is not None:
            stamps[DATASET_TITLES[dataset]] = (entry.get("git_commit", uncertainty["git_commit"])[:10],
                                               entry.get("computed_at", default[1]))
    if len(set(stamps.values())) <= 1:
        commit, at = next(iter(stamps.values()), default)
        return f"Computed at commit {commit} on {at}."
    return "Computed " + "; ".join(f"for {title} at commit {commit} on {at}"
                                   for title, (commit, at) in stamps.items()) + "."


def uncertainty_lines(uncertainty: Optional[dict], finished: Dict[tuple, dict]) -> List[str]:
    """The paired-bootstrap section from `test_uncertainty.json` (`finished`:
    the finished runs now, to flag rows that no longer match and runs not in it)."""
    lines = ["## Test-set uncertainty (`python -m experiments.measure_uncertainty`)", ""]
    if uncertainty is None:
        return lines + ["Not computed yet.", ""]
    lines += [
        "Each finished run's selected model scored the test set again (the same HR@20 / MRR@20 as its "
        "`result.json`, checked by the script); 95% percentile intervals over bootstrap resamples of "
        "the test examples, and of each run minus `tagnn` on the same resamples (a paired comparison; "
        "\"share > 0\": the fraction of resamples where the run is above `tagnn`). They cover the "
        "sampling of the test set only, not training randomness (`tagnn-seed2` measures that). "
        + _uncertainty_stamps(uncertainty),
        "",
        "| dataset | config | selected epoch | HR@20 [95%] | MRR@20 [95%] | HR@20 minus tagnn [95%] (share > 0) "
        "| MRR@20 minus tagnn [95%] (share > 0) |",
        "|---|---|---:|---|---|---|---|",
    ]
    # In suite order (the JSON's keys are sorted).
    for dataset, name in PAPER_SUITE + DIAGNOSTICS_SUITE:
        row = uncertainty["datasets"].get(dataset, {}).get("runs", {}).get(name)
        if row is None:
            continue
        title = DATASET_TITLES[dataset]
        run = finished.get((dataset, name))
        stale = "" if run is not None and run["summary"]["selected_epoch"] == row["selected_epoch"] else (
            " (stale: rerun the script)")
        diff = row.get("minus_reference")
        cells = ["", ""] if diff is None else [
            f"{diff[m]:+.2f} {_interval(diff[m + '_ci95'])} ({diff[m + '_share_above_0']:.2f})"
            for m in ("hr@20", "mrr@20")]
        lines.append(f"| {title} | {name}{stale} | {row['selected_epoch']} | {_fmt(row['hr@20'])} "
                     f"{_interval(row['hr@20_ci95'])} | {_fmt(row['mrr@20'])} {_interval(row['mrr@20_ci95'])} | "
                     + " | ".join(cells) + " |")
    missing = [f"{d}/{n}" for d, n in finished if n not in uncertainty["datasets"].get(d, {}).get("runs", {})]
    lines.append("")
    if missing:
        # The script rescores every finished run of a dataset from its `best.keras`, which is not committed.
        datasets = {m.split("/")[0] for m in missing}
        absent = [f"{d}/{n}" for (d, n), run in finished.items() if d in datasets and not run["has_model"]]
        lines += ["Finished since (not in the table until the script is rerun): " + ", ".join(missing) + "."
                  + (" The script rescores each finished run of the dataset from its `best.keras`, which is not "
                     "committed; it is not on the machine that wrote this report for: " + ", ".join(absent) + "."
                     if absent else ""), ""]
    return lines


def _table_rows(runs: Dict[tuple, dict], paper: Dict[str, Dict[str, float]], suite, started) -> List[str]:
    lines = []
    for dataset, name in suite:
        run = runs.get((dataset, name))
        title = DATASET_TITLES[dataset]
        status = run_status(run, started.get((dataset, name)))
        if run is None:
            lines.append(f"| {title} | {name} | {status} | | | | | | | | | | | | |")
            continue
        s = run["summary"]
        is_tagnn = name.startswith("tagnn")
        p = paper[dataset] if is_tagnn else None
        t = s["test"]
        bot = s["best_on_test_official_protocol"]
        lines.append(
            f"| {title} | {name} | {status} | {s['epochs_run']} | {s['selected_epoch']} | "
            + " | ".join(_fmt(t[m]) for m in METRICS)
            + (f" | {_fmt(p['hr@20'])} | {_fmt(p['mrr@20'])} | {t['hr@20'] - p['hr@20']:+.2f} | "
               f"{t['mrr@20'] - p['mrr@20']:+.2f}" if p else " | - | - | - | -")
            + f" | {_fmt(bot['hr@20'])} / {_fmt(bot['mrr@20'])} | {run['train_seconds'] / 3600:.2f} |")
    return lines


def render(runs: Dict[tuple, dict], paper: Dict[str, Dict[str, float]], extra_runs: List[tuple],
           started: Optional[Dict[tuple, bool]] = None, diagnostics: Optional[Dict[tuple, dict]] = None,
           uncertainty: Optional[dict] = None, srgnn: Optional[Dict[str, Dict[str, float]]] = None,
           baselines: Optional[List[str]] = None, large_catalogue: Optional[List[str]] = None,
           summary: Optional[List[str]] = None, repeat: Optional[List[str]] = None) -> str:
    lines = [
        "# Measured runs",
        "",
        "Generated by `python -m experiments.make_report` from the run folders' own files; do not edit by hand.",
        "",
        *(summary or []),
        "## Paper reproduction (`python -m experiments.reproduce --suite=paper`)",
        "",
        "Each run trains into `results/<dataset>/<config>/` with the paper's hyper-parameters (hidden 100, "
        "batch 100, Adam 1e-3 x0.1 every 3 epochs, the official code's schedule one epoch early, coupled "
        "L2 1e-5, one GNN step), at most 10 epochs with early stopping (patience 3) on the 10% "
        "validation split. Metrics are on the test set at the epoch selected on validation HR@20; "
        "\"best on test\" is the official code's protocol (best test value over epochs, each metric "
        "separately). HR@K and MRR@K in %. Training time is the sum of the epochs' training "
        "seconds (evaluation excluded). The runs shared the 2 cores with development work, and "
        "later runs trained two at a time side by side, each pinned to one core (see "
        "run details): the times are upper bounds and not comparable across runs.",
        "",
        *TABLE_HEADER,
    ]
    started = started or {}  # (dataset, config) of each run folder: whether a live runner holds it
    lines += _table_rows(runs, paper, PAPER_SUITE, started)
    lines += [
        "",
        "Targets (issue 6; `tagnn`, test metrics of the validation-selected epoch):",
        "",
        *target_lines(runs, diagnostics, uncertainty, paper),
        "",
        "Test HR@20 / MRR@20 under three model-selection rules (epoch in brackets). The targets use the "
        "first, decided before the runs: one epoch per run, chosen on validation HR@20 (early stopping "
        "uses the same metric). The second chooses each metric's epoch on its own validation value, as "
        "the official code chooses each on its own test value (third, the paper's protocol, optimistic "
        "because it looks at the test set):",
        "",
        *selection_lines(runs),
        "",
        "Figure 2 ordering (TAGNN best, Avg worst; test metrics of the selected epochs of `local`, "
        "`avg`, `att`, `local-att`, `tagnn`):",
        "",
        *ordering_lines(runs, diagnostics),
        *_srgnn_lines(runs, srgnn),
        "",
        "Paper numbers: the TAGNN row of `../shared/data/README.md` (the paper reports HR@20 as P@20 "
        "and no @10 figures). The ablation variants have no published numbers on this data (the "
        "paper's Figure 2 is a bar chart), except `local-att`, which is SR-GNN's architecture.",
        "",
        *(["![Figure 2 style ablation](figure2_ablation.png)", "", "![Training curves](training_curves.png)", ""]
          if runs else ["(Plots appear once a run has finished an epoch.)", ""]),
        *(diagnostics_lines(diagnostics, runs, paper, started) if diagnostics is not None else []),
        *uncertainty_lines(uncertainty, {k: r for k, r in {**runs, **(diagnostics or {})}.items() if r["finished"]}),
        *(baselines or []),
        *(repeat or []),
        "To rerun one configuration from scratch (a new results folder; the same command resumes it "
        "from its last checkpoint after an interruption):",
        "",
        "```sh",
        ".venv/bin/python -m experiments.reproduce --suite=paper --results_dir=runs/rerun "
        "--datasets=yoochoose1_64 --configs=tagnn",
        ".venv/bin/python -m experiments.make_report --results_dir=runs/rerun",
        "```",
        "",
        "The suites into `results/` (finished runs are skipped, unfinished ones resume from their "
        "checkpoints), one runner per core, which trains more examples per second than one runner on "
        "both cores (measured in `benchmarks/results/parallel_runs.json`); a runner skips a run another "
        "live runner has claimed (`.running` in the run folder):",
        "",
        "```sh",
        "taskset -c 0 .venv/bin/python -m experiments.reproduce --suite=paper --results_dir=results; "
        "taskset -c 0 .venv/bin/python -m experiments.reproduce --suite=diagnostics --results_dir=results",
        "taskset -c 1 .venv/bin/python -m experiments.reproduce --suite=paper --results_dir=results; "
        "taskset -c 1 .venv/bin/python -m experiments.reproduce --suite=diagnostics --results_dir=results",
        "```",
        "",
        "Checkpoints and `best.keras` are not committed (`.gitignore`), so a run resumes only on the "
        "machine that trained it. A run whose checkpoints were lost (a new machine) starts again from "
        "epoch 1: the trainer moves the old logs into `abandoned-attempt-<n>/` in the run folder (listed "
        "in the run details) and says so in `train.log`.",
        "",
        "Run details (each process's git commit and cores, per-epoch examples/s):",
        "",
    ]
    for (dataset, name), run in {**runs, **(diagnostics or {})}.items():
        processes = ", ".join(f"{commit[:10]} on {cores} core{'s' * (cores != 1)}"
                              for commit, cores in run["processes"])
        lines.append(f"- `{dataset}/{name}`: {len(run['processes'])} process(es): {processes}; examples/s per epoch "
                     f"{run['examples_per_sec']}" + "".join(
                         f"; `{folder}/` keeps the logs of epochs {epochs} of an attempt whose checkpoints "
                         "were lost (the epochs past the checkpoint left, if any, were trained again)"
                         for folder, epochs in run["abandoned"]))
    if large_catalogue:
        lines += [""] + large_catalogue
    if extra_runs:
        lines += ["", "## Other measured runs", ""]
        for folder, text, run in extra_runs:
            t = run["summary"]["test"]
            lines.append(f"- `{folder}/`: {text} Test HR@20 {_fmt(t['hr@20'])}, MRR@20 {_fmt(t['mrr@20'])} "
                         f"(epoch {run['summary']['selected_epoch']}); examples/s {run['examples_per_sec']}.")
    return "\n".join(lines) + "\n"


# Sampled-softmax training (`--train_candidates=sampled`) against the full-softmax reproduction run.
SAMPLED_RUN = os.path.join("large_catalogue", "diginetica_sampled")
FULL_RUN = os.path.join("diginetica", "tagnn")


def _cpus(results_dir: str, run: str) -> str:
    info = run_directory.read_json(os.path.join(results_dir, run, run_directory.RUN_INFO))
    return " / ".join(sorted({s.get("machine", {}).get("cpu", "?") for s in info.get("sessions", [info])}))


def large_catalogue_lines(results_dir: str) -> List[str]:
    """The sampled Diginetica run against the full-softmax `tagnn` run (same epochs, selection and data)."""
    sampled = load_run(os.path.join(results_dir, SAMPLED_RUN))
    full = load_run(os.path.join(results_dir, FULL_RUN))
    if sampled is None or full is None:
        return []
    train = sampled["config"]["train"]
    # The flags whose `trainers.train` default changed since (the dataclass values the run recorded).
    mechanism = sampled["config"].get("model", {}).get("repeat_mechanism", "none")
    lines = ["## Sampled training on Diginetica", "",
             f"`{SAMPLED_RUN}/`: `trainers.train --dataset=diginetica --readout=paper --train_candidates=sampled "
             f"--num_negatives={train.get('num_negatives')} "
             f"--negative_sampling={train.get('negative_sampling')} --repeat_mechanism={mechanism} "
             f"--lr_schedule={train.get('lr_schedule', 'official')}` (the "
             f"`tagnn` reproduction's configuration and epoch budget, validation-selected; evaluation ranks all "
             f"items). Against the full-softmax `{FULL_RUN}/` run:", "",
             "| run | state | selected epoch | test HR@10 | HR@20 | MRR@10 | MRR@20 | training time (h) | "
             "examples/s (median) | cores |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, run in (("sampled", sampled), ("full (`tagnn`)", full)):
        t = run["summary"]["test"]
        cores = sorted({c for _, c in run["processes"]})
        rates = sorted(run["examples_per_sec"])
        lines.append(f"| {name} | {'finished' if run['finished'] else 'not finished'} | "
                     f"{run['summary']['selected_epoch']} | {_fmt(t['hr@10'])} | {_fmt(t['hr@20'])} | "
                     f"{_fmt(t['mrr@10'])} | {_fmt(t['mrr@20'])} | {run['train_seconds'] / 3600:.2f} | "
                     f"{rates[len(rates) // 2] if rates else '-'} | {', '.join(str(c) for c in cores)} |")
    ts, tf_ = sampled["summary"]["test"], full["summary"]["test"]
    lines += ["", f"Sampled minus full, test HR@20: {ts['hr@20'] - tf_['hr@20']:+.2f} points; MRR@20: "
              f"{ts['mrr@20'] - tf_['mrr@20']:+.2f}. Training time is the sum of the epochs' training seconds "
              f"(evaluation excluded); `cores` is what each run's processes could use. Machines: sampled on "
              f"{_cpus(results_dir, SAMPLED_RUN)}, full on {_cpus(results_dir, FULL_RUN)} (`run_info.json`), so "
              "the time ratio is indicative only; `benchmarks/README.md` has both modes timed in one run."]
    return lines


EXTRA_RUNS = (
    ("diginetica_short", "1,500 steps of batch 100 on Diginetica with an early version of the code "
     "(before the attention optimisation), then full validation and test evaluation "
     "(`trainers.train --dataset=diginetica --epochs=1 --steps_per_epoch=1500`)."),
    ("diginetica_epoch1", "one full epoch on Diginetica with the default configuration "
     "(`trainers.train --dataset=diginetica --epochs=1`); the first process crashed during evaluation "
     "after saving the epoch checkpoint (its source files were edited while it ran) and the rerun "
     "resumed and evaluated it (`train.log`, `resume.log`)."),
)


def summary_lines(results_dir: str, runs: Dict[tuple, dict], paper: Dict[str, Dict[str, float]]) -> List[str]:
    """At most five lines at the top of the report: the reproduction against the paper, the best tuned
    baseline and TAGNN + repeat-explore against TAGNN (test HR@20 / MRR@20), and the machines the runs
    record; the sections below hold the detail."""
    from experiments.baselines_report import BASELINES_DIR, METHODS, NAMES, TITLES, collect_method
    from experiments.tune_baselines_lib import BEST

    def pair(metrics):
        return f"{metrics['hr@20']:.2f} / {metrics['mrr@20']:.2f}"

    reproduced, best, repeat, cpus = [], [], [], set()
    for dataset in DATASETS:
        run = runs.get((dataset, "tagnn"))
        if run is not None:
            reproduced.append(f"{TITLES[dataset]} {pair(run['summary']['test'])} (paper {pair(paper[dataset])})")
        folder = os.path.join(results_dir, BASELINES_DIR, dataset)
        states = {m: collect_method(os.path.join(folder, m), m) for m in METHODS}
        tested = {m: st["test"] for m, st in states.items() if st is not None and st.get("test")}
        others = {m: t for m, t in tested.items() if not m.startswith("tagnn")}
        if others:
            top = max(others, key=lambda m: others[m]["hr@20"])
            tagnn = f", tuned TAGNN {pair(tested['tagnn'])}" if "tagnn" in tested else ""
            best.append(f"{TITLES[dataset]} {NAMES[top]} {pair(others[top])}{tagnn}")
        if "tagnn" in tested and "tagnn_repeat" in tested:
            gain = {k: tested["tagnn_repeat"][k] - tested["tagnn"][k] for k in ("hr@20", "mrr@20")}
            done = states["tagnn_repeat"]
            repeat.append(f"{TITLES[dataset]} {pair(tested['tagnn_repeat'])} after {done['tries_done']} of "
                          f"{done['budget']} tries ({gain['hr@20']:+.2f} / {gain['mrr@20']:+.2f})")
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            for path in (os.path.join(folder, name, "try-0", run_directory.RUN_INFO),
                         os.path.join(folder, name, BEST, run_directory.RUN_INFO)):
                if os.path.exists(path):
                    info = run_directory.read_json(path)
                    cpus |= {f"{st['machine'].get('cpu', '?')}, {st['machine'].get('cpu_count', '?')} CPUs"
                             for st in info.get("sessions", [info]) if "machine" in st}
    for run in runs.values():
        cpus |= set(run.get("cpus", ()))
    lines = ["## Summary", ""]
    if reproduced:
        lines.append("- Paper reproduction, TAGNN at the validation-selected epoch, test HR@20 / MRR@20: "
                     + "; ".join(reproduced) + ".")
    if best:
        lines.append("- Best tuned baseline by test HR@20 (HR@20 / MRR@20): " + "; ".join(best) + ".")
    if repeat:
        lines.append("- TAGNN + repeat-explore (tuning protocol) and its difference to the tuned TAGNN above: "
                     + "; ".join(repeat) + "; same-try paired intervals under \"Repeat and new labels\".")
    if cpus:
        lines.append("- Machines (from the runs' `run_info.json`): " + "; ".join(sorted(cpus)) + ".")
    return lines + [""]


README_PROFILES_BLOCK = "REPEAT_PROFILES"


def write_report(results_dir: str, data_readme: str, readme: Optional[str] = None) -> str:
    """Writes `<results_dir>/README.md` and the PNGs, and with `readme` (the project's README.md) its
    block of data profiles (`README_PROFILES_BLOCK`); returns the results README's path."""
    if not os.path.isdir(results_dir):
        raise InputError(f"results folder not found: {results_dir}")
    if not os.path.isfile(data_readme):
        raise InputError(f"data README not found: {data_readme} (the published results table is read from it)")
    runs = collect(results_dir)
    extra = []
    for folder, text in EXTRA_RUNS:
        run = load_run(os.path.join(results_dir, folder))
        if run is not None:
            extra.append((folder, text, run))
    started = {(d, n): live_claim(os.path.join(results_dir, d, n)) is not None
               for d, n in PAPER_SUITE + DIAGNOSTICS_SUITE if os.path.isdir(os.path.join(results_dir, d, n))}
    paper = paper_numbers(data_readme)
    try:
        srgnn = paper_numbers(data_readme, "SR-GNN")
    except InputError:  # a data README without that row: the comparison is left out
        srgnn = None
    if runs:
        _plots(runs, results_dir, paper)
    path = os.path.join(results_dir, "README.md")
    # Rendered in full first: an error leaves the previous README and no temporary file.
    uncertainty = None
    if os.path.exists(os.path.join(results_dir, UNCERTAINTY_FILE)):
        uncertainty = run_directory.read_json(os.path.join(results_dir, UNCERTAINTY_FILE))
    from experiments.baselines_report import render as baselines_render
    from experiments.repeat_report import render as repeat_render

    text = render(runs, paper, extra, started, collect(results_dir, DIAGNOSTICS_SUITE), uncertainty, srgnn,
                  baselines_render(results_dir, data_readme), large_catalogue_lines(results_dir),
                  summary_lines(results_dir, runs, paper), repeat_render(results_dir))
    run_directory.write_text_atomic(path, text)
    if readme is not None:
        from experiments.markdown_blocks import replace_block
        from experiments.repeat_report import readme_profile_lines

        replace_block(readme, README_PROFILES_BLOCK, "\n".join(readme_profile_lines(results_dir)))
    return path
