"""`--out_of_core`: the click-log rules in passes over files, equal to the in-memory preprocessing."""

import json
import os

import numpy as np
import pytest

from conftest import require_data
from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.click_log import run_clicks
from tagnn_tf.data.click_log_out_of_core import preprocess_clicks_out_of_core
from tagnn_tf.errors import DataFileError

DIGINETICA = ClickLogConfig(time_column="eventdate", order_column="timeframe", time_format="%Y-%m-%d", delimiter=";")


def _outputs(folder):
    report = json.load(open(os.path.join(folder, "preprocess_report.json")))
    report.pop("profile", None)
    return (json.load(open(os.path.join(folder, "shards.json")))["parts"], report,
            open(os.path.join(folder, "items.txt")).read())


@pytest.mark.parametrize("partitions,batch_rows,window_sessions", [(1, 10**6, 10**6), (3, 1000, 40), (7, 333, 5)])
def test_the_raw_diginetica_sample_gives_the_in_memory_output(tmp_path, partitions, batch_rows, window_sessions):
    raw = require_data("raw", "sample_train-item-views.csv")
    run_clicks(raw, DIGINETICA, str(tmp_path), "memory", log=None, shard_sessions=50)
    preprocess_clicks_out_of_core(raw, DIGINETICA, str(tmp_path / "passes"), partitions=partitions,
                                  batch_rows=batch_rows, window_sessions=window_sessions, shard_sessions=50, log=None)
    # The shards are byte-identical (the manifests list their SHA-256), and so are items.txt and the report.
    assert _outputs(str(tmp_path / "memory")) == _outputs(str(tmp_path / "passes"))
    assert not [n for n in os.listdir(tmp_path) if "work" in n]  # the intermediate files are gone


def _log(path, rows):
    with open(path, "w") as f:
        f.write("sid,sku,ts\n" + "".join(f"{s},{i},{t}\n" for s, i, t in rows))
    return str(path)


def _shop_rows(seed=0, sessions=400):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(sessions):
        start = 1_700_000_000 + int(rng.integers(0, 30 * 86400))
        for k in range(int(rng.integers(1, 8))):
            rows.append((f"u{s}", f"sku{int(rng.zipf(1.3)) % 60}", start + 30 * k))
    order = rng.permutation(len(rows))  # a log not written in time order
    return [rows[i] for i in order]


def test_a_log_out_of_time_order_gives_the_in_memory_output(tmp_path):
    path = _log(tmp_path / "log.csv", _shop_rows())
    config = ClickLogConfig(session_column="sid", item_column="sku", time_column="ts", test_days=5,
                            max_session_length=4)
    run_clicks(path, config, str(tmp_path), "memory", log=None, shard_sessions=64)
    preprocess_clicks_out_of_core(path, config, str(tmp_path / "passes"), partitions=4, batch_rows=100,
                                  window_sessions=20, shard_sessions=64, log=None)
    memory, passes = _outputs(str(tmp_path / "memory")), _outputs(str(tmp_path / "passes"))
    assert memory == passes
    assert passes[1]["dropped"]["clicks_beyond_max_session_length"] > 0  # the cut was exercised


def test_a_bad_row_in_a_later_batch_is_named_by_its_line_or_skipped(tmp_path):
    rows = _shop_rows(sessions=100)
    rows[250] = ("u1", "sku1", "yesterday")
    path = _log(tmp_path / "log.csv", rows)
    config = ClickLogConfig(session_column="sid", item_column="sku", time_column="ts", test_days=5)
    with pytest.raises(DataFileError, match=r"log.csv:252: 'ts' does not parse as 'unix_seconds'"):
        preprocess_clicks_out_of_core(path, config, str(tmp_path / "out"), partitions=2, batch_rows=100, log=None)
    assert not os.path.exists(tmp_path / "out" / "shards.json")
    result = preprocess_clicks_out_of_core(path, config, str(tmp_path / "out"), skip_malformed=True, partitions=2,
                                           batch_rows=100, log=None)
    assert result.report["malformed_rows_skipped"] == 1
