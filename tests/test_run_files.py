"""Run-folder files: the git commit written as provenance, logs kept when checkpoints are lost."""

import os
import subprocess

from tagnn_tf.training import run_files


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_git_commit_is_dirty_for_code_changes_only(tmp_path):
    for path in ("tagnn_tf/model.py", "results/README.md", "results/yoochoose1_64/tagnn/metrics.jsonl",
                 "results/make_report.py", "benchmarks/results/x.json", "benchmarks/x.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("0\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    # Asked from a subfolder, as the package asks from its own folder.
    package = str(tmp_path / "tagnn_tf")
    assert run_files.git_commit(package) == head
    # Measured outputs change while runs train: still the committed code.
    (tmp_path / "results" / "README.md").write_text("1\n")
    (tmp_path / "results" / "yoochoose1_64" / "tagnn" / "metrics.jsonl").write_text("1\n")
    (tmp_path / "benchmarks" / "results" / "x.json").write_text("1\n")
    (tmp_path / "untracked.py").write_text("1\n")
    assert run_files.git_commit(package) == head
    # A tracked code file anywhere in the repository (not only under the package) makes it dirty,
    # the report's own scripts under results/ included.
    (tmp_path / "benchmarks" / "x.py").write_text("1\n")
    assert run_files.git_commit(package) == head + "-dirty"
    _git(tmp_path, "checkout", "--", "benchmarks/x.py")
    assert run_files.git_commit(package) == head
    (tmp_path / "results" / "make_report.py").write_text("1\n")
    _git(tmp_path, "add", "results/make_report.py")  # staged counts too
    assert run_files.git_commit(package) == head + "-dirty"


def test_git_commit_outside_a_checkout_is_unknown(tmp_path):
    assert run_files.git_commit(str(tmp_path)) == "unknown"


def _row(epoch, val_hr):
    return {"epoch": epoch, "val": {"hr@20": val_hr}}


def test_set_aside_lost_epochs_keeps_every_row(tmp_path):
    d = str(tmp_path)
    # Validation HR@20 50, 55, 53: the best epoch (2) is past the checkpoint (epoch 1).
    run_files.write_jsonl_atomic(os.path.join(d, "metrics.jsonl"), [_row(1, 50), _row(2, 55), _row(3, 53)])
    run_files.write_jsonl_atomic(os.path.join(d, "run_log.jsonl"), [{"epoch": e} for e in (1, 2, 3)])
    open(os.path.join(d, "best.keras"), "w").write("epoch 2")
    assert run_files.set_aside_lost_epochs(d, 3, "hr@20") is None  # nothing past the checkpoint

    folder = run_files.set_aside_lost_epochs(d, 1, "hr@20")
    assert folder == os.path.join(d, "abandoned-attempt-1")
    assert [r["epoch"] for r in run_files.read_jsonl(os.path.join(folder, "metrics.jsonl"))] == [1, 2, 3]
    assert [r["epoch"] for r in run_files.read_jsonl(os.path.join(folder, "run_log.jsonl"))] == [1, 2, 3]
    assert [r["epoch"] for r in run_files.read_jsonl(os.path.join(d, "metrics.jsonl"))] == [1]
    assert [r["epoch"] for r in run_files.read_jsonl(os.path.join(d, "run_log.jsonl"))] == [1]
    assert open(os.path.join(folder, "best.keras")).read() == "epoch 2"
    assert not os.path.exists(os.path.join(d, "best.keras"))

    # Second loss, this time of everything: a new folder; a best model of a
    # kept epoch would stay, but epoch 1 is not kept either.
    run_files.write_jsonl_atomic(os.path.join(d, "metrics.jsonl"), [_row(1, 50), _row(2, 49)])
    open(os.path.join(d, "best.keras"), "w").write("epoch 1")
    assert run_files.set_aside_lost_epochs(d, 1, "hr@20") == os.path.join(d, "abandoned-attempt-2")
    assert open(os.path.join(d, "best.keras")).read() == "epoch 1"  # its epoch is kept
    assert run_files.set_aside_lost_epochs(d, 0, "hr@20") == os.path.join(d, "abandoned-attempt-3")
    assert run_files.read_jsonl(os.path.join(d, "metrics.jsonl")) == []
    assert not os.path.exists(os.path.join(d, "best.keras"))
    assert not [n for n in os.listdir(d) if ".tmp-" in n]
