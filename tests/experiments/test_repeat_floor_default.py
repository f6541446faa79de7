"""experiments.repeat_floor_default: the floor's run against the history gate's and the tuning's try 0; the report."""

import json
import os

import numpy as np
import pytest

from experiments import repeat_floor_default as floor
from experiments.lr_schedule_default import compare_runs
from experiments.measure_uncertainty_lib import paired_by_subset
from tagnn_tf.errors import InputError


def test_the_reference_must_be_a_finished_try(tmp_path):
    with pytest.raises(InputError, match="not a finished run; run experiments.tune_baselines"):
        floor.check_dataset(str(tmp_path), "diginetica", str(tmp_path))
    assert (floor.RUN_NAME, floor.GATE_RUN) == ("tagnn_repeat-history-gate-floor", "tagnn_repeat-history-gate")


def test_report_renders_both_runs_and_the_floor_minus_the_gate_with_its_verdict(tmp_path):
    from tagnn_tf.config import TRAINER_REPEAT_FLOOR

    assert floor.report_lines(str(tmp_path)) == []
    session, gate, better, worse = (np.array([1, 30, 2, 5]), np.array([1, 3, 2, 40]), np.array([1, 3, 1, 40]),
                                    np.array([30, 30, 30, 30]))
    repeats = np.array([True, False, True, False])
    datasets = {}
    for dataset, ranks in (("shop", better), ("news", worse)):
        runs = {"official": session, floor.GATE_RUN: gate, floor.RUN_NAME: ranks}
        curves = {name: [{"val_hr@20": 50.0}] for name in runs}
        datasets[dataset] = {
            "test": compare_runs(runs, repeats), "curves": curves, "floors_picked": [0.1, 0.3],
            "floor_minus_gate": {subset: boot["runs"][floor.RUN_NAME]["minus_reference"] for subset, boot in
                                 paired_by_subset({k: runs[k] for k in (floor.GATE_RUN, floor.RUN_NAME)},
                                                  floor.GATE_RUN, repeats).items()}}
    os.makedirs(tmp_path / floor.FLOOR_DIR)
    with open(tmp_path / floor.FLOOR_DIR / floor.FLOOR_FILE, "w") as f:
        json.dump({"datasets": datasets}, f)
    text = "\n".join(floor.report_lines(str(tmp_path)))
    # Both runs against the session gate: the gate's run (1 + 1/3 + 1/2 + 0) / 4 = 45.83, the floor's on shop
    # (1 + 1/3 + 1 + 0) / 4 = 58.33.
    assert f"| shop | all (4) | 75.00 / 42.50 | `{floor.GATE_RUN}` | 75.00 / 45.83 |" in text
    assert f"| shop | all (4) | 75.00 / 42.50 | `{floor.RUN_NAME}` | 75.00 / 58.33 |" in text
    # The floor minus the gate: shop MRR@20 +12.50 (only the second repeat label moves, 1/2 -> 1, that is
    # +25.00 on the repeat labels, 0 on the new ones); news loses every hit: HR@20 -75.00.
    assert "| shop | +0.00 [+0.00, +0.00] / +12.50 [" in text
    assert "| +0.00 [+0.00, +0.00] / +25.00 [" in text
    assert "| 0.1, 0.3 | not below |" in text
    assert "| news | -75.00 [" in text and text.count("| below |") == 1
    assert f"(`config.TRAINER_REPEAT_FLOOR`) is `{TRAINER_REPEAT_FLOOR}`" in text


def test_posthoc_floors_score_a_finished_run_and_floor_0_is_the_run_itself(tmp_path):
    from experiments.repeat_floor_posthoc import score_floors
    from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
    from tagnn_tf.layers.repeat_scores import REPEAT_FLOORS
    from tagnn_tf.training.trainer import train

    data = DataConfig(synthetic_num_items=200, synthetic_num_sessions=600, synthetic_seed=1,
                      synthetic_repeat_share=0.45)
    small = TrainConfig(batch_size=50, epochs=1, steps_per_epoch=5)
    run = str(tmp_path / "run")
    result = train(ExperimentConfig(model=ModelConfig(repeat_mechanism="repeat_explore"), data=data, train=small),
                   run, log=lambda _: None)
    out = str(tmp_path / "floors.json")
    assert score_floors(run, out, log=lambda _: None) == out
    record = json.loads(open(out).read())
    assert record["floors"] == list(REPEAT_FLOORS) and record["run"] == "run"
    assert len(record["val"]) == len(record["test"]) == len(REPEAT_FLOORS)
    # Floor 0 is the trained run as it was evaluated.
    for k in ("hr@20", "mrr@20", "repeat/hr@20", "new/mrr@20"):
        assert record["test"][0][k] == pytest.approx(result["test"][k], abs=1e-3)
    plain = str(tmp_path / "plain")
    train(ExperimentConfig(data=data, train=small), plain, log=lambda _: None)
    with pytest.raises(InputError, match="repeat-explore's"):
        score_floors(plain, out)
