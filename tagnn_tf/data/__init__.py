"""Session data: loading, validation, preprocessing, synthetic data, tf.data."""
