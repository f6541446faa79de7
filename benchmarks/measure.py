"""Shared measuring helpers for the benchmark scripts."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time

import numpy as np
import tensorflow as tf

from experiments.markdown_blocks import replace_block  # noqa: F401 (the benchmarks' README blocks)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def matmul_gflops(m: int, k: int, n: int, dtype=tf.float32, repeats: int = 10) -> float:
    """Median GFLOP/s of `[m, k] x [k, n]` (2mkn FLOPs) in TF."""
    a = tf.cast(tf.random.normal([m, k]), dtype)
    b = tf.cast(tf.random.normal([k, n]), dtype)
    fn = tf.function(lambda x, y: tf.matmul(x, y))
    fn(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2.0 * m * k * n / statistics.median(times) / 1e9


def matmul_rates(num_items: int, hidden: int = 100) -> dict:
    return {
        "matmul_gflops_fp32": round(matmul_gflops(1000, hidden, num_items), 1),
        "matmul_gflops_bf16": round(matmul_gflops(1000, hidden, num_items, tf.bfloat16), 1),
        "matmul_2048_gflops_fp32": round(matmul_gflops(2048, 2048, 2048), 1),
        "matmul_2048_gflops_bf16": round(matmul_gflops(2048, 2048, 2048, tf.bfloat16), 1),
    }


def real_nodes(features) -> int:
    """Unique items summed over the sessions of a batch."""
    return int(np.count_nonzero(features["node_counts"].numpy()))


def child_result(stdout: str) -> dict:
    """The JSON object a benchmark's child process printed last on a line starting `RESULT`."""
    return json.loads([x for x in stdout.splitlines() if x.startswith("RESULT")][-1][len("RESULT"):])


def write_json(path: str, obj) -> None:
    """Writes `obj` to `path` ("" = not at all), with the machine and commit that measured it when it is
    a dict without them (every figure carries its own machine record)."""
    if isinstance(obj, dict):
        from tagnn_tf import run_directory

        obj = {**obj, "machine": obj.get("machine") or run_directory.machine_info(),
               "git_commit": obj.get("git_commit") or run_directory.git_commit()}
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)


def _tree_rss_bytes(root: int) -> int:
    """RSS summed over process `root` and its descendants (Linux /proc)."""
    children: dict = {}
    rss: dict = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
        rss[int(name)] = int(fields[21]) * page
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_with_tree_peak(args, interval: float = 0.25, **kwargs):
    """`subprocess.run(args, **kwargs)` that also samples the RSS of the process and all its descendants
    (a JVM, worker processes) every `interval` seconds: (CompletedProcess, peak GB of the sum)."""
    import subprocess
    import threading

    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(interval):
            peak[0] = max(peak[0], _tree_rss_bytes(process.pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, stderr = process.communicate()
    done.set()
    thread.join()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), round(peak[0] / 2**30, 2)
