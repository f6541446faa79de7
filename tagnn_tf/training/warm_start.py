"""Warm start: a new run on tomorrow's catalogue starts from yesterday's trained weights.

Items are matched by raw id (the runs' `items.txt`), not by number: an item in
both vocabularies keeps its trained embedding, a new item keeps its fresh
initialisation, an item that left the catalogue is dropped. Every other weight
(gated graph, readout, target attention, and the repeat mechanism's layer when
both runs have the same `repeat_mechanism`) is copied. So, before the first
training step, a session of shared items gets the old model's scores for the
shared items. A run with a repeat mechanism may start from a run without one
(or with the other one): its repeat layer then starts fresh.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from tagnn_tf import item_ids, model_registry, run_directory, run_lock
from tagnn_tf.errors import InputError
from tagnn_tf.models import model_builder

def check_source(old_run_dir: str) -> None:
    """Refuses a `--warm_start_from` that is not a finished training run, before anything is written:
    not a folder, without its `config.json`, `best.keras` or `items.txt` (items are matched by raw id;
    without the file ids "1".."N" would match other items by number), or still training (its
    `best.keras` may change under us)."""
    if not os.path.isdir(old_run_dir):
        raise InputError(f"--warm_start_from={old_run_dir}: no such run directory")
    for name in (run_directory.CONFIG, run_directory.BEST_MODEL, run_directory.ITEMS):
        if not os.path.isfile(os.path.join(old_run_dir, name)):
            raise InputError(f"--warm_start_from={old_run_dir}: {name} not found; warm start needs a finished "
                             f"run of trainers.train (its config, best.keras and items.txt, the vocabulary its "
                             f"items are matched by)")
    items_path = os.path.join(old_run_dir, run_directory.ITEMS)
    num_items = run_directory.read_config(old_run_dir).data.num_items
    old_items = run_directory.read_items_file(items_path)
    if num_items and len(old_items) != num_items:
        raise InputError(f"{items_path} holds {len(old_items)} item ids but that run's model has {num_items} items")
    holder = run_lock.live_claim(old_run_dir)
    if holder:
        raise InputError(f"--warm_start_from={old_run_dir} is {holder}: wait until it finishes (its best.keras "
                         "still changes)")


def warm_start(model, items: Sequence[str], old_run_dir: str) -> dict:
    """Copies `old_run_dir`'s `best.keras` weights into the built `model`, items matched by raw id
    (`CatalogueScorer.warm_start_from` copies the weights).

    Returns:
      Counts: `shared_items`, `new_items`, `dropped_items`.

    Raises:
      InputError: the old run's model cannot start this one (another model or architecture), or its
        files are missing.
    """
    check_source(old_run_dir)
    old_config, old_model = model_builder.load_run(old_run_dir)
    if not model_registry.get(old_config.model.name).supports("warm_start"):
        raise InputError(f"--warm_start_from is implemented for the models "
                         f"{model_registry.names_with('warm_start')}. Received: a "
                         f"{type(old_model).__name__} run ({old_run_dir}) for a {type(model).__name__}")
    old_items = run_directory.read_items_file(os.path.join(old_run_dir, run_directory.ITEMS))
    if len(old_items) != old_model.num_items:
        raise InputError(f"{os.path.join(old_run_dir, run_directory.ITEMS)} holds {len(old_items)} item ids but "
                         f"that run's model has {old_model.num_items} items")
    old_row = {item: row for row, item in enumerate(old_items, start=item_ids.FIRST_ITEM_ID)}
    shared = [(row, old_row[item]) for row, item in enumerate(items, start=item_ids.FIRST_ITEM_ID) if item in old_row]
    rows, old_rows = (np.array(r, dtype=np.int64) for r in zip(*shared)) if shared else (np.zeros(0, np.int64),) * 2
    try:
        model.warm_start_from(old_model, rows, old_rows)
    except InputError as e:
        raise InputError(f"--warm_start_from={old_run_dir}: {e}") from None
    return {"shared_items": len(shared), "new_items": len(items) - len(shared),
            "dropped_items": len(old_items) - len(shared)}
