"""Training throughput on real data, against the machine's matmul floor.

  python -m benchmarks.train_throughput --data_dir=../shared/data --steps=60 --json_out=PATH

Per dataset (Diginetica, Yoochoose 1/64): steady-state training examples/s at
batch 100 with the real shuffled input pipeline, after --warmup steps (the
first ~100 steps of a process are slower; the first --cold_steps are timed
and replayed warm to show it); the trainer's own epoch-2 examples/s in the
same run; the same batches replayed from
memory (input pipeline excluded); useful FLOPs = 6 * hidden * num_items * (unique
items summed over the batch's sessions) and floor_time = useful FLOPs /
measured float32 matmul rate; floor_ratio = floor_time / measured time; peak RSS.
Then the naive `[batch, num_items, hidden]` formulation on the same data at a
batch size that fits, as an in-run ratio.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_list("datasets", ["diginetica", "yoochoose1_64"], "Datasets to measure.")
flags.DEFINE_integer("steps", 60, "Timed training steps per dataset.")
flags.DEFINE_integer("warmup", 100, "Untimed steps first. A process's first ~100 steps run slower than later ones "
                     "(every new batch shape costs kernel set-up), and a trainer epoch is thousands of steps.")
flags.DEFINE_integer("cold_steps", 60, "Of the warm-up steps, the first this many are also timed, and replayed "
                     "after the timed steps: the process warm-up cost, measured on the same batches.")
flags.DEFINE_integer("trainer_steps", 100, "Also run the trainer itself (2 epochs of this many steps) and report "
                     "its epoch-2 examples/s from run_log.jsonl (0 = skip).")
flags.DEFINE_integer("batch_size", 100, "Batch size.")
flags.DEFINE_integer("micro_batches", None, "Override TrainConfig.micro_batches.")
flags.DEFINE_integer("naive_batch_size", 10, "Batch size for the naive formulation.")
flags.DEFINE_integer("naive_steps", 5, "Timed steps of the naive formulation (0 = skip).")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


def _examples_per_sec(step_fn, batches):
    start = time.perf_counter()
    for b in batches:
        step_fn(b)
    return sum(int(b[1].shape[0]) for b in batches) / (time.perf_counter() - start)


def trainer_examples_per_sec(name: str) -> float:
    """The trainer's own figure: epoch 2's examples/s (run_log.jsonl) of a run of 2 epochs of
    `--trainer_steps` steps (epoch 1 warms the process up, as the first epoch of a real run)."""
    import json
    import os
    import tempfile

    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.training.trainer import train

    model_dir = tempfile.mkdtemp(prefix="tagnn_throughput_")
    config = ExperimentConfig(data=DataConfig(dataset=name, data_dir=FLAGS.data_dir),
                              train=TrainConfig(epochs=2, steps_per_epoch=FLAGS.trainer_steps, max_eval_examples=500,
                                                patience=5, batch_size=FLAGS.batch_size))
    train(config, model_dir, log=lambda m: None)
    with open(os.path.join(model_dir, "run_log.jsonl")) as f:
        return [json.loads(line) for line in f][-1]["examples_per_sec"]


def measure_dataset(name: str) -> dict:
    import keras
    import tensorflow as tf

    from benchmarks import measure
    from benchmarks.naive_tagnn import naive_scores
    from tagnn_tf.layers import SessionPreprocessor
    from tagnn_tf.config import DataConfig, ModelConfig, TrainConfig, replace_fields
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import build_model
    from tagnn_tf.training.trainer import DistributedSteps, make_optimizer

    splits = load_splits(DataConfig(dataset=name, data_dir=FLAGS.data_dir))
    config = ModelConfig()
    strategy = tf.distribute.get_strategy()
    model = build_model(config, splits.num_items, seed=1)
    train_config = replace_fields(TrainConfig(), {"micro_batches": FLAGS.micro_batches})
    optimizer = make_optimizer(train_config)
    optimizer.build(model.trainable_variables)
    steps = DistributedSteps(model, optimizer, strategy, train_config.l2, train_config.micro_batches)
    ds = pipeline.train_dataset(splits.train, FLAGS.batch_size, seed=11)
    spec = ds.element_spec
    it = iter(ds)
    cold = [next(it) for _ in range(min(FLAGS.cold_steps, FLAGS.warmup))]
    cold_eps = _examples_per_sec(lambda b: float(steps.train(b, spec)), cold) if cold else None
    for _ in range(FLAGS.warmup - len(cold)):
        float(steps.train(next(it), spec))

    # Real pipeline: batches come from tf.data while training.
    seen, nodes = [], 0
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        batch = next(it)
        float(steps.train(batch, spec))
        seen.append(batch)
    real_time = time.perf_counter() - start
    examples = sum(int(b[1].shape[0]) for b in seen)
    nodes = sum(measure.real_nodes(b[0]) for b in seen)
    # The same batches replayed from memory: the input pipeline's share.
    cached_eps = _examples_per_sec(lambda b: float(steps.train(b, spec)), seen)
    # The first steps again, now that the process is warm: same batches, so the
    # ratio to `cold_eps` is the warm-up cost alone.
    cold_replay_eps = _examples_per_sec(lambda b: float(steps.train(b, spec)), cold) if cold else None
    rss = measure.peak_rss_gb()

    rates = measure.matmul_rates(splits.num_items, config.hidden_size)
    useful_flops = 6.0 * config.hidden_size * splits.num_items * nodes
    floor_time = useful_flops / (rates["matmul_gflops_fp32"] * 1e9)
    eps = examples / real_time
    out = {
        "dataset": name, "num_items": splits.num_items, "train_examples": len(splits.train),
        "batch_size": FLAGS.batch_size, "steps": FLAGS.steps, "micro_batches": train_config.micro_batches,
        "examples_per_sec": round(eps, 1), "ms_per_step": round(1000 * real_time / FLAGS.steps, 1),
        "cached_batches_examples_per_sec": round(cached_eps, 1),
        "warmup_steps": FLAGS.warmup, "cold_steps": len(cold),
        "cold_first_steps_examples_per_sec": cold_eps and round(cold_eps, 1),
        "same_first_steps_warm_examples_per_sec": cold_replay_eps and round(cold_replay_eps, 1),
        "trainer_epoch2_examples_per_sec": trainer_examples_per_sec(name) if FLAGS.trainer_steps else None,
        "unique_nodes_per_example": round(nodes / examples, 3),
        "useful_gflop_per_step": round(useful_flops / FLAGS.steps / 1e9, 2),
        "floor_ratio": round(floor_time / real_time, 3),
        "projected_epoch_minutes": round(len(splits.train) / eps / 60, 1),
        "peak_rss_gb": round(rss, 2),
        "official_code_examples_per_sec": 6.9,
        "speedup_vs_official": round(eps / 6.9, 1),
        **rates,
    }

    if FLAGS.naive_steps:
        # The naive formulation reads the per-click view (alias, click mask).
        small = pipeline.train_dataset(splits.train, FLAGS.naive_batch_size, seed=12,
                                       preprocessor=SessionPreprocessor(with_click_alias=True))
        small_batches = list(small.take(FLAGS.naive_steps + 1))
        small_spec = small.element_spec

        @tf.function(input_signature=[small_spec])
        def naive_step(batch):
            features, labels = batch
            with tf.GradientTape() as tape:
                logits = naive_scores(model, features)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels - 1, logits))
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip([tf.convert_to_tensor(g) + 1e-5 * v for g, v in zip(grads, variables)],
                                          variables))
            return loss

        float(naive_step(small_batches[0]))
        naive_eps = _examples_per_sec(lambda b: float(naive_step(b)), small_batches[1:])
        ours = DistributedSteps(model, optimizer, strategy, 1e-5)
        float(ours.train(small_batches[0], small_spec))
        ours_small_eps = _examples_per_sec(lambda b: float(ours.train(b, small_spec)), small_batches[1:])
        out.update({
            "naive_batch_size": FLAGS.naive_batch_size,
            "naive_examples_per_sec": round(naive_eps, 2),
            "ours_at_naive_batch_examples_per_sec": round(ours_small_eps, 1),
            "naive_speedup": round(eps / naive_eps, 1),
            "naive_speedup_same_batch": round(ours_small_eps / naive_eps, 1),
            "peak_rss_gb_after_naive": round(measure.peak_rss_gb(), 2),
        })
    del keras
    return out


def main(argv):
    del argv
    from benchmarks import measure

    results = [measure_dataset(name) for name in FLAGS.datasets]
    keys = ["examples_per_sec", "cached_batches_examples_per_sec", "cold_first_steps_examples_per_sec",
            "same_first_steps_warm_examples_per_sec", "trainer_epoch2_examples_per_sec", "ms_per_step", "unique_nodes_per_example",
            "floor_ratio", "projected_epoch_minutes", "peak_rss_gb", "speedup_vs_official",
            "matmul_gflops_fp32", "matmul_gflops_bf16", "matmul_2048_gflops_fp32", "matmul_2048_gflops_bf16",
            "naive_examples_per_sec", "ours_at_naive_batch_examples_per_sec", "naive_speedup",
            "naive_speedup_same_batch", "peak_rss_gb_after_naive"]
    print(f"{'':40s}" + "".join(f"{r['dataset']:>16s}" for r in results))
    for k in keys:
        print(f"{k:40s}" + "".join(f"{str(r.get(k, '-')):>16s}" for r in results))
    summary = dict(results[0])
    summary["datasets"] = results
    measure.write_json(FLAGS.json_out, summary)


if __name__ == "__main__":
    app.run(main)
