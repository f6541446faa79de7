"""Model selection over a run's epochs (no TensorFlow needed): the trainer and
the results report use the same rules."""

from __future__ import annotations


def select(history, metric: str):
    """The epoch with the best validation `metric` (the earliest on ties)."""
    return max(history, key=lambda r: (r["val"][metric], -r["epoch"]))


def bad_epochs(history, metric: str) -> int:
    if not history:
        return 0
    return history[-1]["epoch"] - select(history, metric)["epoch"]


def summarize(history, metric: str) -> dict:
    """Validation-selected epoch, each @20 metric selected on its own validation
    value, and the official code's best-on-test numbers."""
    best = select(history, metric)
    best_hr, best_mrr = select(history, "hr@20"), select(history, "mrr@20")
    picked = {k: best[k] for k in ("boost_weight", "repeat_floor") if k in best}
    return {**picked,
        "selection_metric": metric,
        "selected_epoch": best["epoch"],
        "val": best["val"],
        "test": best["test"],
        "epochs_run": len(history),
        "per_metric_validation_selection": {
            "note": "each metric's test value at the epoch of its own best validation value",
            "hr@20": best_hr["test"]["hr@20"], "hr@20_epoch": best_hr["epoch"],
            "mrr@20": best_mrr["test"]["mrr@20"], "mrr@20_epoch": best_mrr["epoch"],
        },
        "best_on_test_official_protocol": {
            "note": "best test value over epochs, each metric separately (official code's protocol)",
            "hr@20": max(r["test"]["hr@20"] for r in history),
            "hr@20_epoch": max(history, key=lambda r: r["test"]["hr@20"])["epoch"],
            "mrr@20": max(r["test"]["mrr@20"] for r in history),
            "mrr@20_epoch": max(history, key=lambda r: r["test"]["mrr@20"])["epoch"],
        },
    }
