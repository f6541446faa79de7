"""Named datasets -> (train, valid, test) examples and the catalogue size."""

from __future__ import annotations

import dataclasses
import os

from tagnn_tf.config import DataConfig
from tagnn_tf.errors import DataFileError
from tagnn_tf.data.sessions import (SessionExamples, check_catalogue, load_test_examples,
                                    load_train_examples, split_validation)
from tagnn_tf.data.synthetic import synthetic_dataset

SYNTHETIC = "synthetic"


@dataclasses.dataclass(frozen=True)
class DatasetSplits:
    train: SessionExamples
    valid: SessionExamples
    test: SessionExamples
    num_items: int


def dataset_dir(config: DataConfig) -> str:
    return os.path.join(config.data_dir, config.dataset)


def load_splits(config: DataConfig) -> DatasetSplits:
    """Loads and validates the data named by `config`.

    Raises:
      DataFileError: missing or invalid data files.
      InputError: `config.num_items` below an id present in the data.
    """
    if config.dataset == SYNTHETIC:
        train_all, test, _ = synthetic_dataset(config.synthetic_num_items, config.synthetic_num_sessions,
                                               config.synthetic_seed)
        num_items = check_catalogue(config.num_items or config.synthetic_num_items, train_all, test)
    else:
        folder = dataset_dir(config)
        if not os.path.isdir(folder):
            raise DataFileError(
                f"{folder}: data directory not found (dataset={config.dataset!r}, data_dir={config.data_dir!r})")
        train_all = load_train_examples(folder)
        test = load_test_examples(folder)
        num_items = check_catalogue(config.num_items, train_all, test)
    train, valid = split_validation(train_all, config.valid_portion, config.split_seed)
    return DatasetSplits(train=train, valid=valid, test=test, num_items=num_items)
