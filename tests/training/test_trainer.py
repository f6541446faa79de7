"""End-to-end training runs on small synthetic data: files, resume, errors."""

import dataclasses
import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

from tagnn_tf.model_registry import NEURAL_MODELS
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.errors import DataFileError
from tagnn_tf import run_directory
from tagnn_tf.training.model_selection import bad_epochs, summarize
from tagnn_tf.training.trainer import train
from conftest import ROOT

SMALL = dict(synthetic_num_items=300, synthetic_num_sessions=2500, synthetic_seed=1)


def _config(**train):
    return ExperimentConfig(data=DataConfig(**SMALL), train=TrainConfig(**{"batch_size": 50, **train}))


def _quiet(_):
    pass


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("run") / "m")
    result = train(_config(epochs=2), model_dir, log=_quiet)
    return model_dir, result


def test_run_files_and_metrics_format(two_epoch_run):
    model_dir, result = two_epoch_run
    rows = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert set(r) == {"epoch", "seconds", "eval_seconds", "val", "test"} and r["seconds"] > 0 < r["eval_seconds"]
        for split in ("val", "test"):
            overall = {"hr@10", "hr@20", "mrr@10", "mrr@20"}
            # Overall, and on the labels that repeat a session item and on the others.
            assert set(r[split]) == overall | {f"{s}/{k}" for s in ("repeat", "new") for k in overall} | {
                "repeat_share"}
            assert 0 <= r[split]["mrr@20"] <= r[split]["hr@20"] <= 100
    config = json.load(open(os.path.join(model_dir, "config.json")))
    # The catalogue size has one home, resolved from the data.
    assert config["data"]["num_items"] == 300 and "num_items" not in config["model"]
    assert config["train"]["batch_size"] == 50
    # Data without a vocabulary get the identity one, so every run records one.
    assert open(os.path.join(model_dir, "items.txt")).read().splitlines() == [str(i) for i in range(1, 301)]
    info = json.load(open(os.path.join(model_dir, "run_info.json")))
    assert len(info["sessions"]) == 1 and info["sessions"][0]["git_commit"]
    assert info["sessions"][0]["machine"]["cpu_count"] >= 1
    assert result["selected_epoch"] in (1, 2)
    # Paths inside run files are relative to the run directory.
    written = json.load(open(os.path.join(model_dir, "result.json")))
    assert written["best_model"] == "best.keras" and "model_dir" not in written
    assert model_dir not in json.dumps(written) + json.dumps(info)
    assert result["test"] == rows[result["selected_epoch"] - 1]["test"]
    official = result["best_on_test_official_protocol"]
    assert official["hr@20"] == max(r["test"]["hr@20"] for r in rows)
    assert os.listdir(os.path.join(model_dir, "tensorboard"))
    assert keras.saving.load_model(os.path.join(model_dir, "best.keras")).get_config()["num_items"] == 300
    log = run_directory.read_jsonl(os.path.join(model_dir, "run_log.jsonl"))
    assert [r["lr"] for r in log] == [1e-3, 1e-3] and log[0]["examples_per_sec"] > 0


def test_model_learns_beyond_popularity(two_epoch_run):
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.data.synthetic import popularity_baseline

    _, result = two_epoch_run
    splits = load_splits(DataConfig(**SMALL))
    assert result["test"]["hr@20"] > popularity_baseline(splits.train, splits.test) + 20


def test_resume_matches_uninterrupted_run(two_epoch_run, tmp_path):
    model_dir, _ = two_epoch_run
    resumed = str(tmp_path / "r")
    train(_config(epochs=1), resumed, log=_quiet)
    messages = []
    train(_config(epochs=2), resumed, log=messages.append)
    assert any("resumed from" in m and "epoch 1 done" in m for m in messages)
    sessions = json.load(open(os.path.join(resumed, "run_info.json")))["sessions"]
    assert [s["epochs_done_at_start"] for s in sessions] == [0, 1]
    a = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(resumed, "metrics.jsonl"))
    assert [r["epoch"] for r in b] == [1, 2]
    for ra, rb in zip(a, b):
        for split in ("val", "test"):
            for k in ra[split]:
                assert rb[split][k] == pytest.approx(ra[split][k], abs=0.05), (ra, rb)


