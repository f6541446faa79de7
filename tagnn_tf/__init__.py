"""tagnn-tf: TAGNN (SIGIR 2020) session-based recommendation in TensorFlow / Keras 3."""

__version__ = "0.1.0"
