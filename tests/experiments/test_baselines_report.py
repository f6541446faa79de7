"""The baselines section of the report: tuned rows, the paired column against TAGNN, the protocol comparison."""

import json
import os

import numpy as np

from experiments.tune_baselines_lib import REFIT_EFFECT, TUNING_LOG
from experiments.baselines_report import (BASELINES_DIR, EXPLANATIONS, FULL_SOFTMAX_DIR, dataset_lines, protocol_lines,
                                         cap_binding_lines, edge_lines, refit_lines, truncation_lines)
from tagnn_tf import run_directory


def _metrics(hr20, mrr20):
    return {"hr@10": hr20 - 10, "hr@20": hr20, "mrr@10": mrr20 - 1, "mrr@20": mrr20}


def _write_try(folder, k, epochs, ranks=None, train_candidates="sampled", finished=True, train_seconds=120.0):
    """A neural try: `epochs` = [(val HR@20, test HR@20, test MRR@20)] per epoch; tuning.jsonl once finished."""
    run = os.path.join(folder, f"try-{k}")
    os.makedirs(run)
    config = {"data": {"valid_split": "time"},
              "train": {"selection_metric": "hr@20", "train_candidates": train_candidates, "loss": "cross_entropy"}}
    json.dump(config, open(os.path.join(run, "config.json"), "w"))
    history = [{"epoch": e, "eval_seconds": 30.0, "val": _metrics(v, 20.0), "test": _metrics(t, m)}
               for e, (v, t, m) in enumerate(epochs, 1)]
    for name, rows in (("metrics.jsonl", history),
                       ("run_log.jsonl", [{"epoch": r["epoch"], "train_seconds": train_seconds} for r in history])):
        with open(os.path.join(run, name), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    if ranks is not None:
        run_directory.write_test_ranks(run, np.array(ranks))
    if finished:
        json.dump({}, open(os.path.join(run, "result.json"), "w"))
        best = max(history, key=lambda r: r["val"]["hr@20"])
        run_directory.append_jsonl(os.path.join(folder, TUNING_LOG), {"try": k, "overrides": {"train.l2": 0.0},
                                                                      "val": best["val"], "seconds": 60.0,
                                                                      "selected_epoch": best["epoch"]})


def test_tuned_rows_are_compared_with_tagnn_on_the_same_test_examples(tmp_path, monkeypatch):
    folder = tmp_path / BASELINES_DIR / "yoochoose1_64"
    # Four test examples. TAGNN's ranks 1, 30, 2, 5: 3 hits in 4 = HR@20 75%; STAMP's 1, 1, 30, 30: 50%.
    # The paired difference is 50 - 75 = -25 points; MRR@20: (1 + 1)/4 = 50% minus (1 + 1/2 + 1/5)/4 = 42.5%: +7.5.
    _write_try(str(folder / "tagnn"), 0, [(70.0, 75.0, 42.5)], ranks=[1, 30, 2, 5])
    _write_try(str(folder / "stamp"), 0, [(60.0, 50.0, 50.0)], ranks=[1, 1, 30, 30])
    paper = {"stamp": {"yoochoose1_64": {"hr@20": 68.74, "mrr@20": 29.67}}}
    text = "\n".join(dataset_lines(str(tmp_path), "yoochoose1_64", paper))
    stamp = next(line for line in text.splitlines() if line.startswith("| STAMP |"))
    assert "| 1 (4) | l2=0.0 | 60.00 | 40.00 | 50.00 | 49.00 | 50.00 | 68.74 / 29.67 |" in stamp
    assert "| -25.00 [" in stamp and "/ +7.50 [" in stamp
    tagnn = next(line for line in text.splitlines() if line.startswith("| TAGNN |"))
    assert "| reference |" in tagnn
    # STAMP is 18.74 points below its published value, but its tuning has 3 tries to go: not judged yet.
    assert "from its published value" not in text
    for k in (1, 2, 3):
        _write_try(str(folder / "stamp"), k, [(50.0, 40.0, 30.0)])
    text = "\n".join(dataset_lines(str(tmp_path), "yoochoose1_64", paper))
    why = EXPLANATIONS[("yoochoose1_64", "stamp")]
    assert f"- STAMP is -18.74 HR@20 points from its published value: {why}" in text
    monkeypatch.delitem(EXPLANATIONS, ("yoochoose1_64", "stamp"))
    text = "\n".join(dataset_lines(str(tmp_path), "yoochoose1_64", paper))
    assert "- STAMP is -18.74 HR@20 points from its published value: NOT YET EXPLAINED." in text


def test_without_tagnn_ranks_the_paired_column_is_empty_and_says_why(tmp_path):
    folder = tmp_path / BASELINES_DIR / "diginetica"
    _write_try(str(folder / "tagnn"), 0, [(50.0, 45.0, 15.0)], finished=False)  # training: no ranks yet
    _write_try(str(folder / "narm"), 0, [(50.0, 48.0, 16.0)], ranks=[1, 2, 3, 40])
    text = "\n".join(dataset_lines(str(tmp_path), "diginetica", {}))
    narm = next(line for line in text.splitlines() if line.startswith("| NARM |"))
    assert "| [" in narm and "| — |" in narm  # its own interval; no difference to TAGNN
    assert "reference" not in next(line for line in text.splitlines() if line.startswith("| TAGNN |"))
    assert "trainer writes them at the end of a run" in text


def test_protocol_rows_pair_a_full_softmax_try_with_its_sampled_repeat(tmp_path):
    assert protocol_lines(str(tmp_path)) == []
    full = tmp_path / FULL_SOFTMAX_DIR / "yoochoose1_64" / "narm"
    _write_try(str(full), 0, [(60.0, 61.0, 25.0), (65.0, 66.0, 28.0)], train_candidates="full", train_seconds=600.0)
    text = "\n".join(protocol_lines(str(tmp_path)))
    assert "| Yoochoose1/64 | NARM try 0 | 65.00 / 66.00 / 28.00 (epoch 2 of 2), 10.0 min | not run yet |" in text
    sampled = tmp_path / BASELINES_DIR / "yoochoose1_64" / "narm"
    _write_try(str(sampled), 0, [(64.0, 65.5, 27.0)], finished=False, train_seconds=90.0)
    text = "\n".join(protocol_lines(str(tmp_path)))
    assert ("| 65.00 / 66.00 / 28.00 (epoch 2 of 2), 10.0 min | 64.00 / 65.50 / 27.00 (epoch 1 of 1, running), "
            "1.5 min |") in text


def test_epoch_cap_table_reselects_among_the_first_epochs(tmp_path):
    folder = tmp_path / "diginetica"
    # Validation peaks at epoch 8 (test 52.0); among epochs 1-6 it peaks at epoch 5 (test 51.5): -0.50.
    _write_try(str(folder), 0, [(40, 45.0, 15.0), (41, 46.0, 16.0), (42, 47.0, 17.0), (43, 48.0, 17.5),
                                (45, 51.5, 18.0), (44, 51.9, 18.2), (45.5, 51.8, 18.1), (46, 52.0, 18.3)])
    _write_try(str(folder), 1, [(40, 45.0, 15.0)] * 6)  # not longer than the cap: not listed
    text = "\n".join(truncation_lines(str(tmp_path), epochs=6))
    assert "| `diginetica/try-0` | 8 | 8: 52.00 / 18.30 | 5: 51.50 / 18.00 | -0.50 / -0.30 |" in text
    assert "try-1" not in text
    assert "Largest loss from the cap over these 1 runs: -0.50 HR@20, -0.30 MRR@20 points." in text


def test_cap_binding_rows_are_the_tries_selected_at_the_last_epoch(tmp_path):
    folder = tmp_path / BASELINES_DIR / "diginetica"
    # Try 0 still improves at epoch 3 of 3 (val 40 -> 41.5 -> 42: +0.5); try 1 peaks at epoch 2; try 2 is unfinished.
    _write_try(str(folder / "narm"), 0, [(40.0, 39.0, 15.0), (41.5, 40.0, 15.5), (42.0, 40.5, 16.0)])
    _write_try(str(folder / "narm"), 1, [(40.0, 39.0, 15.0), (43.0, 41.0, 16.0), (42.5, 41.0, 16.0)])
    _write_try(str(folder / "narm"), 2, [(40.0, 39.0, 15.0), (41.0, 40.0, 15.5), (42.0, 40.5, 16.0)],
               finished=False)
    lines = cap_binding_lines(str(tmp_path), epochs=3, datasets=("diginetica",))
    rows = [line for line in lines if line.startswith("| Diginetica |")]
    assert rows == ["| Diginetica | NARM | 0 (l2=0.0) | 41.50 | 42.00 | +0.50 |"]
    assert "1 of 2" in lines[0] and "+0.50 validation HR@20 points" in lines[0]
    assert cap_binding_lines(str(tmp_path), epochs=4, datasets=("diginetica",)) == []


def test_edge_lines_list_the_best_tries_at_an_end_of_their_range(tmp_path, monkeypatch):
    from experiments.tune_baselines_lib import BUDGETS

    folder = tmp_path / BASELINES_DIR / "yoochoose1_64"
    monkeypatch.setitem(BUDGETS, "vsknn", 1)
    # STAMP's best: learning_rate 0.002, the top of [0.0005, 0.001, 0.002]; l2 0 is no L2, not an edge.
    for k, lr in enumerate((0.001, 0.001, 0.0005, 0.002)):
        row = {"try": k, "overrides": {"train.l2": 0.0, "train.learning_rate": lr}, "val": _metrics(60.0 + k, 20.0),
               "seconds": 1.0}
        run_directory.append_jsonl(_mkdir(folder / "stamp", TUNING_LOG), row)
    # V-SKNN's best: neighbours 1000 (top), sample_size 0 (every session: its own end), idf_lambda 1.0 (inside).
    run_directory.append_jsonl(_mkdir(folder / "vsknn", TUNING_LOG),
                               {"try": 0, "overrides": {"baseline.neighbours": 1000, "baseline.sample_size": 0,
                                                        "baseline.idf_lambda": 1.0},
                                "val": _metrics(60.0, 20.0), "seconds": 1.0})
    # STAMP's try beyond the edge (learning rate 0.004) has run; its best try's result.json says test 55 / 21.
    _mkdir(folder / "stamp" / "try-3", "x")
    json.dump({"test": _metrics(55.0, 21.0)}, open(folder / "stamp" / "try-3" / "result.json", "w"))
    run_directory.append_jsonl(str(folder / "stamp" / "beyond_edge.jsonl"),
                               {"name": "train.learning_rate", "end": "top", "value": 0.002, "beyond": 0.004,
                                "val": _metrics(62.5, 20.0), "test": _metrics(54.25, 20.5)})
    lines = edge_lines(str(tmp_path), datasets=("yoochoose1_64",))
    line = lines[0]
    assert "(2; " in line  # the table's method order: STAMP, then V-SKNN
    assert line.endswith("): Yoochoose1/64 STAMP learning_rate=0.002 (top); "
                         "Yoochoose1/64 V-SKNN neighbours=1000 (top).")
    # Beyond: validation 62.50 against the best try's 63.00 (try 3: 60 + 3), -0.50.
    assert ("| Yoochoose1/64 | STAMP | learning_rate 0.002 -> 0.004 | 63.00 | 62.50 (-0.50) | 55.00 / 21.00 | "
            "54.25 / 20.50 |") in lines
    assert "| Yoochoose1/64 | V-SKNN | neighbours 1000 -> 2000 | 60.00 | not run yet | | |" in lines
    assert ("Validation HR@20 rose beyond 0 of the 1 ends tried (largest -0.50: Yoochoose1/64 STAMP).") in lines
    # A TAGNN tuning result (test HR@20 54.00, not complete: no edge of its own) under STAMP's 54.25 beyond.
    run_directory.append_jsonl(_mkdir(folder / "tagnn", TUNING_LOG), {"try": 0, "overrides": {},
                                                                      "val": _metrics(60.0, 20.0), "seconds": 1.0})
    _mkdir(folder / "tagnn" / "try-0", "x")
    json.dump({"test": _metrics(54.0, 20.0)}, open(folder / "tagnn" / "try-0" / "result.json", "w"))
    assert edge_lines(str(tmp_path), datasets=("yoochoose1_64",))[-2].endswith(
        "Yoochoose1/64: the best baseline test HR@20 beyond an edge is 54.25 (STAMP), above the tuned TAGNN's "
        "54.00: STAMP.")


def _mkdir(folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)


def test_refit_rows_show_what_the_refit_adds(tmp_path):
    assert refit_lines(str(tmp_path)) == []
    folder = tmp_path / BASELINES_DIR / "diginetica"
    os.makedirs(folder)
    run_directory.append_jsonl(str(folder / REFIT_EFFECT), {"method": "stan", "overrides": {},
                                                             "test_fit_on_train": _metrics(48.0, 17.5),
                                                             "test_refit": _metrics(50.73, 18.3)})
    text = "\n".join(refit_lines(str(tmp_path)))
    assert "| Diginetica | STAN | 48.00 / 17.50 | 50.73 / 18.30 | +2.73 / +0.80 |" in text


def test_the_other_repeat_explore_methods_are_paired_with_tagnn_repeat():
    from experiments.baselines_report import _against_tagnn_repeat

    # Ranks of 3 test examples. HR@20: both 2/3. MRR@20: TAGNN + repeat-explore (1 + 0 + 1/2) / 3 = 50%,
    # NARM + repeat-explore (1 + 1/5 + 0) / 3 = 40%: -10 points. Plain NARM is no `+ repeat-explore` method.
    ranks = {"tagnn_repeat": np.array([1, 30, 2]), "narm_repeat": np.array([1, 5, 40]), "narm": np.array([1, 1, 1])}
    (line, blank) = _against_tagnn_repeat(ranks)
    assert "NARM + repeat-explore +0.00 [" in line and "/ -10.00 [" in line and blank == ""
    assert line.count("NARM") == 1  # no row for plain NARM
    assert _against_tagnn_repeat({"narm_repeat": ranks["narm_repeat"]}) == []
    assert _against_tagnn_repeat({"tagnn_repeat": ranks["tagnn_repeat"], "narm": ranks["narm"]}) == []