class _Crash(Exception):
    pass


def test_resume_inside_an_epoch_matches_uninterrupted_run(two_epoch_run, tmp_path, monkeypatch):
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.training.trainer import DistributedSteps

    model_dir, _ = two_epoch_run
    num_batches = -(-len(load_splits(DataConfig(**SMALL)).train) // 50)
    crash_at = num_batches + 25  # 25 batches into epoch 2; the last save was after batch 20
    calls = []
    original = DistributedSteps.train

    def crashing_train(self, batch, spec):
        calls.append(1)
        if len(calls) == crash_at:
            raise _Crash()
        return original(self, batch, spec)

    resumed = str(tmp_path / "r")
    monkeypatch.setattr(DistributedSteps, "train", crashing_train)
    with pytest.raises(_Crash):
        train(_config(epochs=2, checkpoint_every_steps=10), resumed, log=_quiet)
    monkeypatch.setattr(DistributedSteps, "train", original)
    assert sorted(os.listdir(os.path.join(resumed, "checkpoints")))[-2:] == [
        f"ckpt-{num_batches + 20}.data-00000-of-00001", f"ckpt-{num_batches + 20}.index"]
    messages = []
    train(_config(epochs=2, checkpoint_every_steps=10), resumed, log=messages.append)
    assert any(f"epoch 1 done, 20 batches of epoch 2" in m for m in messages), messages
    assert any("epoch 2/2" in m and "resuming after batch 20" in m for m in messages), messages
    sessions = json.load(open(os.path.join(resumed, "run_info.json")))["sessions"]
    assert [(s["epochs_done_at_start"], s["batches_done_at_start"]) for s in sessions] == [(0, 0), (1, 20)]
    # The resumed epoch trains on the same batches in the same order from the
    # same weights and optimizer state: the metrics and mean loss are the
    # uninterrupted run's.
    a = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(resumed, "metrics.jsonl"))
    assert [r["epoch"] for r in b] == [1, 2]
    assert [r["test"] for r in b] == [r["test"] for r in a]
    assert [r["val"] for r in b] == [r["val"] for r in a]
    la = run_directory.read_jsonl(os.path.join(model_dir, "run_log.jsonl"))
    lb = run_directory.read_jsonl(os.path.join(resumed, "run_log.jsonl"))
    assert [r["train_loss"] for r in lb] == pytest.approx([r["train_loss"] for r in la], abs=1e-4)


def test_crash_between_checkpoint_and_metrics_is_recovered(tmp_path):
    model_dir = str(tmp_path / "c")
    train(_config(epochs=1, steps_per_epoch=5), model_dir, log=_quiet)
    path = os.path.join(model_dir, "metrics.jsonl")
    first = run_directory.read_jsonl(path)
    with open(path, "w") as f:  # as if the process died after the checkpoint was saved
        f.write("")
    train(_config(epochs=1, steps_per_epoch=5), model_dir, log=_quiet)
    again = run_directory.read_jsonl(path)
    assert [r["epoch"] for r in again] == [1]
    assert again[0]["test"] == pytest.approx(first[0]["test"])


def test_lost_checkpoints_set_the_old_logs_aside_and_retrain(tmp_path):
    import shutil

    model_dir = str(tmp_path / "lost")
    train(_config(epochs=2, steps_per_epoch=5), model_dir, log=_quiet)
    first = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    shutil.rmtree(os.path.join(model_dir, "checkpoints"))  # as on a fresh machine
    messages = []
    train(_config(epochs=1, steps_per_epoch=5), model_dir, log=messages.append)
    assert any("checkpoints were lost" in m and "redoes epochs 1 onwards" in m for m in messages)
    kept = os.path.join(model_dir, "abandoned-attempt-1")
    assert run_directory.read_jsonl(os.path.join(kept, "metrics.jsonl")) == first
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(kept, "run_log.jsonl"))] == [1, 2]
    # The new attempt's logs hold its own epoch only; same seed, so epoch 1 repeats.
    again = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    assert [r["epoch"] for r in again] == [1]
    assert again[0]["test"] == pytest.approx(first[0]["test"], abs=0.05)
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(model_dir, "run_log.jsonl"))] == [1]
    assert os.path.exists(os.path.join(model_dir, "best.keras"))


