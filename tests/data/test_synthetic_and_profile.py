"""The synthetic generator's repeat share, `SessionExamples.label_repeats` and the data profile, by hand."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from tagnn_tf.data.sessions import SessionExamples, augment
from tagnn_tf.data.synthetic import generate_session_arrays, repeat_rate, synthetic_catalogue
from tagnn_tf.data_profile import advice, profile_examples
from tagnn_tf.errors import InputError


def test_label_repeats_by_hand():
    # [5, 7] -> 5 repeats; [5, 7] -> 9 does not; [3] -> 3 repeats (the last click); [] -> nothing to repeat.
    examples = SessionExamples.from_lists([[5, 7], [5, 7], [3], []], [5, 9, 3, 4])
    assert examples.label_repeats().tolist() == [True, False, True, False]


def test_repeat_rate_by_hand():
    # Sessions [1, 2, 1] and [4, 4, 5, 4]: of the 5 clicks after a first, 1, 4 and 4 repeat -> 3/5.
    values = np.array([1, 2, 1, 4, 4, 5, 4])
    assert repeat_rate(values, np.array([0, 3, 7])) == pytest.approx(0.6)


@pytest.mark.parametrize("share", [0.2, 0.45, 0.7])
def test_synthetic_logs_have_the_requested_repeat_share(share):
    values, splits = generate_session_arrays(500, 5000, seed=3, repeat_share=share)
    assert repeat_rate(values, splits) == pytest.approx(share, abs=0.02)


def test_the_catalogues_transition_rows_are_the_walks_next_click_frequencies():
    # Without repeats the click after rank r is drawn from row r of the transition matrix: over 20,000
    # sessions of a 50-item catalogue the 5 items most often followed by a click have >= 2,000 next clicks
    # each, so each empirical frequency is within 0.04 of its row (3.5 standard deviations at most).
    catalogue = synthetic_catalogue(50, seed=3)
    matrix = catalogue.transition_rows(np.arange(50))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    values, splits = generate_session_arrays(50, 20000, seed=3)
    rank_of = np.zeros(51, np.int64)
    rank_of[catalogue.ids] = np.arange(50)
    ranks = rank_of[values]
    starts = np.zeros(len(values), bool)
    starts[splits[:-1]] = True
    previous, following = ranks[:-1][~starts[1:]], ranks[1:][~starts[1:]]
    for r in np.argsort(-np.bincount(previous, minlength=50))[:5]:
        nexts = following[previous == r]
        assert len(nexts) >= 2000
        np.testing.assert_allclose(np.bincount(nexts, minlength=50) / len(nexts), matrix[r], atol=0.04)


def test_the_default_synthetic_log_is_unchanged_by_the_knob():
    a = generate_session_arrays(200, 300, seed=3)
    b = generate_session_arrays(200, 300, seed=3, repeat_share=0.0)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(InputError, match="repeat_share"):
        generate_session_arrays(200, 300, seed=3, repeat_share=1.0)


def test_profile_by_hand():
    # Training sessions [1, 2, 1] and [3, 3, 4] (N = 4 items): examples [1, 2] -> 1 (repeat, not the last
    # click), [1] -> 2, [3, 3] -> 4, [3] -> 3 (repeat, the last click): repeat share 2/4, last click 1/4.
    # Clicks: item 1: 2, 2: 1, 3: 2, 4: 1 -> the top 1% (one item) holds 2 of 6 clicks.
    # Test [2, 4] -> 2 (repeat, not last), [2] -> 4 (new): 1/2 repeats, 0/2 last clicks; labels 2 and 4
    # are clicked once in training: both rare (< 5).
    train = augment([[1, 2, 1], [3, 3, 4]])
    test = SessionExamples.from_lists([[2, 4], [2]], [2, 4])
    p = profile_examples(train, test, num_items=4)
    assert (p["train_repeat_share"], p["test_repeat_share"]) == (50.0, 50.0)
    assert (p["train_last_click_share"], p["test_last_click_share"]) == (25.0, 0.0)
    assert p["top1pct_click_share"] == pytest.approx(100 * 2 / 6, abs=0.01)
    assert p["test_rare_label_share"] == 100.0
    assert p["session_length_percentiles"]["p50"] == 3.0 and p["session_length_percentiles"]["max"] == 3
    assert p["train_sessions"] == 2 and p["train_examples"] == 4 and p["test_examples"] == 2
    # S-POP = session clicks + POP in (0, 1), POP = clicks / (2 + 1) = [2/3, 1/3, 2/3, 1/3] for items 1..4;
    # ties count against the label. [2, 4] -> 2: items 2 and 4 score 4/3, rank 2. [2] -> 4: item 4
    # scores 1/3, every item scores at least that, rank 4. HR@20 = 100, MRR@20 = (1/2 + 1/4) / 2.
    assert p["floors"]["spop"] == {"hr@20": 100.0, "mrr@20": pytest.approx(100 * (1 / 2 + 1 / 4) / 2, abs=1e-3)}
    assert "moderate" not in p["advice"] and "repeat-heavy" in p["advice"]


def test_advice_reads_the_repeat_share():
    assert "repeat_explore" in advice({"test_repeat_share": 45.0})
    assert "V-SKNN" in advice({"test_repeat_share": 7.0})
    assert "moderate" in advice({"test_repeat_share": 21.0})
    # Below 20,000 training examples the line adds the small log's advice, whatever the repeat share.
    assert "small log" not in advice({"test_repeat_share": 21.0, "train_examples": 20_000})
    small = advice({"test_repeat_share": 45.0, "train_examples": 7_733})
    assert small.startswith("repeat-heavy") and small.endswith(
        "; a small log (7,733 training examples): train TAGNN with --item_norm_scale=8 and tune STAN beside it "
        "(experiments.tune_baselines)")


def test_profile_binary_prints_one_json_object():
    proc = subprocess.run([sys.executable, "-m", "trainers.profile", "--dataset=synthetic",
                           "--synthetic_num_sessions=800", "--synthetic_repeat_share=0.45"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    profile = json.loads(proc.stdout)
    assert profile["dataset"] == "synthetic" and 40 < profile["test_repeat_share"] < 52
    assert set(profile["floors"]) == {"spop", "pop"}


def test_profile_binary_names_a_missing_dataset(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "trainers.profile", "--dataset=nope", f"--data_dir={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert os.path.join(str(tmp_path), "nope") in proc.stderr
