"""A pickle reader that refuses every class.

The SR-GNN data files hold only lists, tuples and ints. A file that asks the
unpickler for any class (and could thereby run code) is rejected.
"""

from __future__ import annotations

import io
import os
import pickle

from tagnn_tf.errors import DataFileError


class _NoClassUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D401 - pickle hook
        raise pickle.UnpicklingError(
            f"refusing to load class {module}.{name}: data files may hold only lists, tuples and ints")


def load_restricted_pickle(path: str):
    """Loads a pickle holding only builtin containers and scalars.

    Raises:
      DataFileError: the file is missing, not a pickle, or references a class.
    """
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _NoClassUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise DataFileError(f"{path}: not a plain-data pickle ({e})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise DataFileError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None
