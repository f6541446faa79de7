"""experiments.lr_schedule_default: the paired comparison of schedules' runs with the official one, and its report."""

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
    out = schedule.compare_runs({"official": official, "paper": paper, "linear": official}, repeats)
    # All four: HR@20 3/4 for both; MRR@20 official (1 + 0 + 1/2 + 1/5) / 4 = 42.5, paper (1 + 1/3 + 1/2 + 0) / 4.
    assert out["all"]["runs"]["official"] == {"hr@20": 75.0, "mrr@20": 42.5}
    assert out["all"]["runs"]["paper"]["mrr@20"] == pytest.approx(100 * (1 + 1 / 3 + 1 / 2) / 4, abs=1e-4)
    assert out["all"]["minus_official"]["paper"]["hr@20"] == 0.0
    assert set(out["all"]["minus_official"]) == {"paper", "linear"}
    # The same ranks as official: no difference in any resample.
    assert out["all"]["minus_official"]["linear"]["mrr@20_ci95"] == [0.0, 0.0]
    # The repeat labels are ranked 1 and 2 by both: no difference in any resample.
    assert out["repeat"]["examples"] == 2
    assert out["repeat"]["minus_official"]["paper"]["mrr@20_ci95"] == [0.0, 0.0]
    # The new labels: official 30 and 5 (HR@20 50, MRR@20 (1/5) / 2 = 10), paper 3 and 40 (50, (1/3) / 2).
    assert out["new"]["runs"]["official"] == {"hr@20": 50.0, "mrr@20": 10.0}
    assert out["new"]["minus_official"]["paper"]["mrr@20"] == pytest.approx(100 / 6 - 10, abs=1e-3)
    with pytest.raises(InputError, match="must rank every test example"):
        schedule.compare_runs({"official": official, "paper": paper[:3]}, repeats)
    with pytest.raises(InputError, match="the official schedule's among them"):
        schedule.compare_runs({"paper": paper}, repeats)


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


def test_unknown_schedules_are_refused(tmp_path):
    with pytest.raises(InputError,
                       match=r"some of \['paper', 'plateau', 'linear', 'validated'\]. Received: \['official'\]"):
        schedule.check_dataset(str(tmp_path), "diginetica", str(tmp_path), ["official"])


def test_report_renders_every_schedule_and_subset_with_its_interval(tmp_path):
    assert schedule.report_lines(str(tmp_path)) == []
    official, paper = np.array([1, 30, 2, 5]), np.array([1, 3, 2, 40])
    worse = np.array([30, 30, 30, 30])  # misses everything
    repeats = np.array([True, False, True, False])
    test = schedule.compare_runs({"official": official, "paper": paper, "linear": worse}, repeats)
    os.makedirs(tmp_path / schedule.SCHEDULE_DIR)
    with open(tmp_path / schedule.SCHEDULE_DIR / schedule.SCHEDULE_FILE, "w") as f:
        curves = {"official": [{"val_hr@20": 50.0}, {"val_hr@20": 51.5}], "paper": [{"val_hr@20": 51.25}],
                  "linear": [{"val_hr@20": 40.0}]}
        json.dump({"datasets": {"shop": {"test": test, "curves": curves}}}, f)
    text = "\n".join(schedule.report_lines(str(tmp_path)))
    assert "| shop | all (4) | 75.00 / 42.50 | paper | 75.00 / 45.83 | +0.00 [" in text
    assert "| 51.50 / 51.25 |" in text and "| 51.50 / 40.00 |" in text  # the best validation epoch of each run
    assert ("| shop | repeat (2) | 100.00 / 75.00 | paper | 100.00 / 75.00 | +0.00 [+0.00, +0.00] / "
            "+0.00 [+0.00, +0.00] |  |") in text
    assert "| shop | new (2) | 50.00 / 10.00 | paper | 50.00 / 16.67 |" in text
    assert "| shop | all (4) | 75.00 / 42.50 | linear | 0.00 / 0.00 | -75.00 [" in text
    assert (text.index("| shop | all (4) | 75.00 / 42.50 | paper") < text.index("| shop | repeat (2) | 100.00 / 75.00 | paper")
            < text.index("| shop | all (4) | 75.00 / 42.50 | linear"))  # the schedules in CANDIDATES' order
    # Paper: level on HR@20 (+0.00 [-x, +y]) and above on MRR@20: not below; linear misses every label: below.
    assert "- `paper` against the official schedule on all labels (below = an interval entirely under 0): shop: not below." in text
    assert "- `linear` against the official schedule on all labels" in text and "shop: below." in text
    assert "Not below the official schedule on every log: `paper`." in text
    assert ("`trainers.train`'s default (`config.TRAINER_LR_SCHEDULE`) is `validated`, `TrainConfig.lr_schedule`'s "
            "`official`") in text
    assert "plateau" not in text  # not measured: no row, no verdict


def test_not_below_reads_the_upper_ends_of_both_intervals():
    def entry(hr, mrr):
        return {"test": {"all": {"minus_official": {"paper": {"hr@20_ci95": hr, "mrr@20_ci95": mrr}}}}}

    assert schedule.not_below(entry([-0.3, 0.0], [0.1, 0.2]), "paper")
    assert not schedule.not_below(entry([-0.3, -0.01], [0.1, 0.2]), "paper")
    assert not schedule.not_below(entry([0.1, 0.3], [-0.2, -0.1]), "paper")
