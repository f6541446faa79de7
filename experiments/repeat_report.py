"""The report's sections on repeats (results/README.md): the data profiles, the repeat-heavy synthetic
study, the repeat-explore mixture's forms and the learning-rate schedule of `trainers.train`, each
rendered from the files its script wrote."""

from __future__ import annotations

import glob
import os
from typing import List

from tagnn_tf import run_directory

PROFILES_DIR = "profiles"
# The synthetic studies, in the report's order: the main log with the tuning's learning-rate schedule, the
# same log with the paper's (`--lr_schedule=paper`), the linear one (`--lr_schedule=linear`) and the
# validated one (`--lr_schedule=validated`, `trainers.train`'s default), and a log the size of the test's
# small version.
SYNTHETIC_FILES = tuple(os.path.join("repeat_synthetic", *sub, "repeat_synthetic.json")
                        for sub in ((), ("paper_lr_schedule",), ("linear_lr_schedule",), ("validated_lr_schedule",),
                                    ("small_log",)))
FORMS_DIR = "repeat_mixture_forms"
# Beside a study's JSON: `python -m experiments.first_order_reference --output=...` on the study's log.
FIRST_ORDER_REFERENCE = "first_order_reference.json"
_SYNTHETIC_ROWS = (("spop", "S-POP"), ("stan", "STAN, tuned"), ("tagnn", "TAGNN"),
                   ("tagnn_boost", "TAGNN try 0 + boost"), ("tagnn_repeat", "TAGNN + repeat-explore"))


def _pair(metrics: dict, prefix: str = "") -> str:
    return f"{metrics[prefix + 'hr@20']:.2f} / {metrics[prefix + 'mrr@20']:.2f}"


