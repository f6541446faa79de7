"""The report's repeat sections, rendered from the files their scripts write."""

import json
import os

from experiments import repeat_report


def _subsets(overall, repeat, new):
    return {"hr@20": overall[0], "mrr@20": overall[1], "repeat/hr@20": repeat[0], "repeat/mrr@20": repeat[1],
            "new/hr@20": new[0], "new/mrr@20": new[1]}


def test_profiles_synthetic_study_and_forms_render_from_their_files(tmp_path):
    os.makedirs(tmp_path / "profiles")
    json.dump({"test_repeat_share": 20.512, "test_last_click_share": 9.1, "top1pct_click_share": 13.0,
               "test_rare_label_share": 7.31, "session_length_percentiles": {"p50": 4.0, "p90": 9.0},
               "floors": {"spop": {"hr@20": 21.08, "mrr@20": 13.65}, "pop": {"hr@20": 0.93, "mrr@20": 0.21}}},
              open(tmp_path / "profiles" / "shop.json", "w"))
    os.makedirs(tmp_path / "repeat_synthetic")
    json.dump({"synthetic": {"num_items": 2000, "num_sessions": 40000, "repeat_share": 0.45},
               "git_commit": "abcdef0123456", "machine": {"cpu": "AMD EPYC"},
               "methods": {"spop": {"tries_done": 1, "tries": 1, "best_try": 0,
                                    "test": _subsets((54.17, 38.4), (100, 82.37), (17.1, 2.82))},
                           "tagnn_boost": {"boost_weight": 8.0,
                                           "test": _subsets((89.31, 50.64), (99.93, 85.51), (80.72, 22.43))}},
               "bayes_optimal": _subsets((95.85, 62.41), (99.97, 78.22), (92.52, 49.62)),
               "margins_of_tagnn_repeat": {"spop": {"hr@20": 37.16, "mrr@20": 19.86}}},
              open(tmp_path / "repeat_synthetic" / "repeat_synthetic.json", "w"))
    # A second study on a smaller log, with the paper's schedule: its own header and table, after the first.
    os.makedirs(tmp_path / "repeat_synthetic" / "small_log")
    json.dump({"synthetic": {"num_items": 300, "num_sessions": 2500, "repeat_share": 0.45},
               "train": {"lr_schedule": "paper"}, "git_commit": "0123456789abc", "machine": {"cpu": "Xeon"},
               "methods": {"stan": {"tries_done": 20, "tries": 20, "best_try": 8,
                                    "test": _subsets((90.61, 53.14), (98.35, 80.0), (83.94, 30.0))}}},
              open(tmp_path / "repeat_synthetic" / "small_log" / "repeat_synthetic.json", "w"))
    json.dump({"alpha": 0.25, "repeat_weight": 0.5, "test": _subsets((92.62, 59.35), (100, 81.63), (86.27, 40.15))},
              open(tmp_path / "repeat_synthetic" / "small_log" / repeat_report.FIRST_ORDER_REFERENCE, "w"))
    os.makedirs(tmp_path / "repeat_synthetic" / "small_log" / "no-decay")
    json.dump({"selected_epoch": 11, "epochs_run": 15, "test": _subsets((87.82, 54.01), (98.8, 70.0), (78.37, 40.0))},
              open(tmp_path / "repeat_synthetic" / "small_log" / "no-decay" / "result.json", "w"))
    os.makedirs(tmp_path / "repeat_mixture_forms")
    json.dump({"run": "runs/x", "forms": {"exclusive": _subsets((51.18, 18.29), (94.56, 54.35), (39.98, 8.98))}},
              open(tmp_path / "repeat_mixture_forms" / "d.json", "w"))
    text = "\n".join(repeat_report.render(str(tmp_path)))
    # 20.512 -> 20.51; p50 / p90 as integers; the floors as HR@20 / MRR@20.
    assert "| shop | 20.51 | 9.10 | 4 / 9 | 13.00 | 7.31 | 21.08 / 13.65 | 0.93 / 0.21 |" in text
    first = ("**2,000 items, 40,000 sessions, 45% of next clicks repeat a session item; learning-rate schedule "
             "`official`** (`results/repeat_synthetic/`, commit abcdef0123, machine AMD EPYC)")
    second = ("**300 items, 2,500 sessions, 45% of next clicks repeat a session item; learning-rate schedule "
              "`paper`** (`results/repeat_synthetic/small_log/`, commit 0123456789, machine Xeon)")
    assert first in text and second in text and text.index(first) < text.index(second)
    assert text.index(second) < text.index("| STAN, tuned | 20 (20), best 8 | 90.61 / 53.14 |")
    # A run beside a study's JSON is a row of that study only.
    assert text.count("| `no-decay` (`trainers.train`) | epoch 11 of 15 | 87.82 / 54.01 | 98.80 / 70.00 |") == 1
    assert text.index("`no-decay`") > text.index(second)
    assert "| S-POP | 1 (1), best 0 | 54.17 / 38.40 | 100.00 / 82.37 | 17.10 / 2.82 |" in text
    assert "| TAGNN try 0 + boost | weight 8.0 picked on validation | 89.31 / 50.64 |" in text
    assert "| Bayes-optimal (the generator's probabilities) | none | 95.85 / 62.41 | 99.97 / 78.22 | 92.52 / 49.62 |" in text
    # The fitted first-order reference beside the small study's JSON: a row of that study only.
    reference = ("| First-order counts + popularity back-off (the generator's form fitted on the training part, "
                 "`experiments.first_order_reference`) | alpha 0.25, p 0.5 picked on validation | 92.62 / 59.35 | "
                 "100.00 / 81.63 | 86.27 / 40.15 |")
    assert text.count(reference) == 1 and text.index(reference) > text.index(second)
    assert "TAGNN + repeat-explore minus S-POP: +37.16 HR@20 / +19.86 MRR@20." in text
    assert "| `runs/x` | exclusive | 51.18 / 18.29 | 94.56 / 54.35 | 39.98 / 8.98 |" in text


def test_nothing_measured_renders_nothing(tmp_path):
    assert repeat_report.render(str(tmp_path)) == []
