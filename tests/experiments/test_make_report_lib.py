"""The results report (`python -m experiments.make_report`): the table and plots come from the run files."""

import json
import os

import pytest

from tagnn_tf.run_lock import claim_run
from experiments.published_results import paper_numbers
from experiments.make_report_lib import write_report

DATA_README = """# data
| model | Diginetica HR@20 | Diginetica MRR@20 | Yoochoose1/64 HR@20 | Yoochoose1/64 MRR@20 |
|---|---|---|---|---|
| TAGNN (SIGIR 2020) | 51.31 | 18.03 | 71.02 | 31.12 |
| SR-GNN (AAAI 2019) | 50.73 | 17.59 | 70.57 | 30.94 |
"""


def _metrics(hr20, mrr20):
    return {"hr@10": hr20 - 10, "hr@20": hr20, "mrr@10": mrr20 - 1, "mrr@20": mrr20}


def _epochs(*rows):
    """metrics.jsonl rows from (validation HR@20, MRR@20, test HR@20, MRR@20) per epoch, epochs from 1."""
    return [{"epoch": e, "seconds": 60.0, "val": _metrics(vh, vm), "test": _metrics(th, tm)}
            for e, (vh, vm, th, tm) in enumerate(rows, 1)]


def _write_run(path, rows, finished, sessions=({"git_commit": "abc123"},)):
    os.makedirs(path)
    json.dump({"train": {"selection_metric": "hr@20"}}, open(os.path.join(path, "config.json"), "w"))
    json.dump({"sessions": list(sessions)}, open(os.path.join(path, "run_info.json"), "w"))
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(path, "run_log.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps({"epoch": r["epoch"], "examples_per_sec": 300.0}) + "\n")
    if finished:
        json.dump({}, open(os.path.join(path, "result.json"), "w"))


def test_paper_numbers_come_from_the_tagnn_row(tmp_path):
    (tmp_path / "README.md").write_text(DATA_README)
    assert paper_numbers(str(tmp_path / "README.md")) == {
        "diginetica": {"hr@20": 51.31, "mrr@20": 18.03}, "yoochoose1_64": {"hr@20": 71.02, "mrr@20": 31.12}}
    assert paper_numbers(str(tmp_path / "README.md"), "SR-GNN") == {
        "diginetica": {"hr@20": 50.73, "mrr@20": 17.59}, "yoochoose1_64": {"hr@20": 70.57, "mrr@20": 30.94}}
    with pytest.raises(ValueError, match="no NARM row"):
        paper_numbers(str(tmp_path / "README.md"), "NARM")


def test_report_rows_follow_validation_selection(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    # Yoochoose tagnn, finished: validation peaks at epoch 2 (test 70.50 / 30.00);
    # test peaks at epoch 3 (71.50), which only the best-on-test column shows.
    _write_run(str(results / "yoochoose1_64" / "tagnn"), [
        {"epoch": 1, "seconds": 1800.0, "val": _metrics(60, 25), "test": _metrics(65, 28)},
        {"epoch": 2, "seconds": 1800.0, "val": _metrics(62, 26), "test": _metrics(70.5, 30)},
        {"epoch": 3, "seconds": 1800.0, "val": _metrics(61, 26), "test": _metrics(71.5, 29)},
    ], finished=True, sessions=[  # first process on the whole machine, the resume pinned to one core
        {"git_commit": "abc123", "machine": {"cpu_count": 2}},
        {"git_commit": "def456", "machine": {"cpu_count": 2, "usable_cpus": 1}}])
    # Diginetica avg: one epoch so far, still running (this process holds its lock).
    _write_run(str(results / "diginetica" / "avg"), [
        {"epoch": 1, "seconds": 3600.0, "val": _metrics(40, 12), "test": _metrics(38, 11)}], finished=False)
    assert claim_run(str(results / "diginetica" / "avg")) is None
    # Diginetica local: stopped after epoch 2, no runner; its first attempt's
    # checkpoints were lost after 3 epochs.
    _write_run(str(results / "diginetica" / "local"), _epochs((40, 12, 38, 11), (41, 13, 39, 12)), finished=False,
               sessions=[{"git_commit": "abc123", "machine": {"cpu_count": 2, "usable_cpus": 1}}])
    _write_run(str(results / "diginetica" / "local" / "abandoned-attempt-1"),
               _epochs((40, 12, 38, 11), (41, 13, 39, 12), (42, 13, 40, 12)), finished=False)
    os.makedirs(results / "diginetica" / "tagnn")  # started, stopped before its first epoch ended
    os.makedirs(results / "diginetica" / "att")  # started, no epoch yet, still training (its lock is held here)
    assert claim_run(str(results / "diginetica" / "att")) is None
    readme = write_report(str(results), str(tmp_path / "data.md"))
    text = open(readme).read()
    # ΔHR@20 = 70.50 - 71.02 = -0.52; ΔMRR@20 = 30.00 - 31.12 = -1.12; 3 x 1800 s = 1.50 h.
    assert ("| Yoochoose1/64 | tagnn | finished | 3 | 2 | 60.50 | 70.50 | 29.00 | 30.00 | 71.02 | 31.12 | "
            "-0.52 | -1.12 | 71.50 / 30.00 | 1.50 |") in text
    assert "| Diginetica | avg | running | 1 | 1 | 28.00 | 38.00 | 10.00 | 11.00 | - | - | - | - | 38.00 / 11.00 | 1.00 |" in text
    assert "| Diginetica | tagnn | stopped before its first epoch ended |" in text
    assert "| Diginetica | att | started, no epoch finished yet |" in text
    assert "- `yoochoose1_64/tagnn`: 2 process(es): abc123 on 2 cores, def456 on 1 core;" in text
    assert "| Diginetica | local | stopped after epoch 2 | 2 | 2 |" in text
    assert ("- `diginetica/local`: 1 process(es): abc123 on 1 core; examples/s per epoch [300.0, 300.0]; "
            "`abandoned-attempt-1/` keeps the logs of epochs [1, 2, 3] of an attempt whose checkpoints were lost "
            "(the epochs past the checkpoint left, if any, were trained again)") in text
    assert "| Diginetica | local-att | not started |" in text
    # Targets: 70.50 < 70.7 and 30.00 < 30.9 (Yoochoose); Diginetica has no tagnn epoch.
    assert "- Yoochoose1/64 (final): HR@20 70.50 vs >= 70.7 missed, MRR@20 30.00 vs >= 30.9 missed." in text
    assert "- Diginetica: no finished epoch yet." in text
    assert "- Yoochoose1/64: not judged yet; unfinished: local, avg, att, local-att." in text
    # The summary on top: the validation-selected epoch 2 (70.50 / 30.00) against the paper; Diginetica's
    # tagnn has no epoch yet, so no line for it; no baselines folder, so no baseline line; the machines
    # from run_info.json (no CPU name recorded in these files: "?").
    summary = text.split("## Summary")[1].split("\n## ")[0]
    assert ("- Paper reproduction, TAGNN at the validation-selected epoch, test HR@20 / MRR@20: Yoochoose1/64 "
            "70.50 / 30.00 (paper 71.02 / 31.12).") in summary
    assert "Best tuned baseline" not in summary
    assert "- Machines (from the runs' `run_info.json`): ?, 2 CPUs." in summary
    for png in ("figure2_ablation.png", "training_curves.png"):
        assert os.path.getsize(results / png) > 1000


def test_missing_results_folder_is_a_clear_error(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    with pytest.raises(ValueError, match="results folder not found: .*absent"):
        write_report(str(tmp_path / "absent"), str(tmp_path / "data.md"))


def test_the_project_readme_gets_the_profiles_block(tmp_path):
    # One profile (20.512% -> 20.5%, advice cut before its parenthesis); the text around the block stays.
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    os.makedirs(results / "profiles")
    json.dump({"test_repeat_share": 20.512, "test_last_click_share": 9.08, "top1pct_click_share": 13.0,
               "test_rare_label_share": 7.31, "session_length_percentiles": {"p50": 4.0, "p90": 9.0},
               "floors": {"spop": {"hr@20": 21.08, "mrr@20": 13.65}, "pop": {"hr@20": 0.93, "mrr@20": 0.21}},
               "advice": "moderate repeats (20.5% of test labels repeat a session item): keep it"},
              open(results / "profiles" / "shop.json", "w"))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- REPEAT_PROFILES:BEGIN -->\nold\n<!-- REPEAT_PROFILES:END -->\nafter\n")
    write_report(str(results), str(tmp_path / "data.md"), str(readme))
    text = readme.read_text()
    assert text.startswith("intro\n<!-- REPEAT_PROFILES:BEGIN -->\n| log |") and text.endswith("END -->\nafter\n")
    assert "| shop | 20.5% | 9.1% | 21.08 / 13.65 | moderate repeats |" in text and "old" not in text
    readme.write_text("no block\n")
    with pytest.raises(ValueError, match="REPEAT_PROFILES"):
        write_report(str(results), str(tmp_path / "data.md"), str(readme))


def test_missing_tagnn_row_is_an_error(tmp_path):
    (tmp_path / "README.md").write_text("| model | a |\n| SR-GNN | 1.0 |\n")
    with pytest.raises(ValueError, match="no TAGNN row"):
        paper_numbers(str(tmp_path / "README.md"))


def test_figure2_ordering_is_judged_on_finished_runs(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    # Yoochoose HR@20: tagnn 71 > local-att 70 > att 69 > local 60 > avg 55 (holds);
    # MRR@20: local 32 beats tagnn 31, avg 20 is worst (does not hold: best is local).
    for name, hr, mrr in (("tagnn", 71, 31), ("local-att", 70, 30), ("att", 69, 29), ("local", 60, 32),
                          ("avg", 55, 20)):
        _write_run(str(results / "yoochoose1_64" / name), [
            {"epoch": 1, "seconds": 60.0, "val": _metrics(hr, mrr), "test": _metrics(hr, mrr)}], finished=True)
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert ("- Yoochoose1/64: HR@20: tagnn 71.00 > local-att 70.00 > att 69.00 > local 60.00 > avg 55.00: holds; "
            "MRR@20: local 32.00 > tagnn 31.00 > local-att 30.00 > att 29.00 > avg 20.00: does not hold "
            "(best is local, not tagnn).") in text
    assert "- Yoochoose1/64 (final): HR@20 71.00 vs >= 70.7 met, MRR@20 31.00 vs >= 30.9 met." in text
    # local-att is SR-GNN's architecture: 70.00 - 70.57 = -0.57, 30.00 - 30.94 = -0.94 (DATA_README's SR-GNN row).
    assert ("- Yoochoose1/64: `local-att` HR@20 / MRR@20 70.00 / 30.00 (final); SR-GNN as published (AAAI 2019, "
            "the SR-GNN row of the data README) 70.57 / 30.94: -0.57 / -0.94.\n\nPaper numbers:") in text
    # One epoch per run, so the three selection rules agree.
    assert "| Yoochoose1/64 | local | 60.00 / 32.00 (1) | 60.00 (1) / 32.00 (1) | 60.00 (1) / 32.00 (1) |" in text
    assert "- Diginetica: not judged yet; unfinished: local, avg, att, local-att, tagnn." in text
    assert "for scale" not in text  # no finished seed replica yet
    # A finished replica of tagnn gives the scale of training randomness: 71.5 - 71 = +0.50, 30.8 - 31 = -0.20.
    _write_run(str(results / "yoochoose1_64" / "tagnn-seed2"), _epochs((71, 31, 71.5, 30.8)), finished=True)
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert ("(best is local, not tagnn).\n  - for scale, the same `tagnn` configuration with another seed "
            "(`tagnn-seed2`) minus `tagnn`: HR@20 +0.50, MRR@20 -0.20; gaps of that size between variants are "
            "within training randomness.\n- Diginetica: not judged yet") in text


def test_diagnostic_runs_are_compared_epoch_by_epoch(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    _write_run(str(results / "yoochoose1_64" / "tagnn"), _epochs((60, 25, 66, 27), (62, 26, 69, 29)), finished=False)
    _write_run(str(results / "yoochoose1_64" / "tagnn-valid-1pct"), _epochs((61, 25, 66.5, 27.5)), finished=False)
    _write_run(str(results / "yoochoose1_64" / "tagnn-no-bucketing"), _epochs((61, 25, 65, 26), (61, 25, 68, 28)),
               finished=False)
    for name in ("tagnn", "tagnn-no-bucketing"):  # held by a live runner; tagnn-valid-1pct has none
        assert claim_run(str(results / "yoochoose1_64" / name)) is None
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    diagnostics = text[text.index("## Diagnostics"):]
    # The unfinished tagnn run is below both targets at its selected epoch 2 (69.00 / 29.00).
    assert ("- Yoochoose1/64 (so far: 2 epochs, still training): HR@20 69.00 vs >= 70.7 not reached yet, "
            "MRR@20 29.00 vs >= 30.9 not reached yet.") in text
    # One table, tagnn then the diagnostics in suite order (tagnn-seed2, first, has no epoch
    # yet); epoch 2 exists for tagnn and no-bucketing only; ΔHR@20 of valid-1pct = 66.50 - 71.02 = -4.52.
    assert ("| epoch | tagnn | tagnn-valid-1pct | tagnn-no-bucketing |\n|---:|---|---|---|\n"
            "| 1 | 66.00 / 27.00 | 66.50 / 27.50 | 65.00 / 26.00 |\n"
            "| 2 | 69.00 / 29.00 |  | 68.00 / 28.00 |") in diagnostics
    assert "| Yoochoose1/64 | tagnn-seed2 | not started |" in diagnostics
    # Each suspect measured by a run says how far that run is.
    assert "- run-to-run spread: measured by `tagnn-seed2`. Status: not started." in diagnostics
    assert "- training data: measured by `tagnn-valid-1pct` (the paper trains on every" in diagnostics
    # ... and where it stands against tagnn's selected epoch 2 (69.00 / 29.00):
    # 66.50 - 69.00 = -2.50, 27.50 - 29.00 = -1.50.
    assert ("we hold out 10%). Status: stopped after epoch 1; so far, test HR@20 / MRR@20 66.50 / 27.50 (selected "
            "epoch 1), minus `tagnn`: -2.50 / -1.50.") in diagnostics
    assert "- initialisation: the official code's: every parameter U(-1/sqrt(d), 1/sqrt(d)).\n" in diagnostics
    assert "| Yoochoose1/64 | tagnn-no-bucketing | running | 2 | 1 |" in diagnostics
    assert "| Yoochoose1/64 | tagnn-valid-1pct | stopped after epoch 1 | 1 | 1 |" in diagnostics and "| -4.52 |" in diagnostics
    assert "tagnn-valid-1pct" not in text[:text.index("## Diagnostics")].split("Figure 2 ordering")[0]


def test_a_running_run_above_a_target_has_met_it_only_so_far(tmp_path):
    # Its selected epoch can still change, so the verdict is provisional.
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    _write_run(str(results / "diginetica" / "tagnn"), [
        {"epoch": 1, "seconds": 60.0, "val": _metrics(55, 19), "test": _metrics(52, 17)}], finished=False)
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert ("- Diginetica (so far: 1 epoch, stopped): HR@20 52.00 vs >= 51.0 met so far, "
            "MRR@20 17.00 vs >= 17.8 not reached yet.") in text
    assert claim_run(str(results / "diginetica" / "tagnn")) is None  # a runner resumes it
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert "- Diginetica (so far: 1 epoch, still training): HR@20 52.00 vs >= 51.0 met so far, " in text


def test_test_set_uncertainty_section_flags_stale_and_missing_runs(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    for name in ("tagnn", "avg", "local"):
        _write_run(str(results / "yoochoose1_64" / name), [
            {"epoch": 1, "seconds": 60.0, "val": _metrics(60, 25), "test": _metrics(66, 27)},
            {"epoch": 2, "seconds": 60.0, "val": _metrics(62, 26), "test": _metrics(69, 29)}], finished=True)
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert "## Test-set uncertainty (`python -m experiments.measure_uncertainty`)\n\nNot computed yet." in text
    ci = {"hr@20": 69.0, "hr@20_ci95": [68.5, 69.5], "mrr@20": 29.0, "mrr@20_ci95": [28.75, 29.25]}
    json.dump({"git_commit": "0123456789abc", "machine": {"time": "2026-11-30T22:00:00Z"}, "datasets": {
        "yoochoose1_64": {"reference": "tagnn", "runs": {
            "tagnn": {**ci, "selected_epoch": 2},
            # Selected epoch 1 when measured; the run now selects epoch 2.
            "avg": {**ci, "selected_epoch": 1, "minus_reference": {
                "hr@20": -4.0, "hr@20_ci95": [-4.5, -3.5], "hr@20_share_above_0": 0.0,
                "mrr@20": 0.25, "mrr@20_ci95": [-0.125, 0.5],
                "mrr@20_share_above_0": 0.8}}}}}}, open(results / "test_uncertainty.json", "w"))
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    section = text[text.index("## Test-set uncertainty"):]
    assert "Computed at commit 0123456789 on 2026-11-30T22:00:00Z." in section
    # tagnn's 69.00 / 29.00 miss both targets (70.7 / 30.9); both lie above its intervals, as do the paper's.
    assert ("- Yoochoose1/64 (final): HR@20 69.00 vs >= 70.7 missed, MRR@20 29.00 vs >= 30.9 missed.\n"
            "  - the missed target against the test-set 95% interval of this run (bootstrap over the test examples, "
            "section below): HR@20 [68.50, 69.50]: the target 70.7 is above it, the paper's 71.02 above it; "
            "MRR@20 [28.75, 29.25]: the target 30.9 is above it, the paper's 31.12 above it.\n") in text
    assert "| Yoochoose1/64 | tagnn | 2 | 69.00 [68.50, 69.50] | 29.00 [28.75, 29.25] |  |  |" in section
    assert ("| Yoochoose1/64 | avg (stale: rerun the script) | 1 | 69.00 [68.50, 69.50] | 29.00 [28.75, 29.25] | "
            "-4.00 [-4.50, -3.50] (0.00) | +0.25 [-0.12, 0.50] (0.80) |") in section
    # Rescoring needs every run's best.keras; none is here, so the note names all three.
    assert ("Finished since (not in the table until the script is rerun): yoochoose1_64/local. The script rescores "
            "each finished run of the dataset from its `best.keras`, which is not committed; it is not on the "
            "machine that wrote this report for: yoochoose1_64/tagnn, yoochoose1_64/local, yoochoose1_64/avg.\n"
            ) in section
    for name in ("tagnn", "local"):
        (results / "yoochoose1_64" / name / "best.keras").write_text("model")
    section = open(write_report(str(results), str(tmp_path / "data.md"))).read().split("## Test-set uncertainty")[1]
    assert ("Finished since (not in the table until the script is rerun): yoochoose1_64/local. The script rescores "
            "each finished run of the dataset from its `best.keras`, which is not committed; it is not on the "
            "machine that wrote this report for: yoochoose1_64/avg.\n") in section
    # A dataset rescored alone later carries its own stamp; the older entry keeps the file's.
    uncertainty = json.load(open(results / "test_uncertainty.json"))
    uncertainty["datasets"]["diginetica"] = {"reference": "tagnn", "runs": {}, "git_commit": "fedcba9876543",
                                             "computed_at": "2026-12-01T05:00:00Z"}
    json.dump(uncertainty, open(results / "test_uncertainty.json", "w"))
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert ("Computed for Yoochoose1/64 at commit 0123456789 on 2026-11-30T22:00:00Z; for Diginetica at commit "
            "fedcba9876 on 2026-12-01T05:00:00Z.") in text


def test_another_seed_of_tagnn_is_judged_against_the_same_targets(tmp_path):
    # The targets stay judged on `tagnn`; the seed replica gets its own verdict beneath.
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    _write_run(str(results / "yoochoose1_64" / "tagnn"), _epochs((60, 25, 70.8, 30.8)), finished=True)
    _write_run(str(results / "yoochoose1_64" / "tagnn-seed2"), _epochs((60, 25, 70.9, 30.95), (59, 25, 71.5, 31.5)),
               finished=False)
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    # seed2 selects epoch 1 (validation HR@20 60 > 59), not the better test epoch 2.
    assert ("- Yoochoose1/64 (final): HR@20 70.80 vs >= 70.7 met, MRR@20 30.80 vs >= 30.9 missed.\n"
            "  - the same configuration with another seed (`tagnn-seed2`, diagnostics; so far: 2 epochs, "
            "stopped): HR@20 70.90 vs >= 70.7 met so far, MRR@20 30.95 vs >= 30.9 met so far.\n"
            "- Diginetica: no finished epoch yet.") in text


def test_a_missed_target_is_placed_against_the_runs_test_interval(tmp_path):
    (tmp_path / "data.md").write_text(DATA_README)
    results = tmp_path / "results"
    _write_run(str(results / "yoochoose1_64" / "tagnn"), _epochs((60, 25, 70.8, 30.8), (59, 25, 71.0, 31.0)),
               finished=True)
    uncertainty = {"git_commit": "0123456789abc", "machine": {"time": "2026-11-30T22:00:00Z"}, "datasets": {
        "yoochoose1_64": {"reference": "tagnn", "runs": {"tagnn": {
            "selected_epoch": 1, "hr@20": 70.8, "hr@20_ci95": [70.4, 71.2],
            "mrr@20": 30.8, "mrr@20_ci95": [30.5, 31.0]}}}}}
    json.dump(uncertainty, open(results / "test_uncertainty.json", "w"))
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    # Only MRR@20 is missed (30.80 < 30.9; HR@20 70.80 >= 70.7): 30.5 <= 30.9 <= 31.0, and 31.12 > 31.0.
    assert ("- Yoochoose1/64 (final): HR@20 70.80 vs >= 70.7 met, MRR@20 30.80 vs >= 30.9 missed.\n"
            "  - the missed target against the test-set 95% interval of this run (bootstrap over the test examples, "
            "section below): MRR@20 [30.50, 31.00]: the target 30.9 is inside it, the paper's 31.12 above it.\n"
            "- Diginetica: no finished epoch yet.") in text
    # An interval of another epoch than the one selected now says nothing about the target.
    uncertainty["datasets"]["yoochoose1_64"]["runs"]["tagnn"]["selected_epoch"] = 2
    json.dump(uncertainty, open(results / "test_uncertainty.json", "w"))
    text = open(write_report(str(results), str(tmp_path / "data.md"))).read()
    assert "the missed target against" not in text


def test_sampled_run_is_compared_with_the_full_run_at_their_selected_epochs(tmp_path):
    from experiments.make_report_lib import FULL_RUN, SAMPLED_RUN, large_catalogue_lines

    assert large_catalogue_lines(str(tmp_path)) == []  # nothing to compare yet
    # Full: validation selects epoch 2 (test 51.0 / 17.5); sampled: epoch 1 (test 52.0 / 18.0).
    _write_run(str(tmp_path / FULL_RUN), _epochs((50, 17, 50.0, 17.0), (55, 18, 51.0, 17.5)), True)
    _write_run(str(tmp_path / SAMPLED_RUN), _epochs((56, 19, 52.0, 18.0), (54, 18, 53.0, 19.0)), True)
    text = "\n".join(large_catalogue_lines(str(tmp_path)))
    assert "| sampled | finished | 1 | 42.00 | 52.00 | 17.00 | 18.00 | 0.03 | 300.0 |" in text
    assert "| full (`tagnn`) | finished | 2 | 41.00 | 51.00 | 16.50 | 17.50 |" in text
    assert "test HR@20: +1.00 points; MRR@20: +0.50" in text
