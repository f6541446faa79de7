"""Time of one full test-set evaluation (HR@K / MRR@K over every item).

  python -m benchmarks.eval_throughput --data_dir=../shared/data --repeats=5 --json_out=PATH

Uses a freshly initialised model (the cost does not depend on the weights) and
the trainer's evaluation path (`evaluate_examples`); the first pass (tracing)
is not timed. The same run also times passes with tf.data's autotuner on (the
pipeline's earlier setting), interleaved with the default passes, and reports
how many passes of each kind stalled (> 1.3x the median of the default ones).
"""

from tagnn_tf.runtime import configure_process

configure_process()

import statistics  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_list("datasets", ["diginetica"], "Datasets to measure.")
flags.DEFINE_integer("eval_batch_size", None, "Override TrainConfig.eval_batch_size.")
flags.DEFINE_integer("eval_max_clicks", None, "Override TrainConfig.eval_max_clicks.")
flags.DEFINE_integer("repeats", 5, "Timed passes per setting.")
flags.DEFINE_boolean("compare_autotune", True, "Also time passes with tf.data autotuning on.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


def timed_pass(steps, examples, config, autotune: bool) -> float:
    from tagnn_tf.data import pipeline
    from tagnn_tf.metrics import ranking_metrics

    start = time.perf_counter()
    ds = pipeline.eval_dataset(examples, config.eval_batch_size, 0, max_clicks=config.eval_max_clicks,
                               autotune=autotune)
    sums = None
    for batch in ds:
        out = {k: float(v) for k, v in steps.evaluate(batch, ds.element_spec).items()}
        sums = out if sums is None else {k: sums[k] + out[k] for k in sums}
    ranking_metrics.finalize(sums)
    return time.perf_counter() - start


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
        model = build_model(ModelConfig(), splits.num_items, seed=1)
        steps = DistributedSteps(model, None, tf.distribute.get_strategy(), 0.0)
        evaluate_examples(steps, splits.test.take(list(range(2000))), config)  # tracing
        # The trainer's own entry point once (the figure users see) ...
        start = time.perf_counter()
        metrics = evaluate_examples(steps, splits.test, config)
        trainer_seconds = time.perf_counter() - start
        # ... then interleaved passes: fixed input settings vs tf.data autotune.
        fixed, auto = [], []
        for i in range(FLAGS.repeats):
            fixed.append(round(timed_pass(steps, splits.test, config, autotune=False), 1))
            if FLAGS.compare_autotune:
                auto.append(round(timed_pass(steps, splits.test, config, autotune=True), 1))
            print(f"{name} pass {i + 1}: fixed {fixed[-1]} s" + (f", autotune {auto[-1]} s" if auto else ""),
                  flush=True)
        median = statistics.median(fixed)
        row = {"dataset": name, "test_examples": len(splits.test), "num_items": splits.num_items,
               "seconds": median, "examples_per_sec": round(len(splits.test) / median, 1),
               "trainer_evaluate_examples_seconds": round(trainer_seconds, 1),
               "passes_fixed_seconds": fixed, "stalled_passes_fixed": sum(t > 1.3 * median for t in fixed),
               "eval_batch_size": config.eval_batch_size, "eval_max_clicks": config.eval_max_clicks,
               "peak_rss_gb": round(measure.peak_rss_gb(), 2), "hr@20_untrained": metrics["hr@20"]}
        if auto:
            row.update({"passes_autotune_seconds": auto, "autotune_median_seconds": statistics.median(auto),
                        "stalled_passes_autotune": sum(t > 1.3 * median for t in auto)})
        results.append(row)
        print(f"{name}: {len(splits.test)} test examples, median {median:.1f} s over {len(fixed)} passes "
              f"({row['examples_per_sec']:.0f} examples/s); trainer's evaluate_examples {trainer_seconds:.1f} s; "
              f"peak RSS {measure.peak_rss_gb():.2f} GB")
        if auto:
            print(f"{name}: with tf.data autotune: median {row['autotune_median_seconds']:.1f} s, "
                  f"{row['stalled_passes_autotune']} of {len(auto)} passes stalled "
                  f"(fixed: {row['stalled_passes_fixed']} of {len(fixed)})")
    summary = dict(results[0])
    summary["datasets"] = results
    measure.write_json(FLAGS.json_out, summary)


if __name__ == "__main__":
    app.run(main)
