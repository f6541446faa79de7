"""Time of one full test-set evaluation (HR@K / MRR@K over every item).

  python -m benchmarks.eval_throughput --data_dir=../shared/data --json_out=PATH

Uses a freshly initialised model (the cost does not depend on the weights) and
the trainer's evaluation path; the first pass (tracing) is reported separately.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import time  # noqa: E402

from absl import app, flags  # noqa: E402

flags.DEFINE_string("data_dir", "../shared/data", "Folder with the dataset folders.")
flags.DEFINE_list("datasets", ["diginetica"], "Datasets to measure.")
flags.DEFINE_integer("eval_batch_size", None, "Override TrainConfig.eval_batch_size.")
flags.DEFINE_integer("eval_max_clicks", None, "Override TrainConfig.eval_max_clicks.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import tensorflow as tf

    from benchmarks import measure
    from tagnn_tf.config import DataConfig, ModelConfig, TrainConfig, replace_fields
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import build_model
    from tagnn_tf.training.trainer import DistributedSteps, evaluate_examples

    config = replace_fields(TrainConfig(), {"eval_batch_size": FLAGS.eval_batch_size,
                                            "eval_max_clicks": FLAGS.eval_max_clicks})
    results = []
    for name in FLAGS.datasets:
        splits = load_splits(DataConfig(dataset=name, data_dir=FLAGS.data_dir))
        model = build_model(ModelConfig(num_items=splits.num_items), seed=1)
        strategy = tf.distribute.get_strategy()
        steps = DistributedSteps(model, None, strategy, 0.0)
        # Tracing pass on a small slice, then the timed full pass.
        evaluate_examples(steps, splits.test.take(list(range(2000))), config)
        start = time.perf_counter()
        metrics = evaluate_examples(steps, splits.test, config)
        seconds = time.perf_counter() - start
        results.append({"dataset": name, "test_examples": len(splits.test), "num_items": splits.num_items,
                        "seconds": round(seconds, 1), "examples_per_sec": round(len(splits.test) / seconds, 1),
                        "eval_batch_size": config.eval_batch_size, "eval_max_clicks": config.eval_max_clicks,
                        "peak_rss_gb": round(measure.peak_rss_gb(), 2), "hr@20_untrained": metrics["hr@20"]})
        print(f"{name}: {len(splits.test)} test examples in {seconds:.1f} s "
              f"({len(splits.test) / seconds:.0f} examples/s), peak RSS {measure.peak_rss_gb():.2f} GB")
    summary = dict(results[0])
    summary["datasets"] = results
    measure.write_json(FLAGS.json_out, summary)


if __name__ == "__main__":
    app.run(main)
