"""Cost of HR@20 / MRR@20 over the full catalogue: rank counting vs keras-rs.

  python -m benchmarks.metrics_cost --num_items=43097 --batch=500 --repeats=10 --json_out=PATH

keras-rs's ranking metrics take dense relevance labels `[batch, num_items]` and
sort the scores; `tagnn_tf.metrics.ranking_metrics` counts the items scoring
above the target. Both are timed on the same random scores in one run, and
their MRR@20 values are checked to agree.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import statistics  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from benchmarks import measure  # noqa: E402

flags.DEFINE_integer("num_items", 43097, "Catalogue size.")
flags.DEFINE_integer("batch", 500, "Examples per batch.")
flags.DEFINE_integer("repeats", 10, "Timed repetitions.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import keras_rs
    import numpy as np
    import tensorflow as tf

    from tagnn_tf.metrics.ranking_metrics import rank_sums, target_ranks

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(FLAGS.batch, FLAGS.num_items)).astype(np.float32)
    label_ids = rng.integers(1, FLAGS.num_items + 1, size=FLAGS.batch)
    # Lift the targets so that their ranks spread over 1..~100 (a non-trivial MRR@20).
    scores[np.arange(FLAGS.batch), label_ids - 1] += rng.uniform(1.5, 5.0, size=FLAGS.batch).astype(np.float32)
    logits = tf.constant(scores)
    labels = tf.constant(label_ids, tf.int32)

    @tf.function
    def ours(x, y):
        return rank_sums(target_ranks(x, y))["mrr@20"] / tf.cast(tf.size(y), tf.float32)

    mrr = keras_rs.metrics.MeanReciprocalRank(k=20, shuffle_ties=False)

    @tf.function
    def theirs(x, y):
        dense = tf.one_hot(y - 1, FLAGS.num_items)
        mrr.reset_state()
        mrr.update_state(dense, x)
        return mrr.result()

    def timed(fn):
        fn(logits, labels)
        times, value = [], None
        for _ in range(FLAGS.repeats):
            t = time.perf_counter()
            value = float(fn(logits, labels))
            times.append(time.perf_counter() - t)
        return statistics.median(times), value

    t_ours, v_ours = timed(ours)
    t_theirs, v_theirs = timed(theirs)
    out = {"num_items": FLAGS.num_items, "batch": FLAGS.batch,
           "rank_count_ms": round(1000 * t_ours, 2), "keras_rs_ms": round(1000 * t_theirs, 2),
           "keras_rs_over_rank_count": round(t_theirs / t_ours, 1),
           "mrr20_rank_count": v_ours, "mrr20_keras_rs": v_theirs}
    print(f"{'method':<26}{'median ms/batch':>16}")
    print(f"{'rank count (tagnn_tf)':<26}{out['rank_count_ms']:>16}")
    print(f"{'keras_rs MRR@20':<26}{out['keras_rs_ms']:>16}")
    print(f"keras-rs / rank count: {out['keras_rs_over_rank_count']}x; MRR@20 {v_ours:.6f} vs {v_theirs:.6f}")
    measure.write_json(FLAGS.json_out, out)


if __name__ == "__main__":
    app.run(main)
