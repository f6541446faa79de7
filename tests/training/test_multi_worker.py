"""MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1, and
recovery from a SIGKILLed worker (and a SIGKILLed single process).

Every process the tests start is killed in a `finally`, so none is left behind.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT

SCRIPT = r"""
import json, sys
from tagnn_tf.config import DataConfig, DistributeConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.training.strategies import make_strategy
strategy = make_strategy(DistributeConfig(strategy=sys.argv[2]))
from tagnn_tf.training.trainer import train
data = DataConfig(synthetic_num_items=300, synthetic_num_sessions=4000, synthetic_seed=1)
if sys.argv[4]:  # streamed from the session shards in this folder
    data = DataConfig(dataset="syn", data_dir=sys.argv[4], input_pipeline="stream", stream_block_shards=2)
cfg = ExperimentConfig(model=ModelConfig(hidden_size=32), data=data,
                       train=TrainConfig(batch_size=50, epochs=2, patience=5, checkpoint_every_steps=25,
                                         train_candidates=sys.argv[3], num_negatives=100,
                                         lr_schedule=sys.argv[5],
                                         lr_decay_epochs=1 if sys.argv[5] == "validated" else 3))
result = train(cfg, sys.argv[1], strategy=strategy, log=lambda m: print(m, flush=True))
print("RESULT" + json.dumps({"test": result["test"], "replicas": strategy.num_replicas_in_sync}), flush=True)
"""
TIMEOUT = 600


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start(model_dir, strategy, tf_config=None, train_candidates="full", stream_dir="", lr_schedule="official"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, model_dir, strategy, train_candidates, stream_dir,
                             lr_schedule],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _start_cluster(model_dir, train_candidates="full", stream_dir="", lr_schedule="official"):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [_start(model_dir, "multi_worker", {"cluster": cluster, "task": {"type": "worker", "index": i}},
                   train_candidates, stream_dir, lr_schedule) for i in range(2)]


def _result(proc, with_output=False):
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-3000:]
    result = json.loads([x for x in out.splitlines() if x.startswith("RESULT")][-1][len("RESULT"):])
    return (result, out) if with_output else result


def _kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=60)


def _wait_until(ready, what, procs, timeout=TIMEOUT):
    start = time.time()
    while not ready():
        if any(p.poll() is not None for p in procs):
            raise AssertionError(f"a process ended before {what}")
        if time.time() - start > timeout:
            raise AssertionError(f"no {what} in {timeout} s")
        time.sleep(0.05)


def _checkpoint_numbers(model_dir):
    folder = os.path.join(model_dir, "checkpoints")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return {int(m.group(1)) for m in map(re.compile(r"ckpt-(\d+)\.index$").match, names) if m}


def _latest_in_state(model_dir):
    """The checkpoint number the `checkpoint` state file names (written once a save is complete)."""
    try:
        text = open(os.path.join(model_dir, "checkpoints", "checkpoint")).read()
    except FileNotFoundError:
        return -1
    found = re.search(r'model_checkpoint_path: ".*?ckpt-(\d+)"', text)
    return int(found.group(1)) if found else -1


def _kill_inside_epoch_2(model_dir, procs, victim):
    """SIGKILLs `victim` once epoch 1 is evaluated and epoch 2's first in-epoch checkpoint is
    complete (named in the state file: the save is over, so no process dies inside it)."""
    metrics = os.path.join(model_dir, "metrics.jsonl")
    _wait_until(lambda: os.path.exists(metrics), "epoch 1 metrics", procs)
    epoch_1_end = max(_checkpoint_numbers(model_dir))
    _wait_until(lambda: _latest_in_state(model_dir) > epoch_1_end, "complete checkpoint inside epoch 2", procs)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    proc = _start(str(tmp_path_factory.mktemp("single")), "default")
    try:
        return _result(proc)
    finally:
        _kill_all([proc])


def _cluster_results(model_dir, train_candidates="full"):
    """Both workers' results of one 2-worker training run (every process killed afterwards)."""
    procs = _start_cluster(model_dir, train_candidates)
    try:
        return [_result(p) for p in procs]
    finally:
        _kill_all(procs)


