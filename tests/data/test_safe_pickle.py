import collections
import os
import pickle

import pytest

from tagnn_tf.data.safe_pickle import load_restricted_pickle
from tagnn_tf.errors import DataFileError


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _write(tmp_path, obj, name="f.txt"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj))
    return str(path)


def test_plain_data_loads(tmp_path):
    obj = ([[1, 2], [3]], (4, 5))
    assert load_restricted_pickle(_write(tmp_path, obj)) == obj


@pytest.mark.parametrize("obj", [Evil(), collections.OrderedDict(a=1), {1, 2}.__class__.__mro__[0]])
def test_any_class_is_refused(tmp_path, obj):
    with pytest.raises(DataFileError, match="refusing to load class"):
        load_restricted_pickle(_write(tmp_path, obj))


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        load_restricted_pickle(str(tmp_path / "nope.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DataFileError, match="bad.txt"):
        load_restricted_pickle(str(bad))
