"""Exported serving artefacts: SavedModel (TF Serving layout) and TFLite."""
