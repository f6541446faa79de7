import pickle

import numpy as np
import pytest

from tagnn_tf.data import sessions as S
from tagnn_tf.errors import DataFileError, InputError
from tagnn_tf.data.sessions import augment, split_validation


def test_augment_follows_reference_order():
    # SR-GNN process_seqs: per session, the longest prefix first.
    ex = S.augment([[1, 2, 3], [4, 5]])
    assert [ex.prefix(i) for i in range(len(ex))] == [[1, 2], [1], [4]]
    assert ex.labels.tolist() == [3, 2, 5]


def test_take_and_split_are_seeded_and_disjoint():
    ex = S.augment([[i, i + 1, i + 2, i + 3] for i in range(1, 101)])
    train, valid = S.split_validation(ex, 0.1, seed=3)
    assert (len(train), len(valid)) == (270, 30)
    again_train, again_valid = S.split_validation(ex, 0.1, seed=3)
    assert np.array_equal(valid.labels, again_valid.labels) and np.array_equal(valid.values, again_valid.values)
    _, other = S.split_validation(ex, 0.1, seed=4)
    assert not np.array_equal(valid.values, other.values)
    pairs = lambda e: {(tuple(e.prefix(i)), int(e.labels[i])) for i in range(len(e))}  # noqa: E731
    assert pairs(train) | pairs(valid) == pairs(ex) and not pairs(train) & pairs(valid)


def _dump(folder, name, obj):
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(pickle.dumps(obj))


@pytest.mark.parametrize("sessions,fragment", [
    ([[1, 2], [3, 0]], "item id is not an integer in [1, 2147483647] at record 1: [3, 0]"),
    # Ids the model cannot hold (int32) are refused, not wrapped: 4294967301 would load as 5.
    ([[1, 2], [3, 4294967301, 9]], "item id is not an integer in [1, 2147483647] at record 1: [3, 4294967301, 9]"),
    ([[3, 2**31]], "at record 0"),
    ([[3, 2**64 + 5]], "at record 0"),
    ([[1, 2], [-4, 2]], "at record 1: [-4, 2]"),
    ([[1, 2], [5]], "session shorter than 2 at record 1"),
    ([[1, 2], []], "session shorter than 2 at record 1"),
    ([[1, "7"]], "item id is not an integer in [1, 2147483647] at record 0"),
    ([[1, 2.5]], "at record 0"),
    ([[1, True]], "at record 0"),
    ({"a": 1}, "expected a list of sessions"),
])
def test_bad_sessions_name_file_and_record(tmp_path, sessions, fragment):
    _dump(tmp_path / "d", "all_train_seq.txt", sessions)
    with pytest.raises(DataFileError) as e:
        S.load_train_examples(str(tmp_path / "d"))
    assert "all_train_seq.txt" in str(e.value) and fragment in str(e.value)


@pytest.mark.parametrize("data,fragment", [
    (([[1], [2]], [2]), "2 prefixes but 1 labels"),
    (([[1], [2]], [2, 0]), "label is not an integer in [1, 2147483647] at record 1"),
    (([[1], [2]], [2, 2**31]), "label is not an integer in [1, 2147483647] at record 1"),
    (([[1], [2**32 + 1]], [2, 3]), "item id is not an integer in [1, 2147483647] at record 1"),
    (([[1], []], [2, 3]), "session shorter than 1 at record 1"),
    ([[1]], "expected a (prefixes, labels) pair"),
])
def test_bad_test_file(tmp_path, data, fragment):
    _dump(tmp_path, "test.txt", data)
    with pytest.raises(DataFileError) as e:
        S.load_test_examples(str(tmp_path))
    assert "test.txt" in str(e.value) and fragment in str(e.value)


def test_train_txt_must_match_sessions(tmp_path):
    _dump(tmp_path, "all_train_seq.txt", [[1, 2, 3]])
    _dump(tmp_path, "train.txt", ([[1, 2], [1]], [3, 2]))
    assert len(S.load_train_examples(str(tmp_path))) == 2
    _dump(tmp_path, "train.txt", ([[1, 2], [1]], [3, 3]))
    with pytest.raises(DataFileError, match="does not equal the augmentation"):
        S.load_train_examples(str(tmp_path))


