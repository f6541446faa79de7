"""Profile a dataset: `python -m trainers.profile --dataset=diginetica --data_dir=../shared/data`.

Prints one JSON object (`tagnn_tf.data_profile`): the repeat shares, session
lengths, catalogue concentration, rare test labels, S-POP's and POP's test
HR@20 / MRR@20 as an instant floor, and a one-line advice on the model.
"""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402

from absl import app, flags  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import DataConfig  # noqa: E402

flags.DEFINE_string("dataset", None, "A dataset folder under --data_dir (SR-GNN files), or `synthetic`.",
                    required=True)
flags.DEFINE_string("data_dir", DataConfig.data_dir, "Parent folder of the dataset folders.")
flags.DEFINE_boolean("floors", True, "Also fit S-POP and POP and report their test HR@20 / MRR@20.")
flags.DEFINE_integer("synthetic_num_items", DataConfig.synthetic_num_items, "--dataset=synthetic: catalogue size.")
flags.DEFINE_integer("synthetic_num_sessions", DataConfig.synthetic_num_sessions, "--dataset=synthetic: sessions.")
flags.DEFINE_integer("synthetic_seed", DataConfig.synthetic_seed, "--dataset=synthetic: seed.")
flags.DEFINE_float("synthetic_repeat_share", DataConfig.synthetic_repeat_share,
                   "--dataset=synthetic: share of next clicks that repeat a session item.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.data_profile import profile_dataset

    synthetic = {name: FLAGS[f"synthetic_{name}"].value for name in ("num_items", "num_sessions", "seed",
                                                                      "repeat_share")}
    print(json.dumps(run_or_exit(profile_dataset, FLAGS.dataset, FLAGS.data_dir, FLAGS.floors, **synthetic),
                     indent=2))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
