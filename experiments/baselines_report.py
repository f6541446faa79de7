"""The baselines and validation-split sections of `results/README.md`, from their logs.

Reads `<results_dir>/baselines/<dataset>/<method>/` (experiments.tune_baselines_lib:
`tuning.jsonl`, the final run folder), `<results_dir>/valid_split/<dataset>.jsonl`
(experiments.measure_valid_splits_lib), TAGNN's reproduction run
`<results_dir>/<dataset>/tagnn/` and the published Table 1 values of the data
README. Nothing is typed by hand except the explanations of gaps to the
published values, which say why, not what.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from experiments.tune_baselines_lib import (BEST, BEYOND_EDGE, BUDGETS, NEURAL_METHODS, REFIT_EFFECT, REPEAT_METHODS,
                                         SEARCH_SPACES, TUNING_EPOCHS, TUNING_LOG, best_try, range_edges, result_dir,
                                         tries)
from experiments.published_results import paper_numbers
from experiments.measure_uncertainty_lib import difference_text, paired_bootstrap, paired_by_subset
from tagnn_tf import run_directory
from tagnn_tf.arguments import VALID_SPLITS
from tagnn_tf.errors import InputError

BASELINES_DIR = "baselines"
VALID_SPLIT_DIR = "valid_split"
DATASETS = ("yoochoose1_64", "diginetica")
TITLES = {"diginetica": "Diginetica", "yoochoose1_64": "Yoochoose1/64"}
# Table order: the paper's Table 1 (bottom up), then the methods it does not have (the other models'
# repeat-explore variants last).
METHODS = ("pop", "spop", "item_knn", "bpr_mf", "fpmc", "gru4rec", "narm", "stamp", "srgnn",
           "sr", "sknn", "vsknn", "stan", "vstan", "tagnn", "tagnn_repeat",
           "gru4rec_repeat", "narm_repeat", "stamp_repeat", "srgnn_repeat")
# The order the neural tunings ran in: TAGNN first (the paired reference), then by cost.
NEURAL_ORDER = ("tagnn", "stamp", "narm", "gru4rec", "srgnn", "bpr_mf", "fpmc")
# The first tries run with the full softmax before the neural tuning moved to the sampled one
# (experiments.tune_baselines_lib), kept for the protocol comparison.
FULL_SOFTMAX_DIR = "baselines_full_softmax"
NAMES = {"pop": "POP", "spop": "S-POP", "item_knn": "Item-KNN", "bpr_mf": "BPR-MF", "fpmc": "FPMC",
         "gru4rec": "GRU4Rec", "narm": "NARM", "stamp": "STAMP", "srgnn": "SR-GNN", "sr": "SR", "sknn": "SKNN",
         "vsknn": "V-SKNN", "stan": "STAN", "vstan": "VSTAN", "tagnn": "TAGNN"}
NAMES.update({method: f"{NAMES[model]} + repeat-explore" for method, model in REPEAT_METHODS.items()})
# Why a method is more than GAP_LIMIT HR@20 points from its published value (dataset, method) -> text.
GAP_LIMIT = 3.0
_BPR_WHY = ("the TAGNN paper states no protocol or hyper-parameters for its baselines beyond d = 100, so the "
            "published value cannot be rerun as such. Here the model is the stated one (the session is the mean of "
            "its items' factors, BPR with one uniform negative per example), trained on the same prefix examples "
            "as the neural models with Adam, tuned like them. The optimiser alone moves it a lot: the first try, "
            "updating every embedding row each step (coupled L2 on all of them), is the BPR-MF row of the "
            "full-softmax comparison below, several points under the same configuration with row-wise "
            "(`LazyAdam`) updates; the tuned learning rate and L2 add more.")
_FPMC_WHY = ("the TAGNN paper states no protocol or hyper-parameters for its baselines beyond d = 100. Here FPMC "
             "is the stated model without users (the mean of the session's items' factors as the taste, plus the "
             "factorised transition from the last click), trained with BPR on the same prefix examples as the "
             "neural models with Adam and row-wise updates, tuned like them; its special case BPR-MF shows how "
             "far the optimiser alone moves such a model (the full-softmax comparison below).")
_GRU4REC_WHY = ("the TAGNN paper states no protocol for its baselines beyond d = 100. Here GRU4Rec is trained "
                "like NARM and STAMP (one example per session prefix, softmax cross-entropy over sampled "
                "candidates, Adam, the same tuning), not with the original's session-parallel mini-batches and "
                "pairwise ranking loss; the model (a GRU over the clicks, the last hidden state scored against "
                "the item embeddings) is the same.")
_PROTOCOL_WHY = ("part of it is this harness's protocol, the same for every neural method: the sampled softmax "
                 "(the method's full-softmax try, where there is one, is in the comparison below), training on "
                 "the training part of the `time` split without the most recent sessions (the non-neural refit "
                 f"table shows what those are worth), and at most {TUNING_EPOCHS} epochs. The TAGNN paper states "
                 "no protocol for its baselines beyond d = 100.")
_WHY = {"bpr_mf": _BPR_WHY, "fpmc": _FPMC_WHY, "gru4rec": _GRU4REC_WHY,
        **{m: _PROTOCOL_WHY for m in ("narm", "stamp", "srgnn", "tagnn")}}
EXPLANATIONS: Dict[tuple, str] = {(d, m): why for d in DATASETS for m, why in _WHY.items()}


def published(data_readme: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{method: {dataset: {"hr@20", "mrr@20"}}} for the methods with a row in the data README."""
    out = {}
    for method, name in NAMES.items():
        try:
            out[method] = paper_numbers(data_readme, name)
        except InputError:
            continue
    return out


