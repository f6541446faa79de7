"""What a run directory holds, and how its files are read and written.

A run directory (`--model_dir`) is written by the trainer and read by
evaluation, export and the experiment reports:

  config.json      the resolved `ExperimentConfig`
  run_info.json    one entry per (re)start: git commit, machine, strategy
  metrics.jsonl    one line per epoch: validation and test metrics (%)
  run_log.jsonl    one line per epoch: learning rate, loss, speed, memory
  result.json      the selected epoch and its metrics (written at the end)
  items.txt        the item vocabulary: line i is the raw id of item i
  test_ranks.npz   the selected model's rank of each test target, in test-file
                   order, capped at 255 (paired bootstraps between runs)
  best.keras       the model of the selected epoch
  checkpoints/     tf.train checkpoints (epoch ends and inside epochs)
  tensorboard/     event files
  abandoned-attempt-<n>/  logs of epochs whose checkpoints were lost
  lr_choice/epoch-<e>/  `--lr_schedule=validated`'s decision at epoch e:
                   choice.json, and per branch (decay/, hold/) its
                   trained.json and branch.json (its checkpoints are deleted
                   once the epoch's metrics are written)

Files are replaced atomically, so a crash never leaves a half-written one.
Paths stored inside the files are relative to the run directory. This module
needs TensorFlow only to load `best.keras`; training and serving both use it.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
import warnings
from typing import Callable, List, Optional, Tuple

from tagnn_tf.config import ExperimentConfig
from tagnn_tf.errors import DataFileError, InputError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RUN_LOG = "run_log.jsonl"
RUN_INFO = "run_info.json"
RESULT = "result.json"
EVALUATION = "evaluation.json"
TEST_RANKS = "test_ranks.npz"
# Ranks above this are stored as it (HR@K / MRR@K need only ranks <= K).
RANK_CAP = 255
BEST_MODEL = "best.keras"
# The item vocabulary, in a run directory (what it trained with), a dataset folder
# (`--format=clicks` writes it) and an export's assets: line i is the raw id of item i.
ITEMS = "items.txt"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
# Logs of epochs whose checkpoints were lost: `abandoned-attempt-<n>/`.
ABANDONED_PREFIX = "abandoned-attempt-"
LR_CHOICE = "lr_choice"


def write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def read_jsonl(path: str, log: Optional[Callable[[str], None]] = None) -> List[dict]:
    """The rows of a JSONL file ([] when it does not exist).

    A torn last line (a crash while appending in place, by a version that did)
    is dropped, and said so (`log`, else a Python warning); a line that does
    not parse anywhere else is an error: rows after it would be lost.

    Raises:
      DataFileError: naming the file and the line.
    """
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [(number, line.strip()) for number, line in enumerate(f, start=1) if line.strip()]
    rows = []
    for k, (number, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if k < len(lines) - 1:
                raise DataFileError(f"{path}:{number}: not a JSON row ({e.msg}), and rows follow it; repair or "
                                    "remove the line") from None
            message = f"{path}:{number}: a torn last line (not a JSON row) was dropped"
            if log:
                log(f"WARNING: {message}")
            else:
                warnings.warn(message)
    return rows


def write_jsonl_atomic(path: str, rows: List[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def append_jsonl(path: str, row: dict) -> None:
    """Appends one line by rewriting the file atomically (files are small)."""
    write_jsonl_atomic(path, read_jsonl(path) + [row])


def identity_items(num_items: int) -> Tuple[str, ...]:
    """The vocabulary of data without one: item i is called "i"."""
    return tuple(str(i) for i in range(1, num_items + 1))


def read_items_file(path: str) -> Tuple[str, ...]:
    """An `items.txt` (line i = raw id of item i), checked: no empty or repeated id.

    The same file format in a dataset folder, a run directory and an export.

    Raises:
      DataFileError: naming the file and line.
    """
    with open(path, encoding="utf-8", newline="") as f:
        items = tuple(line.rstrip("\n") for line in f)
    seen = {}
    for line, item in enumerate(items, start=1):
        if not item or "\r" in item:
            raise DataFileError(f"{path}:{line}: empty item id (or a carriage return in it)")
        if item in seen:
            raise DataFileError(f"{path}:{line}: item id {item!r} repeats line {seen[item]}")
        seen[item] = line
    if not items:
        raise DataFileError(f"{path}: no item ids")
    return items


def read_items(folder: str, num_items: int) -> Tuple[str, ...]:
    """The vocabulary in `folder` (`items.txt`); without the file (runs and SR-GNN data
    written before it existed) the identity one of `num_items` items."""
    path = os.path.join(folder, ITEMS)
    return read_items_file(path) if os.path.exists(path) else identity_items(num_items)


def check_run_items(model_dir: str, items, use: str = "continue it") -> None:
    """Refuses to use the run in `model_dir` with data of another item vocabulary `items` (the data's
    `items.txt`, or its identity vocabulary): its item numbers would mean other items.

    Args:
      use: what the caller does with the run, for the message ("continue it", "evaluate it", ...).
    """
    if not os.path.exists(os.path.join(model_dir, ITEMS)):
        return
    old = read_items(model_dir, len(items))
    items = tuple(items)
    if old != items:
        changed = next((k for k, (a, b) in enumerate(zip(old, items)) if a != b), min(len(old), len(items)))
        raise InputError(f"{model_dir} was trained with another item vocabulary ({len(old)} items, the data has "
                         f"{len(items)}; item {changed + 1} differs first): the dataset folder was rewritten since? "
                         f"Cannot {use} on this data; use a new --model_dir")


def write_test_ranks(folder: str, ranks) -> None:
    """`test_ranks.npz`: 1-based ranks in test-file order, capped at `RANK_CAP` (uint8), written atomically."""
    import numpy as np

    tmp = os.path.join(folder, f".{TEST_RANKS}.{os.getpid()}.npz")
    np.savez_compressed(tmp, ranks=np.minimum(np.asarray(ranks), RANK_CAP).astype(np.uint8))
    os.replace(tmp, os.path.join(folder, TEST_RANKS))


def read_test_ranks(folder: str):
    """The ranks of `write_test_ranks` (int32), or None when the run has none."""
    import numpy as np

    path = os.path.join(folder, TEST_RANKS)
    if not os.path.exists(path):
        return None
    with np.load(path) as f:
        return f["ranks"].astype(np.int32)


def write_items(folder: str, items) -> None:
    write_text_atomic(os.path.join(folder, ITEMS), "".join(item + "\n" for item in items))


def read_config(model_dir: str) -> ExperimentConfig:
    """The `ExperimentConfig` of a run.

    Raises:
      DataFileError: no `config.json` in `model_dir`, or one that is not a
        valid configuration (the message names the file and the field).
    """
    path = os.path.join(model_dir, CONFIG)
    if not os.path.exists(path):
        raise DataFileError(f"{path}: not found; is {model_dir!r} a model dir written by trainers.train?")
    try:
        raw = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataFileError(f"{path}: not valid JSON ({e})") from None
    try:
        return ExperimentConfig.from_dict(raw)
    except InputError as e:
        raise DataFileError(f"{path}: {e}") from None


# Files whose change makes a checkout "dirty": the code. Run outputs (logs,
# JSON, reports, plots) change while runs train and do not.
_CODE_SUFFIXES = (".py", ".c", ".h", ".cc", ".toml", ".cfg", ".ini")
_CODE_NAMES = ("Makefile", "requirements.txt")


def _is_code(path: str) -> bool:
    return path.endswith(_CODE_SUFFIXES) or os.path.basename(path) in _CODE_NAMES


def git_commit(repo_dir: Optional[str] = None) -> str:
    """HEAD of the repository holding `repo_dir` (default: this package), with
    "-dirty" when a tracked code file differs from it (staged or not; data,
    logs and reports written by runs do not count); "unknown" outside a git
    checkout."""
    here = repo_dir or os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        changed = subprocess.run(["git", "diff", "HEAD", "--name-only"], cwd=here, capture_output=True, text=True,
                                 timeout=10).stdout.splitlines()
        return commit + ("-dirty" if any(_is_code(p) for p in changed) else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict:
    import keras
    import tensorflow as tf

    cpu, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == platform.processor():
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    # The widest vector ISA (the same model name comes with and without AVX-512 on these VMs).
    isa = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), "")
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
        "cpu_isa": isa,
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
