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

from tagnn_tf import item_ids, run_directory, run_lock
from tagnn_tf.errors import InputError

# Architecture fields that must agree for the weights to carry over.
_ARCHITECTURE = ("hidden_size", "gnn_steps", "variant", "readout", "global_attention")


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
    """Copies `old_run_dir`'s `best.keras` weights into the built `model`, items matched by raw id.

    Returns:
      Counts: `shared_items`, `new_items`, `dropped_items`.

    Raises:
      InputError: the old run's architecture differs, or its files are missing.
    """
    from tagnn_tf.models.tagnn import TAGNN

    check_source(old_run_dir)
    old_config, old_model = run_directory.load_run(old_run_dir)
    if not (isinstance(model, TAGNN) and isinstance(old_model, TAGNN)):
        raise InputError(f"--warm_start_from is implemented for TAGNN and SR-GNN runs. Received: a "
                         f"{type(old_model).__name__} run ({old_run_dir}) for a {type(model).__name__}")
    old_items = run_directory.read_items_file(os.path.join(old_run_dir, run_directory.ITEMS))
    if len(old_items) != old_model.num_items:
        raise InputError(f"{os.path.join(old_run_dir, run_directory.ITEMS)} holds {len(old_items)} item ids but "
                         f"that run's model has {old_model.num_items} items")
    new, old = model.get_config(), old_model.get_config()
    differing = [name for name in _ARCHITECTURE if new[name] != old[name]]
    if differing:
        raise InputError(f"--warm_start_from={old_run_dir}: its model differs in {differing} "
                         f"({', '.join(f'{n}={old[n]!r} vs {new[n]!r}' for n in differing)})")
    pairs = [(model.gnn, old_model.gnn), (model.readout, old_model.readout),
             (model.target_attention, old_model.target_attention)]
    if model.repeat_mechanism == old_model.repeat_mechanism:
        pairs.append((model.repeat, old_model.repeat))
    for layer, old_layer in pairs:
        if layer is not None:
            layer.set_weights(old_layer.get_weights())
    old_row = {item: row for row, item in enumerate(old_items, start=item_ids.FIRST_ITEM_ID)}
    table = np.array(model.embedding.embeddings)
    old_table = np.array(old_model.embedding.embeddings)
    shared = [(row, old_row[item]) for row, item in enumerate(items, start=item_ids.FIRST_ITEM_ID) if item in old_row]
    if shared:
        rows, old_rows = map(np.array, zip(*shared))
        table[rows] = old_table[old_rows]
    model.embedding.embeddings.assign(table)
    return {"shared_items": len(shared), "new_items": len(items) - len(shared),
            "dropped_items": len(old_items) - len(shared)}
