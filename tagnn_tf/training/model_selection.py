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
    """Validation-selected epoch and the official code's best-on-test numbers."""
    best = select(history, metric)
    return {
        "selection_metric": metric,
        "selected_epoch": best["epoch"],
        "val": best["val"],
        "test": best["test"],
        "epochs_run": len(history),
        "best_on_test_official_protocol": {
            "note": "best test value over epochs, each metric separately (official code's protocol)",
            "hr@20": max(r["test"]["hr@20"] for r in history),
            "hr@20_epoch": max(history, key=lambda r: r["test"]["hr@20"])["epoch"],
            "mrr@20": max(r["test"]["mrr@20"] for r in history),
            "mrr@20_epoch": max(history, key=lambda r: r["test"]["mrr@20"])["epoch"],
        },
    }
