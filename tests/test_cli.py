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
    """Every module `path` imports, function-level (lazy) imports included; `from tagnn_tf import x`
    counts as `tagnn_tf.x`."""
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tagnn_tf":
                yield from (f"tagnn_tf.{alias.name}" for alias in node.names)
            else:
                yield node.module


def _modules(folder):
    for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, ROOT), list(_imports(path))


# The library's floors, lowest first: a module or folder of `tagnn_tf` imports only from floors below its own
# (never sideways, never up), so no two folders import each other.
FLOORS = (
    ("errors", "item_ids", "runtime"),
    ("arguments", "cli", "run_lock", "model_registry"),
    ("config",),
    ("run_directory",),
    ("layers", "metrics", "flags_config"),
    ("data", "retrieval"),
    ("models",),
    ("baselines", "training", "serving"),
    ("data_profile", "launcher"),
)
FLOOR = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def _unit(module_or_path):
    """`tagnn_tf.layers.x` / `tagnn_tf/layers/x.py` -> `layers`; None outside the library or for the package."""
    parts = module_or_path.replace(os.sep, ".").removesuffix(".py").split(".")
    return parts[1] if parts[0] == "tagnn_tf" and len(parts) > 1 and parts[1] != "__init__" else None


def _violations(modules):
    """(path, imported module, why) for each import that does not go to a lower floor."""
    out = []
    for path, imports in modules:
        source = _unit(path)
        for module in imports:
            target = _unit(module)
            if source is None or target is None or target == source:
                continue
            if source not in FLOOR or target not in FLOOR:
                out.append((path, module, "not on a floor: add it to FLOORS"))
            elif FLOOR[target] >= FLOOR[source]:
                out.append((path, module, "sideways" if FLOOR[target] == FLOOR[source] else "upward"))
    return out


def test_library_imports_in_one_direction():
    outside = ("experiments", "trainers", "export", "benchmarks")
    modules = list(_modules("tagnn_tf"))
    found = [(path, m) for path, imports in modules for m in imports if m.split(".")[0] in outside]
    assert found == []
    assert _violations(modules) == []


def test_the_direction_check_catches_an_upward_and_a_sideways_import():
    # The check itself can fail: the four upward imports this layout removed, and a loop between folders.
    assert [why for *_, why in _violations([
        ("tagnn_tf/layers/session_preprocessor.py", ["tagnn_tf.data.session_graph"]),
        ("tagnn_tf/models/tagnn.py", ["tagnn_tf.serving.item_clusters"]),
        ("tagnn_tf/training/trainer.py", ["tagnn_tf.baselines.baseline_run"]),
        ("tagnn_tf/baselines/baseline_run.py", ["tagnn_tf.training.ranking_metrics"]),
        ("tagnn_tf/run_directory.py", ["tagnn_tf.models"]),
        ("tagnn_tf/new_folder/x.py", ["tagnn_tf.errors"]),
    ])] == ["upward", "upward", "sideways", "sideways", "upward", "not on a floor: add it to FLOORS"]


def test_every_folder_of_the_library_is_on_a_floor():
    units = {_unit(path) for path, _ in _modules("tagnn_tf")} - {None}
    assert units <= set(FLOOR), sorted(units - set(FLOOR))


def test_the_registry_names_classes_on_the_floor_that_builds_them():
    from tagnn_tf import model_registry

    for spec in model_registry.SPECS:
        home = "tagnn_tf.models." if spec.neural else "tagnn_tf.baselines."
        assert spec.class_path.startswith(home), spec
        assert isinstance(spec.model_class(), type), spec


def test_experiments_do_not_import_each_other_in_a_loop():
    edges = {os.path.basename(path)[:-3]: {m.split(".")[1] for m in imports if m.startswith("experiments.")}
             for path, imports in _modules("experiments")}
    loops = sorted((a, b) for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, ()))
    assert loops == []
