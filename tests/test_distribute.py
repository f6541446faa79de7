"""The training loop under MirroredStrategy on 2 logical CPU devices gives the
same metrics as on one device (same seed, same global batch)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = r"""
import json, os, sys
import tensorflow as tf
devices = int(sys.argv[2])
if devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)])
else:
    strategy = tf.distribute.get_strategy()
from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
from tagnn_tf.training.trainer import train
cfg = ExperimentConfig(data=DataConfig(synthetic_num_items=300, synthetic_num_sessions=2500, synthetic_seed=1),
                       train=TrainConfig(batch_size=50, epochs=1))
result = train(cfg, sys.argv[1], strategy=strategy, log=lambda m: None)
print("RESULT" + json.dumps({"test": result["test"], "replicas": strategy.num_replicas_in_sync}))
"""


def _run(model_dir, devices):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", SCRIPT, model_dir, str(devices)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_mirrored_two_devices_matches_single_device(tmp_path):
    one = _run(str(tmp_path / "one"), 1)
    two = _run(str(tmp_path / "two"), 2)
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # Same global batches; only the summation order differs. Tolerance: 0.5 points.
    for k, v in one["test"].items():
        assert two["test"][k] == pytest.approx(v, abs=0.5), (one, two)
