"""The training loop under MirroredStrategy on 2 logical CPU devices gives the
same metrics as on one device (same seed, same global batch), over 2 epochs.

An equality check, so the data are small: synthetic sessions over 3,000 items
(enough that a batch's nodes are spread over many candidates), hidden size 32,
learning rate 0.01 so that two short epochs learn more than popularity."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = r"""
import json, os, sys
import numpy as np
from tagnn_tf.config import DataConfig, DistributeConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.training.strategies import make_strategy
devices = int(sys.argv[2])
strategy = make_strategy(DistributeConfig(strategy="mirrored" if devices > 1 else "default", num_devices=devices))
from tagnn_tf.training.trainer import train
data = DataConfig(synthetic_num_items=3000, synthetic_num_sessions=2000, synthetic_seed=3)
cfg = ExperimentConfig(model=ModelConfig(hidden_size=32, repeat_mechanism=sys.argv[4]), data=data,
                       train=TrainConfig(batch_size=100, epochs=2, learning_rate=0.01, train_candidates=sys.argv[3],
                                         num_negatives=200))
result = train(cfg, sys.argv[1], strategy=strategy, log=lambda m: None)
print("RESULT" + json.dumps({"test": result["test"], "replicas": strategy.num_replicas_in_sync}))
"""

def _run(model_dir, devices, train_candidates="full", repeat_mechanism="none"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", SCRIPT, model_dir, str(devices), train_candidates, repeat_mechanism],
                         cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_mirrored_two_devices_matches_single_device(tmp_path):
    one = _run(str(tmp_path / "one"), 1)
    two = _run(str(tmp_path / "two"), 2)
    print("single device", one["test"], "\nmirrored x2", two["test"])
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # Same global batches; only the summation order differs. Tolerance: 0.5 points.
    for k, v in one["test"].items():
        assert two["test"][k] == pytest.approx(v, abs=0.5), (one, two)


def test_sampled_training_under_mirrored_two_devices(tmp_path):
    # Each replica draws its own shared negatives (the seed holds the replica id),
    # so the runs are not equal; both must train and rank the whole catalogue alike.
    one = _run(str(tmp_path / "one"), 1, "sampled")
    two = _run(str(tmp_path / "two"), 2, "sampled")
    print("sampled single device", one["test"], "\nsampled mirrored x2", two["test"])
    assert (one["replicas"], two["replicas"]) == (1, 2)
    assert two["test"]["hr@20"] == pytest.approx(one["test"]["hr@20"], abs=3.0), (one, two)
    assert one["test"]["hr@20"] > 20, one  # popularity on these data: under 5


def test_the_repeat_mechanism_under_mirrored_two_devices_matches_single_device(tmp_path):
    one = _run(str(tmp_path / "one"), 1, "full", "repeat_explore")
    two = _run(str(tmp_path / "two"), 2, "full", "repeat_explore")
    assert (one["replicas"], two["replicas"]) == (1, 2)
    for k in ("hr@20", "mrr@20", "repeat/hr@20", "new/hr@20"):
        assert two["test"][k] == pytest.approx(one["test"][k], abs=0.5), (one, two)
