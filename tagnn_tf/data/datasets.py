"""Named datasets -> (train, valid, test) examples and the catalogue size."""

from __future__ import annotations

import dataclasses
import os
from typing import Tuple

from tagnn_tf import run_directory
from tagnn_tf.config import DataConfig
from tagnn_tf.errors import DataFileError, InputError
from tagnn_tf.data.sessions import (SessionExamples, check_catalogue, load_test_examples,
                                    load_train_examples, split_validation)
from tagnn_tf.data.synthetic import synthetic_dataset

SYNTHETIC = "synthetic"


@dataclasses.dataclass(frozen=True)
class DatasetSplits:
    """Examples of the three splits and the catalogue.

    `items[i - 1]` is the raw id (text) of item i: the dataset's `items.txt`
    (`--format=clicks` writes it), else the identity vocabulary "1".."N".
    """

    train: SessionExamples
    valid: SessionExamples
    test: SessionExamples
    num_items: int
    items: Tuple[str, ...] = ()


def dataset_dir(config: DataConfig) -> str:
    return os.path.join(config.data_dir, config.dataset)


def load_splits(config: DataConfig):
    """Loads and validates the data named by `config`: `DatasetSplits` in memory, or with
    `config.input_pipeline="stream"` the `session_stream.StreamedSplits` of its session shards.

    Raises:
      DataFileError: missing or invalid data files.
      InputError: `config.num_items` below an id present in the data.
    """
    items = None
    if config.input_pipeline == "stream":
        if config.dataset == SYNTHETIC:
            raise InputError("input_pipeline='stream' reads a dataset folder's session shards; dataset='synthetic' "
                             "is generated in memory (use input_pipeline='memory', or write it out first)")
        from tagnn_tf.data.session_stream import open_streamed_splits

        folder = dataset_dir(config)
        if not os.path.isdir(folder):
            raise DataFileError(
                f"{folder}: data directory not found (dataset={config.dataset!r}, data_dir={config.data_dir!r})")
        return open_streamed_splits(config, folder)
    if config.dataset == SYNTHETIC:
        train_all, test, _ = synthetic_dataset(config.synthetic_num_items, config.synthetic_num_sessions,
                                               config.synthetic_seed,
                                               repeat_share=config.synthetic_repeat_share)
        num_items = check_catalogue(config.num_items or config.synthetic_num_items, train_all, test)
    else:
        folder = dataset_dir(config)
        if not os.path.isdir(folder):
            raise DataFileError(
                f"{folder}: data directory not found (dataset={config.dataset!r}, data_dir={config.data_dir!r})")
        train_all = load_train_examples(folder)
        test = load_test_examples(folder)
        items_path = os.path.join(folder, run_directory.ITEMS)
        if os.path.isfile(items_path):
            items = run_directory.read_items_file(items_path)
            if config.num_items not in (0, len(items)):
                raise InputError(f"`num_items` must be 0 or the {len(items)} items of {items_path}. Received: "
                                 f"num_items={config.num_items}")
        num_items = check_catalogue(len(items) if items else config.num_items, train_all, test)
    train, valid = split_validation(train_all, config.valid_portion, config.split_seed,
                                    config.valid_split)
    return DatasetSplits(train=train, valid=valid, test=test, num_items=num_items,
                         items=items or run_directory.identity_items(num_items))
