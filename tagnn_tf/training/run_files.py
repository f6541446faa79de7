"""Files of a run directory, written so that a crash never leaves a half-written file."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
from typing import List, Optional

from tagnn_tf.training.model_selection import select

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RUN_LOG = "run_log.jsonl"
RUN_INFO = "run_info.json"
RESULT = "result.json"
BEST_MODEL = "best.keras"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"


def write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_jsonl(path: str) -> List[dict]:
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a torn last line from a crash: ignore it and what follows
    return rows


def write_jsonl_atomic(path: str, rows: List[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def append_jsonl(path: str, row: dict) -> None:
    """Appends one line by rewriting the file atomically (files are small)."""
    write_jsonl_atomic(path, read_jsonl(path) + [row])


ABANDONED_PREFIX = "abandoned-attempt-"


def set_aside_lost_epochs(model_dir: str, epochs_done: int, selection_metric: str) -> Optional[str]:
    """Keeps the logs of epochs the checkpoints no longer hold, before training redoes them.

    The epoch-end checkpoint is written before an epoch's metrics, so
    `metrics.jsonl` or `run_log.jsonl` reaching past `epochs_done` (the epoch
    of the checkpoint restored, 0 without one) means the checkpoints were lost
    or deleted. Both files are copied whole into a new
    `<model_dir>/abandoned-attempt-<n>/`; the files in place keep the rows up
    to `epochs_done`, which the checkpoint continues. `best.keras` moves there
    too when its epoch (the best on validation `selection_metric`) is one of
    the lost ones.

    Returns:
      The folder the files went to, or None when no row was past `epochs_done`.
    """
    paths = [os.path.join(model_dir, name) for name in (METRICS, RUN_LOG)]
    rows = [read_jsonl(p) for p in paths]
    if all(r["epoch"] <= epochs_done for file_rows in rows for r in file_rows):
        return None
    n = 1
    while os.path.exists(os.path.join(model_dir, f"{ABANDONED_PREFIX}{n}")):
        n += 1
    folder = os.path.join(model_dir, f"{ABANDONED_PREFIX}{n}")
    tmp = f"{folder}.tmp-{os.getpid()}"
    os.makedirs(tmp)
    for path, file_rows in zip(paths, rows):
        if file_rows:
            write_jsonl_atomic(os.path.join(tmp, os.path.basename(path)), file_rows)
    os.rename(tmp, folder)  # the copies appear complete or not at all
    for path, file_rows in zip(paths, rows):
        if file_rows:
            write_jsonl_atomic(path, [r for r in file_rows if r["epoch"] <= epochs_done])
    best = os.path.join(model_dir, BEST_MODEL)
    if os.path.exists(best) and rows[0] and select(rows[0], selection_metric)["epoch"] > epochs_done:
        os.replace(best, os.path.join(folder, BEST_MODEL))
    return folder


def _is_measured_output(path: str) -> bool:
    """Files the runs and benchmarks write (tracked, so committed with their
    results): everything under `benchmarks/results/`, and under `results/`
    all but the scripts (`results/*.py` is code)."""
    return path.startswith("benchmarks/results/") or (path.startswith("results/") and not path.endswith(".py"))


def git_commit(repo_dir: Optional[str] = None) -> str:
    """HEAD of the repository holding `repo_dir` (default: this package), with
    "-dirty" when a tracked file other than a measured output differs from it
    (runs write into `results/` while they train); "unknown" outside a git
    checkout."""
    here = repo_dir or os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        # Paths relative to the repository root, staged and unstaged changes alike.
        changed = subprocess.run(["git", "diff", "HEAD", "--name-only"], cwd=here, capture_output=True, text=True,
                                 timeout=10).stdout.splitlines()
        dirty = [path for path in changed if not _is_measured_output(path)]
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict:
    import tensorflow as tf
    import keras

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        # Cores this process may run on (fewer than cpu_count when pinned).
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": mem_gb,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def peak_rss_gb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)
