"""The implementation choices of the target attention, measured in one run.

  python -m benchmarks.attention_variants --data_dir=../shared/data --batches=12 --json_out=PATH

Forward + backward of the target-attention block alone (w.r.t. node vectors,
candidate embeddings and the key kernel) on the same real Diginetica batches:

  dense_padded    `[B, U, N]` products padded to the batch's widest session,
                  softmax over the node axis (first implementation)
  stacked_auto    real nodes only, one stacked `[2T, d] x [d, N]` GEMM, unsorted
                  segment ops, automatic differentiation
  separate_auto   two `[T, d] x [d, N]` GEMMs, otherwise as stacked_auto
  custom          the library's `segment_attention` (sorted segment ops,
                  hand-written gradient), two GEMMs
  custom_xla      custom under `jit_compile=True` (one compile per batch shape)
  separate_xla    separate_auto under `jit_compile=True`
  custom_bf16     custom with bfloat16 GEMMs and elementwise math

Then process-level settings, each in a fresh subprocess: oneDNN on/off and the
glibc malloc tunables on/off, timing `[1000, 100] x [100, 43097]` and an
elementwise op on a 170 MB tensor.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder with the dataset folders.")
flags.DEFINE_integer("batches", 12, "Real Diginetica batches (batch 100) to time.")
flags.DEFINE_boolean("process_settings", True, "Also time oneDNN / malloc settings in subprocesses.")
flags.DEFINE_string("json_out", None, "Write the figures here as JSON.")
FLAGS = flags.FLAGS

_PROCESS_PROBE = r"""
import json, time, statistics, tensorflow as tf
a = tf.random.normal([1000, 100]); c = tf.random.normal([100, 43097]); x = tf.random.normal([1000, 43097])
mm = tf.function(lambda a, c: tf.matmul(a, c)); ew = tf.function(lambda x: tf.exp(x) * x)
def t(f, *args):
    f(*args).numpy(); ts = []
    for _ in range(8):
        s = time.perf_counter(); f(*args).numpy(); ts.append(time.perf_counter() - s)
    return 1000 * statistics.median(ts)
