"""Counts from ../shared/data/README.md (SR-GNN preprocessing)."""

import os

import numpy as np

from tagnn_tf.config import DataConfig
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.data.sessions import load_test_examples, load_train_examples
from conftest import require_data


def test_diginetica_counts():
    folder = require_data("diginetica")
    train, test = load_train_examples(folder), load_test_examples(folder)
    assert len(train) == 719_470
    assert len(test) == 60_858
    assert max(train.max_item_id(), test.max_item_id()) == 43_097


def test_yoochoose_1_64_counts():
    folder = require_data("yoochoose1_64")
    train, test = load_train_examples(folder), load_test_examples(folder)
    assert len(train) == 369_859
    assert len(test) == 55_898
    # Catalogue from the data: ids run to 37,483 although only 17,376 occur in training.
    assert max(train.max_item_id(), test.max_item_id()) == 37_483
    assert len(np.unique(np.concatenate([train.values, train.labels]))) == 17_376


def test_validation_split_is_ten_percent():
    require_data("diginetica")
    splits = load_splits(DataConfig(dataset="diginetica", data_dir=os.path.dirname(require_data("diginetica"))))
    assert len(splits.valid) == 71_947 and len(splits.train) == 719_470 - 71_947
    assert splits.num_items == 43_097


def test_diginetica_from_session_shards_gives_the_same_examples_in_the_same_order(tmp_path):
    # The in-memory pipeline on the shards of the converted pickles: every split equal, example for
    # example, so a run from the shards trains on the same batches as one from the pickles (same seed).
    from tagnn_tf.data.dataset_folder import convert_srgnn_folder

    folder = require_data("diginetica")
    convert_srgnn_folder(folder, str(tmp_path / "diginetica"))
    config = DataConfig(dataset="diginetica", data_dir=os.path.dirname(folder))
    pickles = load_splits(config)
    shards = load_splits(DataConfig(dataset="diginetica", data_dir=str(tmp_path)))
    for name in ("train", "valid", "test"):
        a, b = getattr(pickles, name), getattr(shards, name)
        assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("values", "row_splits", "labels")), name
    assert shards.num_items == pickles.num_items == 43_097
