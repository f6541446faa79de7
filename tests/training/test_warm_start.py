"""Warm start on tomorrow's catalogue: items matched by raw id, every other weight copied."""

import pickle

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.models import model_builder
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.errors import InputError
from tagnn_tf.training.trainer import Trainer, train


def _dataset(folder, items, seed):
    """Sessions over `items` (numbers 1..len), SR-GNN files plus items.txt."""
    rng = np.random.default_rng(seed)
    sessions = [rng.integers(1, len(items) + 1, int(rng.integers(2, 6))).tolist() for _ in range(300)]
    folder.mkdir(parents=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps(sessions[:250]))
    test = ([s[:-1] for s in sessions[250:]], [s[-1] for s in sessions[250:]])
    (folder / "test.txt").write_bytes(pickle.dumps(test))
    (folder / "items.txt").write_text("".join(f"{i}\n" for i in items))


def _config(tmp_path, dataset, **train_fields):
    return ExperimentConfig(model=ModelConfig(hidden_size=8), data=DataConfig(dataset=dataset, data_dir=str(tmp_path)),
                            train=TrainConfig(batch_size=25, epochs=1, **train_fields))


def _scores(model, sessions):
    return model(densify(tf.ragged.constant(sessions, dtype=tf.int64))).numpy()


def test_shared_items_score_as_in_the_old_model_before_training(tmp_path):
    yesterday = [f"sku-{k}" for k in range(40)]
    # Tomorrow: sku-0..9 left the catalogue, sku-40..49 are new, and the numbering is shuffled.
    tomorrow = list(np.random.default_rng(1).permutation([f"sku-{k}" for k in range(10, 50)]))
    _dataset(tmp_path / "day1", yesterday, seed=0)
    _dataset(tmp_path / "day2", tomorrow, seed=1)
    old_dir = str(tmp_path / "run1")
    train(_config(tmp_path, "day1"), old_dir, log=lambda _: None)
    messages = []
    trainer = Trainer(_config(tmp_path, "day2", warm_start_from=old_dir), str(tmp_path / "run2"),
                      log=messages.append)
    assert any("30 items keep their trained embeddings, 10 new, 10 dropped" in m for m in messages), messages
    _, old_model = model_builder.load_run(old_dir)
    shared = [f"sku-{k}" for k in (12, 31, 17, 25, 39)]
    old_number = {item: n for n, item in enumerate(yesterday, start=1)}
    new_number = {item: n for n, item in enumerate(tomorrow, start=1)}
    sessions = [shared[:3], shared[2:], [shared[0], shared[4], shared[0]]]
    old = _scores(old_model, [[old_number[i] for i in s] for s in sessions])
    new = _scores(trainer.model, [[new_number[i] for i in s] for s in sessions])
    for item in [f"sku-{k}" for k in range(10, 40)]:  # every shared item, as a candidate
        np.testing.assert_allclose(new[:, new_number[item] - 1], old[:, old_number[item] - 1], atol=1e-5,
                                   err_msg=item)
    trainer.close()
    # Training then goes on from the warm-started weights.
    result = train(_config(tmp_path, "day2", warm_start_from=old_dir), str(tmp_path / "run2"), log=messages.append)
    assert result["selected_epoch"] == 1


def test_warm_start_needs_the_same_architecture(tmp_path):
    _dataset(tmp_path / "day1", [f"sku-{k}" for k in range(30)], seed=0)
    old_dir = str(tmp_path / "run1")
    train(_config(tmp_path, "day1"), old_dir, log=lambda _: None)
    config = _config(tmp_path, "day1", warm_start_from=old_dir)
    config = ExperimentConfig(model=ModelConfig(hidden_size=16), data=config.data, train=config.train)
    with pytest.raises(InputError, match=r"its model differs in \['hidden_size'\]"):
        train(config, str(tmp_path / "run2"), log=lambda _: None)
    # Vectors learned to be read normalised are other weights than raw ones.
    config = ExperimentConfig(model=ModelConfig(hidden_size=8, item_norm_scale=8.0), data=config.data,
                              train=config.train)
    with pytest.raises(InputError, match=r"its model differs in \['item_norm_scale'\] \(item_norm_scale=0.0 vs 8.0"):
        train(config, str(tmp_path / "run3"), log=lambda _: None)


