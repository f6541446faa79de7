"""Adam whose sparse (embedding-row) updates touch only the rows with a gradient.

Keras 3's `Adam.update_step` turns a `tf.IndexedSlices` gradient into a dense
`[N, d]` tensor and decays both moments of every row each step: a pass over
the whole table (three `[N, d]` arrays) per step, whatever the batch. With a
million-item catalogue and sampled training that pass costs more than the
model. `LazyAdam` applies Adam to the gradient's rows only (the moments of
rows without a gradient are left as they are, as in TF1's `LazyAdamOptimizer`);
dense gradients get Keras' own update, so with full-catalogue training (every
embedding row has a gradient each step) it is Adam exactly.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def merge_duplicate_rows(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """The same gradient with each row index once (values of repeated indices summed)."""
    unique, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def add_gradients(a, b):
    """`a + b`, keeping two `IndexedSlices` sparse (concatenated rows)."""
    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
        return tf.IndexedSlices(tf.concat([a.values, b.values], 0), tf.concat([a.indices, b.indices], 0),
                                a.dense_shape)
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)


def add_coupled_l2(gradient, variable, scale: float):
    """`gradient + scale * variable` (PyTorch's coupled `weight_decay`); for a
    sparse gradient, on its rows only (their duplicates merged first)."""
    if isinstance(gradient, tf.IndexedSlices):
        gradient = merge_duplicate_rows(gradient)
        return tf.IndexedSlices(gradient.values + scale * tf.gather(variable, gradient.indices),
                                gradient.indices, gradient.dense_shape)
    return gradient + scale * variable


@keras.saving.register_keras_serializable(package="tagnn_tf")
class LazyAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with lazy sparse updates (see the module docstring).

    For a row r in a step's gradient, with the bias-corrected step size
    `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)` (Keras' form):
      m_r <- beta_1 m_r + (1 - beta_1) g_r;  v_r <- beta_2 v_r + (1 - beta_2) g_r^2;
      w_r <- w_r - alpha m_r / (sqrt(v_r) + epsilon).
    Other rows are unchanged. `amsgrad` is not supported with sparse gradients.
    """

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        if self.amsgrad:
            raise ValueError("LazyAdam's sparse update does not support amsgrad. Received: amsgrad=True")
        gradient = merge_duplicate_rows(gradient)
        rows, g = gradient.indices, ops.cast(gradient.values, variable.dtype)
        lr = ops.cast(learning_rate, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        alpha = lr * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, variable.dtype), step)) / (
            1 - ops.power(ops.cast(self.beta_1, variable.dtype), step))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = self.beta_1 * tf.gather(m.value, rows) + (1 - self.beta_1) * g
        v_rows = self.beta_2 * tf.gather(v.value, rows) + (1 - self.beta_2) * ops.square(g)
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (ops.sqrt(v_rows) + self.epsilon), rows,
                                                   gradient.dense_shape))
