"""`--format=clicks`: any click log with named columns -> the trainer's dataset folder + items.txt."""

import gzip
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, require_data
from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.click_log import preprocess_clicks
from tagnn_tf.data.sessions import augment_lists
from tagnn_tf.data.session_shards import read_manifest, read_part
from tagnn_tf.errors import DataFileError

DIGINETICA = dict(time_column="eventdate", order_column="timeframe", time_format="%Y-%m-%d")


def shard_sessions(folder: str, part: str) -> list:
    """The sessions of a part of the dataset's session shards, as lists."""
    values, row_splits = read_part(read_manifest(folder), part)
    return [values[a:b].tolist() for a, b in zip(row_splits[:-1], row_splits[1:])]


def test_the_raw_diginetica_sample_gives_the_reference_output(tmp_path):
    folder = require_data("raw", "expected_sample")
    expected = {n: json.load(open(os.path.join(folder, f"{n}.json"))) for n in ("all_train_seq", "train", "test")}
    out = subprocess.run(
        [sys.executable, "-m", "trainers.preprocess", "--format=clicks", "--dataset=sample", f"--output_dir={tmp_path}",
         f"--input={require_data('raw', 'sample_train-item-views.csv')}", "--time_column=eventdate",
         "--order_column=timeframe", "--time_format=%Y-%m-%d", "--delimiter=;"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    sample = tmp_path / "sample"
    sessions = shard_sessions(str(sample), "train")
    # Items are numbered from 1 in training order, as the reference does, so the sessions are equal as written.
    assert sessions == expected["all_train_seq"]
    assert augment_lists(sessions) == (expected["train"]["sessions"], expected["train"]["labels"])
    assert augment_lists(shard_sessions(str(sample), "test")) == (expected["test"]["sessions"],
                                                                  expected["test"]["labels"])
    # items.txt maps them back: line i is the raw id of item i, in the order of first training click.
    items = (sample / "items.txt").read_text().splitlines()
    assert len(items) == 309 == len(set(items))
    first_session = [items[i - 1] for i in sessions[0]]
    raw_rows = [line.split(";") for line in open(require_data("raw", "sample_train-item-views.csv"))][1:]
    assert set(first_session) <= {row[2] for row in raw_rows}
    report = json.load(open(sample / "preprocess_report.json"))
    assert report["train_sessions"] == 469 and report["items"] == 309
    assert report["dropped"]["items_below_min_item_count"] > 0
    # The data profile of the written folder (tagnn_tf.data_profile), its advice printed by the binary.
    profile = report["profile"]
    assert profile["train_sessions"] == 469 and profile["items"] == 309
    assert profile["train_examples"] == len(expected["train"]["labels"])
    assert profile["test_examples"] == len(expected["test"]["labels"])
    assert 0 <= profile["test_repeat_share"] <= 100 and set(profile["floors"]) == {"spop", "pop"}
    assert profile["advice"] in out.stdout


def _log(path, rows, header="session,sku,ts", delimiter=","):
    text = "\n".join([header] + [delimiter.join(map(str, r)) for r in rows]) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return str(path)


DAY = 86400_000  # milliseconds


def _shop_rows():
    """Text ids as a shop writes them ("007" keeps its zeros); unix milliseconds.

    "007", "sku b" and "C-3" are clicked 5 times each; "rare" once and "new" twice (both
    dropped). Sessions s1-s4 on day 0, s6 on day 2, s5 on day 3 (the test day with test_days=1).
    """
    rows = []
    for n, (session, items, day) in enumerate([("s1", ["007", "sku b", "C-3"], 0), ("s2", ["sku b", "007"], 0),
                                               ("s3", ["C-3", "007", "rare", "sku b"], 0), ("s4", ["007", "sku b", "C-3"], 0),
                                               ("s5", ["C-3", "new", "007", "sku b"], 3)]):
        rows += [(session, item, day * DAY + 1000 * (10 * n + k)) for k, item in enumerate(items)]
    rows += [("s6", "C-3", 2 * DAY), ("s6", "new", 2 * DAY + 5)] * 1  # "new" only twice: dropped as rare
    return rows


@pytest.mark.parametrize("name,delimiter", [("log.csv", ","), ("log.tsv", "\t"), ("log.csv.gz", ";")])
def test_a_shop_log_with_text_ids(tmp_path, name, delimiter):
    config = ClickLogConfig(session_column="session", item_column="sku", time_column="ts",
                            time_format="unix_milliseconds", test_days=1, min_item_count=5)
    path = _log(tmp_path / name, _shop_rows(), header=delimiter.join(["session", "sku", "ts"]), delimiter=delimiter)
    r = preprocess_clicks(path, config)
    # Training order numbers 007 -> 1, "sku b" -> 2, C-3 -> 3; s3 loses "rare", s6 loses "new"
    # and with it its second click.
    assert r.items == ["007", "sku b", "C-3"]
    assert r.train_sessions == [[1, 2, 3], [2, 1], [3, 1, 2], [1, 2, 3]]
    assert r.test_sessions == [[3, 1, 2]]
    assert r.report["dropped"]["items_below_min_item_count"] == 2
    assert r.report["dropped"]["sessions_shorter_than_min_session_length_after_item_filter"] == 1  # s6


def test_parquet_input_and_max_session_length(tmp_path):
    import polars as pl

    rows = _shop_rows()
    pl.DataFrame({"session": [r[0] for r in rows], "sku": [r[1] for r in rows],
                  "ts": [r[2] for r in rows]}).write_parquet(tmp_path / "log.parquet")
    config = ClickLogConfig(session_column="session", item_column="sku", time_column="ts",
                            time_format="unix_milliseconds", test_days=1, max_session_length=2)
    r = preprocess_clicks(str(tmp_path / "log.parquet"), config)
    # The two most recent clicks of each session are kept.
    assert [[r.items[i - 1] for i in s] for s in r.train_sessions] == [
        ["sku b", "C-3"], ["sku b", "007"], ["007", "sku b"], ["sku b", "C-3"]]
    assert r.report["dropped"]["clicks_beyond_max_session_length"] == 4  # s1, s3, s4, s5: one each


@pytest.mark.parametrize("rows,header,config,fragment", [
    ([("s1", "a", 1)], "session,item,ts", {}, "log.csv:1: no column 'sku'; header columns: ['session', 'item', 'ts']"),
    ([("s1", "a", "yesterday")], "session,sku,ts", {}, "log.csv:2: 'ts' does not parse as 'unix_seconds'"),
    ([("s1", "a", "2016-13-45")], "session,sku,ts", {"time_format": "%Y-%m-%d"},
     "log.csv:2: 'ts' does not parse as '%Y-%m-%d'"),
    ([("s1", "", 5)], "session,sku,ts", {}, "log.csv:2: empty 'sku'"),
    ([], "session,sku,ts", {}, "log.csv: no clicks (a header and no rows)"),
    ([("s1", "a", 1), ("s1", "b", 2)], "session,sku,ts", {}, "log.csv: no session survives the rules"),
])
def test_bad_logs_name_file_line_or_column(tmp_path, rows, header, config, fragment):
    path = _log(tmp_path / "log.csv", rows, header=header)
    with pytest.raises(DataFileError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        preprocess_clicks(path, ClickLogConfig(session_column="session", item_column="sku", time_column="ts",
                                               **config))


def test_an_empty_file_and_a_bad_time_skipped_on_request(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataFileError, match="empty.csv: empty file"):
        preprocess_clicks(str(tmp_path / "empty.csv"), ClickLogConfig())
    rows = [(r[0], r[1], r[2] // 1000) for r in _shop_rows()] + [("s9", "007", "not a time")]
    path = _log(tmp_path / "log.csv", rows)
    config = ClickLogConfig(session_column="session", item_column="sku", time_column="ts", test_days=1)
    r = preprocess_clicks(path, config, skip_malformed=True)
    assert r.report["malformed_rows_skipped"] == 1 and len(r.train_sessions) == 4


def test_the_vocabulary_reaches_the_run_directory(tmp_path):
    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.data.click_log import run_clicks
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.errors import InputError
    from tagnn_tf.training.trainer import train

    config = ClickLogConfig(session_column="session", item_column="sku", time_column="ts",
                            time_format="unix_milliseconds", test_days=1)
    run_clicks(_log(tmp_path / "log.csv", _shop_rows()), config, str(tmp_path / "data"), "shop", log=None)
    data = DataConfig(dataset="shop", data_dir=str(tmp_path / "data"), valid_portion=0.2)
    splits = load_splits(data)
    assert (splits.num_items, splits.items) == (3, ("007", "sku b", "C-3"))
    run = tmp_path / "run"
    train(ExperimentConfig(data=data, train=TrainConfig(batch_size=4, epochs=1)), str(run), log=lambda _: None)
    assert (run / "items.txt").read_text() == "007\nsku b\nC-3\n"
    # Another vocabulary (tomorrow's log) is another dataset: the run dir refuses it.
    (tmp_path / "data" / "shop" / "items.txt").write_text("007\nsku b\nC-4\n")
    with pytest.raises(InputError, match="trained with another item vocabulary .3 items, the data has 3; item 3 differs first"):
        train(ExperimentConfig(data=data, train=TrainConfig(batch_size=4, epochs=2)), str(run), log=lambda _: None)


@pytest.mark.parametrize("text,fragment", [("a\nb\na\n", "items.txt:3: item id 'a' repeats line 1"),
                                           ("a\n\nb\n", "items.txt:2: empty item id")])
def test_a_damaged_vocabulary_is_refused(tmp_path, text, fragment):
    from tagnn_tf.run_directory import read_items_file

    (tmp_path / "items.txt").write_text(text)
    with pytest.raises(DataFileError, match=fragment):
        read_items_file(str(tmp_path / "items.txt"))


def test_a_log_with_quoted_header_and_values(tmp_path):
    # As pyarrow's and many databases' CSV writers quote them.
    rows = [f'"{s}","{i}",{t // 1000}' for s, i, t in _shop_rows()]
    (tmp_path / "q.csv").write_text('"session","sku","ts"\n' + "\n".join(rows) + "\n")
    r = preprocess_clicks(str(tmp_path / "q.csv"), ClickLogConfig(session_column="session", item_column="sku",
                                                                  time_column="ts", test_days=1))
    assert r.items == ["007", "sku b", "C-3"] and len(r.train_sessions) == 4
