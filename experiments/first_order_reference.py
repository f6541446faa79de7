"""What the synthetic generator's own form reaches when it is fitted on a log's training part.

  python -m experiments.first_order_reference --data_dir=runs/repeat_synthetic_small/data \
      --output=results/repeat_synthetic/small_log/first_order_reference.json

The synthetic sessions (`tagnn_tf.data.synthetic`) are a first-order walk (a
successor of the last click, or a jump to a popular item) with repeats of an
earlier click, the more recent the likelier. The Bayes-optimal row of
`experiments.repeat_synthetic` knows the generator's hidden parameters; this
reference knows only its form and estimates the rest from the same training
part the compared methods see (the `time` validation split's):

    P(i | prefix) = p P_repeat(i) + (1 - p) P_walk(i | last click)

with `P_repeat` the earlier clicks weighted `REPEAT_RECENCY ** age` (age 0 =
the last click; the generator's constant), and `P_walk` the counted
transitions out of the last click with additive popularity back-off,

    P_walk(i | u) ~ (count(u -> i) + alpha pop(i)) / (count(u) + alpha),

counted over the training examples whose label is new to their prefix and
restricted to the items outside the session; `pop` is the training labels'
share (plus one). `alpha` and `p` are picked on validation HR@20 (then
MRR@20). It is not a method for real logs: it tells how much of the gap to the
Bayes-optimal row is the log's size rather than a model's fault (on a small log
even this model, handed the generator's form, is only so far above the
baselines).
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

ALPHAS = (0.25, 1.0, 4.0, 16.0)
REPEAT_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6)
OUTPUT = "first_order_reference.json"


def fit_counts(train, num_items: int):
    """(transition counts `csr [N + 1, N + 1]` by item id, label popularity float64 `[N + 1]`) of `train`.

    Transitions are counted from each example's last click to its label when the label is new to the prefix;
    popularity is each item's share of the training labels plus one (column 0, the padding id, gets 0).
    """
    from scipy import sparse

    new = ~train.label_repeats()
    last = train.values[train.row_splits[1:] - 1]
    counts = sparse.csr_matrix((np.ones(int(new.sum())), (last[new], train.labels[new])),
                               shape=(num_items + 1, num_items + 1))
    popularity = np.bincount(train.labels, minlength=num_items + 1).astype(np.float64) + 1.0
    popularity[0] = 0.0
    return counts, popularity / popularity.sum()


def chunk_parts(examples, rows: np.ndarray, counts, num_columns: int, recency: float):
    """The parts of `rows`' scores that do not depend on a setting, each float64 `[len(rows), N + 1]` by item id:
    (transition counts out of the last click, the session's items as 1, `P_repeat`)."""
    last = examples.values[examples.row_splits[rows + 1] - 1]
    transitions = counts[last].toarray()
    in_session, repeat = np.zeros((len(rows), num_columns)), np.zeros((len(rows), num_columns))
    for r, i in enumerate(rows):
        prefix = examples.values[examples.row_splits[i]:examples.row_splits[i + 1]]
        in_session[r, prefix] = 1.0
        weights = recency ** np.arange(len(prefix))
        np.add.at(repeat[r], prefix[::-1], weights / weights.sum())  # age 0 = the last click
    return transitions, in_session, repeat


def evaluate(examples, counts, popularity: np.ndarray, settings: Sequence[tuple], recency: float,
             chunk: int = 1024) -> list:
    """Test-style HR@K / MRR@K (%, overall and on the repeat / new labels) of each `(alpha, p)` of `settings`
    on `examples`, in that order. Ties count against the label."""
    from tagnn_tf import item_ids
    from tagnn_tf.metrics.ranking_metrics import finalize, numpy_rank_sums, numpy_target_ranks

    ranks = [[] for _ in settings]
    for start in range(0, len(examples), chunk):
        rows = np.arange(start, min(start + chunk, len(examples)))
        transitions, in_session, repeat = chunk_parts(examples, rows, counts, len(popularity), recency)
        labels = examples.labels[rows]
        for k, (alpha, p) in enumerate(settings):
            walk = (transitions + alpha * popularity) * (1.0 - in_session)  # the walk leaves the session
            scores = p * repeat + (1.0 - p) * walk / walk.sum(axis=1, keepdims=True)
            # numpy_target_ranks reads columns (id - FIRST_ITEM_ID): the padding column 0 is dropped.
            ranks[k].append(numpy_target_ranks(scores[:, item_ids.FIRST_ITEM_ID:], labels))
    repeats = examples.label_repeats()
    return [finalize(numpy_rank_sums(np.concatenate(r), repeats=repeats)) for r in ranks]


def first_order_reference(splits, alphas: Sequence[float] = ALPHAS, repeat_weights: Sequence[float] = REPEAT_WEIGHTS,
                          recency: Optional[float] = None, log=print) -> dict:
    """Fits the form on `splits.train`, picks `alpha` and `p` on `splits.valid`, scores `splits.test`.

    Returns {"alpha", "repeat_weight", "recency", "grid": [{"alpha", "repeat_weight", "val"}], "val", "test"}.
    """
    from tagnn_tf.data import synthetic
    from tagnn_tf.errors import InputError

    recency = synthetic.REPEAT_RECENCY if recency is None else recency
    if not len(splits.valid):
        raise InputError("The reference picks alpha and p on validation; the splits have no validation examples")
    counts, popularity = fit_counts(splits.train, splits.num_items)
    settings = [(alpha, p) for alpha in alphas for p in repeat_weights]
    grid = [{"alpha": alpha, "repeat_weight": p, "val": val}
            for (alpha, p), val in zip(settings, evaluate(splits.valid, counts, popularity, settings, recency))]
    for g in grid:
        log(f"alpha {g['alpha']} p {g['repeat_weight']}: val HR@20 {g['val']['hr@20']:.2f} "
            f"MRR@20 {g['val']['mrr@20']:.2f}")
    best = max(grid, key=lambda g: (g["val"]["hr@20"], g["val"]["mrr@20"]))  # the first best on ties
    test, = evaluate(splits.test, counts, popularity, [(best["alpha"], best["repeat_weight"])], recency)
    return {"alpha": best["alpha"], "repeat_weight": best["repeat_weight"], "recency": recency, "grid": grid,
            "val": best["val"], "test": test}


if __name__ == "__main__":
    from tagnn_tf.runtime import configure_process

    configure_process()
    from absl import app, flags

    flags.DEFINE_string("data_dir", "runs/repeat_synthetic/data", "The study's data folder (--work_dir/data).")
    flags.DEFINE_string("dataset", "synthetic_repeat", "The dataset folder inside --data_dir.")
    flags.DEFINE_string("output", os.path.join("results", "repeat_synthetic", OUTPUT),
                        "The JSON to write, beside the study's repeat_synthetic.json.")
    FLAGS = flags.FLAGS

    def _main(argv):
        import json

        from tagnn_tf import run_directory
        from tagnn_tf.cli import run_or_exit
        from tagnn_tf.config import DataConfig
        from tagnn_tf.data.datasets import load_splits

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        # The compared methods' split (experiments.repeat_synthetic's DataConfig).
        data = DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, valid_split="time")
        out = run_or_exit(lambda: first_order_reference(load_splits(data)))
        out.update(machine=run_directory.machine_info(), git_commit=run_directory.git_commit())
        os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
        run_directory.write_json_atomic(FLAGS.output, out)
        print(json.dumps({k: out[k] for k in ("alpha", "repeat_weight", "test")}, indent=1))

    app.run(_main)
