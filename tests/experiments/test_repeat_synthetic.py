"""The repeat mechanism's study on a small repeat-heavy synthetic log (`experiments.repeat_synthetic`)."""

import dataclasses
import os

import pytest

from experiments.repeat_synthetic import DATASET, margins, run_study
from experiments.tune_baselines_lib import tries, try_config
from tagnn_tf.config import DataConfig, TrainConfig
from tagnn_tf.data.sessions import load_test_examples
from tagnn_tf.training.trainer import train as train_run


def test_on_a_repeat_heavy_log_the_mechanism_beats_s_pop_and_the_plain_model(tmp_path):
    # 300 items, 2,500 sessions, 45% of next clicks repeat a session item; 2 sampled epochs.
    train = TrainConfig(epochs=2, train_candidates="sampled", num_negatives=200, batch_size=50)
    out = run_study(str(tmp_path), num_items=300, num_sessions=2500, seed=1, repeat_share=0.45,
                    methods=("spop", "tagnn", "tagnn_repeat"), train=train, log=lambda *_: None)
    assert 40 < out["profile"]["test_repeat_share"] < 50
    test = {m: r["test"] for m, r in out["methods"].items()}
    # The target's small version: at least 2 points above S-POP on HR@20 and MRR@20. Not against a tuned
    # STAN: on a log this small it is 12 HR@20 above TAGNN + repeat-explore (results/repeat_synthetic/
    # small_log/, docs/repeat_heavy_logs.md "Small logs"); the full log's benchmark measures that target.
    assert all(v >= 2 for v in margins(out, against=("spop",))["spop"].values()), test
    # The mechanism's gain is on the repeat labels; the post-hoc boost picked a positive weight.
    assert test["tagnn_repeat"]["mrr@20"] > test["tagnn"]["mrr@20"]
    assert test["tagnn_repeat"]["repeat/mrr@20"] > test["tagnn"]["repeat/mrr@20"] + 5
    assert out["methods"]["tagnn_boost"]["boost_weight"] > 0
    # The generator's own probabilities score the same test examples and no method passes them.
    ceiling = out["bayes_optimal"]
    assert ceiling["repeat_share"] == pytest.approx(out["profile"]["test_repeat_share"], abs=0.01)
    for method, metrics in test.items():
        assert ceiling["hr@20"] >= metrics["hr@20"] and ceiling["mrr@20"] >= metrics["mrr@20"], method
    # The log was written as a dataset folder the trainer reads.
    assert len(load_test_examples(os.path.join(str(tmp_path), "data", DATASET))) == out["profile"]["test_examples"]
    # The same try with normalised item vectors (`--item_norm_scale=8`) learns this small log's transitions
    # far faster (results/repeat_synthetic/small_log/: +4.10 HR@20 at the end of a full run): after the
    # same 2 epochs it is well above the learned vectors on HR@20 and MRR@20.
    config = try_config("tagnn_repeat", tries("tagnn_repeat")[0],
                        DataConfig(dataset=DATASET, data_dir=os.path.join(str(tmp_path), "data"), valid_split="time"),
                        train)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, item_norm_scale=8.0))
    normalised = train_run(config, str(tmp_path / "item_norm"), log=lambda *_: None)["test"]
    assert normalised["hr@20"] > test["tagnn_repeat"]["hr@20"] + 3, (normalised, test["tagnn_repeat"])
    assert normalised["mrr@20"] > test["tagnn_repeat"]["mrr@20"] + 1, (normalised, test["tagnn_repeat"])