def test_two_workers_train_and_only_the_chief_writes(tmp_path, single_run):
    model_dir = str(tmp_path / "run")
    results = _cluster_results(model_dir)
    assert [r["replicas"] for r in results] == [2, 2]
    # Both workers computed the same global metrics; equal to one process
    # within 0.5 points (same global batches, different summation order).
    assert results[0]["test"] == results[1]["test"]
    for k, v in single_run["test"].items():
        assert results[0]["test"][k] == pytest.approx(v, abs=0.5)
    names = sorted(os.listdir(model_dir))
    assert names == sorted(["best.keras", "checkpoints", "config.json", "items.txt", "metrics.jsonl", "result.json",
                            "run_info.json", "run_log.jsonl", "tensorboard", "test_ranks.npz"]), names
    info = json.load(open(os.path.join(model_dir, "run_info.json")))
    # CollectiveAllReduceStrategy is the class behind tf.distribute.MultiWorkerMirroredStrategy.
    assert [(s["strategy"], s["replicas"]) for s in info["sessions"]] == [("CollectiveAllReduceStrategy", 2)]
    assert len(open(os.path.join(model_dir, "metrics.jsonl")).read().splitlines()) == 2


def test_two_workers_train_sampled(tmp_path, single_run):
    # Sampled softmax under MultiWorkerMirroredStrategy: the workers agree, and the
    # whole-catalogue metrics are near the full-softmax single process's.
    results = _cluster_results(str(tmp_path / "run"), "sampled")
    assert [r["replicas"] for r in results] == [2, 2]
    assert results[0]["test"] == results[1]["test"]
    assert results[0]["test"]["hr@20"] == pytest.approx(single_run["test"]["hr@20"], abs=5.0), results


def test_two_workers_choose_the_validated_learning_rate_together(tmp_path):
    # --lr_schedule=validated with --lr_decay_epochs=1: a decision at epoch 1 (branches from the initial
    # model's checkpoint) and at epoch 2. Every worker restores the chief's branch checkpoints and computes
    # the same validation, so the same choice; only the chief writes.
    model_dir = str(tmp_path / "run")
    procs = _start_cluster(model_dir, lr_schedule="validated")
    try:
        ended = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        _kill_all(procs)
    assert all(p.returncode == 0 for p in procs), "\n\n".join(err[-3000:] for _, err in ended)
    outputs = [(json.loads([x for x in out.splitlines() if x.startswith("RESULT")][-1][len("RESULT"):]), out)
               for out, _ in ended]
    (first, out_0), (second, out_1) = outputs
    assert first["test"] == second["test"] and first["replicas"] == 2
    assert first["test"]["hr@20"] > 20.0  # it learned (popularity alone is a few per cent here)
    chosen = [re.findall(r"continuing with the (\w+) branch", out) for out in (out_0, out_1)]
    assert len(chosen[0]) == 2 and chosen[0] == chosen[1], chosen
    rows = [json.loads(x) for x in open(os.path.join(model_dir, "metrics.jsonl"))]
    assert [r["lr_choice"]["chosen"] for r in rows] == chosen[0]
    assert not [n for n in os.listdir(model_dir) if n.startswith(".worker-tmp")]
    for epoch in (1, 2):  # the branches' checkpoints are deleted once the epoch is written
        for branch in ("decay", "hold"):
            assert sorted(os.listdir(os.path.join(model_dir, "lr_choice", f"epoch-{epoch}", branch))) == [
                "branch.json", "trained.json"]


def test_killed_worker_job_resumes_from_last_checkpoint(tmp_path, single_run):
    model_dir = str(tmp_path / "run")
    procs = _start_cluster(model_dir)
    try:
        # Epoch 1 is done and epoch 2 has checkpointed once; kill worker 1.
        _kill_inside_epoch_2(model_dir, procs, procs[1])
    finally:
        _kill_all(procs)  # the job is restarted as a whole, as a cluster manager does
    # Only complete checkpoints: the index/data pairs TF renames into place and
    # the `checkpoint` state file; no temporary files or folders, no worker copies.
    names = os.listdir(os.path.join(model_dir, "checkpoints"))
    assert all(re.fullmatch(r"checkpoint|ckpt-\d+\.(index|data-\d+-of-\d+)", n) for n in names), names
    procs = _start_cluster(model_dir)
    try:
        results = [_result(p) for p in procs]
    finally:
        _kill_all(procs)
    # A worker killed inside a collective save leaves its temporary copy; the restarted chief removes it.
    assert not [n for n in os.listdir(model_dir) if n.startswith(".worker-tmp")]
    info = json.load(open(os.path.join(model_dir, "run_info.json")))
    # Resumed inside epoch 2, from the checkpoint taken before the kill.
    assert [(s["epochs_done_at_start"], s["batches_done_at_start"] > 0) for s in info["sessions"]] == [
        (0, False), (1, True)]
    rows = [json.loads(x) for x in open(os.path.join(model_dir, "metrics.jsonl"))]
    assert [r["epoch"] for r in rows] == [1, 2]
    print("\nkilled-worker job: test metrics after epoch 1 (before the kill)", rows[0]["test"],
          "\nafter the restart", results[0]["test"], "\nuninterrupted single process", single_run["test"])
    for k, v in single_run["test"].items():
        assert results[0]["test"][k] == pytest.approx(v, abs=0.5), (results, single_run)