def test_the_repeat_mechanism_is_carried_over_and_may_start_fresh(tmp_path):
    items = [f"sku-{k}" for k in range(40)]
    _dataset(tmp_path / "day1", items, seed=0)
    _dataset(tmp_path / "day2", items[5:] + ["sku-new"], seed=1)

    def config(dataset, mechanism, gate="session", **train_fields):
        return ExperimentConfig(model=ModelConfig(hidden_size=8, repeat_mechanism=mechanism, repeat_gate=gate),
                                data=DataConfig(dataset=dataset, data_dir=str(tmp_path)),
                                train=TrainConfig(batch_size=25, epochs=1, **train_fields))

    old_dir = str(tmp_path / "run1")
    train(config("day1", "repeat_explore"), old_dir, log=lambda _: None)
    _, old_model = model_builder.load_run(old_dir)
    trainer = Trainer(config("day2", "repeat_explore", warm_start_from=old_dir), str(tmp_path / "run2"),
                      log=lambda _: None)
    for new, old in zip(trainer.model.repeat.get_weights(), old_model.repeat.get_weights()):
        np.testing.assert_array_equal(new, old)
    # The same sessions of shared items get the same repeat gate and node logits (old numbers = new + 5).
    sessions = [[10, 12, 10], [7, 30]]
    features = {k: densify(tf.ragged.constant(s, dtype=tf.int64)) for k, s in
                (("old", [[i + 5 for i in s] for s in sessions]), ("new", sessions))}

    def repeat_outputs(model, inputs):
        nodes, counts = model._nodes(inputs)
        return model.repeat_scores(inputs, nodes, model.readout(nodes, counts, inputs["last_node"]))

    for a, b in zip(repeat_outputs(trainer.model, features["new"]), repeat_outputs(old_model, features["old"])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    trainer.close()
    # To the gate that also reads the session's history: the old weights are copied, the history's start at 0,
    # so the new run starts with the old gate and repeat logits.
    trainer = Trainer(config("day2", "repeat_explore", "history", warm_start_from=old_dir), str(tmp_path / "run4"),
                      log=lambda _: None)
    np.testing.assert_array_equal(trainer.model.repeat.history_weights.numpy(), [0.0, 0.0])
    for a, b in zip(repeat_outputs(trainer.model, features["new"]), repeat_outputs(old_model, features["old"])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    trainer.close()
    # From a run without the mechanism: everything else is copied, the repeat layer starts fresh.
    plain_dir = str(tmp_path / "plain")
    train(config("day1", "none"), plain_dir, log=lambda _: None)
    messages = []
    result = train(config("day2", "repeat_explore", warm_start_from=plain_dir), str(tmp_path / "run3"),
                   log=messages.append)
    assert any("warm start" in m for m in messages) and np.isfinite(result["test"]["hr@20"])


def test_a_bad_source_is_refused_before_the_new_run_directory_is_written(tmp_path):
    from tagnn_tf import run_lock

    _dataset(tmp_path / "day1", [str(k) for k in range(1, 31)], seed=0)  # integer-looking raw ids
    old_dir = tmp_path / "run1"
    train(_config(tmp_path, "day1"), str(old_dir), log=lambda _: None)
    new_dir = tmp_path / "run2"

    def refused(fragment):
        with pytest.raises(InputError, match=fragment):
            train(_config(tmp_path, "day1", warm_start_from=str(old_dir)), str(new_dir), log=lambda _: None)
        assert not new_dir.exists()  # the corrected command is not refused afterwards

    # A typo in the path.
    with pytest.raises(InputError, match="no such run directory"):
        train(_config(tmp_path, "day1", warm_start_from=str(tmp_path / "rnu1")), str(new_dir), log=lambda _: None)
    assert not new_dir.exists()
    # A source still training: its lock is held by a live process (this one).
    assert run_lock.claim_run(str(old_dir)) is None
    refused("is .*: wait until it finishes")
    run_lock.release_run(str(old_dir))
    # A source whose items.txt has a line too many: its ids cannot be matched.
    items = (old_dir / "items.txt").read_text()
    (old_dir / "items.txt").write_text(items + "31\n")
    refused("holds 31 item ids but that run's model has 30 items")
    # Without items.txt the ids "1".."30" would match items by number: refused, not guessed.
    (old_dir / "items.txt").unlink()
    refused("items.txt not found")
    (old_dir / "items.txt").write_text(items)
    assert train(_config(tmp_path, "day1", warm_start_from=str(old_dir)), str(new_dir), log=lambda _: None)
