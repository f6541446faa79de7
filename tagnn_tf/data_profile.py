"""What a session dataset looks like, and which model it favours (`python -m trainers.profile`).

`profile_examples(train, test)` measures, over every training example (all
prefixes of all training sessions) and every test example:

  train_repeat_share / test_repeat_share   % of labels already in the prefix
  train_last_click_share / test_last_click_share
                                           % of labels equal to the prefix's last click
  session_length_percentiles               clicks per training session (p10 .. p99, max)
  top1pct_click_share                      % of training clicks on the most clicked 1% of items
  test_rare_label_share                    % of test labels clicked fewer than 5 times in training
  floors                                   S-POP's and POP's test HR@20 / MRR@20 (fitted on
                                           the training sessions, in seconds)
  advice                                   one line: which model to try first

The repeat share is the number that decides the model (docs/repeat_heavy_logs.md): at 20-27% (Diginetica, Yoochoose 1/64) plain TAGNN wins by a wide
margin; around 40% and more S-POP is a strong floor that TAGNN without a
repeat mechanism can lose to.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from tagnn_tf import item_ids
from tagnn_tf.arguments import DATASET_OUTPUTS, check_choice
from tagnn_tf.data.dataset_folder import check_output_dir, convert_srgnn_folder
from tagnn_tf.data.session_shards import DEFAULT_SHARD_SESSIONS
from tagnn_tf.errors import InputError
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import DataFileError

# Labels seen fewer times than this in training count as rare.
RARE_LABEL_CLICKS = 5
# A repeat share at or above this is "repeat-heavy" in the advice.
REPEAT_HEAVY_SHARE = 35.0
# ... and below this "few repeats" (music-like logs: S-POP is no floor, kNN methods are strong).
FEW_REPEATS_SHARE = 10.0
# A log with fewer training examples than this is "small" in the advice: there normalised item vectors
# (`--item_norm_scale`) and a tuned STAN were measured to matter (docs/repeat_heavy_logs.md, "Small logs").
SMALL_LOG_EXAMPLES = 20_000
FLOOR_METHODS = ("spop", "pop")
_PERCENTILES = (10, 25, 50, 75, 90, 99)


def _share(mask: np.ndarray) -> float:
    return round(100.0 * float(np.mean(mask)), 2) if mask.size else 0.0


def _last_click_labels(examples: SessionExamples) -> np.ndarray:
    """bool `[n]`: the label equals the last click of its prefix."""
    last = examples.values[np.maximum(examples.row_splits[1:] - 1, 0)]
    return (examples.lengths > 0) & (last == examples.labels)


def profile_examples(train: SessionExamples, test: SessionExamples, num_items: int,
                     floors: bool = True) -> dict:
    """The profile (module docstring) of training and test examples over a catalogue of `num_items`.

    `floors=False` leaves out S-POP and POP (their fits take a few seconds).
    """
    from tagnn_tf.baselines.session_matrices import Sequences

    sessions = Sequences.of_sessions(train)
    lengths = sessions.lengths
    clicks = np.bincount(item_ids.id_to_column(sessions.values.astype(np.int64)), minlength=num_items)[:num_items]
    top = max(1, int(np.ceil(num_items / 100)))
    top_share = float(np.sort(clicks)[::-1][:top].sum()) / max(float(clicks.sum()), 1.0)
    label_clicks = clicks[item_ids.id_to_column(test.labels.astype(np.int64))]
    out = {
        "train_examples": len(train), "test_examples": len(test), "train_sessions": len(sessions),
        "items": int(num_items),
        "train_repeat_share": _share(train.label_repeats()),
        "test_repeat_share": _share(test.label_repeats()),
        "train_last_click_share": _share(_last_click_labels(train)),
        "test_last_click_share": _share(_last_click_labels(test)),
        "session_length_percentiles": {**{f"p{p}": float(np.percentile(lengths, p)) for p in _PERCENTILES},
                                       "max": int(lengths.max()) if lengths.size else 0},
        "top1pct_click_share": round(100.0 * top_share, 2),
        "test_rare_label_share": _share(label_clicks < RARE_LABEL_CLICKS),
    }
    if floors:
        out["floors"] = floor_metrics(sessions, test, num_items)
    out["advice"] = advice(out)
    return out


def floor_metrics(sessions, test: SessionExamples, num_items: int) -> dict:
    """{method: {"hr@20", "mrr@20"}} of S-POP and POP fitted on `sessions` (`Sequences`), on `test`."""
    from tagnn_tf.baselines import make_baseline
    from tagnn_tf.baselines.baseline_run import evaluate_scorer
    from tagnn_tf.config import BaselineConfig

    out = {}
    for method in FLOOR_METHODS:
        scorer = make_baseline(method, num_items, BaselineConfig()).fit(sessions)
        metrics, _ = evaluate_scorer(scorer, test, BaselineConfig().score_batch_size, log=lambda *_: None)
        out[method] = {"hr@20": metrics["hr@20"], "mrr@20": metrics["mrr@20"]}
    return out


def advice(profile: dict) -> str:
    """One line: what the profile says about which model to use."""
    line = _repeat_advice(profile)
    examples = profile.get("train_examples")
    if examples is not None and examples < SMALL_LOG_EXAMPLES:
        line += (f"; a small log ({examples:,} training examples): train TAGNN with --item_norm_scale=8 and tune "
                 "STAN beside it (experiments.tune_baselines)")
    return line


def _repeat_advice(profile: dict) -> str:
    share = profile["test_repeat_share"]
    floor = profile.get("floors", {}).get("spop")
    floor_text = f" (S-POP test HR@20 {floor['hr@20']:.2f}, MRR@20 {floor['mrr@20']:.2f})" if floor else ""
    if share >= REPEAT_HEAVY_SHARE:
        return (f"repeat-heavy ({share:.1f}% of test labels repeat a session item): keep trainers.train's "
                f"--repeat_mechanism=repeat_explore; S-POP is a strong floor{floor_text}, check the "
                "repeat / new subsets of every run")
    if share < FEW_REPEATS_SHARE:
        return (f"few repeats ({share:.1f}% of test labels repeat a session item): S-POP is no floor; tune "
                "V-SKNN / STAN beside TAGNN (experiments.tune_baselines), they are strong on such logs")
    return (f"moderate repeats ({share:.1f}% of test labels repeat a session item): trainers.train's "
            f"--repeat_mechanism=repeat_explore is the measured choice on such logs (docs/repeat_heavy_logs.md)"
            f"{floor_text}")


def profile_dataset(dataset: str, data_dir: str, floors: bool = True, **synthetic) -> dict:
    """`profile_examples` of a named dataset (its training examples before any validation split).

    Args:
      dataset: a folder under `data_dir` with SR-GNN files, or `synthetic`.
      synthetic: `DataConfig.synthetic_*` fields (without the prefix) for `synthetic`.
    """
    from tagnn_tf.config import DataConfig
    from tagnn_tf.data.datasets import SYNTHETIC
    from tagnn_tf.data.sessions import check_catalogue, load_test_examples, load_train_examples
    from tagnn_tf.data.synthetic import synthetic_dataset

    if dataset == SYNTHETIC:
        config = DataConfig(dataset=dataset, **{f"synthetic_{k}": v for k, v in synthetic.items()})
        train, test, _ = synthetic_dataset(config.synthetic_num_items, config.synthetic_num_sessions,
                                           config.synthetic_seed, repeat_share=config.synthetic_repeat_share)
        num_items = config.synthetic_num_items
    else:
        folder = os.path.join(data_dir, dataset)
        if not os.path.isdir(folder):
            raise DataFileError(f"{folder}: data directory not found (dataset={dataset!r}, data_dir={data_dir!r})")
        train, test = load_train_examples(folder), load_test_examples(folder)
        num_items = check_catalogue(0, train, test)
    return {"dataset": dataset, **profile_examples(train, test, num_items, floors)}


def add_profile_to_report(folder: str, log: Optional = print) -> dict:
    """Profiles the dataset written in `folder` and stores it as `profile` in its `preprocess_report.json`."""
    from tagnn_tf import run_directory
    from tagnn_tf.data.click_log import REPORT_FILE

    profile = profile_dataset(os.path.basename(os.path.normpath(folder)), os.path.dirname(os.path.normpath(folder)))
    path = os.path.join(folder, REPORT_FILE)
    report = run_directory.read_json(path) if os.path.exists(path) else {}
    report["profile"] = profile
    run_directory.write_json_atomic(path, report)
    if log:
        log(f"{folder}: {profile['advice']}")
    return profile


def preprocess_and_profile(fmt: str, path: str, output_dir: str, dataset: str = "clicks", click_config=None,
                           skip_malformed: bool = False, log: Optional = print, overwrite: bool = False,
                           output_format: str = "shards", shard_sessions: int = DEFAULT_SHARD_SESSIONS,
                           out_of_core: bool = False, partitions: int = 0) -> list:
    """`trainers.preprocess`: a raw log into dataset folder(s) (`--format=clicks`: `click_log.run_clicks`;
    `diginetica` / `yoochoose`: `raw_preprocess.run_preprocess`; `srgnn`: the session shards of a folder
    of SR-GNN pickles, `dataset_folder.convert_srgnn_folder`), each profiled into its report.
    `output_format`: session shards (`data.session_shards`, `shard_sessions` sessions each) or the SR-GNN
    pickles. A folder holding another dataset is refused unless `overwrite` (`data.dataset_folder`).
    `out_of_core` (`--format=clicks`, shards): memory bounded by a partition of the log
    (`data.click_log_out_of_core`, `partitions` of them, 0 = from the file size); the profile, which
    holds the examples in memory, is then left to `trainers.profile`. Returns the profiles."""
    check_output_dir(output_dir)
    check_choice("output_format", output_format, DATASET_OUTPUTS)
    if out_of_core:
        if fmt != "clicks" or output_format != "shards":
            raise InputError("--out_of_core preprocesses --format=clicks into session shards. Received: "
                             f"format={fmt!r}, output_format={output_format!r}")
        from tagnn_tf.data.click_log_out_of_core import preprocess_clicks_out_of_core

        preprocess_clicks_out_of_core(path, click_config, os.path.join(output_dir, dataset), skip_malformed,
                                      overwrite, partitions=partitions, shard_sessions=shard_sessions, log=log)
        if log:
            log(f"profile not computed (--out_of_core); run: python -m trainers.profile --dataset={dataset} "
                f"--data_dir={output_dir}")
        return []
    if fmt == "clicks":
        from tagnn_tf.data.click_log import run_clicks

        run_clicks(path, click_config, output_dir, dataset, skip_malformed=skip_malformed, log=log,
                   overwrite=overwrite, output_format=output_format, shard_sessions=shard_sessions)
        folders = [os.path.join(output_dir, dataset)]
    elif fmt == "srgnn":
        if output_format != "shards":
            raise InputError("--format=srgnn converts SR-GNN pickles into session shards; it takes "
                             f"--output_format=shards only. Received: output_format={output_format!r}")
        folder = os.path.join(output_dir, dataset)
        counts = convert_srgnn_folder(path, folder, shard_sessions, overwrite)
        if log:
            log(f"{counts['train_sessions']} training sessions, {counts['test_sessions']} test sessions, "
                f"{counts['num_items']} items; wrote {folder}")
        folders = [folder]
    else:
        from tagnn_tf.data.raw_preprocess import run_preprocess

        folders = run_preprocess(path, fmt, output_dir, skip_malformed=skip_malformed, log=log,
                                 overwrite=overwrite, output_format=output_format,
                                 shard_sessions=shard_sessions).folders
    profiles = []
    for folder in folders:
        try:
            profiles.append(add_profile_to_report(folder, log))
        except DataFileError as e:  # written, but not as the trainer reads it: say so, keep the others
            if log:
                log(f"WARNING: {folder} was written but not profiled: {e}")
    return profiles
