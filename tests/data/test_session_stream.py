"""Session shards and the streamed input pipeline: the format, the splits, the per-pipeline shards, resume."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from tagnn_tf.config import DataConfig
from tagnn_tf.data import session_shards, session_stream
from tagnn_tf.data.dataset_folder import session_files, write_dataset_files
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.data.sessions import augment, expand_sessions, split_validation
from tagnn_tf.errors import DataFileError, InputError


def _random_sessions(rng, n, max_length=9, num_items=30, min_length=1):
    return [rng.integers(1, num_items + 1, size=int(rng.integers(min_length, max_length + 1))).tolist()
            for _ in range(n)]


def _write(folder, train, test, shard_sessions):
    write_dataset_files(str(folder), session_files(str(folder), train, test, "shards", shard_sessions))
    return str(folder)


def _same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("values", "row_splits", "labels"))


def _example_set(examples):
    return sorted((tuple(examples.prefix(i)), int(examples.labels[i])) for i in range(len(examples)))


def test_expanding_sessions_equals_augment_on_random_sessions():
    rng = np.random.default_rng(0)
    for _ in range(20):
        sessions = _random_sessions(rng, int(rng.integers(1, 40)))
        values, row_splits = session_shards.sessions_to_arrays(sessions)
        assert _same(expand_sessions(values, row_splits), augment(sessions))
        # With a mask, exactly the kept examples, in the same order.
        full = augment(sessions)
        keep = rng.random(len(full)) < 0.5
        assert _same(expand_sessions(values, row_splits, keep), full.take(np.flatnonzero(keep)))


def test_shards_hold_the_sessions_and_the_manifest_counts_them(tmp_path):
    # Sessions of 3, 2 and 1 clicks, 2 sessions a shard: shard 0 holds 5 clicks and 2 + 1 examples,
    # shard 1 one click and no example.
    folder = _write(tmp_path / "d", [[1, 2, 3], [4, 5], [6]], [[2, 1]], shard_sessions=2)
    manifest = session_shards.read_manifest(folder)
    train = manifest.shards("train")
    assert [(s.first_session, s.sessions, s.clicks, s.examples, s.max_length) for s in train] == [
        (0, 2, 5, 3, 3), (2, 1, 1, 0, 1)]
    values, row_splits = session_shards.read_part(manifest, "train")
    assert values.tolist() == [1, 2, 3, 4, 5, 6] and row_splits.tolist() == [0, 3, 5, 6]
    assert manifest.num_items == 6
    # One shard folder; the same output again is accepted and leaves one.
    _write(tmp_path / "d", [[1, 2, 3], [4, 5], [6]], [[2, 1]], shard_sessions=2)
    assert len([n for n in os.listdir(folder) if n.startswith("sessions-")]) == 1


def test_a_crash_while_writing_leaves_the_old_dataset_readable_and_the_next_write_cleans_up(tmp_path):
    folder = _write(tmp_path / "d", [[1, 2, 3], [4, 5]], [[2, 1]], shard_sessions=1)
    before = session_shards.read_part(session_shards.read_manifest(folder), "train")
    # A writer killed before switching the manifest: staged shards of a dead process, and a moved-in
    # shard folder the manifest does not name.
    os.makedirs(os.path.join(folder, ".sessions-staging-999999999"))
    os.makedirs(os.path.join(folder, "sessions-0123456789abcdef"))
    after = session_shards.read_part(session_shards.read_manifest(folder), "train")
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    write_dataset_files(folder, session_files(folder, [[3, 2, 1]], [[1, 2]], "shards", 1), overwrite=True)
    names = sorted(os.listdir(folder))
    assert len([n for n in names if "sessions-" in n]) == 1 and names[-1] == "shards.json", names
    assert session_shards.read_part(session_shards.read_manifest(folder), "train")[0].tolist() == [3, 2, 1]


def test_a_damaged_or_missing_shard_is_named(tmp_path):
    folder = _write(tmp_path / "d", [[1, 2, 3], [4, 5]], [[2, 1]], shard_sessions=1)
    manifest = session_shards.read_manifest(folder)
    shard = manifest.shards("train")[1]
    with open(os.path.join(folder, shard.file), "r+b") as f:
        f.truncate(20)
    with pytest.raises(DataFileError, match=f"{shard.file}: cannot be read as a session shard"):
        session_shards.read_shard(manifest, shard)
    os.remove(os.path.join(folder, shard.file))
    with pytest.raises(DataFileError, match=f"shards.json: names {shard.file}, which is missing"):
        session_shards.read_manifest(folder)
    with open(os.path.join(folder, "shards.json"), "w") as f:
        json.dump({"format": "something-else"}, f)
    with pytest.raises(DataFileError, match="not a session-shards manifest"):
        session_shards.read_manifest(folder)


@pytest.mark.parametrize("shard_sessions", [1, 7, 1000])
@pytest.mark.parametrize("portion", [0.05, 0.3, 0.999])
def test_the_streamed_time_split_holds_out_what_the_in_memory_split_holds_out(tmp_path, shard_sessions, portion):
    rng = np.random.default_rng(shard_sessions)
    sessions = _random_sessions(rng, 120)  # some of one click: sessions without examples
    folder = _write(tmp_path / "d", sessions, [[1, 2]], shard_sessions)
    config = DataConfig(dataset="d", data_dir=str(tmp_path), valid_split="time", valid_portion=portion)
    memory = load_splits(config)
    streamed = load_splits(DataConfig(**{**config.__dict__, "input_pipeline": "stream"}))
    for name in ("train", "valid"):
        stream = getattr(streamed, name)
        assert _same(session_stream.concat_examples([stream.examples(s) for s in stream.shards]),
                     getattr(memory, name))
        assert len(stream) == len(getattr(memory, name))


@pytest.mark.parametrize("how", ["examples", "sessions"])
def test_the_streamed_hash_splits_hold_out_about_the_portion_disjointly(tmp_path, how):
    rng = np.random.default_rng(3)
    sessions = _random_sessions(rng, 3000, min_length=2)
    folder = _write(tmp_path / "d", sessions, [[1, 2]], 500)
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), valid_split=how, valid_portion=0.2,
                                    input_pipeline="stream"))
    train = session_stream.concat_examples([splits.train.examples(s) for s in splits.train.shards])
    valid = session_stream.concat_examples([splits.valid.examples(s) for s in splits.valid.shards])
    assert sorted(_example_set(train) + _example_set(valid)) == _example_set(augment(sessions))
    assert len(valid) / (len(train) + len(valid)) == pytest.approx(0.2, abs=0.03)
    if how == "sessions":  # whole sessions: a held-out session has no example in training
        held = {g for s in splits.valid.shards for g in splits.valid.positions(s)[0].tolist()}
        kept = {g for s in splits.train.shards for g in splits.train.positions(s)[0].tolist()}
        assert held and not held & kept


def test_each_pipeline_reads_its_own_shards_and_together_they_read_every_example(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    sessions = _random_sessions(rng, 200, min_length=2)
    folder = _write(tmp_path / "d", sessions, [[1, 2]], 20)  # 10 shards
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), input_pipeline="stream",
                                    valid_split="sessions", stream_block_shards=2))
    read = []
    original = session_shards.read_shard
    monkeypatch.setattr(session_shards, "read_shard", lambda m, s: (read.append(s.file), original(m, s))[1])
    seen, files = [], []
    for p in range(3):
        read.clear()
        batches = list(session_stream.train_batches(splits.train, 16, seed=9, pipeline_id=p, num_pipelines=3))
        files.append(set(read))
        seen += [e for b in batches for e in _example_set(b)]
    assert [len(f) for f in files] == [4, 3, 3]  # shards p, p + 3, ...
    assert not (files[0] & files[1] or files[0] & files[2] or files[1] & files[2])
    expected = session_stream.concat_examples([splits.train.examples(s) for s in splits.train.shards])
    assert sorted(seen) == _example_set(expected)
    with pytest.raises(InputError, match="11 input pipelines .workers. need at least as many training shards"):
        session_stream.steps_per_epoch(splits.train, 100, num_pipelines=11)


def test_skipping_batches_reads_only_the_block_the_run_stopped_in(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    folder = _write(tmp_path / "d", _random_sessions(rng, 300, min_length=2), [[1, 2]], 30)
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), input_pipeline="stream",
                                    stream_block_shards=3))
    whole = [_example_set(b) for b in session_stream.train_batches(splits.train, 10, seed=4)]
    again = [_example_set(b) for b in session_stream.train_batches(splits.train, 10, seed=4)]
    other = [_example_set(b) for b in session_stream.train_batches(splits.train, 10, seed=5)]
    assert whole == again and whole != other
    read = []
    original = session_shards.read_shard
    monkeypatch.setattr(session_shards, "read_shard", lambda m, s: (read.append(s.file), original(m, s))[1])
    skip = len(whole) - 5  # inside the last block (3 + 3 + 3 + 1 shards): only that block is read
    tail = [_example_set(b) for b in session_stream.train_batches(splits.train, 10, seed=4, skip_batches=skip)]
    assert tail == whole[skip:]
    assert len(read) == 1
    # The steps of an epoch: floor(examples / batch), which every grouping of shards into blocks reaches.
    assert session_stream.steps_per_epoch(splits.train, 10) == len(splits.train) // 10 <= len(whole)


def test_the_dataset_yields_the_planned_batches_gathered_in_graph(tmp_path):
    # train_dataset hands each block to the graph and gathers its batches there; they must be
    # train_batches' NumPy batches, in order, after a skip and for each of 2 pipelines too.
    import tensorflow as tf

    rng = np.random.default_rng(7)
    _write(tmp_path / "d", _random_sessions(rng, 240, min_length=2), [[1, 2]], 30)  # 8 shards
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), input_pipeline="stream",
                                    stream_block_shards=3))

    def as_examples(ds):
        return [(f["values"].numpy().tolist(), f["lengths"].numpy().tolist(), y.numpy().tolist()) for f, y in ds]

    def expected(batches):
        return [(b.values.tolist(), b.lengths.tolist(), b.labels.tolist()) for b in batches]

    identity = lambda s: {"values": s.values, "lengths": s.row_lengths()}  # noqa: E731
    steps = session_stream.steps_per_epoch(splits.train, 10)
    got = as_examples(session_stream.train_dataset(splits.train, 10, seed=3, skip_batches=4, preprocessor=identity))
    assert got == expected(session_stream.train_batches(splits.train, 10, seed=3, skip_batches=4))[:steps - 4]
    for p in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=p, num_replicas_in_sync=2)
        got = as_examples(session_stream.train_dataset(splits.train, 20, seed=3, input_context=context,
                                                       preprocessor=identity))
        want = expected(session_stream.train_batches(splits.train, 10, seed=3, pipeline_id=p, num_pipelines=2))
        assert got == want[:session_stream.steps_per_epoch(splits.train, 20, 2, 2)]


def test_evaluation_blocks_skip_empty_shards_and_give_every_replica_an_example(tmp_path):
    # One session a shard: examples per shard (clicks - 1) are 0, 1, 0, 3, 1.
    folder = _write(tmp_path / "d", [[1], [1, 2], [3], [1, 2, 3, 4], [5, 6]], [[1, 2]], 1)
    stream = session_stream.SessionStream(session_shards.read_manifest(folder), "train", block_shards=2)
    assert stream.counts.tolist() == [0, 1, 0, 3, 1]
    blocks = [(b.tolist(), k.tolist()) for b, k in session_stream.eval_blocks(stream)]
    assert blocks == [([1, 3], [1, 3]), ([4], [1])]  # shards 0 and 2 are never read
    # With 2 replicas the last block (1 example) joins the one before; max_examples cuts shard 3 to 2.
    assert [(b.tolist(), k.tolist()) for b, k in session_stream.eval_blocks(stream, replicas=2)] == [
        ([1, 3, 4], [1, 3, 1])]
    assert [(b.tolist(), k.tolist()) for b, k in session_stream.eval_blocks(stream, 2, max_examples=3)] == [
        ([1, 3], [1, 2])]


def test_streamed_evaluation_on_two_replicas_scores_every_example_once(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(3)
    # 1-session shards, many with a single example: blocks of 2 shards hold 1 to 2 examples.
    _write(tmp_path / "d", [[1, 2]] + _random_sessions(rng, 9, max_length=3, min_length=2), [[1, 2]], 1)
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), input_pipeline="stream",
                                    stream_block_shards=2, valid_split="sessions"))
    stream = splits.train
    identity = lambda s: {"values": s.values, "lengths": s.row_lengths()}  # noqa: E731
    seen = []
    for p in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=p, num_replicas_in_sync=2)
        batches = list(session_stream.eval_dataset(stream, 4, input_context=context, preprocessor=identity))
        assert all(len(y) >= 1 for _, y in batches)  # no replica gets an empty batch
        for f, y in batches:
            values, lengths = f["values"].numpy(), f["lengths"].numpy()
            prefixes = np.split(values, np.cumsum(lengths)[:-1])
            seen += [(tuple(x.tolist()), int(label)) for x, label in zip(prefixes, y.numpy())]
    expected = session_stream.concat_examples([stream.examples(s) for s in stream.shards])
    assert sorted(seen) == _example_set(expected)


def test_streamed_evaluation_scores_like_the_in_memory_pipeline(tmp_path):
    import tensorflow as tf

    from tagnn_tf.config import TrainConfig
    from tagnn_tf.models.model_builder import build_model
    from tagnn_tf.config import ModelConfig
    from tagnn_tf.training.trainer import DistributedSteps, evaluate_examples, target_ranks

    rng = np.random.default_rng(8)
    folder = _write(tmp_path / "d", _random_sessions(rng, 400, min_length=2), _random_sessions(rng, 60, min_length=2),
                    25)
    config = DataConfig(dataset="d", data_dir=str(tmp_path), valid_split="time")
    memory = load_splits(config)
    streamed = load_splits(DataConfig(**{**config.__dict__, "input_pipeline": "stream", "stream_block_shards": 2}))
    model = build_model(ModelConfig(hidden_size=16), memory.num_items, seed=1)
    steps = DistributedSteps(model, None, tf.distribute.get_strategy(), 0.0)
    train_config = TrainConfig(eval_batch_size=32)
    for name in ("valid", "test"):
        assert evaluate_examples(steps, getattr(streamed, name), train_config) == pytest.approx(
            evaluate_examples(steps, getattr(memory, name), train_config), abs=1e-9)
    # The test ranks in shard order, which is the in-memory order.
    assert np.array_equal(target_ranks(model, streamed.test, train_config),
                          target_ranks(model, memory.test, train_config))


def test_streaming_refuses_generated_data_and_a_folder_without_shards(tmp_path):
    with pytest.raises(InputError, match="dataset='synthetic' is generated in memory"):
        load_splits(DataConfig(input_pipeline="stream"))
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3]]))
    with pytest.raises(DataFileError, match="has none. Write them with: python -m trainers.preprocess --format=srgnn"):
        load_splits(DataConfig(dataset="old", data_dir=str(tmp_path), input_pipeline="stream"))


def test_srgnn_pickles_convert_into_shards_that_load_the_same_examples(tmp_path):
    from tagnn_tf.data.sessions import augment_lists, load_test_examples, load_train_examples

    rng = np.random.default_rng(11)
    source = tmp_path / "src" / "shop"
    source.mkdir(parents=True)
    train, test = _random_sessions(rng, 50, min_length=2), _random_sessions(rng, 10, min_length=2)
    (source / "all_train_seq.txt").write_bytes(pickle.dumps(train))
    (source / "test.txt").write_bytes(pickle.dumps(augment_lists(test)))
    out = subprocess.run([sys.executable, "-m", "trainers.preprocess", "--format=srgnn", f"--input={source}",
                          f"--output_dir={tmp_path / 'out'}", "--dataset=shop", "--shard_sessions=7"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "50 training sessions, 10 test sessions" in out.stdout
    converted = str(tmp_path / "out" / "shop")
    assert _same(load_train_examples(converted), load_train_examples(str(source)))
    assert _same(load_test_examples(converted), load_test_examples(str(source)))
    # A test.txt that is not every prefix of whole sessions cannot give its sessions back: [1, 2, 3, 4, 5]
    # without its example ([1, 2, 3], 4).
    prefixes, labels = augment_lists([[1, 2, 3, 4, 5], [2, 3]])
    (source / "test.txt").write_bytes(pickle.dumps((prefixes[:1] + prefixes[2:], labels[:1] + labels[2:])))
    out = subprocess.run([sys.executable, "-m", "trainers.preprocess", "--format=srgnn", f"--input={source}",
                          f"--output_dir={tmp_path / 'out2'}", "--dataset=shop"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "are not every prefix of whole sessions" in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("how", ["time", "examples", "sessions"])
def test_streamed_label_counts_are_the_training_labels_counts(tmp_path, how):
    from tagnn_tf.training.sampled_softmax import label_counts

    rng = np.random.default_rng(12)
    _write(tmp_path / "d", _random_sessions(rng, 300, min_length=1), [[1, 2]], 40)
    splits = load_splits(DataConfig(dataset="d", data_dir=str(tmp_path), valid_split=how, input_pipeline="stream"))
    examples = session_stream.concat_examples([splits.train.examples(s) for s in splits.train.shards])
    assert np.array_equal(splits.train.label_counts(splits.num_items), label_counts(examples.labels, splits.num_items))


def test_a_fitted_baseline_is_refused_with_the_stream():
    from tagnn_tf.config import ExperimentConfig, ModelConfig

    with pytest.raises(InputError, match="--model=stan is fitted on every example in memory"):
        ExperimentConfig(model=ModelConfig(name="stan"), data=DataConfig(input_pipeline="stream"))
