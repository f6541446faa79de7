import dataclasses
import json

import pytest

from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig


def test_defaults_are_the_papers():
    m, t = ModelConfig(), TrainConfig()
    assert (m.hidden_size, m.gnn_steps) == (100, 1)
    assert (t.batch_size, t.learning_rate, t.l2, t.lr_decay_rate, t.lr_decay_epochs) == (100, 1e-3, 1e-5, 0.1, 3)


@pytest.mark.parametrize("klass,kwargs,fragment", [
    (ModelConfig, {"hidden_size": 0}, "hidden_size=0"),
    (ModelConfig, {"variant": "bogus"}, "variant='bogus'"),
    (ModelConfig, {"readout": "x"}, "readout='x'"),
    (ModelConfig, {"padding": "split"}, "padding='split'"),
    (DataConfig, {"valid_portion": 1.5}, "valid_portion=1.5"),
    (DataConfig, {"num_items": -1}, "num_items=-1"),
    (TrainConfig, {"batch_size": -3}, "batch_size=-3"),
    (TrainConfig, {"selection_metric": "auc"}, "selection_metric='auc'"),
])
def test_bad_values_name_the_field(klass, kwargs, fragment):
    with pytest.raises(ValueError, match="Received: " + fragment.replace("(", r"\(")):
        klass(**kwargs)


def test_official_schedule_decays_one_epoch_early():
    # Official code: scheduler.step() before each epoch -> 1e-3 for epochs 1-2, 1e-4 for 3-5, 1e-5 for 6-8.
    t = TrainConfig(lr_schedule="official")
    assert [t.learning_rate_at(e) for e in range(1, 9)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5])
    # Paper: x0.1 after every 3 epochs.
    p = TrainConfig(lr_schedule="paper")
    assert [p.learning_rate_at(e) for e in range(1, 8)] == pytest.approx(
        [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5])


def test_plateau_schedule_decays_after_each_epoch_that_does_not_improve_validation():
    # Validation HR@20 per epoch: 40, 45, 44 (not above 45: decay), 46, 46 (a tie is no gain: decay).
    p = TrainConfig(lr_schedule="plateau", learning_rate=1e-3, lr_decay_rate=0.5)
    history = [40.0, 45.0, 44.0, 46.0, 46.0]
    assert [p.learning_rate_at(e, valid_history=history[:e - 1]) for e in range(1, 7)] == pytest.approx(
        [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])
    with pytest.raises(ValueError, match="epoch 3. Received: 1 values"):
        p.learning_rate_at(3, valid_history=[40.0])


def test_linear_schedule_falls_batch_by_batch_to_zero_at_the_last_epoch():
    # 4 epochs from 2e-3: 2e-3 * (1 - (epoch - 1 + done) / 4).
    t = TrainConfig(lr_schedule="linear", learning_rate=2e-3, epochs=4)
    assert t.learning_rate_at(1) == pytest.approx(2e-3)
    assert t.learning_rate_at(2, 0.5) == pytest.approx(2e-3 * (1 - 1.5 / 4))  # 1.25e-3
    assert t.learning_rate_at(4, 0.99) == pytest.approx(2e-3 * 0.01 / 4)
    assert t.learning_rate_at(5) == 0.0


def test_validated_schedule_decides_where_official_decays_and_after_each_declined_decay():
    t = TrainConfig(lr_schedule="validated", learning_rate=1e-3, lr_decay_epochs=3)
    # Every decay kept: decisions at epochs 3 and 6, official's decays (1e-3, 1e-3, 1e-4 x3, 1e-5).
    kept = [None, None, "decay", None, None, "decay"]
    assert [t.lr_decision_at(e, kept) for e in range(1, 7)] == [False, False, True, False, False, True]
    assert [t.learning_rate_at(e + 1, choices=kept) for e in range(1, 6)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-4])
    assert t.learning_rate_at(7, choices=kept) == pytest.approx(1e-5)
    # Declined at 3 and 4, kept at 5: decisions at 3, 4, 5, then 5 + 3 = 8; rates 1e-3 up to epoch 4, then 1e-4.
    late = [None, None, "hold", "hold", "decay", None, None]
    assert [t.lr_decision_at(e, late) for e in range(1, 9)] == [False, False, True, True, True, False, False, True]
    assert [t.learning_rate_at(e, choices=late) for e in range(1, 9)] == pytest.approx(
        [1e-3] * 5 + [1e-4] * 3)  # epoch e's rate before its own decision
    assert not TrainConfig(lr_schedule="official").lr_decision_at(3)


