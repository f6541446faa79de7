"""Sessions of item ids -> the session-graph tensors `TAGNN` reads (keras-hub's preprocessor pattern)."""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.arguments import check_positive
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.errors import InputError

# Item numbers of a raw-id request: "" is padding, an id not in the vocabulary is unknown.
_UNKNOWN = -1


@keras.saving.register_keras_serializable(package="tagnn_tf")
class SessionPreprocessor(keras.layers.Layer):
    """Builds the session graphs of a batch; cleans serving requests first.

    The tf.data pipeline calls it on validated data, the serving model
    (`tagnn_tf.serving.SessionRecommender`) on raw requests, so both feed the
    model through the same `session_graph.densify`. TF ops only (it runs inside
    `tf.data` and exported signatures, and converts to TFLite builtins).

    Call args:
      sessions: either
        * an int RaggedTensor `[batch, (clicks)]` of valid item ids, every row
          non-empty (training and evaluation data, validated when loaded):
          densified as is; or
        * a dense int Tensor `[batch, max_len]`, a serving request, cleaned per
          row first: the padding id 0 is dropped wherever it appears; ids
          outside `[1, num_items]` are dropped and counted; only the most
          recent `max_session_length` valid clicks are kept; a row left
          without a click is scored on a placeholder item and flagged in
          `empty_session` (the serving model masks its outputs);
        * a dense string Tensor `[batch, max_len]` of raw item ids (needs
          `vocabulary_file`): "" is padding, ids not in the vocabulary are
          dropped and counted (`invalid_item_count`), then as above.

    Returns:
      The dict of `session_graph.densify` (`items` `[batch, U]`, `node_counts`
      `[batch, U]`, `adj_in` / `adj_out` `[batch, U, U]`, `last_node`
      `[batch]`; `alias` / `click_mask` `[batch, L]` with
      `with_click_alias`); for a request also `used_item_count` and
      `invalid_item_count` int32 `[batch]` and `empty_session` bool `[batch]`.

    Args:
      num_items: catalogue size N (valid ids 1..N); needed for requests only.
      vocabulary_file: optional `items.txt` (line i = raw id of item i) for
        raw-id requests; read into lookup tables (a SavedModel ships the
        file in its `assets/`).
      max_session_length: requests keep at most this many most recent valid
        clicks; 0 = all (allowed only with no request to clean).
      with_click_alias: also return the per-click `alias` and `click_mask`.
    """

    def __init__(self, num_items: Optional[int] = None, max_session_length: int = 0,
                 with_click_alias: bool = False, vocabulary_file: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        if num_items is not None:
            check_positive("num_items", num_items)
        check_positive("max_session_length", max_session_length, allow_zero=True)
        self.num_items = num_items
        self.max_session_length = max_session_length
        self.with_click_alias = bool(with_click_alias)
        self.vocabulary_file = vocabulary_file
        self._numbers = self._names = None
        if vocabulary_file:
            # line number (0-based) + FIRST_ITEM_ID = item number; both directions. An absent
            # raw id looks up a "line" that becomes _UNKNOWN.
            self._numbers = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
                vocabulary_file, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), default_value=_UNKNOWN - item_ids.FIRST_ITEM_ID)
            self._names = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
                vocabulary_file, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")
        # Ragged and dense int inputs pass through unconverted (as keras-hub's preprocessing layers).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def lookup_tables(self) -> list:
        """The vocabulary's lookup tables (an export tracks them)."""
        return [t for t in (self._numbers, self._names) if t is not None]

    def item_numbers(self, raw_ids):
        """Raw ids (string tensor) -> item numbers: 0 for "", -1 for an id not in the vocabulary."""
        if self._numbers is None:
            raise InputError("String item ids need a `vocabulary_file`.")
        numbers = self._numbers.lookup(raw_ids) + item_ids.FIRST_ITEM_ID
        return tf.where(tf.equal(raw_ids, ""), tf.constant(item_ids.PADDING_ID, tf.int64), numbers)

    def item_names(self, numbers):
        """Item numbers -> raw ids (string tensor); "" for padding (0)."""
        if self._names is None:
            raise InputError("Raw item ids need a `vocabulary_file`.")
        return self._names.lookup(tf.cast(numbers, tf.int64) - item_ids.FIRST_ITEM_ID)

    def call(self, sessions):
        if isinstance(sessions, tf.RaggedTensor):
            return densify(sessions, self.with_click_alias)
        if sessions.dtype == tf.string:
            sessions = self.item_numbers(sessions)
        cleaned, used, invalid, empty = self.clean_requests(sessions)
        features = densify(cleaned, self.with_click_alias)
        features.update(used_item_count=used, invalid_item_count=invalid, empty_session=empty)
        return features

    def clean_requests(self, session_items):
        """Request rows -> (ragged sessions for `densify`, used count, invalid count, empty rows).

        Args:
          session_items: int `[batch, max_len]`, 0 = padding.

        Returns:
          sessions: int64 RaggedTensor `[batch, (clicks)]`, every row non-empty
            (an empty row holds the placeholder item 1; its outputs are masked).
          used: int32 `[batch]` clicks kept.
          invalid: int32 `[batch]` ids outside `[1, N]` that were dropped.
          empty: bool `[batch]` rows without a valid click.
        """
        if self.num_items is None or not self.max_session_length:
            raise InputError("Cleaning requests needs `num_items` and `max_session_length` >= 1. Received: "
                             f"num_items={self.num_items}, max_session_length={self.max_session_length}")
        ids = tf.cast(session_items, tf.int64)
        valid = tf.logical_and(ids >= item_ids.FIRST_ITEM_ID, ids <= self.num_items)  # ids 1..N
        padding = tf.equal(ids, item_ids.PADDING_ID)
        invalid = tf.reduce_sum(tf.cast(tf.logical_and(tf.logical_not(padding), tf.logical_not(valid)), tf.int32),
                                axis=1)
        # Valid clicks at or after each position: keep the last `max_session_length`.
        from_end = tf.cumsum(tf.cast(valid, tf.int32), axis=1, reverse=True)
        keep = tf.logical_and(valid, from_end <= self.max_session_length)
        used = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)
        empty = tf.equal(used, 0)
        batch = tf.shape(ids)[0]
        ids = tf.concat([ids, tf.fill([batch, 1], tf.constant(item_ids.FIRST_ITEM_ID, tf.int64))], axis=1)
        keep = tf.concat([keep, tf.expand_dims(empty, 1)], axis=1)
        return tf.ragged.boolean_mask(ids, keep), used, invalid, empty

    def get_config(self):
        config = super().get_config()
        config.update({"num_items": self.num_items, "max_session_length": self.max_session_length,
                       "with_click_alias": self.with_click_alias, "vocabulary_file": self.vocabulary_file})
        return config