def test_killed_single_process_resumes_and_matches(tmp_path, single_run):
    model_dir = str(tmp_path / "run")
    proc = _start(model_dir, "default")
    try:
        _kill_inside_epoch_2(model_dir, [proc], proc)
    finally:
        _kill_all([proc])
    proc = _start(model_dir, "default")
    try:
        result = _result(proc)
    finally:
        _kill_all([proc])
    info = json.load(open(os.path.join(model_dir, "run_info.json")))
    # Resumed inside epoch 2, from the checkpoint taken before the kill.
    assert [(s["epochs_done_at_start"], s["batches_done_at_start"] > 0) for s in info["sessions"]] == [
        (0, False), (1, True)]
    rows = [json.loads(x) for x in open(os.path.join(model_dir, "metrics.jsonl"))]
    print("\nkilled single process: epoch 1", rows[0]["test"], "\nafter the restart", result["test"],
          "\nuninterrupted", single_run["test"])
    # One process, same seed: resuming from the checkpoint inside epoch 2
    # finishes it exactly as the uninterrupted run did.
    assert result["test"] == single_run["test"]


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory):
    """A synthetic dataset of session shards: 3400 training sessions, 400 a shard (9 shards)."""
    from tagnn_tf.data.synthetic import write_synthetic_shards

    folder = tmp_path_factory.mktemp("shards")
    write_synthetic_shards(str(folder / "syn"), num_items=300, num_sessions=4000, seed=1, shard_sessions=400)
    return str(folder)


def test_two_streaming_workers_read_disjoint_shards_and_agree(tmp_path, stream_dir):
    procs = _start_cluster(str(tmp_path / "run"), stream_dir=stream_dir)
    try:
        outputs = [_result(p, with_output=True) for p in procs]
    finally:
        _kill_all(procs)
    assert outputs[0][0]["test"] == outputs[1][0]["test"] and outputs[0][0]["replicas"] == 2
    # Worker i reads shards i, i + 2, ...: disjoint, and together all 9.
    read = [re.search(r"input pipeline (\d) of 2 reads training shards (\[[\d, ]*\]) of 9", out).groups()
            for _, out in outputs]
    assert sorted((int(p), json.loads(shards)) for p, shards in read) == [(0, [0, 2, 4, 6, 8]), (1, [1, 3, 5, 7])]
    assert outputs[0][0]["test"]["hr@20"] > 20.0  # it learned (popularity alone is a few per cent here)


def test_a_killed_streaming_process_resumes_inside_the_epoch_and_matches(tmp_path, stream_dir):
    runs = {}
    for name in ("uninterrupted", "killed"):
        model_dir = str(tmp_path / name)
        if name == "killed":
            proc = _start(model_dir, "default", stream_dir=stream_dir)
            try:
                _kill_inside_epoch_2(model_dir, [proc], proc)
            finally:
                _kill_all([proc])
        proc = _start(model_dir, "default", stream_dir=stream_dir)
        try:
            runs[name] = _result(proc)
        finally:
            _kill_all([proc])
    info = json.load(open(os.path.join(str(tmp_path / "killed"), "run_info.json")))
    assert [(s["epochs_done_at_start"], s["batches_done_at_start"] > 0) for s in info["sessions"]] == [
        (0, False), (1, True)]
    # The stream skips the batches the checkpoint covers without reading them and goes on with the same ones.
    assert runs["killed"]["test"] == runs["uninterrupted"]["test"]