def test_other_config_in_same_dir_is_refused(two_epoch_run):
    model_dir, _ = two_epoch_run
    before = open(os.path.join(model_dir, "config.json")).read()
    with pytest.raises(ValueError, match="different configuration"):
        train(_config(epochs=2, learning_rate=0.01), model_dir, log=_quiet)
    assert open(os.path.join(model_dir, "config.json")).read() == before


def test_bad_data_fails_before_writing(tmp_path):
    model_dir = str(tmp_path / "never")
    bad = ExperimentConfig(data=DataConfig(dataset="missing", data_dir=str(tmp_path)))
    with pytest.raises(DataFileError, match="data directory not found"):
        train(bad, model_dir, log=_quiet)
    too_small = ExperimentConfig(data=DataConfig(num_items=10, **SMALL))
    with pytest.raises(ValueError, match="num_items=10 is smaller than the largest item id"):
        train(too_small, model_dir, log=_quiet)
    # An id the model cannot hold (int32) is refused at load time, naming the file and record.
    folder = tmp_path / "data" / "huge"
    folder.mkdir(parents=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[3, 4, 9], [3, 4294967301, 9]]))
    (folder / "test.txt").write_bytes(pickle.dumps(([[3]], [4])))
    huge = ExperimentConfig(data=DataConfig(dataset="huge", data_dir=str(tmp_path / "data")))
    with pytest.raises(DataFileError, match=r"all_train_seq.txt: item id is not an integer in .* at record 1"):
        train(huge, model_dir, log=_quiet)
    assert not os.path.exists(model_dir)


def test_early_stopping_and_selection_rules():
    # Validation HR@20 peaks at epoch 2, validation MRR@20 at epoch 3.
    hist = [{"epoch": e, "val": {"hr@20": v, "mrr@20": vm}, "test": {"hr@20": t, "mrr@20": m}}
            for e, v, vm, t, m in [(1, 50, 20, 40, 10), (2, 55, 21, 41, 12), (3, 54, 23, 45, 11),
                                   (4, 53, 22, 44, 13)]]
    assert bad_epochs(hist[:2], "hr@20") == 0 and bad_epochs(hist, "hr@20") == 2
    s = summarize(hist, "hr@20")
    assert s["selected_epoch"] == 2 and s["test"]["hr@20"] == 41
    o = s["best_on_test_official_protocol"]
    assert (o["hr@20"], o["hr@20_epoch"], o["mrr@20"], o["mrr@20_epoch"]) == (45, 3, 13, 4)
    # Each metric at its own best validation epoch: test HR@20 of epoch 2, test MRR@20 of epoch 3.
    p = s["per_metric_validation_selection"]
    assert (p["hr@20"], p["hr@20_epoch"], p["mrr@20"], p["mrr@20_epoch"]) == (41, 2, 11, 3)


def _binary(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


def test_evaluate_binary_recomputes_saved_metrics(two_epoch_run):
    model_dir, result = two_epoch_run
    out = _binary("trainers.evaluate", f"--model_dir={model_dir}")
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout[out.stdout.index("{"):])
    for k, v in result["test"].items():
        assert got["test"][k] == pytest.approx(v, abs=1e-3)
    assert got["val"] == pytest.approx(result["val"], abs=1e-3)


@pytest.mark.parametrize("args,fragment", [
    (["--dataset=nope", "--data_dir=/nonexistent"], "data directory not found"),
    # A value outside a choice: absl's enum check, one line (`tagnn_tf.cli.parse_flags_or_exit`).
    (["--variant=bogus"], "error: flag --variant=bogus: value should be one of <tagnn|local|avg|att|local_att>"),
    (["--no_such_flag=1"], "error: Unknown command line flag 'no_such_flag'"),
    (["--num_items=3", "--synthetic_num_items=50"], "num_items=3 is smaller"),
])
def test_train_binary_errors_are_clear(tmp_path, args, fragment):
    out = _binary("trainers.train", f"--model_dir={tmp_path}/x", *args)
    assert out.returncode != 0 and fragment in out.stderr, out.stderr[-2000:]
    assert not os.path.exists(tmp_path / "x")
    # One line: no traceback, and none of TensorFlow's start-up notices.
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr[-2000:]


