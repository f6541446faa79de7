"""The reproduction runner: suite selection, config per folder, resume/skip."""

import dataclasses
import json
import os

import pytest

from tagnn_tf.config import TrainConfig
from experiments.reproduce_lib import (CONFIGS, DIAGNOSTICS_SUITE, PAPER_CONFIGS, PAPER_SUITE, run_config,
                                         run_suite, select_runs)


def test_paper_suite_covers_table1_and_figure2():
    assert len(PAPER_SUITE) == 12 == len(set(PAPER_SUITE))
    assert {c for _, c in PAPER_SUITE} == set(PAPER_CONFIGS) == set(CONFIGS) - {c for _, c in DIAGNOSTICS_SUITE}
    # Yoochoose 1/64 (cheaper) first.
    assert [d for d, _ in PAPER_SUITE] == ["yoochoose1_64"] * 6 + ["diginetica"] * 6
    assert select_runs("paper", datasets=["diginetica"], configs=["avg"]) == [("diginetica", "avg")]
    assert run_config("yoochoose1_64", "tagnn", "d").model.readout == "paper"
    assert run_config("yoochoose1_64", "tagnn-official-readout", "d").model.readout == "official"
    assert run_config("diginetica", "local-att", "d").model.variant == "local_att"
    assert run_config("diginetica", "local-att", "d").data.valid_portion == 0.1
    diagnostic = run_config("yoochoose1_64", "tagnn-valid-1pct", "d")
    assert diagnostic.data.valid_portion == 0.01 and diagnostic.model == run_config("yoochoose1_64", "tagnn", "d").model
    assert select_runs("diagnostics") == [("yoochoose1_64", c) for c in (
        "tagnn-seed2", "tagnn-valid-1pct", "tagnn-official-padding", "tagnn-no-bucketing", "tagnn-paper-lr")]
    # Each diagnostic changes exactly one setting of `tagnn`.
    base = run_config("yoochoose1_64", "tagnn", "d")
    seed2, no_bucketing = (run_config("yoochoose1_64", c, "d") for c in ("tagnn-seed2", "tagnn-no-bucketing"))
    assert seed2 == dataclasses.replace(base, train=dataclasses.replace(base.train, seed=2021))
    assert no_bucketing == dataclasses.replace(base, train=dataclasses.replace(base.train, shuffle_window_batches=1))
    paper_lr = run_config("yoochoose1_64", "tagnn-paper-lr", "d")
    assert paper_lr == dataclasses.replace(base, train=dataclasses.replace(base.train, lr_schedule="paper"))
    # Epoch 3 still at 1e-3 under the paper's schedule, already 1e-4 under the official one.
    assert (paper_lr.train.learning_rate_at(3), base.train.learning_rate_at(3)) == pytest.approx((1e-3, 1e-4))
    padding = run_config("yoochoose1_64", "tagnn-official-padding", "d")
    assert padding == dataclasses.replace(base, model=dataclasses.replace(base.model, padding="official"))
    # A caller's TrainConfig (short test runs) keeps its own fields under the override.
    short = run_config("yoochoose1_64", "tagnn-seed2", "d", TrainConfig(epochs=1))
    assert (short.train.epochs, short.train.seed) == (1, 2021)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="suite"):
        select_runs("bogus")
    with pytest.raises(ValueError, match="Received: 'bogus'"):
        select_runs("paper", configs=["bogus"])


def test_runs_write_trainer_files_and_finished_runs_are_skipped(shared_data, tmp_path, capsys):
    short = TrainConfig(epochs=1, steps_per_epoch=2, max_eval_examples=200)
    results = run_suite("paper", str(tmp_path), shared_data, datasets=["yoochoose1_64"], configs=["avg"],
                        train=short)
    run_dir = tmp_path / "yoochoose1_64" / "avg"
    assert len(results) == 1
    for name in ("config.json", "metrics.jsonl", "run_info.json", "run_log.jsonl", "result.json", "train.log"):
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["variant"] == "avg" and config["data"]["dataset"] == "yoochoose1_64"
    mtime = os.path.getmtime(run_dir / "metrics.jsonl")
    assert run_suite("paper", str(tmp_path), shared_data, datasets=["yoochoose1_64"], configs=["avg"],
                     train=short) == []
    assert "finished, skipped" in capsys.readouterr().out
    assert os.path.getmtime(run_dir / "metrics.jsonl") == mtime


def test_a_failed_run_is_logged_and_the_next_one_still_trains(tmp_path, monkeypatch):
    from experiments.reproduce_lib import SuiteError
    from tagnn_tf.errors import DataFileError
    from tagnn_tf.run_lock import LOCK_FILE
    from tagnn_tf.training import trainer

    calls = []

    def fake_train(config, run_dir, log, hold_lock):
        assert not hold_lock  # the runner holds the run's lock itself
        calls.append(os.path.basename(run_dir))
        if config.model.variant == "local":
            raise FloatingPointError("loss became nan at epoch 2, step 7")
        return {"run": os.path.basename(run_dir)}

    monkeypatch.setattr(trainer, "train", fake_train)
    with pytest.raises(SuiteError, match="1 run\\(s\\) failed: yoochoose1_64/local;"):
        run_suite("paper", str(tmp_path), "d", datasets=["yoochoose1_64"], configs=["local", "avg"])
    assert calls == ["local", "avg"]
    log = (tmp_path / "yoochoose1_64" / "local" / "train.log").read_text()
    assert "yoochoose1_64/local FAILED: FloatingPointError: loss became nan at epoch 2, step 7" in log
    assert "Traceback" in log
    assert not list(tmp_path.glob(f"*/*/{LOCK_FILE}"))  # claims released

    # Missing data stops the suite at once: every later run would fail the same way.
    def no_data(config, run_dir, log, hold_lock):
        calls.append(os.path.basename(run_dir))
        raise DataFileError("data directory not found: d/yoochoose1_64")

    calls.clear()
    monkeypatch.setattr(trainer, "train", no_data)
    with pytest.raises(DataFileError):
        run_suite("paper", str(tmp_path), "d", datasets=["yoochoose1_64"], configs=["local", "avg"])
    assert calls == ["local"]
