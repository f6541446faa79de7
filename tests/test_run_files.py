"""Provenance written into run folders: the git commit and whether the code differs from it."""

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