@pytest.mark.parametrize("text,fragment", [
    ("not json at all", "config.json: not valid JSON"),
    ("[1, 2]", "config.json: expected a JSON object with sections model, data, train, baseline. Received: list"),
    ("null", "config.json: expected a JSON object with sections model, data, train, baseline. Received: NoneType"),
    ('{"model": [1]}', "config.json: section `model` must be an object"),
    ("{}", "config.json: data.num_items=0 but the saved model has num_items=300"),
    ('{"model": {"hidden_size": 64}, "data": {"num_items": 300}}',
     "config.json: model.hidden_size=64 but the saved model has hidden_size=100"),
    ('{"model": {"variant": "avg"}, "data": {"num_items": 300}}',
     "config.json: model.variant='avg' but the saved model has variant='tagnn'"),
])
def test_evaluate_refuses_a_config_that_does_not_describe_the_model(two_epoch_run, tmp_path, text, fragment):
    import shutil

    model_dir, _ = two_epoch_run
    shutil.copy(os.path.join(model_dir, "best.keras"), tmp_path / "best.keras")
    (tmp_path / "config.json").write_text(text)
    out = _binary("trainers.evaluate", f"--model_dir={tmp_path}")
    assert out.returncode == 1 and fragment in out.stderr, out.stderr[-2000:]
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr[-2000:]


def test_evaluate_binary_on_missing_dir(tmp_path):
    out = _binary("trainers.evaluate", f"--model_dir={tmp_path}")
    assert out.returncode != 0 and "config.json: not found" in out.stderr


