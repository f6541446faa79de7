"""Large catalogues: sampled training and retrieve-then-rerank serving, against exact.

  python -m benchmarks.large_catalogue --data_dir=../shared/data --json_out=benchmarks/results/large_catalogue.json \
      --readme=benchmarks/README.md [--model_dir=results/large_catalogue/diginetica_sampled]

Catalogues: Diginetica (N = 43,097, real sessions) and synthetic ones of
N = 1,000,000 (training and serving) and 10,000,000 (serving only), built by
`tagnn_tf.data.synthetic` (Zipf popularity, learnable transitions) in seconds.

- Training, each setting in a fresh process (its own peak RSS): examples/s at
  batch 100 over --train_steps steps after --warmup_steps untimed ones (the
  first ~100 steps of a process run slower: every new batch shape costs kernel
  set-up; see benchmarks/README.md), for `full` and `sampled` (shared
  negatives, `--num_negatives`) with lazy embedding updates, and `sampled` with
  dense Adam updates (the pass over all N rows that lazy updates avoid).
  `full` at 1M runs in `--full_micro_batches` slices to fit in memory.
- Serving, for each N: a randomly initialised model (speed does not depend on
  the weights) exported with `--rerank_candidates`; the `top_k` (exact) and
  `rerank_top_k` signatures timed: p50/p99 latency of one-session requests
  and sessions/s at batch 256; export size; load time.
- Accuracy of reranking (with --model_dir, a trained Diginetica run): over
  the whole test set, for K in --rerank_ks, the share of sessions whose
  rerank top-20 equals the exact top-20 (as a set and in order) and HR@20 /
  MRR@20 (%) of both.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_list("train_items", ["43097", "1000000"], "Catalogue sizes for training (43097 = Diginetica).")
flags.DEFINE_list("serve_items", ["43097", "1000000", "10000000"], "Catalogue sizes for serving.")
flags.DEFINE_integer("synthetic_sessions", 1_000_000, "Synthetic sessions for the 1M training catalogue.")
flags.DEFINE_integer("train_steps", 200, "Timed training steps (sampled).")
flags.DEFINE_integer("full_train_steps", 3, "Timed training steps of `full` at 1M items.")
flags.DEFINE_integer("warmup_steps", 100, "Untimed steps first.")
flags.DEFINE_integer("full_micro_batches", 4, "TrainConfig.micro_batches of `full` at 1M items.")
flags.DEFINE_integer("num_negatives", 2000, "Shared negatives of `sampled`.")
flags.DEFINE_integer("rerank_candidates", 1000, "K of the exported rerank signatures.")
flags.DEFINE_integer("cluster_size", 256, "Items per cluster of the cluster retrieval (C = N / this, at most "
                     "--max_clusters).")
flags.DEFINE_integer("max_clusters", 4096, "Largest number of clusters.")
flags.DEFINE_list("probes", ["16"], "Clusters probed per session (first: the serving export; all: the accuracy).")
flags.DEFINE_integer("latency_requests", 200, "One-session requests timed per signature.")
flags.DEFINE_integer("throughput_batches", 5, "Batches of 256 timed per signature.")
flags.DEFINE_string("model_dir", None, "A trained Diginetica run for the rerank accuracy (skipped if unset).")
flags.DEFINE_list("rerank_ks", ["200", "500", "1000", "2000"], "K values of the rerank accuracy.")
flags.DEFINE_list("parts", ["train", "serve", "accuracy"], "What to measure.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
flags.DEFINE_string("readme", None, "Markdown file whose LARGE_CATALOGUE block gets the tables.")
flags.DEFINE_boolean("render_only", False, "Only rewrite --readme's tables from the existing --json_out.")
flags.DEFINE_string("child", None, "Internal: JSON of one training setting, measured in this process.")
flags.DEFINE_string("export_child", None, "Internal: JSON of one export (model dir, export dir, clusters), "
                    "made in this process so that its memory is returned before the export is loaded.")
FLAGS = flags.FLAGS

DIGINETICA_ITEMS = 43097
BATCH = 256


def catalogue(num_items: int):
    """(train examples, test examples, N): Diginetica for its N, synthetic otherwise."""
    from tagnn_tf.config import DataConfig
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.data.synthetic import synthetic_dataset

    if num_items == DIGINETICA_ITEMS:
        splits = load_splits(DataConfig(dataset="diginetica", data_dir=FLAGS.data_dir))
        return splits.train, splits.test, splits.num_items
    train, test, _ = synthetic_dataset(num_items, FLAGS.synthetic_sessions, seed=1)
    return train, test, num_items


def measure_training(setting: dict) -> dict:
    """Examples/s and peak RSS of one training setting (run in a fresh process)."""
    import tensorflow as tf

    from benchmarks import measure
    from tagnn_tf.config import ModelConfig, TrainConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.models import build_model
    from tagnn_tf.training.sampled_softmax import CandidateSampler, label_counts
    from tagnn_tf.training.trainer import DistributedSteps, make_optimizer

    started = time.perf_counter()
    train, _, num_items = catalogue(setting["num_items"])
    data_seconds = time.perf_counter() - started
    config = TrainConfig(train_candidates=setting["mode"], micro_batches=setting["micro_batches"],
                         num_negatives=FLAGS.num_negatives, embedding_updates=setting["updates"])
    model = build_model(ModelConfig(readout="paper"), num_items, seed=1)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    sampler = None
    if config.train_candidates == "sampled":
        sampler = CandidateSampler(label_counts(train.labels, num_items), config.num_negatives,
                                   config.negative_sampling, config.batch_size)
    steps = DistributedSteps(model, optimizer, tf.distribute.get_strategy(), config.l2, config.micro_batches,
                             sampler=sampler, sparse_gradients=config.embedding_updates == "lazy")
    ds = pipeline.train_dataset(train, config.batch_size, seed=11)
    spec, it = ds.element_spec, iter(ds)
    warmup_start = time.perf_counter()
    for _ in range(setting["warmup"]):
        float(steps.train(next(it), spec))
    warmup_seconds = time.perf_counter() - warmup_start
    examples, start = 0, time.perf_counter()
    for _ in range(setting["steps"]):
        batch = next(it)
        float(steps.train(batch, spec))
        examples += int(batch[1].shape[0])
    seconds = time.perf_counter() - start
    return {**setting, "examples_per_sec": round(examples / seconds, 1), "ms_per_step": round(1000 * seconds /
            setting["steps"], 1), "warmup_examples_per_sec": round(setting["warmup"] * config.batch_size /
                                                                    max(warmup_seconds, 1e-9), 1),
            "peak_rss_gb": round(measure.peak_rss_gb(), 2), "data_build_seconds": round(data_seconds, 1),
            "train_examples": len(train)}


def run_training_setting(setting: dict) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    argv = [sys.executable, "-m", "benchmarks.large_catalogue", f"--child={json.dumps(setting)}",
            f"--data_dir={FLAGS.data_dir}", f"--synthetic_sessions={FLAGS.synthetic_sessions}",
            f"--num_negatives={FLAGS.num_negatives}"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    if proc.returncode != 0 or not lines:
        # The reason it could not run (out of memory is the expected one for `full` at large N).
        return {**setting, "error": f"exit code {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    return json.loads(lines[-1][len("RESULT"):])


def training_settings():
    for n in (int(x) for x in FLAGS.train_items):
        large = n > 100_000
        yield {"num_items": n, "mode": "full", "updates": "lazy", "micro_batches": FLAGS.full_micro_batches if large
               else 1, "steps": FLAGS.full_train_steps if large else FLAGS.train_steps,
               "warmup": 1 if large else FLAGS.warmup_steps}
        for updates in ("lazy", "dense"):
            yield {"num_items": n, "mode": "sampled", "updates": updates, "micro_batches": 1,
                   "steps": FLAGS.train_steps, "warmup": FLAGS.warmup_steps}


def _percentile(values, q):
    import numpy as np
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 2)


def num_clusters(num_items: int) -> int:
    return max(1, min(num_items // FLAGS.cluster_size, FLAGS.max_clusters))


def time_signature(fn, raw, raw_batch) -> dict:
    """p50/p99 latency (ms) of one-session requests and sessions/s of a batch of 256 (median;
    skipped when `raw_batch` is None)."""
    import numpy as np
    import tensorflow as tf

    k = tf.constant(20, tf.int32)
    for r in raw[:5]:
        fn(session_items=tf.constant(r), k=k)
    if raw_batch is not None:
        fn(session_items=tf.constant(raw_batch), k=k)
    times = []
    for r in raw[:FLAGS.latency_requests]:
        start = time.perf_counter()
        fn(session_items=tf.constant(r), k=k)["top_k_ids"].numpy()
        times.append(time.perf_counter() - start)
    out = {"latency_p50_ms": _percentile(times, 50), "latency_p99_ms": _percentile(times, 99)}
    if raw_batch is None:
        return out
    batch_times = []
    for _ in range(FLAGS.throughput_batches):
        start = time.perf_counter()
        fn(session_items=tf.constant(raw_batch), k=k)["top_k_ids"].numpy()
        batch_times.append(time.perf_counter() - start)
    return {**out, "sessions_per_sec_batch_256": round(BATCH / float(np.median(batch_times)), 1)}


def measure_serving(num_items: int, work: str) -> dict:
    """Random-weight model of `num_items` items exported with the rerank signatures (all-item
    retrieval up to 1M items, and cluster retrieval); exact and rerank timed."""
    import gc

    import numpy as np
    import tensorflow as tf

    from tagnn_tf.data.synthetic import generate_sessions
    from tagnn_tf.serving.session_recommender import pad_sessions

    if num_items == DIGINETICA_ITEMS:
        _, test, _ = catalogue(num_items)
        sessions = [test.prefix(i) for i in range(0, len(test), max(len(test) // 2000, 1))][:2000]
    else:
        sessions = [s[:-1] for s in generate_sessions(num_items, 2000, seed=2)]
    model_dir = os.path.join(work, f"run_{num_items}")
    raw = [np.array([[str(i) for i in s[-20:]]]) for s in sessions]
    batch = pad_sessions([s[-20:] for s in sessions[:BATCH]])
    raw_batch = np.where(batch == 0, "", batch.astype(str))
    clusters, probe = num_clusters(num_items), int(FLAGS.probes[0])
    out = {"num_items": num_items, "rerank_candidates": FLAGS.rerank_candidates, "clusters": clusters,
           "probe": probe}
    # All-item retrieval only up to 1M items: at 10M it is a 4 GB pass per request.
    exports = [("clusters", clusters)] + ([("all_items", 0)] if num_items <= 1_000_000 else [])
    for name, c in exports:
        started = time.perf_counter()
        job = {"num_items": num_items, "model_dir": model_dir, "export_dir": os.path.join(work, f"export_{name}"),
               "clusters": c, "probe": probe, "warmup_sessions": sessions[:2]}
        proc = subprocess.run([sys.executable, "-m", "benchmarks.large_catalogue", f"--export_child={json.dumps(job)}",
                               f"--rerank_candidates={FLAGS.rerank_candidates}"], capture_output=True, text=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=3600)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("EXPORTED")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"export exit code {proc.returncode}: {proc.stderr.strip()[-300:]}")
        version = lines[-1][len("EXPORTED"):]
        export_seconds = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        loaded = tf.saved_model.load(version)
        load_seconds = time.perf_counter() - started
        if name == "clusters":
            with open(os.path.join(version, "assets.extra", "tagnn_export.json")) as f:
                out["largest_cluster"] = json.load(f)["signatures"]["rerank_top_k"]["rerank_largest_cluster"]
            out.update({"export_size_mb": round(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in
                                                    os.walk(version) for f in fs) / 2**20, 1),
                        "export_seconds": round(export_seconds, 1), "load_seconds": round(load_seconds, 1),
                        # Exact scoring of a 16-session slice holds [16 + 2 T, N] float32 scores
                        # (~7 GB at 10M items): above 1M items only one-session requests are timed.
                        "exact": time_signature(loaded.signatures["top_k"], raw,
                                                raw_batch if num_items <= 1_000_000 else None),
                        "rerank_clusters": time_signature(loaded.signatures["rerank_top_k"], raw, raw_batch)})
        else:
            out["rerank_all_items"] = time_signature(loaded.signatures["rerank_top_k"], raw, raw_batch)
        del loaded
        gc.collect()
    from benchmarks import measure
    out["peak_rss_gb_so_far"] = round(measure.peak_rss_gb(), 2)
    return out


def export_child(job: dict) -> str:
    """Builds a random-weight model of `job["num_items"]` items (once per model dir) and exports it."""
    import gc

    from tagnn_tf import run_directory
    from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig
    from tagnn_tf.models import build_model
    from tagnn_tf.serving.savedmodel_export import export_savedmodel

    model_dir, num_items = job["model_dir"], job["num_items"]
    if not os.path.exists(os.path.join(model_dir, "best.keras")):
        os.makedirs(model_dir, exist_ok=True)
        config = ExperimentConfig(model=ModelConfig(readout="paper"), data=DataConfig(num_items=num_items))
        run_directory.write_text_atomic(os.path.join(model_dir, "config.json"), config.to_json())
        run_directory.write_items(model_dir, [str(i) for i in range(1, num_items + 1)])
        build_model(config.model, num_items, seed=1).save(os.path.join(model_dir, "best.keras"))
        gc.collect()  # the built model's table (4 GB at 10M items) before the export loads its own
    return export_savedmodel(model_dir, job["export_dir"], max_session_length=20,
                             warmup_sessions=job["warmup_sessions"], log=lambda *_: None,
                             rerank_candidates=FLAGS.rerank_candidates, rerank_clusters=job["clusters"],
                             rerank_probe=job["probe"])


def measure_rerank_accuracy(model_dir: str) -> dict:
    """Rerank vs exact top-20 over the whole Diginetica test set, for each K."""
    import numpy as np
    import tensorflow as tf

    from tagnn_tf import item_ids, run_directory
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.models import model_builder

    config, model = model_builder.load_run(model_dir)
    test = load_splits(config.data).test
    ks = [int(k) for k in FLAGS.rerank_ks]
    candidates_t = tf.constant(model.candidate_table_t())
    sums = {"exact": {"hr": 0.0, "mrr": 0.0}}

    def add(name, top, labels):
        hit = top == item_ids.id_to_column(labels)[:, None]
        rank = np.argmax(hit, axis=1)
        found = hit.any(axis=1)
        sums[name]["hr"] += float(found.sum())
        sums[name]["mrr"] += float((found / (rank + 1.0)).sum())

    @tf.function(reduce_retracing=True)
    def exact_top(features):
        return tf.math.top_k(model(features, candidates_t=candidates_t, scoring_mode="serve"), 20)[1]

    from tagnn_tf.retrieval.item_clusters import kmeans_clusters

    centroids, members = kmeans_clusters(candidates_t.numpy().T, num_clusters(model.num_items))
    index = (tf.constant(centroids.T), tf.constant(members))
    variants = [(f"rerank_{k}", k, None) for k in ks] + [
        (f"clusters_{k}_probe_{p}", k, int(p)) for k in ks if k == FLAGS.rerank_candidates for p in FLAGS.probes]
    rerank_fns = {}
    for name, k, probe in variants:
        def rerank_top(features, k=k, probe=probe):
            clusters = None if probe is None else (*index, probe)
            columns, scores = model.rerank(features, k, candidates_t, clusters)
            return tf.gather(columns, tf.math.top_k(scores, 20)[1], batch_dims=1)
        rerank_fns[name] = tf.function(rerank_top, reduce_retracing=True)
    sums.update({name: {"hr": 0.0, "mrr": 0.0} for name in rerank_fns})
    same_set = {name: 0 for name in rerank_fns}
    same_order = {name: 0 for name in rerank_fns}

    started = time.perf_counter()
    seconds = {name: 0.0 for name in sums}
    seconds.update({name: 0.0 for name in rerank_fns})
    for features, labels in pipeline.eval_dataset(test, 500):
        labels = labels.numpy()
        t = time.perf_counter()
        exact = exact_top(features).numpy()
        seconds["exact"] += time.perf_counter() - t
        add("exact", exact, labels)
        for name, fn in rerank_fns.items():
            t = time.perf_counter()
            top = fn(features).numpy()
            seconds[name] += time.perf_counter() - t
            add(name, top, labels)
            same_set[name] += int((np.sort(top, 1) == np.sort(exact, 1)).all(axis=1).sum())
            same_order[name] += int((top == exact).all(axis=1).sum())
    n = len(test)
    rows = []
    for name in sums:
        rows.append({"scoring": name, "hr@20": round(100 * sums[name]["hr"] / n, 2),
                     "mrr@20": round(100 * sums[name]["mrr"] / n, 2), "seconds": round(seconds[name], 1),
                     "same_top20_set_pct": round(100 * same_set[name] / n, 2) if name in same_set else 100.0,
                     "same_top20_order_pct": round(100 * same_order[name] / n, 2) if name in same_set else 100.0})
    return {"model_dir": os.path.relpath(model_dir), "test_examples": n, "rows": rows,
            "clusters": num_clusters(model.num_items), "seconds": round(time.perf_counter() - started, 1)}


def render(figures: dict) -> str:
    machine = figures["machine"]
    lines = [f"Written by `python -m benchmarks.large_catalogue` (`benchmarks/results/large_catalogue.json`), "
             f"{machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores, commit "
             f"{figures['git_commit'][:7]}. Batch 100, {figures['num_negatives']} shared negatives; "
             "examples/s after the warm-up steps.", "",
             "| N | mode | embedding updates | examples/s | ms/step | peak RSS (GB) |",
             "|---:|---|---|---:|---:|---:|"]
    for r in figures.get("training", []):
        mode = r["mode"] + (f" ({r['micro_batches']} micro-batches)" if r["micro_batches"] > 1 else "")
        if "error" in r:
            lines.append(f"| {r['num_items']:,} | {mode} | {r['updates']} | did not run: {r['error'][-120:]} | | |")
        else:
            lines.append(f"| {r['num_items']:,} | {mode} | {r['updates']} | {r['examples_per_sec']} | "
                         f"{r['ms_per_step']} | {r['peak_rss_gb']} |")
    if figures.get("serving"):
        first = next((r for r in figures["serving"] if "error" not in r),
                     {"rerank_candidates": "?", "probe": "?"})
        lines += ["", f"Serving (SavedModel, raw-id signatures, k = 20, random weights, Python client in process): "
                  f"`top_k` = exact; `rerank_top_k` with K = {first['rerank_candidates']} retrieved among all items, "
                  f"or among the members of the {first['probe']} best of C item clusters (C = N / "
                  f"{FLAGS.cluster_size}, at most {FLAGS.max_clusters}). Latency p50 / p99 (ms) of one-session "
                  "requests; sessions/s at batch 256.", "",
                  "| N | C | export (MB) | load (s) | exact | rerank, all items | rerank, clusters | "
                  "exact /s | rerank all /s | rerank clusters /s |", "|---:|---:|---:|---:|---|---|---|---:|---:|---:|"]

        def cell(r, key, field=None):
            if key not in r:
                return "-"
            v = r[key]
            if field:
                return str(v.get(field, "not run (a 16-session slice of exact scores is 7 GB)"))
            return f"{v['latency_p50_ms']} / {v['latency_p99_ms']}"

        for r in figures["serving"]:
            if "error" in r:
                lines.append(f"| {r['num_items']:,} | did not run: {r['error'][-120:]} | | | | | | | | |")
                continue
            rate = "sessions_per_sec_batch_256"
            lines.append(f"| {r['num_items']:,} | {r['clusters']} | {r['export_size_mb']} | {r['load_seconds']} | "
                         f"{cell(r, 'exact')} | {cell(r, 'rerank_all_items')} | {cell(r, 'rerank_clusters')} | "
                         f"{cell(r, 'exact', rate)} | {cell(r, 'rerank_all_items', rate)} | "
                         f"{cell(r, 'rerank_clusters', rate)} |")
    acc = figures.get("rerank_accuracy")
    if acc:
        lines += ["", f"Rerank against exact on the Diginetica test set ({acc['test_examples']:,} examples, model "
                  f"`{acc['model_dir']}`):", "",
                  "| scoring | top-20 set = exact (%) | top-20 order = exact (%) | HR@20 | MRR@20 | seconds |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in acc["rows"]:
            lines.append(f"| {r['scoring']} | {r['same_top20_set_pct']} | {r['same_top20_order_pct']} | "
                         f"{r['hr@20']} | {r['mrr@20']} | {r['seconds']} |")
    return "\n".join(lines)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from benchmarks import measure
    from tagnn_tf import run_directory

    if FLAGS.child:
        print("RESULT" + json.dumps(measure_training(json.loads(FLAGS.child))), flush=True)
        return
    if FLAGS.export_child:
        print("EXPORTED" + export_child(json.loads(FLAGS.export_child)), flush=True)
        return
    if FLAGS.render_only:
        with open(FLAGS.json_out) as f:
            measure.replace_block(FLAGS.readme, "LARGE_CATALOGUE", render(json.load(f)))
        return
    figures = {"git_commit": run_directory.git_commit(), "machine": run_directory.machine_info(),
               "num_negatives": FLAGS.num_negatives}
    if FLAGS.json_out and os.path.exists(FLAGS.json_out):  # parts not measured this time are kept
        with open(FLAGS.json_out) as f:
            figures = {**json.load(f), **figures}

    def save():
        measure.write_json(FLAGS.json_out, figures)
        if FLAGS.readme:
            measure.replace_block(FLAGS.readme, "LARGE_CATALOGUE", render(figures))

    if "train" in FLAGS.parts:
        figures["training"] = []
        for setting in training_settings():
            figures["training"].append(run_training_setting(setting))
            print(json.dumps(figures["training"][-1]), flush=True)
            save()
    if "serve" in FLAGS.parts:
        # Catalogue sizes not measured this time keep their earlier rows (10M can run on its own).
        sizes = [int(x) for x in FLAGS.serve_items]
        kept = [r for r in figures.get("serving", []) if r["num_items"] not in sizes]
        work = tempfile.mkdtemp(prefix="tagnn_large_")
        for n in sizes:
            try:
                row = measure_serving(n, work)
            except Exception as e:  # noqa: BLE001 - the reason is the figure
                row = {"num_items": n, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            kept.append(row)
            figures["serving"] = sorted(kept, key=lambda r: r["num_items"])
            print(json.dumps(row), flush=True)
            save()
            import shutil
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work, exist_ok=True)
    if "accuracy" in FLAGS.parts and FLAGS.model_dir:
        figures["rerank_accuracy"] = measure_rerank_accuracy(FLAGS.model_dir)
        print(json.dumps(figures["rerank_accuracy"]), flush=True)
        save()


if __name__ == "__main__":
    app.run(main)
