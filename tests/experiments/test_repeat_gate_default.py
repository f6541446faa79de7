"""experiments.repeat_gate_default: the history gate's runs against the tuning's try 0, and the report."""

import json
import os

import numpy as np
import pytest

from experiments import repeat_gate_default as gate
from experiments.lr_schedule_default import compare_runs
from tagnn_tf.errors import InputError


def test_the_reference_must_be_a_finished_try(tmp_path):
    with pytest.raises(InputError, match="not a finished run; run experiments.tune_baselines"):
        gate.check_dataset(str(tmp_path), "diginetica", str(tmp_path))
    assert gate.RUN_NAME == "tagnn_repeat-history-gate"


def test_report_renders_each_log_and_subset_and_names_the_logs_where_it_is_below(tmp_path):
    from tagnn_tf.config import TRAINER_REPEAT_GATE

    assert gate.report_lines(str(tmp_path)) == []
    session, level, worse = np.array([1, 30, 2, 5]), np.array([1, 3, 2, 40]), np.array([30, 30, 30, 30])
    repeats = np.array([True, False, True, False])
    datasets = {}
    for dataset, ranks in (("shop", level), ("news", worse)):
        test = compare_runs({"official": session, gate.RUN_NAME: ranks}, repeats)
        datasets[dataset] = {"test": test, "curves": {"official": [{"val_hr@20": 51.5}],
                                                      gate.RUN_NAME: [{"val_hr@20": 50.0}, {"val_hr@20": 52.25}]}}
    os.makedirs(tmp_path / gate.GATE_DIR)
    with open(tmp_path / gate.GATE_DIR / gate.GATE_FILE, "w") as f:
        json.dump({"datasets": datasets}, f)
    text = "\n".join(gate.report_lines(str(tmp_path)))
    name = gate.RUN_NAME
    assert ("| dataset | labels | session gate | run | history gate | minus session gate | validation HR@20: "
            "session gate / history gate |") in text
    # Session gate: HR@20 3/4, MRR@20 (1 + 0 + 1/2 + 1/5) / 4 = 42.50; `level`: (1 + 1/3 + 1/2 + 0) / 4 = 45.83.
    assert f"| shop | all (4) | 75.00 / 42.50 | `{name}` | 75.00 / 45.83 | +0.00 [" in text
    # The selected epoch is the best validation one: 52.25, not the last nor the first.
    assert "| 51.50 / 52.25 |" in text
    # Repeat labels (ranks 1, 2 both ways): 100 / 75; new labels (30, 5 against 3, 40): MRR 10.00 against 16.67.
    assert f"| shop | repeat (2) | 100.00 / 75.00 | `{name}` | 100.00 / 75.00 |" in text
    assert f"| shop | new (2) | 50.00 / 10.00 | `{name}` | 50.00 / 16.67 |" in text
    assert f"| news | all (4) | 75.00 / 42.50 | `{name}` | 0.00 / 0.00 | -75.00 [" in text
    assert f"shop `{name}`: not below; news `{name}`: below." in text
    assert f"(`config.TRAINER_REPEAT_GATE`) is `{TRAINER_REPEAT_GATE}`; the history gate is below the session " \
           "gate on news;" in text
