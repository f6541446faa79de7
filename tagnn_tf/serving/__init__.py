"""The served model and its artefacts: SavedModel (TF Serving layout) and TFLite."""

from tagnn_tf.serving.session_recommender import SessionRecommender

__all__ = ["SessionRecommender"]