def test_catalogue_is_derived_and_checked():
    ex = S.augment([[1, 9, 3]])
    assert S.check_catalogue(0, ex) == 9
    assert S.check_catalogue(20, ex) == 20
    with pytest.raises(ValueError, match="num_items=5 is smaller than the largest item id 9"):
        S.check_catalogue(5, ex)


def test_missing_dir():
    with pytest.raises(DataFileError, match="data directory not found"):
        S.load_train_examples("/nonexistent/dir")


@pytest.mark.parametrize("prefixes,labels,fragment", [
    ([[3, 4294967301, 9]], [2], "prefix item id 4294967301 is outside"),
    ([[3]], [2**31], "label item id 2147483648 is outside"),
    ([[2**64 + 5]], [1], "a prefix item id is not an integer"),
    ([[0]], [1], "prefix item id 0 is outside"),
])
def test_examples_refuse_ids_the_model_cannot_hold(prefixes, labels, fragment):
    with pytest.raises(ValueError, match=fragment):
        S.SessionExamples.from_lists(prefixes, labels)


def test_example_sessions_and_sequences_survive_a_split():
    from tagnn_tf.data.sessions import example_sessions, session_sequences

    # Sessions [1 2 3], [4 5], [1 2], [1 2 3 4] -> examples longest prefix first.
    ex = augment([[1, 2, 3], [4, 5], [1, 2], [1, 2, 3, 4]])
    np.testing.assert_array_equal(example_sessions(ex), [0, 0, 1, 2, 3, 3, 3])
    # Without ([1 2], 3), the middle example of the last session, its session is still one.
    gapped = ex.take([0, 1, 2, 3, 4, 6])
    np.testing.assert_array_equal(example_sessions(gapped), [0, 0, 1, 2, 3, 3])
    values, splits = session_sequences(gapped)
    assert [values[a:b].tolist() for a, b in zip(splits[:-1], splits[1:])] == [[1, 2, 3], [4, 5], [1, 2],
                                                                               [1, 2, 3, 4]]
    # Without its longest example, a session shows what its remaining longest example does.
    values, splits = session_sequences(ex.take([0, 1, 2, 3, 5, 6]))
    assert values[splits[3]:splits[4]].tolist() == [1, 2, 3]


@pytest.mark.parametrize("how", ["sessions", "time"])
def test_session_splits_hold_out_whole_sessions(how):
    from tagnn_tf.data.sessions import example_sessions

    sessions = [[i, i + 1, i + 2][: 2 + i % 2] for i in range(1, 41)]  # 40 sessions of 2 or 3 clicks
    ex = augment(sessions)
    train, valid = split_validation(ex, 0.25, seed=3, how=how)
    assert len(train) + len(valid) == len(ex)
    assert abs(len(valid) - 0.25 * len(ex)) <= 2  # whole sessions of 1-2 examples
    full = {tuple(ex.prefix(i) + [int(ex.labels[i])]) for i in range(len(ex))}
    seen_train = {tuple(train.prefix(i) + [int(train.labels[i])]) for i in range(len(train))}
    seen_valid = {tuple(valid.prefix(i) + [int(valid.labels[i])]) for i in range(len(valid))}
    assert seen_train | seen_valid == full
    # No session has examples on both sides: its first click (= its id here) is in one split only.
    assert not {s[0] for s in seen_train} & {s[0] for s in seen_valid}
    if how == "time":  # the last sessions of the file
        assert {s[0] for s in seen_valid} == set(range(41 - len(set(example_sessions(valid))), 41))


def test_session_splits_need_two_sessions():
    with pytest.raises(InputError, match="at least 2 sessions"):
        split_validation(augment([[1, 2, 3, 4]]), 0.5, 0, "time")
    with pytest.raises(InputError, match="valid_split"):
        split_validation(augment([[1, 2], [3, 4]]), 0.5, 0, "random")
