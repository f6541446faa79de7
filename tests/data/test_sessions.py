import pickle

import numpy as np
import pytest

from tagnn_tf.data import sessions as S
from tagnn_tf.errors import DataFileError


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