print(json.dumps({"matmul_ms": round(t(mm, a, c), 1), "elementwise_ms": round(t(ew, x), 1)}))
"""


def _process_settings():
    from tagnn_tf.runtime import GLIBC_TUNABLES

    out = {}
    for onednn in ("0", "1"):
        for tunables in (False, True):
            env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES",)}
            env.update(TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3")
            if tunables:
                env["GLIBC_TUNABLES"] = GLIBC_TUNABLES
            res = subprocess.run([sys.executable, "-c", _PROCESS_PROBE], env=env, capture_output=True, text=True,
                                 timeout=300)
            key = f"onednn={onednn},malloc_tunables={'on' if tunables else 'off'}"
            out[key] = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else res.stderr[-300:]
    return out


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from benchmarks import measure
    from tagnn_tf.config import DataConfig, ModelConfig
    from tagnn_tf.data import pipeline
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.layers.target_attention import segment_attention
    from tagnn_tf.models import build_model

    splits = load_splits(DataConfig(dataset="diginetica", data_dir=FLAGS.data_dir))
    model = build_model(ModelConfig(), splits.num_items, seed=1)
    key_kernel = model.target_attention.key_kernel
    cand = tf.Variable(np.asarray(model.embedding.embeddings)[1:])
    batches = list(pipeline.train_dataset(splits.train, 100, seed=5).take(FLAGS.batches))
    inputs = []
    for features, _ in batches:
        nodes = model.gnn(model.embedding(features["items"]), features["adj_in"], features["adj_out"])
        inputs.append((tf.constant(nodes), features["node_counts"]))

    def real_nodes(nodes, counts):
        rows, cols = tf.unstack(tf.cast(tf.where(counts > 0), tf.int32), axis=1)
        return tf.gather_nd(nodes, tf.stack([rows, cols], 1)), rows, tf.math.log(tf.gather_nd(counts, tf.stack(
            [rows, cols], 1)))

    def dense_padded(nodes, counts, c):
        logits = tf.einsum("bud,nd->bun", tf.einsum("bud,de->bue", nodes, key_kernel), c)
        values = tf.einsum("bud,nd->bun", nodes, c)
        logw = tf.where(counts > 0, tf.math.log(tf.maximum(counts, 1.0)), -1e9)
        w = tf.nn.softmax(logits + logw[..., None], axis=1)
        return tf.reduce_sum(w * values, 1)

    def auto_segments(logits, values, rows, batch):
        shift = tf.stop_gradient(tf.math.unsorted_segment_max(logits, rows, batch))
        e = tf.exp(logits - tf.gather(shift, rows))
        return tf.math.unsorted_segment_sum(e * values, rows, batch) / tf.math.unsorted_segment_sum(e, rows, batch)

    def stacked_auto(nodes, counts, c):
        x, rows, logc = real_nodes(nodes, counts)
        t = tf.shape(x)[0]
        p = tf.matmul(tf.concat([x @ key_kernel, x], 0), c, transpose_b=True)
        return auto_segments(p[:t] + logc[:, None], p[t:], rows, tf.shape(nodes)[0])

    def separate_auto(nodes, counts, c):
        x, rows, logc = real_nodes(nodes, counts)
        logits = tf.matmul(x @ key_kernel, c, transpose_b=True) + logc[:, None]
        return auto_segments(logits, tf.matmul(x, c, transpose_b=True), rows, tf.shape(nodes)[0])

    def custom(nodes, counts, c, dtype=tf.float32):
        x, rows, logc = real_nodes(nodes, counts)
        k, xc, cc = tf.cast(x @ key_kernel, dtype), tf.cast(x, dtype), tf.cast(c, dtype)
        logits = tf.matmul(k, cc, transpose_b=True) + tf.cast(logc, dtype)[:, None]
        out = segment_attention(logits, tf.matmul(xc, cc, transpose_b=True), rows, tf.shape(nodes)[0])
        return tf.cast(out, tf.float32)

    def fwd_bwd(fn, jit=False):
        @tf.function(jit_compile=jit, reduce_retracing=True)
        def step(nodes, counts):
            with tf.GradientTape() as tape:
                tape.watch(nodes)
                out = fn(nodes, counts, cand)
                loss = tf.reduce_sum(out * 1e-3)
            grads = tape.gradient(loss, [nodes, cand, key_kernel])
            return out, grads
        return step

    variants = {
        "dense_padded": fwd_bwd(dense_padded),
        "stacked_auto": fwd_bwd(stacked_auto),
        "separate_auto": fwd_bwd(separate_auto),
        "custom": fwd_bwd(custom),
        "custom_xla": fwd_bwd(custom, jit=True),
        "separate_xla": fwd_bwd(separate_auto, jit=True),
        "custom_bf16": fwd_bwd(lambda n, c, k: custom(n, c, k, tf.bfloat16)),
    }
    reference = [fwd_bwd(separate_auto)(*i)[0].numpy() for i in inputs]
    results = {}
    for name, step in variants.items():
        try:
            start = time.perf_counter()
            for i in inputs:  # trace / compile every shape first
                step(*i)
            first_ms = 1000 * (time.perf_counter() - start) / len(inputs)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
            reason = str(e).splitlines()[0][:300]
            results[name] = {"error": reason}
            print(f"{name:16s} failed: {reason}")
            continue
        start = time.perf_counter()
        outs = [step(*i)[0].numpy() for i in inputs]
        ms = 1000 * (time.perf_counter() - start) / len(inputs)
        err = max(float(np.max(np.abs(o - r)) / np.max(np.abs(r))) for o, r in zip(outs, reference))
        results[name] = {"ms_per_batch": round(ms, 1), "first_pass_ms_per_batch": round(first_ms, 1),
                         "max_rel_diff_vs_separate_auto": err}
        print(f"{name:16s} {ms:8.1f} ms/batch   max rel diff {err:.1e}")
    out = {"batches": FLAGS.batches, "attention_fwd_bwd": results,
           "real_nodes_per_batch": float(np.mean([np.count_nonzero(c.numpy()) for _, c in inputs]))}
    if FLAGS.process_settings:
        out["process_settings"] = _process_settings()
        for k, v in out["process_settings"].items():
            print(f"{k:36s} {v}")
    measure.write_json(FLAGS.json_out, out)


if __name__ == "__main__":
    app.run(main)
