"""Errors and layering: user mistakes are one line, bugs keep their traceback;
the library imports nothing around it."""

import ast
import os

import pytest

from conftest import ROOT
from tagnn_tf.cli import run_or_exit
from tagnn_tf.errors import DataFileError, InputError


def _raise(error):
    raise error


def test_user_errors_are_one_line():
    for error in (InputError("bad flag"), DataFileError("x.txt: bad record"), FloatingPointError("loss became nan")):
        with pytest.raises(SystemExit, match=f"^error: {error}$"):
            run_or_exit(_raise, error)


@pytest.mark.parametrize("bug", [KeyError("model"), ValueError("shapes do not match"), TypeError("None")])
def test_bugs_surface_with_their_traceback(bug):
    # A plain ValueError / KeyError from inside the library is a defect, not bad input.
    with pytest.raises(type(bug)):
        run_or_exit(_raise, bug)


def _imports(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules(folder):
    for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, ROOT), list(_imports(path))


def test_library_imports_in_one_direction():
    outside = ("experiments", "trainers", "export", "benchmarks")
    found = [(path, m) for path, imports in _modules("tagnn_tf") for m in imports
             if m.split(".")[0] in outside]
    assert found == []
    # Serving is a sibling of training, not its child.
    serving = [(path, m) for path, imports in _modules(os.path.join("tagnn_tf", "serving")) for m in imports
               if m.startswith("tagnn_tf.training")]
    assert serving == []
    # Layers take their argument checks from a leaf module, not the run configuration.
    layers = [(path, m) for path, imports in _modules(os.path.join("tagnn_tf", "layers")) for m in imports
              if m == "tagnn_tf.config"]
    assert layers == []
