"""Logs of epochs whose checkpoints were lost are kept, never overwritten."""

import os

from tagnn_tf import run_directory
from tagnn_tf.training.checkpointing import set_aside_lost_epochs


def _row(epoch, val_hr):
    return {"epoch": epoch, "val": {"hr@20": val_hr}}


def test_set_aside_lost_epochs_keeps_every_row(tmp_path):
    d = str(tmp_path)
    # Validation HR@20 50, 55, 53: the best epoch (2) is past the checkpoint (epoch 1).
    run_directory.write_jsonl_atomic(os.path.join(d, "metrics.jsonl"), [_row(1, 50), _row(2, 55), _row(3, 53)])
    run_directory.write_jsonl_atomic(os.path.join(d, "run_log.jsonl"), [{"epoch": e} for e in (1, 2, 3)])
    open(os.path.join(d, "best.keras"), "w").write("epoch 2")
    assert set_aside_lost_epochs(d, 3, "hr@20") is None  # nothing past the checkpoint

    folder = set_aside_lost_epochs(d, 1, "hr@20")
    assert folder == os.path.join(d, "abandoned-attempt-1")
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(folder, "metrics.jsonl"))] == [1, 2, 3]
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(folder, "run_log.jsonl"))] == [1, 2, 3]
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(d, "metrics.jsonl"))] == [1]
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(d, "run_log.jsonl"))] == [1]
    assert open(os.path.join(folder, "best.keras")).read() == "epoch 2"
    assert not os.path.exists(os.path.join(d, "best.keras"))

    # Second loss, this time of everything: a new folder; a best model of a
    # kept epoch would stay, but epoch 1 is not kept either.
    run_directory.write_jsonl_atomic(os.path.join(d, "metrics.jsonl"), [_row(1, 50), _row(2, 49)])
    open(os.path.join(d, "best.keras"), "w").write("epoch 1")
    assert set_aside_lost_epochs(d, 1, "hr@20") == os.path.join(d, "abandoned-attempt-2")
    assert open(os.path.join(d, "best.keras")).read() == "epoch 1"  # its epoch is kept
    assert set_aside_lost_epochs(d, 0, "hr@20") == os.path.join(d, "abandoned-attempt-3")
    assert run_directory.read_jsonl(os.path.join(d, "metrics.jsonl")) == []
    assert not os.path.exists(os.path.join(d, "best.keras"))
    assert not [n for n in os.listdir(d) if ".tmp-" in n]