def _neural_state(run_dir: str) -> Optional[dict]:
    """A neural try's validation-selected epoch so far (finished or not)."""
    from tagnn_tf.training.model_selection import summarize

    history = run_directory.read_jsonl(os.path.join(run_dir, run_directory.METRICS))
    if not history:
        return None
    config = run_directory.read_json(os.path.join(run_dir, run_directory.CONFIG))
    summary = summarize(history, config["train"]["selection_metric"])
    log = run_directory.read_jsonl(os.path.join(run_dir, run_directory.RUN_LOG))
    return {"val": summary["val"], "test": summary["test"], "epoch": summary["selected_epoch"],
            "epochs": len(history), "finished": os.path.exists(os.path.join(run_dir, run_directory.RESULT)),
            "train_seconds": sum(r["train_seconds"] for r in log),
            # Runs started before the trainer logged it have no evaluation time.
            "eval_seconds": (sum(r["eval_seconds"] for r in history) if all("eval_seconds" in r for r in history)
                             else None),
            "history": history, "ranks": run_directory.read_test_ranks(run_dir)}


def collect_method(folder: str, method: str) -> Optional[dict]:
    """A method's tuning state: tries done, the best so far and its final run."""
    done = run_directory.read_jsonl(os.path.join(folder, TUNING_LOG))
    neural = method in NEURAL_METHODS
    states = {}
    if neural:  # tries still training are not in tuning.jsonl yet
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.startswith("try-"):
                state = _neural_state(os.path.join(folder, name))
                if state is not None:
                    states[int(name[4:])] = state
    if not done and not states:
        return None
    scored = {r["try"]: r for r in done}
    for k, state in states.items():
        scored.setdefault(k, {"try": k, "val": state["val"], "overrides": None, "seconds": None})
    best = best_try(list(scored.values()))
    out = {"tries_done": len(done), "budget": len(tries(method)), "best_try": best["try"], "val": best["val"],
           "overrides": best["overrides"], "tuning_seconds": sum(r["seconds"] or 0 for r in done)}
    if neural:
        state = states[best["try"]]
        out.update(test=state["test"], finished=state["finished"] and len(done) >= out["budget"],
                   train_seconds=state["train_seconds"], eval_seconds=state["eval_seconds"], ranks=state["ranks"], epoch=state["epoch"],
                   epochs=state["epochs"], run=f"{method}/try-{best['try']}", history=state["history"],
                   try_finished=state["finished"])
        return out
    best_dir = os.path.join(folder, BEST)
    if not os.path.exists(os.path.join(best_dir, run_directory.RESULT)):
        out.update(test=None, finished=False)
        return out
    result = run_directory.read_json(os.path.join(best_dir, run_directory.RESULT))
    log = run_directory.read_jsonl(os.path.join(best_dir, run_directory.RUN_LOG))[0]
    out.update(test=result["test"], finished=len(done) >= out["budget"], fit_seconds=log["fit_seconds"],
               test_seconds=log["test_seconds"], ranks=run_directory.read_test_ranks(best_dir),
               run=f"{method}/{BEST}")
    return out


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _minutes(seconds) -> str:
    return "—" if seconds is None else (f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s")


def _hyper(overrides: Optional[dict]) -> str:
    if not overrides:
        return "defaults" if overrides == {} else "—"
    return ", ".join(f"{k.split('.')[1]}={v}" for k, v in sorted(overrides.items()))


# Runs of the paper reproduction (`results/<dataset>/<config>/`, paper configuration, `examples`
# split) shown beside the tuned baselines: TAGNN, and SR-GNN, which is its `local-att` variant.
REPRODUCTION_ROWS = (("tagnn", "tagnn"), ("srgnn", "local-att"))


def reproduction_run(results_dir: str, dataset: str, config: str) -> Optional[dict]:
    run_dir = os.path.join(results_dir, dataset, config)
    path = os.path.join(run_dir, run_directory.RESULT)
    result = run_directory.read_json(path) if os.path.exists(path) else {}
    if "test" not in result:
        return None
    log = run_directory.read_jsonl(os.path.join(run_dir, run_directory.RUN_LOG))
    return {"test": result["test"], "val": result.get("val", {}), "train_seconds": sum(r["train_seconds"] for r in log),
            "ranks": run_directory.read_test_ranks(run_dir), "config": config}


def dataset_lines(results_dir: str, dataset: str, paper: dict) -> List[str]:
    folder = os.path.join(results_dir, BASELINES_DIR, dataset)
    reproduced = {m: reproduction_run(results_dir, dataset, config) for m, config in REPRODUCTION_ROWS}
    reproduced = {m: r for m, r in reproduced.items() if r is not None}
    states = {m: collect_method(os.path.join(folder, m), m) for m in METHODS}
    ranks = {m: s["ranks"] for m, s in states.items() if s is not None and s.get("ranks") is not None}
    # The reference is the tuned TAGNN; the reproduction's run until a tuned try has test ranks.
    reference_run = "tuned" if "tagnn" in ranks else None
    if "tagnn" not in ranks and reproduced.get("tagnn", {}).get("ranks") is not None:
        ranks["tagnn"], reference_run = reproduced["tagnn"]["ranks"], "reproduction"
    boot = None
    if ranks:
        reference = "tagnn" if "tagnn" in ranks else next(iter(ranks))
        boot = paired_bootstrap(ranks, reference, resamples=1000, seed=0)["runs"]
    lines = [f"### {TITLES[dataset]}", "",
             "| method | tries (budget) | best configuration | val HR@20 | test HR@10 | test HR@20 | test MRR@10 | "
             "test MRR@20 | published HR@20 / MRR@20 | HR@20 95% CI | minus TAGNN HR@20 / MRR@20 (95% CI) | "
             "time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    gaps = []
    for m in METHODS:
        s, pub = states[m], paper.get(m, {}).get(dataset)
        pub_text = f"{pub['hr@20']:.2f} / {pub['mrr@20']:.2f}" if pub else "—"
        if s is None:
            lines.append(f"| {NAMES[m]} | not tuned yet | | | | | | | {pub_text} | | | |")
            continue
        t = s.get("test") or {}
        status = f"{s['tries_done']} ({s['budget']})"
        if m in NEURAL_METHODS:
            status += "" if s.get("try_finished") else f", try {s['best_try']} training: epoch {s['epochs']} so far"
            time_text = (f"train {_minutes(s['train_seconds'])}, evaluation (val + test, every epoch) "
                         f"{_minutes(s['eval_seconds'])}")
        else:
            time_text = (f"fit {_minutes(s.get('fit_seconds'))}, test {_minutes(s.get('test_seconds'))}; "
                         f"tuning {_minutes(s['tuning_seconds'])}")
        b = (boot or {}).get(m, {})
        ci = f"[{b['hr@20_ci95'][0]:.2f}, {b['hr@20_ci95'][1]:.2f}]" if b else "—"
        diff = b.get("minus_reference") if "tagnn" in ranks and m != "tagnn" else None
        diff_text = difference_text(diff) if diff else "—"
        lines.append(f"| {NAMES[m]} | {status} | {_hyper(s['overrides'])} | {_fmt(s['val'].get('hr@20'))} | "
                     f"{_fmt(t.get('hr@10'))} | {_fmt(t.get('hr@20'))} | {_fmt(t.get('mrr@10'))} | "
                     f"{_fmt(t.get('mrr@20'))} | {pub_text} | {ci} | "
                     f"{'reference' if m == 'tagnn' and reference_run == 'tuned' else diff_text} | {time_text} |")
        # Gaps are explained once a method's tuning is complete; until then the status column says so.
        if pub and t and s.get("finished") and abs(t["hr@20"] - pub["hr@20"]) > GAP_LIMIT:
            gaps.append((m, t["hr@20"] - pub["hr@20"]))
    reference_run_method = "tagnn" if reference_run == "reproduction" else None
    for m, run in reproduced.items():
        pub = paper.get(m, {}).get(dataset)
        pub_text = f"{pub['hr@20']:.2f} / {pub['mrr@20']:.2f}" if pub else "—"
        t = run["test"]
        lines.append(f"| {NAMES[m]} (`results/{dataset}/{run['config']}`: the reproduction's run, paper "
                     f"configuration, `examples` split) | 1 (4): the paper's | paper | {_fmt(run['val'].get('hr@20'))} | "
                     f"{_fmt(t['hr@10'])} | {_fmt(t['hr@20'])} | {_fmt(t['mrr@10'])} | {_fmt(t['mrr@20'])} | "
                     f"{pub_text} | — | {'reference' if m == reference_run_method else '—'} | "
                     f"train {_minutes(run['train_seconds'])} |")
    lines.append("")
    if "tagnn" in ranks:
        lines += [f"The HR@20 intervals are each method's own; \"minus TAGNN\" is paired (the same resampled test "
                  f"examples for both), against the {reference_run} TAGNN run's per-example ranks; 1,000 draws "
                  f"each. TAGNN's row is its best tuning try"
                  f"{'' if (states.get('tagnn') or {}).get('finished') else ' so far'}.", ""]
    else:
        lines += ["The paired intervals against TAGNN need its per-example test ranks (`test_ranks.npz`); no TAGNN "
                  "run of this dataset has them yet (the reproduction's runs predate them), so that column stays "
                  "empty until a TAGNN tuning try has finished (the trainer writes them at the end of a run). "
                  "The HR@20 intervals are each method's own (test-set resampling, 1,000 draws).", ""]
    lines += _against_tagnn_repeat(ranks)
    for m, gap in gaps:
        text = EXPLANATIONS.get((dataset, m))
        lines.append(f"- {NAMES[m]} is {gap:+.2f} HR@20 points from its published value: "
                     + (text if text else "NOT YET EXPLAINED."))
    if gaps:
        lines.append("")
    return lines


def _against_tagnn_repeat(ranks: Dict[str, np.ndarray]) -> List[str]:
    """The other `+ repeat-explore` methods' best tries minus TAGNN + repeat-explore's (paired bootstrap)."""
    others = [m for m in REPEAT_METHODS if m != "tagnn_repeat" and m in ranks]
    if "tagnn_repeat" not in ranks or not others:
        return []
    boot = paired_bootstrap({m: ranks[m] for m in ["tagnn_repeat"] + others}, "tagnn_repeat", resamples=1000,
                            seed=0)["runs"]
    cells = [f"{NAMES[m]} {difference_text(boot[m]['minus_reference'])}" for m in others]
    return ["The other `+ repeat-explore` methods minus TAGNN + repeat-explore, each at its best try so far, test "
            "HR@20 / MRR@20 (paired, 95% CI, 1,000 draws): " + "; ".join(cells) + ".", ""]


def subset_lines(results_dir: str, data_dir: str, datasets=DATASETS) -> List[str]:
    """Every tuned method's test HR@20 / MRR@20 on the labels that repeat a session item and on the others,
    from its per-example test ranks; and the repeat-explore methods against their plain model, try by try."""
    from tagnn_tf.data.sessions import load_test_examples
    from tagnn_tf.metrics import ranking_metrics

    lines = ["### Repeat and new labels (issue 30)", "",
             "The test labels that repeat an item of their session (`repeat`) and the others (`new`), scored "
             "from each method's per-example test ranks (`test_ranks.npz`) of the table above. `+ repeat-explore` "
             "is the method with `--repeat_mechanism=repeat_explore`, tuned like the method itself (the same "
             "tries, run in order).", ""]
    for dataset in datasets:
        folder = os.path.join(results_dir, BASELINES_DIR, dataset)
        states = {m: collect_method(os.path.join(folder, m), m) for m in METHODS}
        ranks = {m: s["ranks"] for m, s in states.items() if s is not None and s.get("ranks") is not None}
        test_file = os.path.join(data_dir, dataset, "test.txt")
        if not ranks or not os.path.exists(test_file):  # the test labels are needed to split the ranks
            continue
        repeats = load_test_examples(os.path.join(data_dir, dataset)).label_repeats()
        share = 100.0 * float(repeats.mean())
        lines += [f"{TITLES[dataset]}: {share:.1f}% of the {len(repeats):,} test labels repeat a session item.", "",
                  "| method | tries (budget) | repeat HR@20 | repeat MRR@20 | new HR@20 | new MRR@20 | all HR@20 | "
                  "all MRR@20 |", "|---|---|---|---|---|---|---|---|"]
        for m, r in ranks.items():
            if len(r) != len(repeats):
                raise InputError(f"{folder}/{states[m]['run']}: {len(r)} test ranks, the test set has {len(repeats)}")
            metrics = ranking_metrics.finalize(ranking_metrics.numpy_rank_sums(r, repeats=repeats))
            lines.append(f"| {NAMES[m]} | {states[m]['tries_done']} ({states[m]['budget']}) | "
                         + " | ".join(_fmt(metrics.get(k)) for k in ("repeat/hr@20", "repeat/mrr@20", "new/hr@20",
                                                                     "new/mrr@20", "hr@20", "mrr@20")) + " |")
        lines.append("")
        lines += _same_try_lines(folder, dataset, repeats)
    return lines


def _same_try_lines(folder: str, dataset: str, repeats: np.ndarray) -> List[str]:
    """Each finished try of a repeat-explore method minus the plain method's same try (paired bootstrap)."""
    rows = []
    for method, model in REPEAT_METHODS.items():
        for k in range(len(tries(method))):
            mine = os.path.join(folder, method, f"try-{k}")
            plain = os.path.join(folder, model, f"try-{k}")
            if not all(os.path.exists(os.path.join(d, run_directory.RESULT)) for d in (mine, plain)):
                continue
            ranks = {"plain": run_directory.read_test_ranks(plain), "repeat": run_directory.read_test_ranks(mine)}
            cells = [difference_text(boot["runs"]["repeat"]["minus_reference"])  # all, repeat, new
                     for boot in paired_by_subset(ranks, "plain", repeats).values()]
            rows.append(f"| {NAMES[method]} minus {NAMES[model]} | try {k} ({_hyper(tries(method)[k])}) | "
                        + " | ".join(cells) + " |")
    if not rows:
        return []
    return [f"{TITLES[dataset]}, the same configuration with and without the mechanism (test HR@20 / MRR@20 "
            "difference, paired bootstrap 95% interval, 1,000 draws):", "",
            "| comparison | try | all labels | repeat labels | new labels |", "|---|---|---|---|---|", *rows, ""]


def split_lines(results_dir: str, datasets=DATASETS) -> List[str]:
    folder = os.path.join(results_dir, VALID_SPLIT_DIR)
    lines = ["## Which validation split tracks the test set (`python -m experiments.measure_valid_splits`)", "",
             "Each method (default hyper-parameters) fitted on the training part of a split, scored on its "
             "validation part and on the test set. `examples` is SR-GNN's split (a random 10% of the "
             "examples); `sessions` holds out random whole sessions, `time` the most recent sessions "
             "(10% of the examples each). Gap = validation minus test HR@20, in points.", "",
             "| dataset | method | " + " | ".join(f"{s}: val / test (gap)" for s in VALID_SPLITS) + " |",
             "|---|---|" + "---|" * len(VALID_SPLITS)]
    mean_gap = {s: [] for s in VALID_SPLITS}
    for dataset in datasets:
        rows = run_directory.read_jsonl(os.path.join(folder, f"{dataset}.jsonl"))
        by = {(r["method"], r["split"]): r for r in rows}
        for method in sorted({r["method"] for r in rows}, key=METHODS.index):
            cells = []
            for s in VALID_SPLITS:
                r = by.get((method, s))
                if r is None:
                    cells.append("—")
                    continue
                mean_gap[s].append(abs(r["gap"]["hr@20"]))
                cells.append(f"{r['val']['hr@20']:.2f} / {r['test']['hr@20']:.2f} ({r['gap']['hr@20']:+.2f})")
            lines.append(f"| {TITLES.get(dataset, dataset)} | {NAMES[method]} | " + " | ".join(cells) + " |")
    measured = {s: float(np.mean(v)) for s, v in mean_gap.items() if v}
    lines.append("")
    if measured:
        best = min(measured, key=measured.get)
        lines += ["Mean |gap| over these rows: " + ", ".join(f"`{s}` {v:.2f}" for s, v in measured.items())
                  + f". The `{best}` split's validation tracks the test set best, so the baselines are tuned "
                  f"with `--valid_split={best}`.", ""]
    return lines


def _softmax(config: dict) -> str:
    train = config["train"]
    if train.get("loss") == "bpr":
        return "BPR loss"
    return f"{train.get('train_candidates', 'full')} softmax"


def epoch_gap_lines(results_dir: str, datasets=DATASETS) -> List[str]:
    """Per-epoch val - test HR@20 of the neural runs: TAGNN (examples split) and the tuned neural tries."""
    lines = []
    for dataset in datasets:
        runs = [(f"TAGNN, `examples` split (`results/{dataset}/tagnn`)", os.path.join(results_dir, dataset, "tagnn"))]
        for top in (BASELINES_DIR, FULL_SOFTMAX_DIR):
            folder = os.path.join(results_dir, top, dataset)
            for m in METHODS:
                names = sorted(os.listdir(os.path.join(folder, m))) if os.path.isdir(os.path.join(folder, m)) else []
                for name in (n for n in names if n.startswith("try-")):
                    config = run_directory.read_json(os.path.join(folder, m, name, run_directory.CONFIG))
                    runs.append((f"{NAMES[m]} `{top}/{dataset}/{m}/{name}`, `{config['data']['valid_split']}` "
                                 f"split, {_softmax(config)}", os.path.join(folder, m, name)))
        neural = os.path.join(results_dir, VALID_SPLIT_DIR, "neural", dataset)
        for name in sorted(os.listdir(neural)) if os.path.isdir(neural) else []:
            method, split = name.rsplit("-", 1)
            config = run_directory.read_json(os.path.join(neural, name, run_directory.CONFIG))
            runs.append((f"{NAMES.get(method, method)}, `{split}` split, {_softmax(config)} "
                         f"(`{VALID_SPLIT_DIR}/neural/{dataset}/{name}`)", os.path.join(neural, name)))
        for title, run_dir in runs:
            history = run_directory.read_jsonl(os.path.join(run_dir, run_directory.METRICS))
            if not history:
                continue
            gaps = ", ".join(f"{r['val']['hr@20'] - r['test']['hr@20']:+.2f}" for r in history)
            best_val = max(history, key=lambda r: r["val"]["hr@20"])
            best_test = max(history, key=lambda r: r["test"]["hr@20"])
            lines.append(f"- {TITLES.get(dataset, dataset)}, {title}: val - test HR@20 by epoch {gaps}; validation selects "
                         f"epoch {best_val['epoch']} (test {best_val['test']['hr@20']:.2f}), the best test epoch is "
                         f"{best_test['epoch']} ({best_test['test']['hr@20']:.2f}).")
    return (["Per epoch, for the neural runs:", "", *lines, ""]) if lines else []


def _protocol_cells(run_dir: str) -> Optional[str]:
    """`val HR@20 / test HR@20 / test MRR@20 (epoch e of n), m min per epoch` of a run so far."""
    state = _neural_state(run_dir)
    if state is None:
        return None
    log = run_directory.read_jsonl(os.path.join(run_dir, run_directory.RUN_LOG))
    per_epoch = float(np.median([r["train_seconds"] for r in log]))
    return (f"{state['val']['hr@20']:.2f} / {state['test']['hr@20']:.2f} / {state['test']['mrr@20']:.2f} "
            f"(epoch {state['epoch']} of {state['epochs']}{'' if state['finished'] else ', running'}), "
            f"{per_epoch / 60:.1f} min")


def protocol_lines(results_dir: str, datasets=DATASETS) -> List[str]:
    """The same try with the full softmax and with the sampled one (the tuning's), side by side."""
    rows = []
    for dataset in datasets:
        folder = os.path.join(results_dir, FULL_SOFTMAX_DIR, dataset)
        for m in METHODS:
            full = _protocol_cells(os.path.join(folder, m, "try-0"))
            if full is None:
                continue
            sampled = _protocol_cells(os.path.join(results_dir, BASELINES_DIR, dataset, m, "try-0"))
            rows.append(f"| {TITLES[dataset]} | {NAMES[m]} try 0 | {full} | {sampled or 'not run yet'} |")
    if not rows:
        return []
    return ["### The tuning's sampled softmax against the full softmax", "",
            "Each neural try trains with the sampled softmax (2,000 shared negatives per batch, drawn by "
            "popularity, logQ-corrected; `--train_candidates=sampled`); evaluation ranks every item. The first "
            f"tries were run with the full softmax (`{FULL_SOFTMAX_DIR}/`) and are repeated here with the "
            "sampled one. BPR-MF's are both its BPR loss: the first scored the whole catalogue to pick its "
            "pairs and updated every embedding row (Adam), the tuned one scores only the pairs and updates "
            "their rows (`LazyAdam`). Cells: validation HR@20 / test HR@20 / test MRR@20 at the "
            "validation-selected epoch, then the median training minutes per epoch (2-core machine, shared "
            "with other runs).", "",
            "| dataset | try | full softmax | sampled softmax (the tuning's) |", "|---|---|---|---|", *rows, ""]


def refit_lines(results_dir: str, datasets=DATASETS) -> List[str]:
    """What refitting on training + validation sessions adds to the non-neural test scores."""
    rows = []
    for dataset in datasets:
        for r in run_directory.read_jsonl(os.path.join(results_dir, BASELINES_DIR, dataset, REFIT_EFFECT)):
            part, refit = r["test_fit_on_train"], r["test_refit"]
            rows.append(f"| {TITLES[dataset]} | {NAMES[r['method']]} | {part['hr@20']:.2f} / {part['mrr@20']:.2f} | "
                        f"{refit['hr@20']:.2f} / {refit['mrr@20']:.2f} | {refit['hr@20'] - part['hr@20']:+.2f} / "
                        f"{refit['mrr@20'] - part['mrr@20']:+.2f} |")
    if not rows:
        return []
    return ["### What the non-neural refit adds (`python -m experiments.tune_baselines --refit_effect`)", "",
            "Every test score in the tables is of a model fitted or trained on the training part of the split "
            "(the `time` split holds out the most recent 10% of the examples): a neural try trains there, and "
            "refitting each method's best would cost a training run per method. For the non-neural methods, "
            "the same configuration refitted on all training sessions (training + validation part), test "
            "HR@20 / MRR@20:",
            "", "| dataset | method | fitted on the training part (the table's) | refitted | refit adds |",
            "|---|---|---|---|---|", *rows, ""]


def truncation_lines(results_dir: str, epochs: int = TUNING_EPOCHS) -> List[str]:
    """What capping training at `epochs` would have changed in every finished run that trained longer."""
    from tagnn_tf.training.model_selection import select

    rows, changes = [], []
    for top, dirs, files in sorted(os.walk(results_dir)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("abandoned-attempt"))
        if run_directory.METRICS not in files or run_directory.RESULT not in files:
            continue
        history = run_directory.read_jsonl(os.path.join(top, run_directory.METRICS))
        if len(history) <= epochs:
            continue
        metric = run_directory.read_json(os.path.join(top, run_directory.CONFIG))["train"]["selection_metric"]
        whole, capped = select(history, metric), select(history[:epochs], metric)
        change = {m: capped["test"][m] - whole["test"][m] for m in ("hr@20", "mrr@20")}
        changes.append(change)
        rows.append(f"| `{os.path.relpath(top, results_dir)}` | {len(history)} | {whole['epoch']}: "
                    f"{whole['test']['hr@20']:.2f} / {whole['test']['mrr@20']:.2f} | {capped['epoch']}: "
                    f"{capped['test']['hr@20']:.2f} / {capped['test']['mrr@20']:.2f} | "
                    f"{change['hr@20']:+.2f} / {change['mrr@20']:+.2f} |")
    if not rows:
        return []
    worst = {m: min(c[m] for c in changes) for m in ("hr@20", "mrr@20")}
    return [f"### The tuning's epoch cap ({epochs} epochs)", "",
            f"Every finished run in `results/` that trained more than {epochs} epochs, its validation-selected "
            f"epoch and test HR@20 / MRR@20, against the selection among its first {epochs} epochs only:", "",
            f"| run | epochs | selected: test HR@20 / MRR@20 | selected among the first {epochs} | change |",
            "|---|---|---|---|---|", *rows, "",
            f"Largest loss from the cap over these {len(rows)} runs: {worst['hr@20']:+.2f} HR@20, "
            f"{worst['mrr@20']:+.2f} MRR@20 points.", ""]


def cap_binding_lines(results_dir: str, epochs: int = TUNING_EPOCHS, datasets=DATASETS) -> List[str]:
    """The finished neural tuning tries that selected their last allowed epoch (still improving when capped)."""
    rows, gains, finished = [], [], 0
    for dataset in datasets:
        for m in NEURAL_ORDER:
            folder = os.path.join(results_dir, BASELINES_DIR, dataset, m)
            for r in run_directory.read_jsonl(os.path.join(folder, TUNING_LOG)):
                finished += 1
                if r["selected_epoch"] < epochs:
                    continue
                history = run_directory.read_jsonl(os.path.join(folder, f"try-{r['try']}", run_directory.METRICS))
                last, before = history[epochs - 1]["val"]["hr@20"], history[epochs - 2]["val"]["hr@20"]
                gains.append(last - before)
                rows.append(f"| {TITLES[dataset]} | {NAMES[m]} | {r['try']} ({_hyper(r['overrides'])}) | "
                            f"{before:.2f} | {last:.2f} | {last - before:+.2f} |")
    if not rows:
        return []
    from experiments.tune_baselines_lib import TUNING_TRAIN

    factor = TUNING_TRAIN.learning_rate_at(epochs) / TUNING_TRAIN.learning_rate
    return [f"Finished neural tuning tries whose validation-selected epoch is the last allowed ({epochs}), so "
            f"the cap stopped them still improving: {len(rows)} of {finished}. Their epoch {epochs} added "
            f"{np.median(gains):+.2f} validation HR@20 points (median; largest {max(gains):+.2f}), at "
            f"{factor:g} times the initial learning rate (the step decay); a further epoch would run at the "
            "same or a lower rate:", "",
            f"| dataset | method | try | val HR@20 epoch {epochs - 1} | epoch {epochs} | gain |",
            "|---|---|---|---|---|---|", *rows, ""]


def edge_lines(results_dir: str, datasets=DATASETS) -> List[str]:
    """The complete tunings whose best try takes an end of a numeric search range, and the try beyond it.

    `baseline_tuning.range_edges` says which ends count; the tries beyond them
    are `baseline_tuning.check_beyond_edges`'s (`--beyond_edges`).
    """
    edges, rows, done = [], [], []
    for dataset in datasets:
        for m in METHODS:
            folder = os.path.join(results_dir, BASELINES_DIR, dataset, m)
            tuning = run_directory.read_jsonl(os.path.join(folder, TUNING_LOG))
            if len(tuning) < len(tries(m)):
                continue
            best = best_try(tuning)
            checked = {r["name"]: r for r in run_directory.read_jsonl(os.path.join(folder, BEYOND_EDGE))}
            for edge in range_edges(m, best["overrides"]):
                field = edge["name"].split(".")[1]
                edges.append(f"{TITLES[dataset]} {NAMES[m]} {field}={edge['value']} ({edge['end']})")
                r = checked.get(edge["name"])
                if r is None:
                    rows.append(f"| {TITLES[dataset]} | {NAMES[m]} | {field} {edge['value']:g} -> "
                                f"{edge['beyond']:g} | {best['val']['hr@20']:.2f} | not run yet | | |")
                    continue
                test = _best_test(folder, m, best)
                done.append((dataset, m, r["val"]["hr@20"] - best["val"]["hr@20"], r["test"]["hr@20"]))
                rows.append(f"| {TITLES[dataset]} | {NAMES[m]} | {field} {r['value']:g} -> {r['beyond']:g} | "
                            f"{best['val']['hr@20']:.2f} | {r['val']['hr@20']:.2f} "
                            f"({r['val']['hr@20'] - best['val']['hr@20']:+.2f}) | "
                            f"{_fmt(test.get('hr@20'))} / {_fmt(test.get('mrr@20'))} | "
                            f"{r['test']['hr@20']:.2f} / {r['test']['mrr@20']:.2f} |")
    if not edges:
        return ["No complete tuning's best try sits at an end of a numeric search range.", ""]
    return [f"Complete tunings whose best try sits at an end of a numeric search range, where a wider range "
            f"might do better ({len(edges)}; the parameters' own ends, no L2, no recency weighting or every "
            "session as the sample, are not counted): " + "; ".join(edges) + ".", "",
            "Each was tried once more, outside the budget, with that parameter one step beyond the end (the "
            "range's ratio repeated: learning rate 0.002 -> 0.004); the tuned result above stays the budget's "
            "best try, so a gain here is what one more step of the range would have been worth (`python -m "
            "experiments.tune_baselines --beyond_edges`; validation HR@20, test HR@20 / MRR@20):", "",
            "| dataset | method | parameter | best try: val | beyond: val (change) | best try: test | beyond: test |",
            "|---|---|---|---|---|---|---|", *rows, "", *_beyond_summary(results_dir, done)]


def _beyond_summary(results_dir: str, done: List[tuple]) -> List[str]:
    """How many tries beyond an edge gained on validation, and whether any passes the tuned TAGNN on test."""
    if not done:
        return []
    gains = [d for d in done if d[2] > 0]
    top = max(done, key=lambda d: d[2])
    text = (f"Validation HR@20 rose beyond {len(gains)} of the {len(done)} ends tried (largest "
            f"{top[2]:+.2f}: {TITLES[top[0]]} {NAMES[top[1]]}).")
    for dataset in dict.fromkeys(d[0] for d in done):
        folder = os.path.join(results_dir, BASELINES_DIR, dataset, "tagnn")
        tuning = run_directory.read_jsonl(os.path.join(folder, TUNING_LOG))
        tagnn = _best_test(folder, "tagnn", best_try(tuning)).get("hr@20") if tuning else None
        rivals = [d for d in done if d[0] == dataset and d[1] != "tagnn"]
        if tagnn is None or not rivals:
            continue
        best = max(rivals, key=lambda d: d[3])
        above = [NAMES[d[1]] for d in rivals if d[3] > tagnn]
        text += (f" {TITLES[dataset]}: the best baseline test HR@20 beyond an edge is {best[3]:.2f} "
                 f"({NAMES[best[1]]}), " + (f"above the tuned TAGNN's {tagnn:.2f}: {', '.join(above)}."
                                            if above else f"under the tuned TAGNN's {tagnn:.2f}."))
    return [text, ""]


def _best_test(folder: str, method: str, best: dict) -> dict:
    """The test metrics of a tuning's result for its `best` try row; {} until the result is written."""
    path = os.path.join(folder, result_dir(method, best), run_directory.RESULT)
    return run_directory.read_json(path)["test"] if os.path.exists(path) else {}


def render(results_dir: str, data_readme: str) -> List[str]:
    paper = published(data_readme)
    lines = ["## Baselines (issue 22: `python -m experiments.tune_baselines`)", "",
             "Every method is tuned by one rule: a fixed budget of configurations (try 0 = the reference "
             "implementation's defaults; the others drawn at random, seeded, from the search space below; the "
             "whole grid when smaller), each scored on the validation split (`--valid_split=time`, chosen "
             "below), the best by validation HR@20 then scored on the test set, as fitted or trained on the "
             "training part of the split (what a refit on all training sessions adds is measured below for the "
             f"non-neural methods); neural tries are trainer runs (at most {TUNING_EPOCHS} epochs, patience 3; "
             "the cap is checked below) whose validation-selected epoch is scored, trained with the sampled "
             "softmax (TAGNN too; BPR-MF and FPMC with their BPR loss; see the comparison with the full softmax "
             "below). "
             "Ranks count ties against the target for the non-neural methods (most items score exactly 0). "
             "HR/MRR in %. Times: this 2-core machine, shared with other runs and development work (upper "
             "bounds).", "",
             "The neural tunings run one dataset per core; the same commands resume them (finished tries are "
             "skipped, a try resumes from its checkpoints; `--max_tries=1` first gives every method its "
             "defaults' try; a dataset's methods can be shared between processes with `--methods`, each try "
             "directory being locked by the process training it):", "", "```sh",
             *[f"taskset -c {core} .venv/bin/python -m experiments.tune_baselines --results_dir=results/baselines "
               f"--datasets={dataset} --methods={','.join(NEURAL_ORDER)}" for core, dataset in enumerate(DATASETS)],
             "```", ""]
    for dataset in DATASETS:
        lines += dataset_lines(results_dir, dataset, paper)
    lines += subset_lines(results_dir, os.path.dirname(os.path.abspath(data_readme)))
    lines += protocol_lines(results_dir)
    lines += refit_lines(results_dir)
    lines += truncation_lines(results_dir)
    lines += cap_binding_lines(results_dir)
    lines += ["Search spaces (`experiments/tune_baselines_lib.py`; budget = tries per method):", ""]
    for m in METHODS:
        space = SEARCH_SPACES[m]
        text = "; ".join(f"{k.split('.')[1]} {v}" for k, v in space.items()) or "no hyper-parameters"
        drawn = ""
        if m in NEURAL_METHODS:  # few tries: list them (try 0 = the defaults)
            drawn = "; the tries: " + ", ".join(f"{k} ({_hyper(t)})" for k, t in enumerate(tries(m)))
        count = len(tries(m))
        lines.append(f"- {NAMES[m]} ({count} {'try' if count == 1 else 'tries'} of a budget of {BUDGETS[m]}): "
                     f"{text}{drawn}")
    lines += ["", "The neural methods share one search space and one seeded draw, so each gets the same "
              "configurations.", ""]
    lines += edge_lines(results_dir)
    lines += split_lines(results_dir)
    lines += epoch_gap_lines(results_dir)
    return lines
