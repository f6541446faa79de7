"""Run-directory files: the git commit written as provenance, the tolerant JSONL reader, the config."""

import json
import subprocess

import pytest

from tagnn_tf import run_directory
from tagnn_tf.errors import DataFileError


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
    assert run_directory.git_commit(package) == head
    # Measured outputs change while runs train: still the committed code.
    (tmp_path / "results" / "README.md").write_text("1\n")
    (tmp_path / "results" / "yoochoose1_64" / "tagnn" / "metrics.jsonl").write_text("1\n")
    (tmp_path / "benchmarks" / "results" / "x.json").write_text("1\n")
    (tmp_path / "untracked.py").write_text("1\n")
    assert run_directory.git_commit(package) == head
    # A tracked code file anywhere in the repository (not only under the package) makes it dirty,
    # wherever it lies: the rule knows file kinds, not the repository's layout.
    (tmp_path / "benchmarks" / "x.py").write_text("1\n")
    assert run_directory.git_commit(package) == head + "-dirty"
    _git(tmp_path, "checkout", "--", "benchmarks/x.py")
    assert run_directory.git_commit(package) == head
    (tmp_path / "results" / "make_report.py").write_text("1\n")
    _git(tmp_path, "add", "results/make_report.py")  # staged counts too
    assert run_directory.git_commit(package) == head + "-dirty"


def test_git_commit_outside_a_checkout_is_unknown(tmp_path):
    assert run_directory.git_commit(str(tmp_path)) == "unknown"


def test_jsonl_reader_drops_only_a_torn_last_line_and_says_so(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n\n{"epoch": 2}\n{"epoch": 3, "va')
    messages = []
    assert run_directory.read_jsonl(str(path), messages.append) == [{"epoch": 1}, {"epoch": 2}]
    assert messages == [f"WARNING: {path}:4: a torn last line (not a JSON row) was dropped"]
    with pytest.warns(UserWarning, match="torn last line"):
        run_directory.read_jsonl(str(path))
    assert run_directory.read_jsonl(str(tmp_path / "missing.jsonl")) == []
    # A bad line with rows after it: an error naming it (the rows after it would be lost).
    path.write_text('{"epoch": 1, "va\n{"epoch": 2}\n')
    with pytest.raises(DataFileError, match="metrics.jsonl:1: not a JSON row"):
        run_directory.read_jsonl(str(path))


def test_resume_after_a_torn_first_metrics_row_is_refused_not_silently_short(tmp_path):
    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.training.trainer import train

    config = ExperimentConfig(data=DataConfig(synthetic_num_items=40, synthetic_num_sessions=200),
                              train=TrainConfig(batch_size=50, epochs=1))
    train(config, str(tmp_path), log=lambda _: None)
    metrics = tmp_path / "metrics.jsonl"
    rows = metrics.read_text().splitlines()
    metrics.write_text(rows[0][:20] + "\n" + "\n".join(rows[1:]) + '\n{"epoch": 0}\n')
    longer = ExperimentConfig(data=config.data, train=TrainConfig(batch_size=50, epochs=2))
    with pytest.raises(DataFileError, match="metrics.jsonl:1: not a JSON row"):
        train(longer, str(tmp_path), log=lambda _: None)


def test_config_of_a_run_written_before_the_catalogue_had_one_home(tmp_path):
    # Runs of earlier versions recorded the resolved size as model.num_items
    # beside data.num_items = 0 ("derive"); it reads as data.num_items.
    (tmp_path / "config.json").write_text(json.dumps(
        {"model": {"num_items": 43097, "hidden_size": 100}, "data": {"dataset": "diginetica", "num_items": 0}}))
    config = run_directory.read_config(str(tmp_path))
    assert config.data.num_items == 43097 and config.model.hidden_size == 100
    with pytest.raises(DataFileError, match="config.json: not found"):
        run_directory.read_config(str(tmp_path / "nothing"))
