"""`experiments.repeat_mixture_forms`: one trained repeat-explore run scored under the mixture's forms."""

import pytest

from experiments.repeat_mixture_forms import score_forms
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.training.trainer import train


def test_the_library_form_reproduces_the_runs_metrics_and_explore_alone_is_the_plain_model(tmp_path):
    data = DataConfig(synthetic_num_items=200, synthetic_num_sessions=1500, synthetic_repeat_share=0.45)
    train_config = TrainConfig(batch_size=50, epochs=1, steps_per_epoch=20)
    result = train(ExperimentConfig(model=ModelConfig(repeat_mechanism="repeat_explore"), data=data,
                                    train=train_config), str(tmp_path / "repeat"), log=lambda _: None)
    plain = train(ExperimentConfig(data=data, train=train_config), str(tmp_path / "plain"), log=lambda _: None)
    forms = score_forms(str(tmp_path / "repeat"))
    for k in ("hr@20", "mrr@20", "repeat/hr@20", "new/mrr@20"):
        assert forms["exclusive"][k] == pytest.approx(result["test"][k], abs=0.01), k
        assert forms["explore"][k] == pytest.approx(plain["test"][k], abs=0.05), k
    # The additive form gives the session's items more probability: at least the exclusive form's repeat HR@20.
    assert forms["additive"]["repeat/hr@20"] >= forms["exclusive"]["repeat/hr@20"] - 1e-6
