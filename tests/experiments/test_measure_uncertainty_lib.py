"""The paired bootstrap of test metrics (the library of `python -m experiments.measure_uncertainty`)."""

import json

import numpy as np
import pytest

from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf import run_directory
from experiments.measure_uncertainty_lib import hit_and_mrr, measure_results, paired_bootstrap
from tagnn_tf.training.trainer import train


def test_hit_and_mrr_by_hand():
    # Ranks 1, 2, 30, 5: hits 1, 1, 0, 1 -> HR@20 3/4 = 75%;
    # reciprocal ranks 1, 1/2, 0, 1/5 -> MRR@20 (1 + 0.5 + 0.2) / 4 = 42.5%.
    assert hit_and_mrr(np.array([1, 2, 30, 5])) == pytest.approx({"hr@20": 75.0, "mrr@20": 42.5})


def test_paired_differences_keep_their_sign_and_identical_runs_differ_by_zero():
    a = np.array([1, 2, 30, 5] * 50)
    b = np.array([1, 25, 30, 5] * 50)  # never better than a on any example
    out = paired_bootstrap({"tagnn": a, "worse": b, "same": a.copy()}, "tagnn", resamples=300, seed=1)
    worse = out["runs"]["worse"]["minus_reference"]
    # Points: HR@20 50 - 75 = -25, MRR@20 (1 + 0.2) / 4 = 30 - 42.5 = -12.5.
    assert (worse["hr@20"], worse["mrr@20"]) == pytest.approx((-25.0, -12.5))
    assert worse["hr@20_share_above_0"] == 0.0 and worse["hr@20_ci95"][1] < 0 and worse["mrr@20_ci95"][1] < 0
    assert out["runs"]["same"]["minus_reference"]["mrr@20_ci95"] == [0.0, 0.0]
    assert "minus_reference" not in out["runs"]["tagnn"] and out["examples"] == 200


def test_interval_width_matches_the_binomial_standard_error():
    # 20,000 examples hit with probability 0.7: the 95% interval of HR@20 is
    # about +-1.96 * sqrt(0.7 * 0.3 / 20000) = +-0.635 points.
    rng = np.random.default_rng(0)
    ranks = np.where(rng.random(20000) < 0.7, 1, 100)
    row = paired_bootstrap({"tagnn": ranks}, "tagnn", resamples=1000, seed=2)["runs"]["tagnn"]
    low, high = row["hr@20_ci95"]
    assert (high - low) / 2 == pytest.approx(0.635, abs=0.06) and low < row["hr@20"] < high


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Received: 'x'"):
        paired_bootstrap({"tagnn": np.ones(3)}, "x")
    with pytest.raises(ValueError, match="same, non-empty"):
        paired_bootstrap({"tagnn": np.ones(3), "b": np.ones(4)}, "tagnn")
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap({"tagnn": np.ones(3)}, "tagnn", resamples=0)


def test_finished_runs_are_rescored_and_checked_against_their_result(tmp_path):
    data = DataConfig(synthetic_num_items=300, synthetic_num_sessions=2500, synthetic_seed=1)
    short = TrainConfig(batch_size=50, epochs=1, steps_per_epoch=20)
    results = tmp_path / "results"
    for name, variant in (("tagnn", "tagnn"), ("avg", "avg")):
        train(ExperimentConfig(data=data, model=ModelConfig(variant=variant), train=short),
              str(results / "yoochoose1_64" / name), log=lambda _: None)
    path = measure_results(str(results), ["yoochoose1_64"], resamples=50, log=lambda _: None)
    summary = json.load(open(path))["datasets"]["yoochoose1_64"]
    assert set(summary["runs"]) == {"tagnn", "avg"} and summary["reference"] == "tagnn"
    for name in ("tagnn", "avg"):
        result = json.load(open(results / "yoochoose1_64" / name / "result.json"))
        assert summary["runs"][name]["hr@20"] == pytest.approx(result["test"]["hr@20"], abs=0.01)
        assert summary["runs"][name]["selected_epoch"] == 1
    assert summary["git_commit"] == run_directory.git_commit() and summary["computed_at"].endswith("Z")
    # Rescoring one dataset keeps the other datasets' entries as they were.
    written = json.load(open(path))
    written["datasets"]["diginetica"] = {"runs": {}, "git_commit": "f" * 40, "computed_at": "2026-12-01T05:00:00Z"}
    json.dump(written, open(path, "w"))
    measure_results(str(results), ["yoochoose1_64"], resamples=50, log=lambda _: None)
    rewritten = json.load(open(path))["datasets"]
    assert rewritten["diginetica"] == {"runs": {}, "git_commit": "f" * 40, "computed_at": "2026-12-01T05:00:00Z"}
    assert rewritten["yoochoose1_64"]["runs"] == summary["runs"]
    # A result.json that the model file does not reproduce is an error, not a silent row.
    result_path = results / "yoochoose1_64" / "avg" / "result.json"
    result = json.load(open(result_path))
    result["test"]["hr@20"] += 1.0
    json.dump(result, open(result_path, "w"))
    with pytest.raises(ValueError, match="not the selected epoch"):
        measure_results(str(results), ["yoochoose1_64"], resamples=50, log=lambda _: None)
    with pytest.raises(ValueError, match="Received: \\['bogus'\\]"):
        measure_results(str(results), ["bogus"])


def test_difference_text_gives_hr_then_mrr_with_their_intervals():
    from experiments.measure_uncertainty_lib import difference_text

    diff = {"hr@20": 0.894, "hr@20_ci95": [0.78, 0.991], "mrr@20": -0.07, "mrr@20_ci95": [-0.204, 0.07]}
    assert difference_text(diff) == "+0.89 [+0.78, +0.99] / -0.07 [-0.20, +0.07]"
