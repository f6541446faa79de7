"""experiments.lr_schedule_default: the paired comparison of two schedules' runs and its report."""

import json
import os

import numpy as np
import pytest

from experiments import lr_schedule_default as schedule
from tagnn_tf.config import ExperimentConfig
from tagnn_tf.errors import InputError


def test_compare_runs_by_hand():
    official = np.array([1, 30, 2, 5])
    paper = np.array([1, 3, 2, 40])
    repeats = np.array([True, False, True, False])
    out = schedule.compare_runs(official, paper, repeats)
    # All four: HR@20 3/4 for both; MRR@20 official (1 + 0 + 1/2 + 1/5) / 4 = 42.5, paper (1 + 1/3 + 1/2 + 0) / 4.
    assert out["all"]["official"] == {"hr@20": 75.0, "mrr@20": 42.5}
    assert out["all"]["paper"]["mrr@20"] == pytest.approx(100 * (1 + 1 / 3 + 1 / 2) / 4, abs=1e-4)
    assert out["all"]["paper_minus_official"]["hr@20"] == 0.0
    # The repeat labels are ranked 1 and 2 by both: no difference in any resample.
    assert out["repeat"]["examples"] == 2
    assert out["repeat"]["paper_minus_official"]["mrr@20_ci95"] == [0.0, 0.0]
    # The new labels: official 30 and 5 (HR@20 50, MRR@20 (1/5) / 2 = 10), paper 3 and 40 (50, (1/3) / 2).
    assert out["new"]["official"] == {"hr@20": 50.0, "mrr@20": 10.0}
    assert out["new"]["paper_minus_official"]["mrr@20"] == pytest.approx(100 / 6 - 10, abs=1e-3)
    with pytest.raises(InputError, match="must rank every test example"):
        schedule.compare_runs(official, paper[:3], repeats)


def test_the_reference_must_be_a_finished_try_0_of_the_same_configuration(tmp_path):
    with pytest.raises(InputError, match="not a finished run; run experiments.tune_baselines"):
        schedule.check_dataset(str(tmp_path), "diginetica", str(tmp_path))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(ExperimentConfig().to_json())  # full softmax, 10 epochs: not the protocol's
    expected = ExperimentConfig.from_dict({"train": {"epochs": 6, "train_candidates": "sampled"}})
    with pytest.raises(InputError, match="lr_schedule='official'"):
        schedule._check_run(str(run), expected)
    schedule._check_run(str(run), ExperimentConfig())


def test_report_renders_every_subset_with_its_interval(tmp_path):
    assert schedule.report_lines(str(tmp_path)) == []
    test = schedule.compare_runs(np.array([1, 30, 2, 5]), np.array([1, 3, 2, 40]), np.array([True, False, True, False]))
    os.makedirs(tmp_path / schedule.SCHEDULE_DIR)
    with open(tmp_path / schedule.SCHEDULE_DIR / schedule.SCHEDULE_FILE, "w") as f:
        curves = {"official": [{"val_hr@20": 50.0}, {"val_hr@20": 51.5}], "paper": [{"val_hr@20": 51.25}]}
        json.dump({"datasets": {"shop": {"test": test, "curves": curves}}}, f)
    text = "\n".join(schedule.report_lines(str(tmp_path)))
    assert "| shop | all (4) | 75.00 / 42.50 | 75.00 / 45.83 | +0.00 [" in text
    assert "| 51.50 / 51.25 |" in text  # the best validation epoch of each run
    assert "| shop | repeat (2) | 100.00 / 75.00 | 100.00 / 75.00 | +0.00 [+0.00, +0.00] / +0.00 [+0.00, +0.00] |  |" in text
    assert "| shop | new (2) | 50.00 / 10.00 | 50.00 / 16.67 |" in text
    assert text.index("| shop | all") < text.index("| shop | repeat") < text.index("| shop | new")
    # Level on HR@20 (+0.00 [-x, +y]) and above on MRR@20: not below.
    assert "against the official one (below = an interval entirely under 0): shop: not below. It is not below" in text


def test_not_below_reads_the_upper_ends_of_both_intervals():
    def entry(hr, mrr):
        return {"test": {"all": {"paper_minus_official": {"hr@20_ci95": hr, "mrr@20_ci95": mrr}}}}

    assert schedule.not_below(entry([-0.3, 0.0], [0.1, 0.2]))
    assert not schedule.not_below(entry([-0.3, -0.01], [0.1, 0.2]))
    assert not schedule.not_below(entry([0.1, 0.3], [-0.2, -0.1]))
