"""experiments.item_norm_default: the runs with normalised item vectors against the tuning's try 0, and the report."""

import json
import os

import numpy as np
import pytest

from experiments import item_norm_default as item_norm
from experiments.lr_schedule_default import compare_runs
from tagnn_tf.errors import InputError


def test_scales_must_be_positive_and_the_reference_finished(tmp_path):
    for scales in ([], [0.0], [8.0, -1.0]):
        with pytest.raises(InputError, match="numbers > 0"):
            item_norm.check_dataset(str(tmp_path), "diginetica", str(tmp_path), scales)
    with pytest.raises(InputError, match="not a finished run; run experiments.tune_baselines"):
        item_norm.check_dataset(str(tmp_path), "diginetica", str(tmp_path), [8.0])
    assert item_norm.run_name(8.0) == "tagnn_repeat-item-norm-8" and item_norm.run_name(2.5).endswith("-2.5")


def test_report_renders_each_log_and_subset_and_names_the_logs_where_it_is_below(tmp_path):
    assert item_norm.report_lines(str(tmp_path)) == []
    learned, level, worse = np.array([1, 30, 2, 5]), np.array([1, 3, 2, 40]), np.array([30, 30, 30, 30])
    repeats = np.array([True, False, True, False])
    name = item_norm.run_name(8.0)
    datasets = {}
    for dataset, ranks in (("shop", level), ("news", worse)):
        test = compare_runs({"official": learned, name: ranks}, repeats)
        datasets[dataset] = {"test": test, "curves": {"official": [{"val_hr@20": 51.5}], name: [{"val_hr@20": 50.0}]}}
    os.makedirs(tmp_path / item_norm.NORM_DIR)
    with open(tmp_path / item_norm.NORM_DIR / item_norm.NORM_FILE, "w") as f:
        json.dump({"datasets": datasets}, f)
    text = "\n".join(item_norm.report_lines(str(tmp_path)))
    # Learned: HR@20 3/4, MRR@20 (1 + 0 + 1/2 + 1/5) / 4 = 42.50; `level`: (1 + 1/3 + 1/2 + 0) / 4 = 45.83.
    assert f"| shop | all (4) | 75.00 / 42.50 | `{name}` | 75.00 / 45.83 | +0.00 [" in text
    assert "| 51.50 / 50.00 |" in text
    assert f"| shop | new (2) | 50.00 / 10.00 | `{name}` | 50.00 / 16.67 |" in text
    assert f"| news | all (4) | 75.00 / 42.50 | `{name}` | 0.00 / 0.00 | -75.00 [" in text
    assert f"shop `{name}`: not below; news `{name}`: below." in text
    assert "normalised vectors are below the learned ones on news;" in text
