"""The repeat-explore mixture taken apart (`experiments.repeat_part_diagnostics`), by hand."""

import numpy as np
import pytest
from keras import ops

from experiments.repeat_part_diagnostics import diagnose
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import InputError
from tagnn_tf.layers.repeat_scores import PADDING_LOGIT


class _FixedMixture:
    """A repeat-explore model with set parts: explore scores (0, log 3, 0) for items 1..3, gate 0
    (g = 1/2), and the repeat part's logit 2 at item 1, 0 at the session's other items."""

    repeat_mechanism = "repeat_explore"

    def candidate_table_t(self):
        return None

    def explore_and_repeat(self, features, candidates_t):
        items = features["items"]
        batch = ops.shape(items)[0]
        explore = ops.tile(ops.convert_to_tensor([[0.0, float(np.log(3.0)), 0.0]]), (batch, 1))
        logits = ops.where(items == 1, 2.0, ops.where(items > 0, 0.0, PADDING_LOGIT))
        return explore, (ops.zeros((batch,)), logits)


def test_the_mixture_by_hand():
    # [1, 2] -> 1 (a repeat): item 1 leads the repeat part (within-session rank 1); its mixture probability
    # 1/2 * e^2 / (e^2 + 1) = 0.44 is under item 3's 1/2 * 1 (the only item outside), so it is outranked;
    # the explore part's top outside probability is 1.
    # [3] -> 2 (new): outside are items 1 and 2 with explore probabilities 1/4 and 3/4: top 0.75.
    examples = SessionExamples.from_lists([[1, 2], [3]], [1, 2])
    out = diagnose(_FixedMixture(), examples)
    assert out["repeat_labels"] == {"count": 1, "mrr_within_session": 100.0, "outranked_by_new": 100.0,
                                    "mean_gate": 0.5}
    assert out["new_labels"] == {"count": 1, "mean_gate": 0.5}
    assert out["explore_top_probability"] == pytest.approx(87.5)  # (1 + 0.75) / 2


def test_ties_count_against_the_label_and_a_whole_catalogue_session_is_never_outranked():
    # [2, 3] -> 3: both session items have logit 0, so item 3 ranks 2 within the session (1/2); outside is
    # item 1 alone (explore probability 1, mixture 1/2), above item 3's 1/2 * 1/2 = 1/4: outranked.
    # [1, 2, 3] -> 1: rank 1 within the session, and no item outside to outrank it (nor an explore top).
    examples = SessionExamples.from_lists([[2, 3], [1, 2, 3]], [3, 1])
    out = diagnose(_FixedMixture(), examples)
    assert out["repeat_labels"]["mrr_within_session"] == 75.0  # (1/2 + 1) / 2
    assert out["repeat_labels"]["outranked_by_new"] == 50.0
    assert out["explore_top_probability"] == 100.0
    assert out["new_labels"] == {"count": 0, "mean_gate": None}


def test_a_model_without_the_mixture_is_refused():
    class Plain(_FixedMixture):
        repeat_mechanism = "none"

    with pytest.raises(InputError, match="repeat_explore"):
        diagnose(Plain(), SessionExamples.from_lists([[1]], [2]))
