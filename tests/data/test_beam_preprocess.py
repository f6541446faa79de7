"""The click-log rules on Apache Beam (DirectRunner, the Beam extra's environment) equal the one-machine output."""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, require_data
from tagnn_tf.data import session_shards
from tagnn_tf.data.click_log import run_clicks
from tagnn_tf.config import ClickLogConfig

BEAM_PYTHON = os.path.join(ROOT, ".venv-beam", "bin", "python")


def _beam(args, tmp_path):
    # The extra is part of the test set-up (`make test` builds it): a missing one fails, it is not skipped.
    assert os.path.exists(BEAM_PYTHON), "the Beam extra is not installed: make .venv-beam/.installed"
    return subprocess.run([BEAM_PYTHON, "-m", "trainers.preprocess_beam", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _contents(folder):
    manifest = session_shards.read_manifest(folder)
    report = json.load(open(os.path.join(folder, "preprocess_report.json")))
    report.pop("profile", None)
    parts = {p: [a.tolist() for a in session_shards.read_part(manifest, p)] for p in session_shards.PARTS}
    times = {p: [t for s in manifest.shards(p) for t in pq.read_table(os.path.join(folder, s.file)).column("time")
                 .to_pylist()] for p in session_shards.PARTS}
    return parts, times, report, open(os.path.join(folder, "items.txt")).read()


def test_the_raw_diginetica_sample_on_beam_gives_the_reference_and_the_one_machine_output(tmp_path):
    raw = require_data("raw", "sample_train-item-views.csv")
    flags = ["--time_column=eventdate", "--order_column=timeframe", "--time_format=%Y-%m-%d", "--delimiter=;"]
    out = _beam([f"--input={raw}", f"--output_dir={tmp_path}", "--dataset=beam", *flags,
                 "--runner=DirectRunner", "--direct_num_workers=1"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    expected = json.load(open(require_data("raw", "expected_sample", "all_train_seq.json")))
    values, splits = session_shards.read_part(session_shards.read_manifest(str(tmp_path / "beam")), "train")
    assert [values[a:b].tolist() for a, b in zip(splits[:-1], splits[1:])] == expected
    run_clicks(raw, ClickLogConfig(time_column="eventdate", order_column="timeframe", time_format="%Y-%m-%d",
                                   delimiter=";"), str(tmp_path), "one_machine", log=None)
    assert _contents(str(tmp_path / "beam")) == _contents(str(tmp_path / "one_machine"))


def _shop_log(tmp_path, fmt):
    rng = np.random.default_rng(4)
    rows = []
    for s in range(300):
        start = 1_700_000_000 + int(rng.integers(0, 20 * 86400))
        rows += [(f"u{s}", f"sku{int(rng.zipf(1.4)) % 50}", start + 40 * k) for k in range(int(rng.integers(1, 9)))]
    rows = [rows[i] for i in rng.permutation(len(rows))]  # not in time order
    table = pa.table({"sid": [r[0] for r in rows], "sku": [r[1] for r in rows], "ts": [r[2] for r in rows]})
    path = str(tmp_path / f"log.{fmt}")
    if fmt == "parquet":
        pq.write_table(table, path, row_group_size=200)  # several row groups, read in parallel
    else:
        import pyarrow.csv as pcsv
        pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="none"))
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_generated_log_on_beam_gives_the_one_machine_output(tmp_path, fmt):
    path = _shop_log(tmp_path, fmt)
    config = ClickLogConfig(session_column="sid", item_column="sku", time_column="ts", test_days=4,
                            max_session_length=5)
    run_clicks(path, config, str(tmp_path), "one_machine", log=None, shard_sessions=64)
    out = _beam([f"--input={path}", f"--output_dir={tmp_path}", "--dataset=beam", "--session_column=sid",
                 "--item_column=sku", "--time_column=ts", "--test_days=4", "--max_session_length=5",
                 "--shard_sessions=64"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    beam_output, one_machine = _contents(str(tmp_path / "beam")), _contents(str(tmp_path / "one_machine"))
    assert beam_output == one_machine
    assert one_machine[2]["dropped"]["clicks_beyond_max_session_length"] > 0


def test_a_bad_row_fails_the_beam_pipeline_by_name_or_is_counted(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("sid,sku,ts\n" + "".join(f"u{k // 4},sku{k % 7},{1_700_000_000 + 3600 * k}\n" for k in range(400))
                    + "u1,sku1,yesterday\n")
    args = [f"--input={path}", f"--output_dir={tmp_path}", "--dataset=shop", "--session_column=sid",
            "--item_column=sku", "--time_column=ts", "--test_days=2"]
    out = _beam(args, tmp_path)
    assert out.returncode != 0 and "'ts' does not parse as 'unix_seconds'" in out.stderr, out.stderr[-3000:]
    out = _beam(args + ["--skip_malformed"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.load(open(tmp_path / "shop" / "preprocess_report.json"))["malformed_rows_skipped"] == 1


def test_a_big_log_on_a_local_runner_gets_the_out_of_core_advice(tmp_path):
    # 65 MB of log: above the 64 MB threshold; 1 MB below it; a cluster runner never.
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    with open(big, "wb") as f:
        f.truncate(65 * 2**20)
    with open(small, "wb") as f:
        f.truncate(2**20)
    check = ("from tagnn_tf.data.beam_preprocess import local_runner_advice as a; import sys; "
             "print([a(sys.argv[1], None) is not None, a(sys.argv[1], 'PrismRunner') is not None, "
             "a(sys.argv[1], 'FlinkRunner') is not None, a(sys.argv[2], None) is not None]); "
             "print(a(sys.argv[1], None))")
    assert os.path.exists(BEAM_PYTHON), "the Beam extra is not installed: make .venv-beam/.installed"
    out = subprocess.run([BEAM_PYTHON, "-c", check, str(big), str(small)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    flags, message = out.stdout.splitlines()[:2]
    assert flags == "[True, True, False, False]"
    assert "65 MB" in message and "--out_of_core" in message