def test_json_round_trip():
    c = ExperimentConfig(model=ModelConfig(variant="avg"), data=DataConfig(dataset="diginetica", num_items=7),
                         train=TrainConfig(epochs=4))
    back = ExperimentConfig.from_dict(json.loads(c.to_json()))
    assert back == c
    with pytest.raises(ValueError, match="Unknown TrainConfig fields"):
        ExperimentConfig.from_dict({"train": {"epochz": 1}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.train.epochs = 3


def test_model_flag_and_baseline_section():
    from absl import flags

    from tagnn_tf.flags_config import config_from_flags, define_config_flags

    fv = flags.FlagValues()
    define_config_flags(fv)
    fv(["prog", "--model=stan", "--neighbours=50", "--valid_split=time", "--loss=bpr"])
    config = config_from_flags(fv)
    assert (config.model.name, config.baseline.neighbours, config.data.valid_split, config.train.loss) == (
        "stan", 50, "time", "bpr")
    assert ExperimentConfig.from_dict(json.loads(config.to_json())) == config
    # Files written before the baseline section existed still load (its defaults).
    assert ExperimentConfig.from_dict({"model": {}, "data": {}, "train": {}}).baseline.neighbours == 100
    with pytest.raises(ValueError, match="Received: valid_split='random'"):
        DataConfig(valid_split="random")


@pytest.mark.parametrize("argv, message", [
    (["--neighbours=50"], "--model=tagnn does not read --neighbours: leave it out"),
    (["--model=narm", "--variant=local_att", "--gnn_steps=2"], "--model=narm does not read --gnn_steps, --variant"),
    (["--model=stan", "--warm_start_from=runs/x", "--hidden_size=50"],
     "--model=stan does not read --hidden_size, --warm_start_from"),
    (["--model=gru4rec", "--item_norm_scale=8"], "--model=gru4rec does not read --item_norm_scale"),
    (["--item_norm_scale=-1"], r"`item_norm_scale` must be >= 0 .*Received: item_norm_scale=-1.0"),
    (["--model=stan", "--repeat_gate=history"], "--model=stan does not read --repeat_gate"),
    (["--repeat_mechanism=boost", "--repeat_gate=history"], "the gate of --repeat_mechanism=repeat_explore"),
    (["--model=stan", "--repeat_floor=validated"], "--model=stan does not read --repeat_floor"),
    (["--repeat_mechanism=none", "--repeat_floor=validated"], "the floor of --repeat_mechanism=repeat_explore"),
])
def test_flags_the_chosen_model_does_not_read_are_refused(argv, message):
    from absl import flags

    from tagnn_tf.errors import InputError
    from tagnn_tf.flags_config import config_from_flags, define_config_flags

    fv = flags.FlagValues()
    define_config_flags(fv)
    fv(["prog"] + argv)
    with pytest.raises(InputError, match=message):
        config_from_flags(fv)
    # The flags each model does read pass: the repeat mechanism for a sequence model, the variant for TAGNN.
    for ok in (["--model=narm", "--repeat_mechanism=boost"], ["--variant=local_att"], ["--model=srgnn",
               "--item_norm_scale=4"], ["--model=stan",
                                                                                       "--neighbours=5"]):
        fv = flags.FlagValues()
        define_config_flags(fv)
        fv(["prog"] + ok)
        config_from_flags(fv)
    with pytest.raises(ValueError, match="Received: loss='hinge'"):
        TrainConfig(loss="hinge")


def _trainer_config(*argv, model_dir=""):
    """`trainers.train`'s config for `argv` (a fresh flag set), with `--help`'s text of the fields whose
    default is `trainers.train`'s own."""
    from absl import flags

    from tagnn_tf.flags_config import config_from_flags, define_config_flags

    fv = flags.FlagValues()
    define_config_flags(fv)
    fv(["prog", *argv])
    assert "(default 'repeat_explore' for the neural models" in fv["repeat_mechanism"].help
    assert "(default 'validated'; a rerun keeps its run's)" in fv["lr_schedule"].help
    assert "(default 0.0; a rerun keeps its run's, a warm start its old run's)" in fv["item_norm_scale"].help
    return config_from_flags(fv, model_dir=model_dir)


def test_trainers_train_defaults_to_the_repeat_mechanism_and_a_rerun_keeps_the_runs(tmp_path):
    from tagnn_tf.config import TRAINER_REPEAT_MECHANISM

    def parsed(*argv, model_dir=""):
        return _trainer_config(*argv, model_dir=model_dir).model.repeat_mechanism

    assert TRAINER_REPEAT_MECHANISM == "repeat_explore"
    assert parsed() == parsed("--model=narm") == "repeat_explore"
    # The paper's model on request; the non-neural models and the official padding have no mechanism.
    assert parsed("--repeat_mechanism=none") == "none"
    assert parsed("--model=stan") == parsed("--padding=official") == "none"
    # The library's dataclass keeps the paper's model.
    assert ModelConfig().repeat_mechanism == "none"
    # A run started without the mechanism (an earlier version's default) resumes with the same command.
    (tmp_path / "config.json").write_text(ExperimentConfig().to_json())
    assert parsed(model_dir=str(tmp_path)) == "none"


def test_trainers_train_defaults_to_the_validated_schedule_and_a_rerun_keeps_the_runs(tmp_path):
    from tagnn_tf.config import TRAINER_LR_SCHEDULE

    def parsed(*argv, model_dir=""):
        return _trainer_config(*argv, model_dir=model_dir).train.lr_schedule

    assert TRAINER_LR_SCHEDULE == "validated"
    assert parsed() == parsed("--model=narm") == "validated"
    assert parsed("--lr_schedule=official") == "official"
    # The library's dataclass keeps the official code's schedule (the reproduction's and the tuning's).
    assert TrainConfig().lr_schedule == "official"
    # A run started under the earlier default resumes with the same command, and its flags win over the run's.
    (tmp_path / "config.json").write_text(ExperimentConfig().to_json())
    assert parsed(model_dir=str(tmp_path)) == "official"
    assert parsed("--lr_schedule=paper", model_dir=str(tmp_path)) == "paper"


@pytest.mark.parametrize("field, values", [("repeat_gate", ("history", "session")),
                                           ("repeat_floor", ("validated", "none"))])
def test_the_repeat_gate_and_floor_defaults_are_the_trainers_with_repeat_explore_and_a_rerun_keeps_its_runs(
        tmp_path, field, values):
    from tagnn_tf import config as config_module

    def parsed(*argv, model_dir=""):
        return getattr(_trainer_config(*argv, model_dir=model_dir).model, field)

    # Measured: the history gate not below the session gate on Diginetica and Yoochoose 1/64
    # (experiments.repeat_gate_default); the floor not below the history gate without it
    # (experiments.repeat_floor_default).
    trainer_value = {"repeat_gate": config_module.TRAINER_REPEAT_GATE,
                     "repeat_floor": config_module.TRAINER_REPEAT_FLOOR}[field]
    dataclass_value = getattr(ModelConfig(), field)
    assert (trainer_value, dataclass_value) == values
    assert parsed() == parsed("--model=narm") == parsed("--model=srgnn") == trainer_value
    # Without repeat-explore there is no gate or floor: the dataclass's.
    assert (parsed("--repeat_mechanism=none") == parsed("--model=stan") == parsed("--padding=official")
            == dataclass_value)
    for given in values:
        assert parsed(f"--{field}={given}") == parsed("--model=gru4rec", f"--{field}={given}") == given
    for kept in values:
        old = tmp_path / f"old-{kept}"
        old.mkdir()
        (old / "config.json").write_text(ExperimentConfig(model=ModelConfig(repeat_mechanism="repeat_explore",
                                                                            **{field: kept})).to_json())
        # A rerun resumes with its run's value, whatever the default; the flag still wins.
        assert parsed(model_dir=str(old)) == kept
        other = values[1] if kept == values[0] else values[0]
        assert parsed(f"--{field}={other}", model_dir=str(old)) == other
        # A rerun with another mechanism: the dataclass's.
        assert parsed("--repeat_mechanism=boost", model_dir=str(old)) == dataclass_value
        # A warm start takes the default: the repeat layer's trainable weights are copied one by one (the history
        # weights start at 0, the floor is picked anew), so either run may start from the other.
        assert parsed(f"--warm_start_from={old}", model_dir=str(tmp_path / "new")) == trainer_value
    # A run recorded before the field existed reads as the dataclass's value, and its rerun keeps it.
    old = tmp_path / "before"
    old.mkdir()
    recorded = json.loads(ExperimentConfig(model=ModelConfig(repeat_mechanism="repeat_explore")).to_json())
    del recorded["model"][field]
    (old / "config.json").write_text(json.dumps(recorded))
    assert parsed(model_dir=str(old)) == dataclass_value


def test_item_norm_scale_is_off_by_default_and_a_rerun_or_a_warm_start_keeps_its_runs(tmp_path):
    def parsed(*argv, model_dir=""):
        return _trainer_config(*argv, model_dir=model_dir).model.item_norm_scale

    # Off (the paper's model) unless asked for: below the learned vectors on Diginetica (docs).
    assert parsed() == parsed("--model=srgnn") == parsed("--model=narm") == ModelConfig().item_norm_scale == 0.0
    assert parsed("--item_norm_scale=8") == 8.0
    # A run started with it resumes with it, and a warm start from it keeps it without the flag: its weights
    # were learned to be read normalised (a warm start refuses a different value); the flag still wins.
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(ExperimentConfig(model=ModelConfig(item_norm_scale=4.0)).to_json())
    assert parsed(model_dir=str(old)) == 4.0
    assert parsed(f"--warm_start_from={old}", model_dir=str(tmp_path / "new")) == 4.0
    assert parsed(f"--warm_start_from={old}", "--item_norm_scale=0") == 0.0
    # Another model's run as the old run (refused later by the warm start itself): the default.
    assert parsed(f"--warm_start_from={old}", "--model=narm") == 0.0
