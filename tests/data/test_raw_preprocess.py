import json
import os
import subprocess
import sys

import pytest

from tagnn_tf.data.raw_preprocess import preprocess
from tagnn_tf.data.safe_pickle import load_restricted_pickle
from tagnn_tf.errors import DataFileError
from conftest import ROOT, require_data


def _expected():
    folder = require_data("raw", "expected_sample")
    load = lambda n: json.load(open(os.path.join(folder, n)))  # noqa: E731
    return load("all_train_seq.json"), load("train.json"), load("test.json")


def test_diginetica_sample_equals_reference_output():
    seqs, train, test = _expected()
    r = preprocess(require_data("raw", "sample_train-item-views.csv"), "diginetica")
    assert r.train_sessions == seqs and len(seqs) == 469
    assert list(r.train_examples[0]) == train["sessions"] and r.train_examples[1] == train["labels"]
    assert list(r.test_examples[0]) == test["sessions"] and r.test_examples[1] == test["labels"]
    assert (len(train["labels"]), len(test["labels"]), r.num_items) == (1205, 99, 309)


def _preprocess_sample(tmp_path, *flags):
    """`trainers.preprocess --format=diginetica` on the raw sample into `tmp_path`, successful."""
    out = subprocess.run(
        [sys.executable, "-m", "trainers.preprocess", "--format=diginetica", *flags,
         f"--input={require_data('raw', 'sample_train-item-views.csv')}", f"--output_dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def test_preprocess_binary_writes_the_same_files(tmp_path):
    seqs, train, test = _expected()
    out = _preprocess_sample(tmp_path, "--output_format=pickles")
    assert "1205 training examples, 99 test examples, 309 items" in out.stdout
    folder = tmp_path / "diginetica"
    assert load_restricted_pickle(str(folder / "all_train_seq.txt")) == seqs
    assert load_restricted_pickle(str(folder / "train.txt")) == (train["sessions"], train["labels"])
    assert load_restricted_pickle(str(folder / "test.txt")) == (test["sessions"], test["labels"])


def test_preprocess_binary_writes_session_shards_that_load_as_the_reference_examples(tmp_path):
    from tagnn_tf.data.sessions import load_test_examples, load_train_examples

    seqs, train, test = _expected()
    _preprocess_sample(tmp_path, "--shard_sessions=100")
    folder = tmp_path / "diginetica"
    assert not (folder / "all_train_seq.txt").exists() and (folder / "shards.json").exists()
    manifest = json.loads((folder / "shards.json").read_text())
    # 1205 training examples from the sample's sessions, 100 sessions a shard.
    assert [s["sessions"] for s in manifest["parts"]["train"]][:-1] == [100] * (len(manifest["parts"]["train"]) - 1)
    assert sum(s["sessions"] for s in manifest["parts"]["train"]) == len(seqs)
    assert sum(s["examples"] for s in manifest["parts"]["train"]) == 1205
    examples = load_train_examples(str(folder))
    assert [examples.prefix(i) for i in range(len(examples))] == train["sessions"]
    assert examples.labels.tolist() == train["labels"]
    examples = load_test_examples(str(folder))
    assert [examples.prefix(i) for i in range(len(examples))] == test["sessions"]
    assert examples.labels.tolist() == test["labels"]


def _yoochoose_file(tmp_path, header=False):
    # Items 10, 20, 30 are frequent; 99 occurs once (dropped); 77 occurs 5 times but only in a test session.
    sessions = [
        (1, "2014-04-01T10:00:0{}", [10, 20, 30]),
        (2, "2014-04-01T11:00:0{}", [20, 30]),
        (3, "2014-04-01T12:00:0{}", [30, 10]),
        (4, "2014-04-01T13:00:0{}", [10, 20, 99]),
        (5, "2014-04-01T14:00:0{}", [20]),  # length 1: dropped first
        (6, "2014-04-02T09:00:0{}", [10, 30, 20, 10]),
        (7, "2014-04-03T10:00:0{}", [30, 10, 20]),
        (8, "2014-04-03T10:30:0{}", [77, 77, 77, 77, 77, 20]),
    ]
    lines = ["session_id,timestamp,item_id,category"] if header else []
    for sid, ts, items in sessions:
        lines += [f"{sid},{ts.format(k)}.123Z,{item},0" for k, item in enumerate(items)]
    path = tmp_path / "yoochoose-clicks.dat"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("header", [False, True])
def test_yoochoose_protocol_by_hand(tmp_path, header):
    r = preprocess(_yoochoose_file(tmp_path, header), "yoochoose")
    # Max date 2014-04-03T10:30:05, split one day earlier: sessions 1-6 train, 7-8 test.
    # Items numbered in training order: 10 -> 1, 20 -> 2, 30 -> 3; 99 is filtered (< 5 clicks).
    assert r.train_sessions == [[1, 2, 3], [2, 3], [3, 1], [1, 2], [1, 3, 2, 1]]
    assert r.train_examples == ([[1, 2], [1], [2], [3], [1], [1, 3, 2], [1, 3], [1]], [3, 2, 3, 1, 2, 1, 2, 3])
    # Session 8 loses item 77 (unseen in training) and then is too short.
    assert r.test_examples == ([[3, 1], [3]], [2, 1])
    # Most recent quarter of the 8 training examples: the last 2, with the session they come from.
    assert r.fractions["yoochoose1_4"] == ([[1, 3, 2, 1]], ([[1, 3], [1]], [2, 3]))
    assert "yoochoose1_64" not in r.fractions  # 8 // 64 == 0 examples
    assert r.empty_fractions == {"yoochoose1_64": "8 training examples: their most recent 1/64 holds none"}


def test_yoochoose_binary_says_which_fraction_it_did_not_write(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trainers.preprocess", "--format=yoochoose",
                          f"--input={_yoochoose_file(tmp_path)}", f"--output_dir={tmp_path / 'out'}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["yoochoose1_4"]
    assert (f"did not write {tmp_path / 'out' / 'yoochoose1_64'}: 8 training examples: their most recent 1/64 "
            "holds none") in out.stdout


def test_malformed_line_is_an_error_with_its_number(tmp_path):
    path = tmp_path / "views.csv"
    path.write_text("session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-05-09\n1;NA;6;abc;2016-05-09\n")
    with pytest.raises(DataFileError, match=r"views.csv:3: malformed line"):
        preprocess(str(path), "diginetica")


def _diginetica_rows():
    """Header + 6 two-click sessions: 1-5 on May 1, 6 on May 9 (split at May 2: 5 train, 1 test)."""
    rows = ["session_id;user_id;item_id;timeframe;eventdate"]
    for s in range(1, 7):
        day = "2016-05-09" if s == 6 else "2016-05-01"
        rows += [f"{s};NA;1;{s * 10};{day}", f"{s};NA;2;{s * 10 + 1};{day}"]
    return rows


def test_a_byte_that_is_not_utf8_names_file_and_line_and_can_be_skipped(tmp_path):
    data = ("\n".join(_diginetica_rows()) + "\n").encode().replace(b"3;NA;1;30", b"3;NA;\xff;30")  # line 6
    path = tmp_path / "views.csv"
    path.write_bytes(data)
    with pytest.raises(DataFileError, match=r"views.csv:6: malformed line \(not UTF-8: byte 0xff at column 6\)"):
        preprocess(str(path), "diginetica")
    r = preprocess(str(path), "diginetica", skip_malformed=True)
    assert r.skipped_lines == 1
    # Session 3 kept only its second click, so it is too short: 4 training sessions remain.
    assert r.train_sessions == [[1, 2]] * 4
    assert r.test_examples == ([[1]], [2])


def test_skip_malformed_counts_and_reports(tmp_path):
    rows = _diginetica_rows()
    rows.insert(3, "garbage line")
    rows.insert(5, "7;NA;3;1;not-a-date")
    path = tmp_path / "views.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataFileError, match=r":4: malformed line"):
        preprocess(str(path), "diginetica")
    r = preprocess(str(path), "diginetica", skip_malformed=True)
    assert r.skipped_lines == 2
    assert r.train_sessions == [[1, 2]] * 5
    assert r.test_examples == ([[1]], [2])


def test_wrong_header_and_empty(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a;b;c\n")
    with pytest.raises(DataFileError, match="expected header"):
        preprocess(str(path), "diginetica")
    with pytest.raises(DataFileError, match="file not found"):
        preprocess(str(tmp_path / "missing.csv"), "diginetica")
