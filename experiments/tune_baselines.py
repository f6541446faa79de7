"""Tune the baselines: `python -m experiments.tune_baselines --results_dir=results/baselines --methods=sknn,stan`.

Runs each method's budget of configurations (experiments.tune_baselines_lib:
SEARCH_SPACES, BUDGETS) on the validation split of `--valid_split`, per
dataset, then evaluates the best on the test set. Rerunning resumes: finished
tries are skipped and a neural try resumes from its checkpoints.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.arguments import LR_SCHEDULES, TRAIN_CANDIDATES, VALID_SPLITS  # noqa: E402
from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402
from tagnn_tf.model_registry import NON_NEURAL_MODELS  # noqa: E402

flags.DEFINE_string("results_dir", "results/baselines", "Tries go to <results_dir>/<dataset>/<method>/.")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder holding the dataset folders.")
flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets, in order.")
flags.DEFINE_list("methods", list(NON_NEURAL_MODELS), "Methods (--model names, or the neural ones and their "
                  "_repeat variants), in order.")
flags.DEFINE_enum("valid_split", "time", list(VALID_SPLITS), "DataConfig.valid_split of every try (see results/valid_split/).")
flags.DEFINE_integer("epochs", 6, "Neural tries: TrainConfig.epochs (experiments.tune_baselines_lib.TUNING_EPOCHS).")
flags.DEFINE_enum("train_candidates", "sampled", list(TRAIN_CANDIDATES),
                  "Neural tries: TrainConfig.train_candidates (BPR-MF and FPMC always use their BPR loss).")
flags.DEFINE_enum("lr_schedule", "official", list(LR_SCHEDULES),
                  "Neural tries: TrainConfig.lr_schedule. The committed tunings use the official code's; another "
                  "(results/README.md, 'The learning-rate schedule') trains every neural try differently, so give it "
                  "its own --results_dir.")
flags.DEFINE_integer("max_tries", 0, "Run only each plan's first that many tries now (0 = the whole budget).")
flags.DEFINE_bool("refit_effect", False, "Instead of tuning: score each tuned non-neural method's best configuration "
                  "fitted on the training part only (what the refit on training + validation adds).")
flags.DEFINE_bool("beyond_edges", False, "Instead of tuning: one try beyond each search-range end that a complete "
                  "tuning's best sits at (outside the budget; the tuned result is unchanged).")
FLAGS = flags.FLAGS


def _train_config():
    from tagnn_tf.config import TrainConfig

    return TrainConfig(epochs=FLAGS.epochs, train_candidates=FLAGS.train_candidates, lr_schedule=FLAGS.lr_schedule)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from experiments.tune_baselines_lib import tune_all
    from tagnn_tf.cli import run_or_exit

    if FLAGS.refit_effect:
        from experiments.tune_baselines_lib import measure_refit_effect

        out = run_or_exit(measure_refit_effect, FLAGS.results_dir, FLAGS.datasets, FLAGS.methods, FLAGS.data_dir,
                          FLAGS.valid_split)
        print(json.dumps(out, indent=2))
        return
    if FLAGS.beyond_edges:
        from experiments.tune_baselines_lib import check_all_beyond_edges

        out = run_or_exit(check_all_beyond_edges, FLAGS.results_dir, FLAGS.datasets, FLAGS.methods, FLAGS.data_dir,
                          FLAGS.valid_split, _train_config())
        print(json.dumps(out, indent=2))
        return
    out = run_or_exit(tune_all, FLAGS.results_dir, FLAGS.datasets, FLAGS.methods, FLAGS.data_dir, FLAGS.valid_split,
                      _train_config(), FLAGS.max_tries)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
