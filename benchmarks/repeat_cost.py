"""What the repeat mechanism costs: training examples/s and serving latency, TAGNN with and without it.

  python -m benchmarks.repeat_cost --data_dir=../shared/data --json_out=benchmarks/results/repeat_cost.json

On Diginetica (43k items), in one process: the paper's TAGNN and TAGNN with
`--repeat_mechanism=repeat_explore` (`repeat_explore:history`: with
`--repeat_gate=history`; `repeat_explore:history:validated`: also with
`--repeat_floor=validated`, its floor set to 0.3; and `boost`, scored like the
plain model plus one scatter) train on the same in-memory batches of the real shuffled
pipeline, with the full softmax and with the sampled one; timed in
--rounds interleaved rounds of --steps steps (median examples/s of the rounds).
Each model is then exported (`export.export_savedmodel`'s signatures) and the
`by_index` signature is timed on single real test sessions (`[1, length]`,
as a client sends them): each request goes to every model in turn (the order
rotating), --latency_rounds times; p50 / p99 latency. `--train_candidates=`
(empty) times serving only, with untrained models; `--profile_requests=200` also
lists each model's costliest kernels under TensorFlow's profiler (`serving_ops`:
kernel µs per request, summed over both executor threads, and those of the
operations the plain model lacks). The ratios
`repeat / plain` are the figures the issue's target (within 10%) reads.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_string("dataset", "diginetica", "Dataset to measure.")
flags.DEFINE_list("mechanisms", ["none", "repeat_explore", "repeat_explore:history",
                                 "repeat_explore:history:validated", "boost"],
                  "Repeat mechanisms to compare (`mechanism:gate:floor` gives --repeat_gate and --repeat_floor).")
flags.DEFINE_list("train_candidates", ["full", "sampled"],
                  "Softmaxes to time; empty (`--train_candidates=`): serving only, with untrained models.")
flags.DEFINE_integer("steps", 40, "Timed training steps per model and round.")
flags.DEFINE_integer("warmup", 30, "Untimed training steps per model first.")
flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds.")
flags.DEFINE_integer("latency_requests", 200, "Single-session requests timed per model and round.")
flags.DEFINE_integer("latency_rounds", 0, "Interleaved serving rounds (0: --rounds).")
flags.DEFINE_integer("profile_requests", 0,
                     "> 0: also run this many requests per model under TensorFlow's profiler and write each "
                     "model's costliest operations (µs per request) into the JSON (`serving_ops`).")
flags.DEFINE_integer("profile_top", 25, "Operations listed per model with --profile_requests.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS


# The floor of the `--repeat_floor=validated` entries (the path is the same for any value above 0).
FLOOR = 0.3


def _model_config(variant: str):
    """The ModelConfig of a `--mechanisms` entry: `mechanism`, `mechanism:gate` or `mechanism:gate:floor`."""
    from tagnn_tf.config import ModelConfig

    mechanism, gate, floor = (variant.split(":") + ["", ""])[:3]
    return ModelConfig(repeat_mechanism=mechanism, repeat_gate=gate or ModelConfig.repeat_gate,
                       repeat_floor=floor or ModelConfig.repeat_floor)


def _fresh_model(variant: str, splits):
    """A new model of a `--mechanisms` entry (seed 1), its floor (if any) set to `FLOOR`."""
    from tagnn_tf.models import build_model

    model_config = _model_config(variant)
    model = build_model(model_config, splits.num_items, seed=1)
    if model_config.repeat_floor != "none":
        model.repeat.floor.assign(FLOOR)
    return model


def _train_steps(variant: str, candidates: str, splits):
    """A compiled training step of a fresh model: `step(batch) -> loss`."""
    import tensorflow as tf

    from tagnn_tf.config import TrainConfig
    from tagnn_tf.training.sampled_softmax import CandidateSampler, label_counts
    from tagnn_tf.training.trainer import DistributedSteps, make_optimizer

    config = TrainConfig(train_candidates=candidates)
    model = _fresh_model(variant, splits)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    sampler = (CandidateSampler(label_counts(splits.train.labels, splits.num_items), config.num_negatives,
                                config.negative_sampling, config.batch_size) if candidates == "sampled" else None)
    steps = DistributedSteps(model, optimizer, tf.distribute.get_strategy(), config.l2, sampler=sampler)
    return model, steps


def _export(model, splits, root: str, name: str, variant: str):
    """The model exported as `export.export_savedmodel` does; its `by_index` signature."""
    import tensorflow as tf

    from tagnn_tf.config import DataConfig, ExperimentConfig
    from tagnn_tf.serving.savedmodel_export import export_savedmodel

    run = os.path.join(root, name)
    os.makedirs(run)
    config = ExperimentConfig(model=_model_config(variant),
                              data=DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
                                              num_items=splits.num_items))
    with open(os.path.join(run, "config.json"), "w") as f:
        f.write(config.to_json())
    model.save(os.path.join(run, "best.keras"))
    path = export_savedmodel(run, os.path.join(root, name + "_export"), max_session_length=50, log=lambda *_: None)
    return tf.saved_model.load(path).signatures["by_index"]


def _op_name(event_name: str) -> str:
    """A profiler event's `scope/op:type` without the call prefix and Keras' instance numbers (`tagnn_1_1`)."""
    import re

    return re.sub(r"(?<=[a-z])(_[0-9]+)+(?=/)", "", event_name.replace("StatefulPartitionedCall/", ""))


def _profile_ops(fn, requests, logdir: str) -> dict:
    """`op -> µs per request`: the kernel time of each operation the executor ran for `requests`."""
    import collections
    import glob

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    tf.profiler.experimental.start(logdir)
    for r in requests:
        fn(session_items=r)["top_k_ids"].numpy()
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    total = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and not name.startswith("ExecutorState"):  # `scope/op:type` kernels only
                    total[_op_name(name)] += event.duration_ps / 1e6 / len(requests)
    return dict(total)


def _op_table(ops: dict, plain: dict, top: int) -> dict:
    """The JSON of one model's profile: totals, its costliest operations, and those the plain model lacks."""
    extra = {k: v for k, v in ops.items() if k not in plain}
    return {"kernel_us_per_request": round(sum(ops.values()), 1),
            "extra_kernel_us_per_request": round(sum(extra.values()), 1),
            "top": [[k, round(v, 2)] for k, v in sorted(ops.items(), key=lambda x: -x[1])[:top]],
            "top_extra": [[k, round(v, 2)] for k, v in sorted(extra.items(), key=lambda x: -x[1])[:top]]}


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from benchmarks import measure
    from tagnn_tf import run_directory
    from tagnn_tf.config import DataConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.layers import SessionPreprocessor

    splits = load_splits(DataConfig(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir))
    dataset = pipeline.train_dataset(splits.train, 100, seed=11, preprocessor=SessionPreprocessor())
    spec = dataset.element_spec
    batches = list(dataset.take(FLAGS.warmup + FLAGS.steps))
    warm, timed = batches[:FLAGS.warmup], batches[FLAGS.warmup:]
    examples = sum(int(b[1].shape[0]) for b in timed)
    out = {"dataset": FLAGS.dataset, "num_items": splits.num_items, "steps": FLAGS.steps, "rounds": FLAGS.rounds,
           "latency_rounds": FLAGS.latency_rounds or FLAGS.rounds, "latency_requests": FLAGS.latency_requests,
           "batch_size": 100, "machine": run_directory.machine_info(), "git_commit": run_directory.git_commit(),
           "training": {}, "serving": {}}
    models = {}
    for candidates in FLAGS.train_candidates:
        runs = {m: _train_steps(m, candidates, splits) for m in FLAGS.mechanisms}
        for mechanism, (model, steps) in runs.items():
            for b in warm:
                float(steps.train(b, spec))
            models.setdefault(mechanism, model)
        rates = {m: [] for m in runs}
        for _ in range(FLAGS.rounds):
            for mechanism, (_, steps) in runs.items():
                start = time.perf_counter()
                for b in timed:
                    loss = float(steps.train(b, spec))
                rates[mechanism].append(examples / (time.perf_counter() - start))
                assert np.isfinite(loss)
        plain = statistics.median(rates["none"])
        out["training"][candidates] = {m: {"examples_per_sec": round(statistics.median(r), 1),
                                           "rounds": [round(x, 1) for x in r],
                                           "ratio_to_plain": round(statistics.median(r) / plain, 3)}
                                       for m, r in rates.items()}
        print(candidates, out["training"][candidates], flush=True)

    if not models:  # --train_candidates= (empty): serving only, the models untrained
        models = {m: _fresh_model(m, splits) for m in FLAGS.mechanisms}
    # Serving: single real test sessions, as a client sends them.
    test = splits.test
    picks = np.random.default_rng(0).choice(len(test), FLAGS.latency_requests, replace=False)
    requests = [tf.constant([test.prefix(int(i))], tf.int64) for i in picks]
    root = tempfile.mkdtemp(prefix="tagnn_repeat_cost_")
    signatures = {m: _export(model, splits, root, m.replace(":", "-"), m) for m, model in models.items()}
    for fn in signatures.values():
        for r in requests[:20]:
            fn(session_items=r)
    latencies = {m: [] for m in signatures}
    names = list(signatures)
    for round_ in range(FLAGS.latency_rounds or FLAGS.rounds):
        for i, r in enumerate(requests):  # each request to every model in turn, the order rotating
            shift = (i + round_) % len(names)
            for mechanism in names[shift:] + names[:shift]:
                start = time.perf_counter()
                signatures[mechanism](session_items=r)["top_k_ids"].numpy()
                latencies[mechanism].append(1000 * (time.perf_counter() - start))
    plain = float(np.percentile(latencies["none"], 50))
    out["serving"] = {m: {"latency_p50_ms": round(float(np.percentile(v, 50)), 3),
                          "latency_p99_ms": round(float(np.percentile(v, 99)), 3),
                          "p50_ratio_to_plain": round(float(np.percentile(v, 50)) / plain, 3)}
                      for m, v in latencies.items()}
    print("serving", out["serving"], flush=True)
    if FLAGS.profile_requests:
        profiled = {m: _profile_ops(fn, requests[:FLAGS.profile_requests], os.path.join(root, "profile_" + str(i)))
                    for i, (m, fn) in enumerate(signatures.items())}
        out["serving_ops"] = {m: _op_table(v, profiled["none"], FLAGS.profile_top) for m, v in profiled.items()}
        for m, v in out["serving_ops"].items():
            print(f"{m}: kernels {v['kernel_us_per_request']} µs per request, "
                  f"{v['extra_kernel_us_per_request']} in operations the plain model lacks", flush=True)
            for name, us in v["top_extra"][:10]:
                print(f"  {us:8.2f}  {name}", flush=True)
    out["peak_rss_gb"] = round(measure.peak_rss_gb(), 2)
    measure.write_json(FLAGS.json_out, out)


if __name__ == "__main__":
    app.run(main)
