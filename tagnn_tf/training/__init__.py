"""Training loop, evaluation and metrics."""
