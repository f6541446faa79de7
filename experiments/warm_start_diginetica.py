"""What warm starting buys on tomorrow's data: a time split of Diginetica.

  python -m experiments.warm_start_diginetica --results_dir=results/warm_start

The reference preprocessing keeps Diginetica's training sessions in date order,
so consecutive windows of `all_train_seq.txt` are consecutive days. Three
windows, oldest first: `yesterday` (an earlier model is trained on it),
`today` (the new training data) and `later` (the test sessions of both new
runs). Each window's items are numbered in its own training order, with
`items.txt` holding the original Diginetica numbers as raw ids, so the
vocabularies overlap but differ (items come and go), as a shop's do from day
to day. Runs, each in `<results_dir>/<name>/` with the trainer's files:
  yesterday: trained on `yesterday` for --yesterday_epochs;
  scratch:   trained on `today` from a fresh initialisation;
  warm:      trained on `today` with `--warm_start_from=<yesterday>`.
`summary.json` and `README.md` give test HR@20 / MRR@20 per epoch of the two
runs on `today`, and of `warm` before its first step (epoch 0).
"""

from tagnn_tf.runtime import configure_process

configure_process()

import os  # noqa: E402
import pickle  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("results_dir", "results/warm_start", "Where the three runs and the summary go.")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder holding diginetica/.")
flags.DEFINE_string("work_dir", "runs/warm_start_data", "Where the window datasets are written.")
flags.DEFINE_integer("window_sessions", 30000, "Sessions per window.")
flags.DEFINE_integer("test_sessions", 10000, "Sessions of the `later` window.")
flags.DEFINE_integer("yesterday_epochs", 1, "Epochs of the earlier model.")
flags.DEFINE_integer("epochs", 2, "Epochs of the scratch and warm runs.")
FLAGS = flags.FLAGS


def write_window(folder: str, train_sessions, test_sessions) -> dict:
    """A dataset folder: items numbered in training order, `items.txt` = original numbers."""
    from tagnn_tf import run_directory
    from tagnn_tf.data.sessions import augment_lists

    number = {}
    train = []
    for session in train_sessions:
        train.append([number.setdefault(item, len(number) + 1) for item in session])
    test = [[number[i] for i in s if i in number] for s in test_sessions]
    test = [s for s in test if len(s) >= 2]
    prefixes, labels = augment_lists(test)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "all_train_seq.txt"), "wb") as f:
        pickle.dump(train, f, protocol=4)
    with open(os.path.join(folder, "test.txt"), "wb") as f:
        pickle.dump((prefixes, labels), f, protocol=4)
    run_directory.write_items(folder, [str(item) for item in number])
    return {"train_sessions": len(train), "items": len(number), "test_examples": len(labels)}


def main(argv):
    del argv
    from tagnn_tf import run_directory
    from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
    from tagnn_tf.data.safe_pickle import load_restricted_pickle
    from tagnn_tf.training.trainer import Trainer, evaluate_examples, train

    sessions = load_restricted_pickle(os.path.join(FLAGS.data_dir, "diginetica", "all_train_seq.txt"))
    w, t = FLAGS.window_sessions, FLAGS.test_sessions
    later = sessions[len(sessions) - t:]
    today = sessions[len(sessions) - t - w:len(sessions) - t]
    yesterday = sessions[len(sessions) - t - 2 * w:len(sessions) - t - w]
    windows = {"yesterday": write_window(os.path.join(FLAGS.work_dir, "yesterday"), yesterday, later),
               "today": write_window(os.path.join(FLAGS.work_dir, "today"), today, later)}
    shared = len(set(i for s in yesterday for i in s) & set(i for s in today for i in s))
    os.makedirs(FLAGS.results_dir, exist_ok=True)

    def config(dataset, epochs, warm=""):
        return ExperimentConfig(data=DataConfig(dataset=dataset, data_dir=FLAGS.work_dir),
                                train=TrainConfig(epochs=epochs, warm_start_from=warm))

    def log_to(name):
        path = os.path.join(FLAGS.results_dir, name, "train.log")
        os.makedirs(os.path.dirname(path), exist_ok=True)

        def log(msg):
            print(f"[{name}] {msg}", flush=True)
            with open(path, "a") as f:
                f.write(msg + "\n")
        return log

    yesterday_dir = os.path.join(FLAGS.results_dir, "yesterday")
    train(config("yesterday", FLAGS.yesterday_epochs), yesterday_dir, log=log_to("yesterday"))
    train(config("today", FLAGS.epochs), os.path.join(FLAGS.results_dir, "scratch"), log=log_to("scratch"))
    # The warm run, measured once before its first step (epoch 0), then trained.
    warm_dir = os.path.join(FLAGS.results_dir, "warm")
    trainer = Trainer(config("today", FLAGS.epochs, yesterday_dir), warm_dir, log=log_to("warm"))
    if not trainer.history:
        before = evaluate_examples(trainer.steps, trainer.splits.test, trainer.train_config)
        run_directory.write_json_atomic(os.path.join(warm_dir, "before_training.json"), {"test": before})
    try:
        trainer.run()
    finally:
        trainer.close()

    rows = {name: run_directory.read_jsonl(os.path.join(FLAGS.results_dir, name, run_directory.METRICS))
            for name in ("scratch", "warm")}
    before_path = os.path.join(warm_dir, "before_training.json")  # absent if a resumed run lost it
    before = run_directory.read_json(before_path)["test"] if os.path.exists(before_path) else None
    summary = {"windows": windows, "items_shared_by_yesterday_and_today": shared,
               "window_sessions": w, "test_sessions": t, "warm_before_training": before,
               "per_epoch": {name: [{"epoch": r["epoch"], "test": r["test"], "val": r["val"], "seconds": r["seconds"]}
                                    for r in history] for name, history in rows.items()},
               "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}
    run_directory.write_json_atomic(os.path.join(FLAGS.results_dir, "summary.json"), summary)
    lines = ["# Warm start on a later window of Diginetica", "",
             "Generated by `python -m experiments.warm_start_diginetica` (`summary.json`, run folders beside it).", "",
             f"Windows of `all_train_seq.txt` (date order): yesterday = {w:,} sessions, today = the next {w:,}, "
             f"later = the last {t:,} (the test set of both runs on today, mapped into today's items). "
             f"Today has {windows['today']['items']:,} items, {shared:,} of them also in yesterday's "
             f"{windows['yesterday']['items']:,}; {windows['today']['test_examples']:,} test examples.", "",
             "| epoch | scratch test HR@20 / MRR@20 | warm test HR@20 / MRR@20 |", "|---:|---|---|",
             "| 0 (before training) | - | "
             + (f"{before['hr@20']:.2f} / {before['mrr@20']:.2f} |" if before else "not measured |")]
    for a, b in zip(rows["scratch"], rows["warm"]):
        lines.append(f"| {a['epoch']} | {a['test']['hr@20']:.2f} / {a['test']['mrr@20']:.2f} | "
                     f"{b['test']['hr@20']:.2f} / {b['test']['mrr@20']:.2f} |")
    run_directory.write_text_atomic(os.path.join(FLAGS.results_dir, "README.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
