"""The official code's initialisation: every parameter U(-1/sqrt(d), 1/sqrt(d))."""

import math

import keras


def uniform_init(hidden_size: int, seed=None) -> keras.initializers.Initializer:
    bound = 1.0 / math.sqrt(hidden_size)
    return keras.initializers.RandomUniform(-bound, bound, seed=seed)