def readme_profile_lines(results_dir: str) -> List[str]:
    """The README's table of the committed profiles: each log's repeat share, S-POP floor and advice."""
    lines = ["| log | test labels that repeat a session item | that are the last click | S-POP test HR@20 / "
             "MRR@20 | the profile's advice |", "|---|---|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(results_dir, PROFILES_DIR, "*.json"))):
        p = run_directory.read_json(path)
        lines.append(f"| {os.path.basename(path)[:-5]} | {p['test_repeat_share']:.1f}% | "
                     f"{p['test_last_click_share']:.1f}% | {_pair(p['floors']['spop'])} | "
                     f"{p['advice'].split(' (')[0]} |")
    return lines


def profile_lines(results_dir: str) -> List[str]:
    paths = sorted(glob.glob(os.path.join(results_dir, PROFILES_DIR, "*.json")))
    if not paths:
        return []
    lines = ["## Data profiles (`python -m trainers.profile`)", "",
             "What `trainers.profile` reports of each log (`results/profiles/`; how to read it: "
             "docs/repeat_heavy_logs.md). Shares in %; the floors are test HR@20 / MRR@20.", "",
             "| dataset | test repeat share | last-click share | session length p50 / p90 | top-1% click share | "
             "rare test labels | S-POP | POP |", "|---|---|---|---|---|---|---|---|"]
    for path in paths:
        p = run_directory.read_json(path)
        lengths, floors = p["session_length_percentiles"], p["floors"]
        lines.append(f"| {os.path.basename(path)[:-5]} | {p['test_repeat_share']:.2f} | "
                     f"{p['test_last_click_share']:.2f} | {lengths['p50']:.0f} / {lengths['p90']:.0f} | "
                     f"{p['top1pct_click_share']:.2f} | {p['test_rare_label_share']:.2f} | "
                     f"{_pair(floors['spop'])} | {_pair(floors['pop'])} |")
    return lines + [""]


def synthetic_lines(results_dir: str) -> List[str]:
    """One table per committed synthetic study (`SYNTHETIC_FILES`), each headed by its log and schedule."""
    paths = [os.path.join(results_dir, f) for f in SYNTHETIC_FILES if os.path.exists(os.path.join(results_dir, f))]
    if not paths:
        return []
    lines = ["## A repeat-heavy synthetic log (`python -m experiments.repeat_synthetic`)", "",
             "Synthetic logs where a share of the next clicks repeat a session item, under the fair tuning's "
             "protocol (`time` split, sampled softmax, at most 6 epochs). Only the TAGNN rows train, so a study's "
             "learning-rate schedule (`--lr_schedule`) changes only them.", ""]
    for path in paths:
        study = run_directory.read_json(path)
        log, schedule = study["synthetic"], study.get("train", {}).get("lr_schedule", "official")
        folder = os.path.relpath(os.path.dirname(path), results_dir).replace(os.sep, "/")
        lines += [f"**{log['num_items']:,} items, {log['num_sessions']:,} sessions, {100 * log['repeat_share']:.0f}% "
                  f"of next clicks repeat a session item; learning-rate schedule `{schedule}`** (`results/{folder}/`, "
                  f"commit {study['git_commit'][:10]}, machine {study['machine'].get('cpu', '?')}). "
                  "Test HR@20 / MRR@20:", "",
                  "| method | tries (budget) | overall | repeat labels | new labels |", "|---|---|---|---|---|"]
        for method, name in _SYNTHETIC_ROWS:
            entry = study["methods"].get(method)
            if entry is None:
                continue
            test = entry["test"]
            if "tries_done" in entry:
                tries = f"{entry['tries_done']} ({entry['tries']}), best {entry['best_try']}"
            else:
                tries = f"weight {entry.get('boost_weight')} picked on validation"
            lines.append(f"| {name} | {tries} | {_pair(test)} | {_pair(test, 'repeat/')} | {_pair(test, 'new/')} |")
        for run in sorted(glob.glob(os.path.join(os.path.dirname(path), "*", "result.json"))):
            # A `trainers.train` run on the study's log beside its JSON (its folder names its settings).
            result = run_directory.read_json(run)
            lines.append(f"| `{os.path.basename(os.path.dirname(run))}` (`trainers.train`) | epoch "
                         f"{result['selected_epoch']} of {result['epochs_run']} | {_pair(result['test'])} | "
                         f"{_pair(result['test'], 'repeat/')} | {_pair(result['test'], 'new/')} |")
        ceiling = study.get("bayes_optimal")
        if ceiling:  # the generator's own probabilities: no model can do better on average
            lines.append(f"| Bayes-optimal (the generator's probabilities) | none | {_pair(ceiling)} | "
                         f"{_pair(ceiling, 'repeat/')} | {_pair(ceiling, 'new/')} |")
        reference_path = os.path.join(os.path.dirname(path), FIRST_ORDER_REFERENCE)
        if os.path.exists(reference_path):  # the generator's form fitted on the training part
            reference = run_directory.read_json(reference_path)
            test = reference["test"]
            lines.append(f"| First-order counts + popularity back-off (the generator's form fitted on the training "
                         f"part, `experiments.first_order_reference`) | alpha {reference['alpha']:g}, p "
                         f"{reference['repeat_weight']:g} picked on validation | {_pair(test)} | "
                         f"{_pair(test, 'repeat/')} | {_pair(test, 'new/')} |")
        margins = study.get("margins_of_tagnn_repeat", {})
        if margins:
            lines += ["", "TAGNN + repeat-explore minus " + "; ".join(
                f"{'S-POP' if m == 'spop' else m.upper()}: {v['hr@20']:+.2f} HR@20 / {v['mrr@20']:+.2f} MRR@20"
                for m, v in margins.items()) + "."]
        lines.append("")
    return lines


def forms_lines(results_dir: str) -> List[str]:
    paths = sorted(glob.glob(os.path.join(results_dir, FORMS_DIR, "*.json")))
    if not paths:
        return []
    lines = ["## The repeat-explore mixture's forms (`python -m experiments.repeat_mixture_forms`)", "",
             "One trained `repeat_explore` run (TAGNN + repeat-explore, tuning try 0) scored three ways with the "
             "same weights: `exclusive` (the library's, RepeatNet's), `additive` (`sigmoid(g) P_repeat + "
             "sigmoid(-g) softmax(z)`) and `explore` (the explore scores alone: the plain model). Test HR@20 / "
             "MRR@20:", "", "| run | form | overall | repeat labels | new labels |", "|---|---|---|---|---|"]
    for path in paths:
        record = run_directory.read_json(path)
        for form, test in record["forms"].items():
            lines.append(f"| `{record['run']}` | {form} | {_pair(test)} | {_pair(test, 'repeat/')} | "
                         f"{_pair(test, 'new/')} |")
    return lines + [""]


def render(results_dir: str) -> List[str]:
    from experiments.item_norm_default import report_lines as item_norm_lines
    from experiments.lr_schedule_default import report_lines as schedule_lines
    from experiments.repeat_floor_default import report_lines as floor_lines
    from experiments.repeat_gate_default import report_lines as gate_lines

    return (profile_lines(results_dir) + synthetic_lines(results_dir) + forms_lines(results_dir)
            + schedule_lines(results_dir) + item_norm_lines(results_dir) + gate_lines(results_dir)
            + floor_lines(results_dir))
