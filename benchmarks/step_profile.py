"""Where the time of one training step goes, on real Diginetica batches.

  python -m benchmarks.step_profile --data_dir=../shared/data --steps=30 --readme=benchmarks/README.md

Times cumulative prefixes of the training step on the same batches (each a
compiled tf.function): input pipeline alone, embedding + GNN, + readout, +
base scores, + target attention, + loss, + backward, + optimizer. Each stage's
share is the difference to the previous prefix. With --readme, the table
replaces the block between the PROFILE markers of that file.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_string("dataset", "diginetica", "Dataset.")
flags.DEFINE_integer("steps", 30, "Batches timed per stage.")
flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds; the best round counts.")
flags.DEFINE_string("readme", None, "Markdown file whose PROFILE block is replaced.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS

STAGES = [
    ("gnn", "embedding lookup + gated graph cell (eq. 1-5)"),
    ("readout", "local / global readout (eq. 8-9) + combine"),
    ("base", "base scores `[B, d] x [d, N]`"),
    ("attention", "target attention: 2 GEMMs `[T, d] x [d, N]` + segment softmax (eq. 6-7, 10-11)"),
    ("loss", "softmax cross-entropy over N items"),
    ("backward", "gradients (4 GEMMs `[T, N]`-sized + elementwise)"),
    ("optimizer", "coupled L2 + Adam update"),
]


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from benchmarks import measure
    from tagnn_tf.config import DataConfig, ModelConfig, TrainConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import build_model
    from tagnn_tf.training.trainer import make_optimizer

    splits = load_splits(DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir))
    model = build_model(ModelConfig(), splits.num_items, seed=1)
    optimizer = make_optimizer(TrainConfig())
    optimizer.build(model.trainable_variables)
    ds = pipeline.train_dataset(splits.train, 100, seed=3)
    spec = ds.element_spec
    start = time.perf_counter()
    batches = list(ds.take(FLAGS.steps + 1))
    pipeline_ms = 1000 * (time.perf_counter() - start) / len(batches)

    def prefix(stage):
        names = [s for s, _ in STAGES]
        upto = names.index(stage)

        @tf.function(input_signature=[spec])
        def fn(batch):
            features, labels = batch
            with tf.GradientTape() as tape:
                h = model.embedding(features["items"])
                nodes = model.gnn(h, features["adj_in"], features["adj_out"])
                out = tf.reduce_sum(nodes)
                counts = features["node_counts"]
                if upto >= 1:
                    session = model.readout(nodes, counts, features["last_node"])
                    out = tf.reduce_sum(session)
                if upto >= 2:
                    candidates_t = tf.transpose(model.embedding.embeddings[1:])
                    scores = tf.matmul(session, candidates_t)
                    out = tf.reduce_sum(scores)
                if upto >= 3:
                    scores = scores + model.target_attention(nodes, counts, candidates_t)
                    out = tf.reduce_sum(scores)
                if upto >= 4:
                    out = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels - 1, scores))
            if upto >= 5:
                grads = tape.gradient(out, model.trainable_variables)
                if upto == 5:
                    return tf.add_n([tf.reduce_sum(g) for g in grads])
                variables = model.trainable_variables
                optimizer.apply_gradients(zip([tf.convert_to_tensor(g) + 1e-5 * v for g, v in zip(grads, variables)],
                                              variables))
            return out
        return fn

    fns = {stage: prefix(stage) for stage, _ in STAGES}
    for fn in fns.values():
        fn(batches[0]).numpy()
    # Interleaved rounds; each prefix's figure is its best round (least disturbed).
    rounds = {stage: [] for stage in fns}
    for _ in range(FLAGS.rounds):
        for stage, fn in fns.items():
            start = time.perf_counter()
            for b in batches[1:]:
                fn(b).numpy()
            rounds[stage].append(1000 * (time.perf_counter() - start) / (len(batches) - 1))
    totals = {stage: min(v) for stage, v in rounds.items()}
    nodes = np.mean([measure.real_nodes(b[0]) for b in batches[1:]])
    rows, previous = [], 0.0
    for stage, what in STAGES:
        share = totals[stage] - previous
        previous = totals[stage]
        rows.append((stage, what, share))
    step = totals[STAGES[-1][0]]
    lines = [f"Diginetica, batch 100, mean over {FLAGS.steps} real batches (T = {nodes:.0f} real nodes per batch "
             f"on average), best of {FLAGS.rounds} interleaved rounds; written by `python -m benchmarks.step_profile`.", "",
             "| stage | what | ms | share |", "|---|---|---:|---:|",
             f"| input pipeline | tf.data gather + in-graph densify (separately, per batch) | {pipeline_ms:.1f} | - |"]
    lines += [f"| {s} | {w} | {ms:.1f} | {100 * ms / step:.0f}% |" for s, w, ms in rows]
    lines.append(f"| **step** | | **{step:.1f}** | 100% |")
    table = "\n".join(lines)
    print(table)
    if FLAGS.readme:
        measure.replace_block(FLAGS.readme, "PROFILE", table)
    measure.write_json(FLAGS.json_out, {"pipeline_ms": pipeline_ms, "stages_ms": {s: ms for s, _, ms in rows},
                                        "step_ms": step, "real_nodes_per_batch": float(nodes)})


if __name__ == "__main__":
    app.run(main)
