"""experiments.compare_run_dirs: paired comparison of finished runs by their test ranks."""

import json
import pickle

import pytest

from experiments.compare_run_dirs import compare
from tagnn_tf import run_directory
from tagnn_tf.config import DataConfig, ExperimentConfig
from tagnn_tf.errors import InputError


def _run(folder, data_dir, ranks):
    folder.mkdir(parents=True)
    config = ExperimentConfig(data=DataConfig(dataset="tiny", data_dir=str(data_dir)))
    (folder / "config.json").write_text(config.to_json())
    run_directory.write_test_ranks(str(folder), ranks)
    return str(folder)


def test_each_run_minus_the_reference_on_all_labels_and_the_repeat_subsets(tmp_path):
    # Four test examples; the first and third labels repeat an item of their prefix.
    data_dir = tmp_path / "data"
    (data_dir / "tiny").mkdir(parents=True)
    with open(data_dir / "tiny" / "test.txt", "wb") as f:
        pickle.dump(([[1, 2], [3], [4, 5], [6]], [2, 7, 4, 8]), f)
    reference = _run(tmp_path / "boost", data_dir, [1, 30, 2, 5])
    other = _run(tmp_path / "floor", data_dir, [1, 3, 1, 40])
    out = str(tmp_path / "out" / "compare.json")
    lines = []
    assert compare(reference, [other], out, log=lines.append) == out
    record = json.loads(open(out).read())
    assert record["reference"] == "boost" and record["runs"] == {"boost": "../boost", "floor": "../floor"}
    diff = {subset: record["test"][subset]["runs"]["floor"]["minus_reference"] for subset in ("all", "repeat", "new")}
    # All: HR@20 3/4 both ways; MRR@20 (1 + 1/3 + 1 + 0) / 4 - (1 + 0 + 1/2 + 1/5) / 4 = 58.33 - 42.50.
    assert diff["all"]["hr@20"] == pytest.approx(0.0) and diff["all"]["mrr@20"] == pytest.approx(15.83, abs=0.01)
    # Repeat labels (ranks 1, 2 -> 1, 1): MRR@20 +25.00; new labels (30, 5 -> 3, 40): HR@20 0, MRR@20 +6.67.
    assert diff["repeat"]["mrr@20"] == pytest.approx(25.0) and diff["new"]["mrr@20"] == pytest.approx(6.67, abs=0.01)
    assert lines[0].startswith("floor minus boost: test HR@20 / MRR@20 all +0.00 [")
    assert record["git_commit"] and record["machine"]
    with pytest.raises(InputError, match="distinct folder names"):
        compare(reference, [reference], out)
    with pytest.raises(InputError, match="no test_ranks.npz"):
        compare(reference, [str(tmp_path / "data")], out)
