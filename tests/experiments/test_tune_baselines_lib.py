"""The tuning harness, the validation-split study and the baselines report section, on synthetic data."""

import dataclasses
import os

import pytest

from experiments import tune_baselines_lib
from experiments.tune_baselines_lib import BUDGETS, tries, tune
from experiments.baselines_report import render, split_lines
from experiments.measure_valid_splits_lib import measure
from tagnn_tf import run_directory
from tagnn_tf.config import DataConfig, TrainConfig
from tagnn_tf.errors import InputError

DATA = DataConfig(synthetic_num_items=80, synthetic_num_sessions=600, valid_split="time")


def test_tries_start_from_the_defaults_and_are_fixed():
    stan = tries("stan")
    assert len(stan) == BUDGETS["stan"] == 20
    assert stan[0] == {"baseline.neighbours": 100, "baseline.sample_size": 1000, "baseline.position_lambda": 1.02,
                       "baseline.recency_lambda": 0.0, "baseline.match_lambda": 2.05}
    assert tries("stan") == stan and len({tuple(sorted(t.items())) for t in stan}) == 20
    # A grid smaller than the budget is tried whole: Item-KNN's 7 shrink values, POP's one configuration.
    assert sorted(t["baseline.shrink"] for t in tries("item_knn")) == [0.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
    assert tries("pop") == [{}]
    assert tries("narm")[0] == {"train.l2": 1e-5, "train.learning_rate": 1e-3} and len(tries("narm")) == 4
    with pytest.raises(InputError, match="method"):
        tries("knn")


def test_range_edges_step_one_ratio_beyond_an_end():
    from experiments.tune_baselines_lib import range_edges

    # Learning rates [5e-4, 1e-3, 2e-3]: 2e-3 is the top, 2e-3 * (2e-3 / 1e-3) = 4e-3 beyond; l2 0 is no L2.
    assert range_edges("narm", {"train.learning_rate": 2e-3, "train.l2": 0.0}) == [
        {"name": "train.learning_rate", "end": "top", "value": 2e-3, "beyond": 4e-3}]
    assert range_edges("narm", {"train.learning_rate": 1e-3, "train.l2": 1e-4})[0]["beyond"] == 1e-3  # 1e-4^2/1e-5
    # sample_size 0 (every session) ranks above 5000, so 5000 is inside; 500 is the bottom: 500 * 500 / 1000.
    assert range_edges("sknn", {"baseline.neighbours": 200, "baseline.sample_size": 5000}) == []
    assert range_edges("sknn", {"baseline.neighbours": 200, "baseline.sample_size": 0}) == []
    assert range_edges("sknn", {"baseline.neighbours": 200, "baseline.sample_size": 500})[0]["beyond"] == 250
    # Integer range: rule_steps [.., 15, 20]: 20 * 20 / 15 = 26.7 -> 27; a string parameter is never an edge.
    assert range_edges("sr", {"baseline.rule_steps": 20, "baseline.rule_weighting": "same"}) == [
        {"name": "baseline.rule_steps", "end": "top", "value": 20, "beyond": 27}]
    # recency_lambda [0, 0.01, 0.05, 0.2]: 0.2 * 0.2 / 0.05 = 0.8 (rounded, not 0.8000000000000002).
    assert range_edges("stan", {"baseline.recency_lambda": 0.2})[0]["beyond"] == 0.8


def test_beyond_edges_scores_one_try_past_the_best_end_once(tmp_path, monkeypatch):
    from tagnn_tf.baselines.baseline_run import fit_and_score
    from tagnn_tf.data.datasets import load_splits

    lines = []
    assert tune_baselines_lib.check_beyond_edges(str(tmp_path), DATA, ["item_knn"], log=lines.append) == []
    assert "not complete" in lines[0]
    # Item-KNN's whole grid; make shrink 200 (the top) the best by rewriting the log's validation scores.
    tune("item_knn", str(tmp_path), DATA, log=lambda *_: None)
    log = os.path.join(tmp_path, "item_knn", tune_baselines_lib.TUNING_LOG)
    rows = run_directory.read_jsonl(log)
    os.remove(log)
    for r in rows:
        run_directory.append_jsonl(log, {**r, "val": {**r["val"], "hr@20": r["overrides"]["baseline.shrink"]}})
    out = tune_baselines_lib.check_beyond_edges(str(tmp_path), DATA, ["item_knn"], log=lambda *_: None)
    assert [(r["method"], r["name"], r["value"], r["beyond"]) for r in out] == [
        ("item_knn", "baseline.shrink", 200.0, 400.0)]  # 200 * 200 / 100
    config = tune_baselines_lib.try_config("item_knn", {"baseline.shrink": 400.0}, DATA)
    expected = fit_and_score(config, load_splits(DATA), log=lambda *_: None)
    assert (out[0]["val"], out[0]["test"]) == (expected["val"], expected["test"])
    assert tune_baselines_lib.check_beyond_edges(str(tmp_path), DATA, ["item_knn"]) == out  # run once


def test_tune_resumes_and_fits_the_best_on_the_training_part(tmp_path, monkeypatch):
    monkeypatch.setitem(BUDGETS, "item_knn", 3)
    lines = []
    first = tune("item_knn", str(tmp_path), DATA, max_tries=2, log=lines.append)
    assert (first["tries_done"], first["complete"]) == (2, False)
    log = os.path.join(tmp_path, "item_knn", tune_baselines_lib.TUNING_LOG)
    assert [r["try"] for r in run_directory.read_jsonl(log)] == [0, 1]
    done = tune("item_knn", str(tmp_path), DATA, log=lines.append)  # resumes: only try 2 runs
    assert [r["try"] for r in run_directory.read_jsonl(log)] == [0, 1, 2]
    assert done["complete"] and sum("try 2/2" in line for line in lines) == 1
    rows = run_directory.read_jsonl(log)
    best = max(rows, key=lambda r: (r["val"]["hr@20"], -r["try"]))
    assert done["best_try"] == best["try"] and done["val"] == best["val"]
    config = run_directory.read_config(os.path.join(tmp_path, "item_knn", tune_baselines_lib.BEST))
    assert config.baseline.fit_on == "train"
    assert config.baseline.shrink == best["overrides"]["baseline.shrink"]


def test_refit_effect_scores_the_best_configuration_refitted_on_all_training_sessions(tmp_path, monkeypatch):
    from tagnn_tf.baselines.baseline_run import fit_and_score
    from tagnn_tf.data.datasets import load_splits

    monkeypatch.setitem(BUDGETS, "item_knn", 2)
    assert tune_baselines_lib.dataset_refit_effect(str(tmp_path), DATA, ["item_knn"]) == []  # not tuned yet
    tune("item_knn", str(tmp_path), DATA, log=lambda *_: None)
    rows = tune_baselines_lib.dataset_refit_effect(str(tmp_path), DATA, ["item_knn", "stamp"], log=lambda *_: None)
    assert [r["method"] for r in rows] == ["item_knn"]
    best = max(run_directory.read_jsonl(os.path.join(tmp_path, "item_knn", tune_baselines_lib.TUNING_LOG)),
               key=lambda r: (r["val"]["hr@20"], -r["try"]))
    config = tune_baselines_lib.try_config("item_knn", {**best["overrides"], "baseline.fit_on": "train_and_valid"},
                                           DATA)
    assert rows[0]["test_refit"] == fit_and_score(config, load_splits(DATA), log=lambda *_: None,
                                                  score=("test",))["test"]
    table = run_directory.read_json(os.path.join(tmp_path, "item_knn", tune_baselines_lib.BEST, run_directory.RESULT))
    assert rows[0]["test_fit_on_train"] == table["test"] != rows[0]["test_refit"]
    assert tune_baselines_lib.dataset_refit_effect(str(tmp_path), DATA, ["item_knn"]) == rows  # measured once


def test_a_neural_try_is_a_trainer_run(tmp_path, monkeypatch):
    monkeypatch.setitem(BUDGETS, "stamp", 1)
    out = tune("stamp", str(tmp_path), DATA, TrainConfig(epochs=1, learning_rate=5e-3), log=lambda *_: None)
    run = os.path.join(tmp_path, "stamp", "try-0")
    assert out["run_dir"] == "try-0" and out["complete"]
    assert run_directory.read_test_ranks(run) is not None
    assert out["test"] == run_directory.read_json(os.path.join(run, run_directory.RESULT))["test"]
    # The same results dir under another protocol: the finished try is refused, not mixed into the tuning.
    with pytest.raises(InputError, match=r"train.lr_schedule='official' \(expected 'paper'\).*its own --results_dir"):
        tune("stamp", str(tmp_path), DATA, TrainConfig(epochs=1, learning_rate=5e-3, lr_schedule="paper"),
             log=lambda *_: None)
    # Where the data lies and how often a run checkpoints are not part of the protocol.
    moved = dataclasses.replace(DATA, data_dir=os.path.join(DATA.data_dir, "."))
    assert tune("stamp", str(tmp_path), moved, TrainConfig(epochs=1, learning_rate=5e-3, checkpoint_every_steps=7),
                log=lambda *_: None)["test"] == out["test"]


def test_split_study_and_report(tmp_path):
    out = str(tmp_path / "valid_split")
    data_dir = str(tmp_path)  # unused by the synthetic dataset
    rows = measure(out, ["synthetic"], data_dir, methods=("sr",), log=lambda *_: None)
    assert [(r["split"], r["method"]) for r in rows] == [("examples", "sr"), ("sessions", "sr"), ("time", "sr")]
    assert rows[0]["gap"]["hr@20"] == pytest.approx(rows[0]["val"]["hr@20"] - rows[0]["test"]["hr@20"], abs=1e-3)
    assert measure(out, ["synthetic"], data_dir, methods=("sr",)) == []  # rows already there are skipped
    text = "\n".join(split_lines(str(tmp_path), datasets=("synthetic",)))
    for r in rows:
        assert f"{r['val']['hr@20']:.2f} / {r['test']['hr@20']:.2f} ({r['gap']['hr@20']:+.2f})" in text


def test_report_table_comes_from_the_logs(tmp_path, monkeypatch):
    monkeypatch.setitem(BUDGETS, "sr", 2)
    summary = tune("sr", str(tmp_path / "baselines" / "diginetica"), DATA, log=lambda *_: None)
    readme = tmp_path / "README.md"
    readme.write_text("| model | a | b | c | d |\n|---|---|---|---|---|\n"
                      "| SR-GNN (AAAI 2019) | 50.73 | 17.59 | 70.57 | 30.94 |\n| POP | 0.89 | 0.20 | 6.71 | 1.65 |\n")
    text = "\n".join(render(str(tmp_path), str(readme)))
    t = summary["test"]
    diginetica = text[text.index("### Diginetica"):]
    row = next(line for line in diginetica.splitlines() if line.startswith("| SR |"))
    assert f"| {t['hr@10']:.2f} | {t['hr@20']:.2f} | {t['mrr@10']:.2f} | {t['mrr@20']:.2f} |" in row
    assert "| 2 (2) |" in row and "— |" in row  # no published SR value (the SR-GNN row is not SR's)
    assert "| POP | not tuned yet | | | | | | | 0.89 / 0.20 |" in diginetica


def test_neural_split_runs_feed_the_per_epoch_lines(tmp_path):
    from experiments.baselines_report import epoch_gap_lines
    from experiments.measure_valid_splits_lib import measure_neural

    out = str(tmp_path / "valid_split")
    results = measure_neural(out, "synthetic", str(tmp_path), "bpr_mf", ("examples", "time"), epochs=1,
                             log=lambda *_: None)
    assert len(results) == 2
    run = os.path.join(out, "neural", "synthetic", "bpr_mf-time")
    assert run_directory.read_config(run).data.valid_split == "time"
    row = run_directory.read_jsonl(os.path.join(run, run_directory.METRICS))[0]
    text = "\n".join(epoch_gap_lines(str(tmp_path), datasets=("synthetic",)))
    assert f"{row['val']['hr@20'] - row['test']['hr@20']:+.2f}" in text and "`time` split" in text


def test_a_try_another_process_trains_is_skipped(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setitem(BUDGETS, "stamp", 2)
    busy = tmp_path / "stamp" / "try-0"
    busy.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from tagnn_tf.run_lock import claim_run; "
                               "assert claim_run(sys.argv[1]) is None; print('held', flush=True); time.sleep(300)",
                               str(busy)], stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        assert holder.stdout.readline().strip() == "held"
        out = tune("stamp", str(tmp_path), DATA, TrainConfig(epochs=1, learning_rate=5e-3), log=lines.append)
    finally:
        holder.kill()
        holder.wait(timeout=60)
    # Try 0 is another process's: this one trained try 1 only, and says the tuning is not complete.
    assert any(f"try 0: being trained by process {holder.pid}" in line for line in lines), lines
    assert out["best_try"] == 1 and out["tries_done"] == 1 and not out["complete"]
    assert sorted(os.listdir(busy)) == [".running"]
    rows = run_directory.read_jsonl(os.path.join(tmp_path, "stamp", tune_baselines_lib.TUNING_LOG))
    assert [r["try"] for r in rows] == [1]
