"""SavedModel export: signatures, request rules, warmup records, versions.

The export is reloaded in a subprocess (`savedmodel_client.py`) that never
imports `tagnn_tf`, so the artefact is checked to be self-contained.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.errors import InputError
from tagnn_tf.layers import SessionPreprocessor
from tagnn_tf.models import build_model
from tagnn_tf.serving import SessionRecommender
from tagnn_tf.serving.savedmodel_export import export_savedmodel, next_version
from tagnn_tf.serving.session_recommender import pad_sessions as pad
from tagnn_tf.serving.tflite_export import convert_savedmodel

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LEN = 20
SLICE = 8


def keras_scores(model, sessions):
    ragged = tf.ragged.constant(sessions, dtype=tf.int64)
    return model(densify(ragged)).numpy()


def test_request_cleaning_rules():
    # N = 10, keep 3: row 0 drops -1 and 99 (invalid: 2) and the padding 0s,
    # keeps [3, 7]; row 1 is all padding (empty, placeholder item 1); row 2
    # keeps its last 3 clicks [3, 4, 5]; row 3 keeps [2] after a middle 0.
    items = tf.constant([[3, 0, 7, -1, 99], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5], [0, 0, 2, 0, 0]], tf.int64)
    sessions, used, invalid, empty = SessionPreprocessor(num_items=10, max_session_length=3).clean_requests(items)
    assert sessions.to_list() == [[3, 7], [1], [3, 4, 5], [2]]
    assert used.numpy().tolist() == [2, 0, 3, 1]
    assert invalid.numpy().tolist() == [2, 0, 0, 0]
    assert empty.numpy().tolist() == [False, True, False, False]


@pytest.fixture(scope="module", params=["none", "repeat_explore"])
def exported(shared_data, tmp_path_factory, request):
    """An export of a (randomly initialised) Diginetica-sized model, reloaded by the client; the paper's
    model and one with the repeat-explore mixture, its gate reading the session's history (`--repeat_gate=
    history`), a repeat floor picked (`--repeat_floor=validated`), and normalised item vectors
    (`--item_norm_scale`; every signature and the TFLite model for both)."""
    root = tmp_path_factory.mktemp("serving")
    splits = load_splits(DataConfig(dataset="diginetica", data_dir=shared_data))
    num_items = splits.num_items
    model_config = (ModelConfig() if request.param == "none"
                    else ModelConfig(repeat_mechanism=request.param, item_norm_scale=8.0, repeat_gate="history",
                                     repeat_floor="validated"))
    model = build_model(model_config, num_items, seed=5)
    if request.param == "repeat_explore":
        model.repeat.gate_bias.assign(0.5)  # both parts of the mixture count
        model.repeat.history_weights.assign([0.3, -2.0])  # and the history moves the gate
        model.repeat.floor.assign(0.3)  # and the floor moves the session's items
    model_dir = root / "run"
    model_dir.mkdir()
    config = ExperimentConfig(model=model_config,
                              data=DataConfig(dataset="diginetica", data_dir=shared_data, num_items=num_items))
    (model_dir / "config.json").write_text(config.to_json())
    model.save(str(model_dir / "best.keras"))

    lengths = splits.test.lengths
    picks = [int(np.flatnonzero(lengths == n)[0]) for n in (1, 2, 3, 5, 8, 13, 20) if (lengths == n).any()]
    real = [splits.test.prefix(i) for i in picks + list(range(40))]
    long_session = [int(x) for x in np.resize(np.concatenate([splits.test.prefix(i) for i in range(30)]), 30)]
    bad = [[real[3][0], -4, real[3][1], num_items + 5] + real[3][2:], [], [0, 0, real[2][0], 0]]
    requests = {
        "req_real": pad(real), "req_k5": pad(real), "k_k5": np.array(5),
        "req_bad": pad(bad, width=12), "req_long": pad([long_session, real[0]]),
        "req_zero_width": np.zeros((2, 0), np.int64),
    }
    export_dir = root / "exports"
    # Requests of more than 8 sessions are scored in slices of 8 (47 real sessions: 6 slices, the
    # last partial), in every signature and the TFLite model, so every comparison below also
    # checks that slicing changes no output.
    path = export_savedmodel(str(model_dir), str(export_dir), max_session_length=MAX_LEN,
                             warmup_sessions=real[:3], log=lambda *_: None, max_batch_sessions=SLICE,
                             tflite_max_batch_sessions=SLICE, rerank_candidates=num_items)
    tflite = convert_savedmodel(path, str(root / "tagnn.tflite"))
    np.savez(root / "requests.npz", **requests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "savedmodel_client.py"), path,
                           str(root / "requests.npz"), str(root / "out.npz"), tflite],
                          cwd=str(root), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"model": model, "out": dict(np.load(root / "out.npz")), "path": path, "export_dir": str(export_dir),
            "model_dir": str(model_dir), "real": real, "bad": bad, "long": long_session,
            "num_items": num_items}


def test_exported_scores_equal_keras_on_real_sessions(exported):
    out, real = exported["out"], exported["real"]
    ref = keras_scores(exported["model"], real)
    assert out["real__scores"].shape == (len(real), exported["num_items"])
    assert np.abs(out["real__scores"] - ref).max() < 1e-5
    # top_k_ids are item ids (column + 1), best first, and match Keras's top 20.
    expected_ids = np.argsort(-ref, axis=1, kind="stable")[:, :20] + 1
    assert (out["real__top_k_ids"] == expected_ids).mean() > 0.99  # float ties may reorder
    np.testing.assert_allclose(out["real__top_k_scores"], np.take_along_axis(ref, expected_ids - 1, 1), atol=1e-5)
    assert out["real__used_item_count"].tolist() == [len(s) for s in real]
    assert not out["real__invalid_item_count"].any()


def test_client_never_imported_tagnn_tf(exported):
    # The client process could import tagnn_tf (it is installed), so its
    # absence from sys.modules means loading and serving the export never needed it.
    assert bool(exported["out"]["tagnn_tf_importable"])
    assert not bool(exported["out"]["imported_tagnn_tf"])


def test_signatures_names(exported):
    inputs = json.loads(str(exported["out"]["signature_inputs"]))
    outputs = json.loads(str(exported["out"]["signature_outputs"]))
    assert inputs == {"serving_default": ["session_items"], "top_k": ["k", "session_items"],
                      "by_index": ["session_items"], "tflite_default": ["session_items"],
                      "rerank_top_k": ["k", "session_items"], "rerank_by_index": ["session_items"]}
    numbers = sorted(["scores", "top_k_ids", "top_k_scores", "used_item_count", "invalid_item_count"])
    raw = sorted(["scores", "top_k_ids", "top_k_scores", "used_item_count", "unknown_item_count"])
    assert outputs == {"serving_default": raw, "top_k": [o for o in raw if o != "scores"],
                       "by_index": numbers, "tflite_default": numbers,
                       "rerank_top_k": [o for o in raw if o != "scores"],
                       "rerank_by_index": [o for o in numbers if o != "scores"]}


@pytest.mark.parametrize("name", ["real", "k5", "bad", "long", "zero_width"])
def test_rerank_signatures_with_k_equal_n_give_the_exact_top_k(exported, name):
    # The fixture exports rerank_candidates = N: every item is reranked with its
    # exact score, so the rerank signatures must return the exact signatures'
    # top-k (ids equal wherever the exact scores are not tied within 1e-5).
    out = exported["out"]
    for output in ("top_k_scores", "used_item_count"):
        np.testing.assert_allclose(out[f"rerank__{name}__{output}"], out[f"{name}__{output}"], atol=1e-5)
    exact_ids, ids = out[f"{name}__top_k_ids"], out[f"rerank__{name}__top_k_ids"]
    scores = out[f"{name}__top_k_scores"]
    untied = np.ones_like(scores, bool)
    untied[:, 1:] &= np.diff(scores, axis=1) < -1e-5
    untied[:, :-1] &= np.diff(scores, axis=1) < -1e-5
    np.testing.assert_array_equal(ids[untied], exact_ids[untied])


@pytest.mark.parametrize("name", ["real", "bad", "long", "zero_width"])
def test_raw_ids_give_the_outputs_of_their_numbers(exported, name):
    # serving_default takes the shop's raw ids (here the identity vocabulary "1".."N"; "" pads) and
    # answers with raw ids; by_index is the same computation on item numbers.
    out = exported["out"]
    np.testing.assert_array_equal(out[f"raw__{name}__scores"], out[f"{name}__scores"])
    ids = out[f"{name}__top_k_ids"]
    np.testing.assert_array_equal(out[f"raw__{name}__top_k_ids"],
                                  np.where(ids == 0, b"", ids.astype(str).astype(object)).astype(bytes))
    np.testing.assert_array_equal(out[f"raw__{name}__unknown_item_count"], out[f"{name}__invalid_item_count"])
    np.testing.assert_array_equal(out[f"raw__{name}__used_item_count"], out[f"{name}__used_item_count"])


@pytest.mark.parametrize("name", ["real", "bad", "long", "zero_width"])
def test_tflite_default_signature_equals_serving_default(exported, name):
    # The same computation with three scoring GEMMs instead of one stacked GEMM.
    out = exported["out"]
    np.testing.assert_array_equal(out[f"tflite_default__{name}__top_k_ids"], out[f"{name}__top_k_ids"])
    for key in ("scores", "top_k_scores"):
        assert np.abs(out[f"tflite_default__{name}__{key}"] - out[f"{name}__{key}"]).max(initial=0) < 1e-5


def test_top_k_signature_takes_k(exported):
    out = exported["out"]
    assert "k5__scores" not in out  # top-k responses carry no [batch, N] scores
    assert out["k5__top_k_ids"].shape == (len(exported["real"]), 5)
    np.testing.assert_array_equal(out["k5__top_k_ids"].astype(np.int64), out["real__top_k_ids"][:, :5])


def test_bad_requests_are_cleaned_not_fatal(exported):
    out, bad, model = exported["out"], exported["bad"], exported["model"]
    for key in ("scores", "top_k_scores"):
        assert np.isfinite(out[f"bad__{key}"]).all()
    n = exported["num_items"]
    cleaned = [[i for i in s if 1 <= i <= n] for s in bad]
    assert out["bad__invalid_item_count"].tolist() == [2, 0, 0]
    assert out["bad__used_item_count"].tolist() == [len(c) for c in cleaned]
    ref = keras_scores(model, [cleaned[0], cleaned[2]])
    np.testing.assert_allclose(out["bad__scores"][[0, 2]], ref, atol=1e-5)
    # The all-padding row: no recommendation, zeros, no NaN.
    assert not out["bad__scores"][1].any() and not out["bad__top_k_ids"][1].any()
    assert not out["zero_width__used_item_count"].any() and not out["zero_width__top_k_ids"].any()


def test_long_sessions_keep_their_most_recent_clicks(exported):
    out = exported["out"]
    assert out["long__used_item_count"].tolist()[0] == MAX_LEN
    ref = keras_scores(exported["model"], [exported["long"][-MAX_LEN:]])
    np.testing.assert_allclose(out["long__scores"][0], ref[0], atol=1e-5)


def test_wrong_dtype_is_refused(exported):
    assert bool(exported["out"]["int32_refused"])


def test_warmup_records_replay(exported):
    shapes = json.loads(str(exported["out"]["warmup_shapes"]))
    n = exported["num_items"]
    # Batch 1 and all 3 sessions, as raw ids (strings, kind "O") and as numbers (int, kind "i").
    width = shapes[1][2][1]
    assert shapes == [["serving_default", "O", [1, shapes[0][2][1]], [1, n]], ["serving_default", "O", [3, width], [3, n]],
                      ["by_index", "i", [1, shapes[2][2][1]], [1, n]], ["by_index", "i", [3, width], [3, n]]]


def test_versions_increase_and_are_never_overwritten(exported):
    export_dir = exported["export_dir"]
    assert os.path.basename(exported["path"]) == "1"
    assert next_version(export_dir) == 2
    second = export_savedmodel(exported["model_dir"], export_dir, max_session_length=MAX_LEN,
                               warmup_sessions=[[1, 2]], log=lambda *_: None)
    assert os.path.basename(second) == "2"
    assert sorted(os.listdir(export_dir)) == ["1", "2"]
    info = json.load(open(os.path.join(second, "assets.extra", "tagnn_export.json")))
    assert info["max_session_length"] == MAX_LEN and info["num_items"] == exported["num_items"]
    # Each signature's computation is recorded: one stacked GEMM for TF, separate GEMMs for TFLite.
    assert {name: sig["scoring_mode"] for name, sig in info["signatures"].items()} == {
        "serving_default": "serve", "top_k": "serve", "by_index": "serve", "tflite_default": "tflite"}
    assert open(os.path.join(second, "assets", "items.txt")).read().splitlines() == [
        str(i) for i in range(1, exported["num_items"] + 1)]  # the identity vocabulary of SR-GNN data
    # The defaults: TF signatures in slices of 16, the TFLite graph whole.
    assert {name: sig["max_batch_sessions"] for name, sig in info["signatures"].items()} == {
        "serving_default": 16, "top_k": 16, "by_index": 16, "tflite_default": 0}


def signature_tensor_names(version_dir: str, signature: str = "serving_default") -> dict:
    from tensorflow.python.tools import saved_model_utils

    sig = saved_model_utils.get_meta_graph_def(version_dir, "serve").signature_def[signature]
    return {**{k: v.name for k, v in sig.inputs.items()}, **{k: v.name for k, v in sig.outputs.items()}}


def test_c_api_client_matches_python(exported, tmp_path):
    """export/c_client/tagnn_client.c, built with gcc against the wheel's C API."""
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: the C client cannot be built here")
    tf_dir = os.path.dirname(tf.__file__)
    binary = str(tmp_path / "tagnn_client")
    source = os.path.join(ROOT, "export", "c_client", "tagnn_client.c")
    subprocess.run(["gcc", source, "-o", binary, f"-I{tf_dir}/include", f"-L{tf_dir}",
                    "-l:libtensorflow_cc.so.2", "-l:libtensorflow_framework.so.2", f"-Wl,-rpath,{tf_dir}"],
                   check=True, capture_output=True, timeout=300)
    # The names come from the export's own record (README); they are the SignatureDef's.
    info = json.load(open(os.path.join(exported["path"], "assets.extra", "tagnn_export.json")))
    recorded = info["tensor_names"]["serving_default"]
    names = {**recorded["inputs"], **recorded["outputs"]}
    assert names == signature_tensor_names(exported["path"])
    assert set(info["tensor_names"]) == {"serving_default", "top_k", "by_index", "tflite_default", "rerank_top_k",
                                         "rerank_by_index"}
    session = exported["real"][4]
    proc = subprocess.run([binary, exported["path"], names["session_items"], names["top_k_ids"],
                           names["top_k_scores"], *map(str, session)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split() for line in proc.stdout.strip().splitlines()]
    assert [int(r[0]) for r in rows] == list(range(1, 21))
    np.testing.assert_array_equal([int(r[1]) for r in rows], exported["out"]["real__top_k_ids"][4])
    np.testing.assert_allclose([float(r[2]) for r in rows], exported["out"]["real__top_k_scores"][4], atol=1e-5)
    # The client checks the request shape the export defines before calling: wrong tensor names
    # (an int32 input, a rank-1 output) are refused with a clear message.
    for args, message in [
        ((names["used_item_count"], names["top_k_ids"], names["top_k_scores"], "3"), "must be string tensors"),
        ((names["session_items"], names["top_k_ids"], names["unknown_item_count"], "3"),
         f"tensor {names['unknown_item_count']} has rank 1, expected 2"),
    ]:
        bad = subprocess.run([binary, exported["path"], *args], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 1 and message in bad.stderr, bad.stderr[-2000:]


@pytest.mark.parametrize("name", ["real", "bad", "long", "zero_width"])
def test_tflite_builtins_model_matches_savedmodel(exported, name):
    """Requests of several batch sizes and lengths through the LiteRT interpreter."""
    out = exported["out"]
    np.testing.assert_array_equal(out[f"tflite__{name}__top_k_ids"], out[f"{name}__top_k_ids"])
    for key in ("scores", "top_k_scores"):
        assert np.abs(out[f"tflite__{name}__{key}"] - out[f"{name}__{key}"]).max() < 1e-4
    for key in ("used_item_count", "invalid_item_count"):
        np.testing.assert_array_equal(out[f"tflite__{name}__{key}"], out[f"{name}__{key}"])


@pytest.mark.parametrize("shape,dtype,message", [
    ((4,), np.int64, "rank 2 [batch, length]. Received: shape [4]"),
    ((1, 2, 2), np.int64, "rank 2 [batch, length]. Received: shape [1, 2, 2]"),
    ((0, 3), np.int64, "at least one session (batch >= 1)"),
    ((1, 3), np.int32, "must be int64"),
])
def test_predict_client_checks_the_request_shape(shape, dtype, message):
    from export.predict import check_request

    with pytest.raises(ValueError, match=re.escape(message)):
        check_request(np.ones(shape, dtype))
    check_request(np.ones((2, 0), np.int64))  # no clicks: defined (no recommendation), not refused
    check_request(np.array([["SKU-1", ""]], dtype=object), "string")
    with pytest.raises(ValueError, match=re.escape("must be raw ids (text)")):
        check_request(np.ones((1, 2), np.int64), "string")


def test_predict_client_reads_the_session_as_typed_and_refuses_what_it_cannot_send(tmp_path):
    from export.predict import parse_session, resolve_version

    # Spaces are part of an id (the export's vocabulary counts " SKU-027" unknown, as typed).
    assert parse_session(" SKU-027,SKU-1 ") == [" SKU-027", "SKU-1 "]
    assert parse_session('"A,1",B') == ["A,1", "B"] and parse_session("") == []
    # Bytes that are not UTF-8 reach Python as surrogate escapes: refused in one line.
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_session(b"SKU-\xff".decode("utf-8", "surrogateescape"))
    # The newest version folder without a SavedModel (a half copy): named, not a traceback.
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "2").mkdir()
    with pytest.raises(ValueError, match="2 .the newest version. holds no saved_model.pb"):
        resolve_version(str(tmp_path))
    (tmp_path / "2").rmdir()
    assert resolve_version(str(tmp_path)) == str(tmp_path / "1")
    with pytest.raises(ValueError, match="neither a SavedModel nor a folder of numbered versions"):
        resolve_version(str(tmp_path / "1" / "saved_model.pb"))


def test_predict_binary_runs_the_tflite_model(exported, tmp_path):
    tflite = os.path.join(os.path.dirname(exported["export_dir"]), "tagnn.tflite")
    session = exported["real"][4]
    out = subprocess.run([sys.executable, "-m", "export.predict", f"--tflite={tflite}",
                          f"--session={','.join(map(str, session))}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # The .tflite speaks numbers; the vocabulary beside it (identity here) maps them to raw ids.
    assert got["top_k_item_numbers"] == exported["out"]["real__top_k_ids"][4].tolist()
    assert got["top_k_ids"] == [str(n) for n in got["top_k_item_numbers"]]


def test_tflite_conversion_refuses_a_non_savedmodel(tmp_path):
    with pytest.raises(ValueError, match="not a SavedModel"):
        convert_savedmodel(str(tmp_path), str(tmp_path / "x.tflite"))


def test_tflite_conversion_refuses_an_unknown_signature(exported, tmp_path):
    with pytest.raises(ValueError, match="no signature 'nope'.*serving_default"):
        convert_savedmodel(exported["path"], str(tmp_path / "x.tflite"), signature="nope")


def test_official_padding_diagnostic_is_not_servable():
    model = build_model(ModelConfig(hidden_size=4, padding="official"), 10)
    with pytest.raises(ValueError, match="Received: padding='official'"):
        SessionRecommender(model, SessionPreprocessor(10, 5), k=3)


def test_recommender_records_its_scoring_mode_and_refuses_bad_arguments():
    model = build_model(ModelConfig(hidden_size=4), 10, seed=0)
    preprocessor = SessionPreprocessor(10, 5)
    config = SessionRecommender(model, preprocessor, k=3, scoring_mode="tflite").get_config()
    assert (config["scoring_mode"], config["k"]) == ("tflite", 3)
    assert config["preprocessor"]["config"]["max_session_length"] == 5
    clone = SessionRecommender.from_config(config)
    assert (clone.scoring_mode, clone.k, clone.model.num_items) == ("tflite", 3, 10)
    with pytest.raises(ValueError, match="Received: k=11"):
        SessionRecommender(model, preprocessor, k=11)
    with pytest.raises(ValueError, match="Received: num_items=9"):
        SessionRecommender(model, SessionPreprocessor(9, 5))
    with pytest.raises(ValueError, match="Received: scoring_mode='fast'"):
        SessionRecommender(model, preprocessor, k=3, scoring_mode="fast")


def test_a_requested_k_is_clamped_to_the_catalogue_as_documented_and_rerank_options_are_checked(tmp_path):
    from tagnn_tf.serving.savedmodel_export import check_rerank_options

    model = build_model(ModelConfig(hidden_size=4), 10, seed=0)
    recommender = SessionRecommender(model, SessionPreprocessor(10, 5), k=3)
    request = tf.constant([[1, 2, 3]], tf.int64)
    # README, `top_k`: below 1 -> 1, above N = 10 -> N.
    for k, width in ((0, 1), (-1, 1), (4, 4), (50, 10)):
        assert recommender(request, k=tf.constant(k)).get("top_k_ids").shape == (1, width), k
    # --rerank_clusters below the probe (16 by default), or without --rerank_candidates: one clear error.
    with pytest.raises(InputError, match=r"--rerank_probe must be in \[1, --rerank_clusters=8\]"):
        check_rerank_options(100, 8, 16)
    with pytest.raises(InputError, match="--rerank_clusters=8 needs --rerank_candidates"):
        check_rerank_options(0, 8, 4)
    check_rerank_options(100, 8, 8)
    check_rerank_options(0, 0, 16)


@pytest.mark.parametrize("scoring_mode", ["serve", "tflite"])
def test_sliced_requests_give_the_outputs_of_whole_requests(scoring_mode):
    # 10 sessions in slices of 3 (3 + 3 + 3 + 1), with padding, invalid ids and an empty row.
    model = build_model(ModelConfig(hidden_size=8), 40, seed=1)
    rng = np.random.default_rng(0)
    request = rng.integers(-2, 45, (10, 6)).astype(np.int64)
    request[4] = 0
    preprocessor = SessionPreprocessor(40, 5)
    whole = SessionRecommender(model, preprocessor, k=4, scoring_mode=scoring_mode, max_batch_sessions=0)
    sliced = SessionRecommender(model, preprocessor, k=4, scoring_mode=scoring_mode, max_batch_sessions=3)
    for fn in (lambda r, x, **kw: r(x, **kw), lambda r, x, **kw: tf.function(lambda y: r(y, **kw))(x)):
        expected = fn(whole, tf.constant(request))
        got = fn(sliced, tf.constant(request))
        assert sorted(got) == sorted(expected)
        for key in expected:
            np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), atol=1e-6, err_msg=key)
        top = fn(sliced, tf.constant(request), with_scores=False)
        assert "scores" not in top
        np.testing.assert_array_equal(top["top_k_ids"].numpy(), expected["top_k_ids"].numpy())


def test_a_shop_log_with_raw_ids_end_to_end(tmp_path):
    """Raw ids in (a log the test writes), raw ids out: preprocess -> train -> export -> request."""
    from tagnn_tf import run_directory
    from tagnn_tf.config import ClickLogConfig, TrainConfig
    from tagnn_tf.models import model_builder
    from tagnn_tf.data.click_log import run_clicks
    from tagnn_tf.training.trainer import train

    rng = np.random.default_rng(3)
    skus = [f"SKU-{n:05d}" for n in rng.permutation(60)]  # text ids, zero-padded as a shop writes them
    rows = ["session,sku,ts"]
    for s in range(400):
        start = 1_700_000_000 + s * 600
        first = int(rng.integers(0, 60))
        for k in range(int(rng.integers(2, 6))):
            rows.append(f"u{s},{skus[(first + 3 * k) % 60]},{start + 30 * k}")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    run_clicks(str(tmp_path / "log.csv"), ClickLogConfig(session_column="session", item_column="sku",
                                                         time_column="ts", test_days=0.5),
               str(tmp_path / "data"), "shop", log=None)
    config = ExperimentConfig(data=DataConfig(dataset="shop", data_dir=str(tmp_path / "data")),
                              model=ModelConfig(hidden_size=8), train=TrainConfig(batch_size=32, epochs=1))
    train(config, str(tmp_path / "run"), log=lambda _: None)
    version = export_savedmodel(str(tmp_path / "run"), str(tmp_path / "export"), log=lambda *_: None)
    items = run_directory.read_items(str(tmp_path / "run"), 0)
    session = [items[4], items[9], "not-a-sku", items[4]]
    out = tf.saved_model.load(version).signatures["serving_default"](session_items=tf.constant([session]))
    _, model = model_builder.load_run(str(tmp_path / "run"))
    expected = keras_scores(model, [[5, 10, 5]])[0]  # the same session as item numbers
    np.testing.assert_allclose(out["scores"].numpy()[0], expected, atol=1e-5)
    top = [t.decode() for t in out["top_k_ids"].numpy()[0]]
    assert top == [items[c] for c in np.argsort(-expected, kind="stable")[:20]]
    assert int(out["unknown_item_count"][0]) == 1 and int(out["used_item_count"][0]) == 3