def test_coupled_l2_is_added_to_every_gradient():
    # PyTorch weight_decay: w <- w - lr * (dL/dw + l2 * w), embeddings included.
    import tensorflow as tf

    from tagnn_tf.config import ModelConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.sessions import augment
    from tagnn_tf.models import build_model
    from tagnn_tf.training.trainer import DistributedSteps

    model = build_model(ModelConfig(hidden_size=8), 20, seed=0)
    ds = pipeline.train_dataset(augment([[1, 2, 3, 4], [5, 6, 5], [7, 20]]), 8, seed=0)
    batch = next(iter(ds))
    features, labels = batch
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels - 1, model(features)))
    grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)]
    steps = DistributedSteps(model, keras.optimizers.SGD(learning_rate=1.0), tf.distribute.get_strategy(), 0.5)
    steps.train(batch, ds.element_spec)
    for v, w, g in zip(model.trainable_variables, before, grads):
        np.testing.assert_allclose(v.numpy(), w - (g + 0.5 * w), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_training_stops_after_patience_epochs_without_improvement(tmp_path):
    # A learning rate of 1e-12 leaves the model (and so the validation HR@20) unchanged:
    # epoch 1 is the best, epochs 2 and 3 do not improve, patience 2 stops after epoch 3 of 10.
    result = train(_config(epochs=10, patience=2, learning_rate=1e-12, l2=0.0, steps_per_epoch=3,
                           max_eval_examples=300), str(tmp_path / "e"), log=_quiet)
    rows = run_directory.read_jsonl(str(tmp_path / "e" / "metrics.jsonl"))
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert result["selected_epoch"] == 1 and result["epochs_run"] == 3


def test_micro_batches_give_the_same_update():
    # Summed gradients of 3 slices of the batch = the gradient of the whole batch.
    import tensorflow as tf

    from tagnn_tf.config import ModelConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.sessions import augment
    from tagnn_tf.models import build_model
    from tagnn_tf.training.trainer import DistributedSteps

    ds = pipeline.train_dataset(augment([[1, 2, 3, 4, 2], [5, 6, 5], [7, 20], [3, 9, 11]]), 10, seed=0)
    batch = next(iter(ds))
    after = []
    for parts in (1, 3):
        model = build_model(ModelConfig(hidden_size=8), 20, seed=0)
        steps = DistributedSteps(model, keras.optimizers.SGD(learning_rate=1.0), tf.distribute.get_strategy(),
                                 1e-3, micro_batches=parts)
        loss = float(steps.train(batch, ds.element_spec))
        after.append((loss, [v.numpy() for v in model.trainable_variables]))
    assert after[1][0] == pytest.approx(after[0][0], rel=1e-6)
    for a, b in zip(after[0][1], after[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


def test_official_padding_diagnostic_trains_and_reevaluates(tmp_path):
    # padding="official" reads each split's longest session as the padded
    # length, in training and in both evaluations; re-evaluating the saved
    # model must give the run's own figures (so both use the same lengths).
    from tagnn_tf.config import ModelConfig
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.training.evaluation import evaluate_run
    from tagnn_tf.training.trainer import padded_length

    config = dataclasses.replace(_config(epochs=1, steps_per_epoch=10), model=ModelConfig(padding="official"))
    result = train(config, str(tmp_path / "m"), log=_quiet)
    again = evaluate_run(str(tmp_path / "m"))
    assert again["test"] == pytest.approx(result["test"], abs=1e-3)
    model = keras.saving.load_model(str(tmp_path / "m" / "best.keras"))
    splits = load_splits(config.data)
    assert padded_length(model, splits.test) == max(len(splits.test.prefix(i)) for i in range(len(splits.test)))


def test_a_second_trainer_on_the_same_dir_is_refused_until_the_first_is_gone(tmp_path):
    from tagnn_tf.errors import InputError
    from tagnn_tf.run_lock import LOCK_FILE

    model_dir = tmp_path / "run"
    model_dir.mkdir()
    # Another live process holds the run (as a first trainer does while it trains).
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from tagnn_tf.run_lock import claim_run; "
                               "assert claim_run(sys.argv[1]) is None; print('held', flush=True); time.sleep(300)",
                               str(model_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        short = _config(epochs=1, steps_per_epoch=3, max_eval_examples=100)
        with pytest.raises(InputError, match=f"being trained by process {holder.pid}: two trainers must not share"):
            train(short, str(model_dir), log=_quiet)
        assert sorted(os.listdir(model_dir)) == [LOCK_FILE]  # nothing written beside the holder's lock
    finally:
        holder.kill()
        holder.wait(timeout=60)
    # The holder is gone: its lock is stale, taken over, and released at the end.
    result = train(short, str(model_dir), log=_quiet)
    assert result["selected_epoch"] == 1
    assert not (model_dir / LOCK_FILE).exists()


@pytest.fixture(scope="module")
def checkpointed_reference(tmp_path_factory):
    """An uninterrupted 2-epoch run of 20 batches per epoch, checkpointed every 5 batches."""
    model_dir = str(tmp_path_factory.mktemp("reference") / "m")
    train(_config(epochs=2, steps_per_epoch=20, checkpoint_every_steps=5), model_dir, log=_quiet)
    return run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "delete"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, checkpointed_reference, damage):
    model_dir = str(tmp_path / "m")
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    train(_config(epochs=1, steps_per_epoch=20, checkpoint_every_steps=5), model_dir, log=_quiet)
    # Epoch 1 kept ckpt-15 (inside it) and ckpt-20 (its end); damage the newest.
    assert sorted(n for n in os.listdir(ckpt_dir) if n.endswith(".index")) == ["ckpt-15.index", "ckpt-20.index"]
    data = os.path.join(ckpt_dir, "ckpt-20.data-00000-of-00001")
    if damage == "truncate":
        with open(data, "r+b") as f:
            f.truncate(os.path.getsize(data) // 2)
    elif damage == "corrupt":
        with open(os.path.join(ckpt_dir, "ckpt-20.index"), "r+b") as f:
            f.write(b"\0" * 64)
    else:
        for name in os.listdir(ckpt_dir):
            if name.startswith("ckpt-20."):
                os.remove(os.path.join(ckpt_dir, name))
    messages = []
    train(_config(epochs=2, steps_per_epoch=20, checkpoint_every_steps=5), model_dir, log=messages.append)
    # The log names the checkpoint relative to the run directory (no absolute path of this machine).
    assert any(m.startswith("resumed from checkpoints/ckpt-15 (epoch 0 done, 15 batches of epoch 1)")
               for m in messages), messages
    if damage != "delete":
        assert any("ckpt-20 could not be restored" in m for m in messages), messages
        assert sorted(os.listdir(os.path.join(ckpt_dir, "unreadable")))[0].startswith("ckpt-20.")
    # The epoch-1 logs the lost checkpoint covered are kept aside, and the run
    # ends exactly as the uninterrupted one (the same batches from the same state).
    assert [r["epoch"] for r in run_directory.read_jsonl(
        os.path.join(model_dir, "abandoned-attempt-1", "metrics.jsonl"))] == [1]
    rows = run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))
    assert [r["test"] for r in rows] == [r["test"] for r in checkpointed_reference]
    assert sorted(n for n in os.listdir(ckpt_dir) if n.endswith(".index")) == ["ckpt-35.index", "ckpt-40.index"]


def test_a_run_none_of_whose_checkpoints_restores_stops_and_moves_nothing(tmp_path):
    from tagnn_tf.errors import InputError

    model_dir = str(tmp_path / "m")
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    config = _config(epochs=1, steps_per_epoch=10, checkpoint_every_steps=5, max_eval_examples=100)
    train(config, model_dir, log=_quiet)
    for name in ("ckpt-5.index", "ckpt-10.index"):
        with open(os.path.join(ckpt_dir, name), "r+b") as f:
            f.write(b"\0" * 64)
    before = sorted(os.listdir(ckpt_dir))
    with pytest.raises(InputError, match="none of the checkpoints in .* restores: ckpt-10: .*; ckpt-5: "):
        train(dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=2)), model_dir, log=_quiet)
    assert sorted(os.listdir(ckpt_dir)) == before
    assert [r["epoch"] for r in run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))] == [1]


