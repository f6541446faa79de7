"""`--format=clicks` under bad input (issue 31): each case ends in one clear error, or a warning, never a
traceback or a silently wrong dataset."""

import datetime
import gzip
import json

import pytest

from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.click_log import preprocess_clicks
from tagnn_tf.errors import DataFileError, InputError

SHOP = dict(session_column="session", item_column="sku", time_column="ts", test_days=1, min_item_count=1)
DAY = 86400


def _rows(day0=1_600_000_000):
    """Three training sessions on day 0, one test session on day 3 (unix seconds): items a-d."""
    sessions = [("s1", "abc", 0), ("s2", "bca", 0), ("s3", "cab", 0), ("s4", "abd", 3)]
    rows = []
    for n, (session, items, day) in enumerate(sessions):
        rows += [(session, item, day0 + day * DAY + 10 * n + k) for k, item in enumerate(items)]
    rows[-1] = ("s4", "b", rows[-1][2])  # the test session repeats known items: [a, b, b]
    return rows


def _csv(path, rows, header="session,sku,ts"):
    path.write_text("\n".join([header] + [",".join(map(str, r)) for r in rows]) + "\n")
    return str(path)


def _config(**kw):
    return ClickLogConfig(**{**SHOP, **kw})


def test_a_millisecond_log_read_as_seconds_names_the_line_and_suggests_milliseconds(tmp_path):
    rows = [(s, i, t * 1000) for s, i, t in _rows()]
    with pytest.raises(DataFileError, match=r"log.csv:2: 'ts' is out of range .*unix_milliseconds"):
        preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())
    # Read as milliseconds it is the same log as in seconds.
    assert preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config(time_format="unix_milliseconds")
                             ).train_sessions == preprocess_clicks(_csv(tmp_path / "s.csv", _rows()), _config()
                                                                   ).train_sessions


@pytest.mark.parametrize("bad", ["inf", "1e300", "-5"])
def test_infinite_huge_or_negative_times_are_refused_or_skipped(tmp_path, bad):
    rows = _rows()
    rows[4] = (rows[4][0], rows[4][1], bad)  # line 6
    with pytest.raises(DataFileError, match="log.csv:6: 'ts' is out of range"):
        preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())
    r = preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config(), skip_malformed=True)
    assert r.report["malformed_rows_skipped"] == 1


def test_a_pattern_polars_cannot_use_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"--time_format='%Y-%m-%d %H' is not a pattern.*hour and minute"):
        preprocess_clicks(_csv(tmp_path / "log.csv", _rows()), _config(time_format="%Y-%m-%d %H"))
    with pytest.raises(InputError, match="strptime pattern"):
        preprocess_clicks(_csv(tmp_path / "log.csv", _rows()), _config(time_format="seconds"))


def test_a_truncated_gzip_is_a_data_file_error(tmp_path):
    text = "session,sku,ts\n" + "".join(f"s{n},{n % 7},{1_600_000_000 + n}\n" for n in range(50_000))
    data = gzip.compress(text.encode())
    (tmp_path / "log.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="log.csv.gz: cannot be read.*truncated or damaged"):
        preprocess_clicks(str(tmp_path / "log.csv.gz"), _config())


def test_a_byte_order_mark_before_the_header_is_ignored(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("\ufeff" + open(_csv(tmp_path / "plain.csv", _rows())).read(), encoding="utf-8")
    assert preprocess_clicks(str(path), _config()).train_sessions == [[1, 2, 3], [2, 3, 1], [3, 1, 2]]


def test_a_header_naming_a_needed_column_twice_is_refused(tmp_path):
    rows = [(s, i, i, t) for s, i, t in _rows()]
    with pytest.raises(DataFileError, match=r"log.csv:1: the header names column 'sku' more than once .fields \[2, 3\]"):
        preprocess_clicks(_csv(tmp_path / "log.csv", rows, header="session,sku,sku,ts"), _config())


def test_a_stray_quote_inside_a_field_is_read_as_written_and_a_ragged_line_is_named(tmp_path):
    # polars cannot split `a"x` (its chunked reader fails without a line); Python's csv module takes it
    # as the characters written, so "a\"x" is an item like any other.
    rows = _rows() * 1 + [("s0", 'a"x', 1_600_000_000 + 1), ("s0", "a", 1_600_000_000 + 2)]
    r = preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())
    assert 'a"x' in r.items
    # A line with a field too many: named (file line 5), or skipped and counted.
    rows = _rows()
    rows[3] = ("s2", 'b"', "x", rows[3][2])
    path = _csv(tmp_path / "ragged.csv", rows)
    with pytest.raises(DataFileError, match="ragged.csv:5: 4 fields where the header has 3"):
        preprocess_clicks(path, _config())
    r = preprocess_clicks(path, _config(), skip_malformed=True)
    assert r.report["malformed_rows_skipped"] == 1 and r.report["clicks_read"] == len(rows)


def test_native_parquet_timestamps_are_read_as_they_are(tmp_path):
    import polars as pl

    rows = _rows()
    when = [datetime.datetime.fromtimestamp(t, datetime.timezone.utc).replace(tzinfo=None) for _, _, t in rows]
    pl.DataFrame({"session": [r[0] for r in rows], "sku": [r[1] for r in rows], "ts": when}).write_parquet(
        tmp_path / "log.parquet")
    # time_format is not needed (nor read) for a timestamp column.
    r = preprocess_clicks(str(tmp_path / "log.parquet"), _config(time_format="%d/%m/%Y"))
    expected = preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())
    assert (r.train_sessions, r.test_sessions) == (expected.train_sessions, expected.test_sessions)
    assert r.report["split_time_utc"] == expected.report["split_time_utc"]