@pytest.mark.parametrize("name", NEURAL_MODELS)
def test_every_model_resumes_inside_and_between_epochs_exactly(name, tmp_path, monkeypatch):
    # Two epochs of 12 batches, a checkpoint every 5: killed 8 batches into epoch 1 (the last save after
    # batch 5) and rerun, then stopped after epoch 1 and continued; both equal the uninterrupted run,
    # dropout (NARM) included: its random state is in the checkpoint.
    from tagnn_tf.training.trainer import DistributedSteps

    def config(epochs):
        return ExperimentConfig(model=ModelConfig(name=name, hidden_size=16),
                                data=DataConfig(synthetic_num_items=60, synthetic_num_sessions=400),
                                train=TrainConfig(batch_size=40, epochs=epochs, steps_per_epoch=12,
                                                  checkpoint_every_steps=5))

    reference = str(tmp_path / "reference")
    train(config(2), reference, log=_quiet)
    calls, original = [], DistributedSteps.train

    def crashing_train(self, batch, spec):
        calls.append(1)
        if len(calls) == 8:
            raise _Crash()
        return original(self, batch, spec)

    killed = str(tmp_path / "killed")
    monkeypatch.setattr(DistributedSteps, "train", crashing_train)
    with pytest.raises(_Crash):
        train(config(2), killed, log=_quiet)
    monkeypatch.setattr(DistributedSteps, "train", original)
    train(config(2), killed, log=_quiet)
    stopped = str(tmp_path / "stopped")
    train(config(1), stopped, log=_quiet)
    train(config(2), stopped, log=_quiet)
    expected = [(r["val"], r["test"]) for r in run_directory.read_jsonl(os.path.join(reference, "metrics.jsonl"))]
    for run in (killed, stopped):
        assert [(r["val"], r["test"]) for r in run_directory.read_jsonl(os.path.join(run, "metrics.jsonl"))] == \
            expected, run


def test_a_dataset_without_test_examples_is_refused_before_training(tmp_path):
    from tagnn_tf.errors import InputError

    folder = tmp_path / "empty_test"
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3], [2, 3], [3, 1]] * 20))
    (folder / "test.txt").write_bytes(pickle.dumps(([], [])))
    config = ExperimentConfig(data=DataConfig(dataset="empty_test", data_dir=str(tmp_path)),
                              train=TrainConfig(batch_size=10, epochs=1))
    with pytest.raises(InputError, match="has no test examples"):
        train(config, str(tmp_path / "run"), log=_quiet)
    assert not (tmp_path / "run").exists()