def test_a_click_dated_far_ahead_warns_that_the_test_window_is_tiny(tmp_path):
    # 200 training sessions, and one session 30 years ahead: the test window holds it alone. (Thousands of
    # years ahead is out of range, an error as above.)
    rows = [(f"s{n}", item, 1_600_000_000 + 100 * n + k) for n in range(200) for k, item in enumerate("ab")]
    rows += [("late", "a", 1_600_000_000 + 30 * 365 * DAY), ("late", "b", 1_600_000_000 + 30 * 365 * DAY + 1)]
    r = preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())
    assert r.report["test_sessions"] == 1
    assert len(r.report["warnings"]) == 1 and "0.50%" in r.report["warnings"][0]
    assert "2050-" in r.report["warnings"][0]  # the latest click, named
    json.dumps(r.report)
    # A split with a quarter of the sessions in test warns about nothing.
    assert preprocess_clicks(_csv(tmp_path / "ok.csv", _rows()), _config()).report["warnings"] == []


def test_a_log_whose_test_sessions_hold_only_new_items_is_refused(tmp_path):
    rows = _rows()[:9] + [("s4", "x", 1_600_000_000 + 3 * DAY), ("s4", "y", 1_600_000_000 + 3 * DAY + 1)]
    with pytest.raises(DataFileError, match="no test session survives: 1 sessions end in the last test_days=1"):
        preprocess_clicks(_csv(tmp_path / "log.csv", rows), _config())


def test_sessions_are_capped_at_200_clicks_by_default_and_the_cut_is_reported(tmp_path):
    long = [("long", "abcd"[k % 4], 1_600_000_000 + k) for k in range(250)]
    r = preprocess_clicks(_csv(tmp_path / "log.csv", long + _rows()[3:]), _config())
    assert ClickLogConfig().max_session_length == 200
    assert max(len(s) for s in r.train_sessions) == 200
    assert r.report["dropped"]["clicks_beyond_max_session_length"] == 50
    assert r.report["dropped"]["sessions_cut_to_max_session_length"] == 1
    r = preprocess_clicks(_csv(tmp_path / "log.csv", long + _rows()[3:]), _config(max_session_length=0))
    assert max(len(s) for s in r.train_sessions) == 250


def test_an_output_dir_that_is_a_file_is_an_input_error(tmp_path):
    from tagnn_tf.data_profile import preprocess_and_profile

    (tmp_path / "out").write_text("")
    with pytest.raises(InputError, match="--output_dir=.*out is a file, not a folder"):
        preprocess_and_profile("clicks", _csv(tmp_path / "log.csv", _rows()), str(tmp_path / "out"), "shop",
                               _config(), log=None)


def test_another_dataset_in_the_folder_is_refused_unless_overwrite_and_runs_notice_the_change(tmp_path):
    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.data.click_log import run_clicks
    from tagnn_tf.data.raw_preprocess import write_srgnn
    from tagnn_tf.serving.savedmodel_export import export_savedmodel
    from tagnn_tf.training.evaluation import evaluate_run
    from tagnn_tf.training.trainer import train

    data_dir, folder = str(tmp_path / "data"), tmp_path / "data" / "shop"
    run_clicks(_csv(tmp_path / "day1.csv", _rows()), _config(), data_dir, "shop", log=None)
    run = str(tmp_path / "run")
    data = DataConfig(dataset="shop", data_dir=data_dir, valid_portion=0.3)
    train(ExperimentConfig(data=data, train=TrainConfig(batch_size=4, epochs=1)), run, log=lambda _: None)
    # The same output again (a rerun) is accepted.
    run_clicks(_csv(tmp_path / "day1.csv", _rows()), _config(), data_dir, "shop", log=None)
    # Another log into the same folder: refused, the folder untouched.
    renamed = [(s, {"a": "z"}.get(i, i), t) for s, i, t in _rows()]
    before = (folder / "items.txt").read_text()
    with pytest.raises(InputError, match="shop already holds another dataset .items.txt differs.*--overwrite"):
        run_clicks(_csv(tmp_path / "day2.csv", renamed), _config(), data_dir, "shop", log=None)
    assert (folder / "items.txt").read_text() == before
    # With overwrite it is replaced; an SR-GNN folder over it leaves no items.txt behind.
    run_clicks(_csv(tmp_path / "day2.csv", renamed), _config(), data_dir, "shop", log=None, overwrite=True)
    assert (folder / "items.txt").read_text().splitlines()[0] == "z"
    # The run trained on the old data refuses to be scored or exported with the new one.
    with pytest.raises(InputError, match="trained with another item vocabulary.*Cannot evaluate it"):
        evaluate_run(run)
    with pytest.raises(InputError, match="trained with another item vocabulary.*Cannot export it"):
        export_savedmodel(run, str(tmp_path / "export"))
    assert not (tmp_path / "export").exists()
    shards_before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match="already holds another dataset .items.txt differs"):
        write_srgnn(str(folder), [[1, 2]], ([[1]], [2]), ([[1]], [2]))
    assert sorted(p.name for p in folder.iterdir()) == shards_before
    write_srgnn(str(folder), [[1, 2]], ([[1]], [2]), ([[1]], [2]), overwrite=True)
    # Nothing of the sharded dataset is left: no manifest, no shard folder.
    assert sorted(p.name for p in folder.iterdir()) == ["all_train_seq.txt", "preprocess_report.json", "test.txt",
                                                        "train.txt"]
