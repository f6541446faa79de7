"""The one convention between item ids and score columns.

Item ids are 1..N; 0 is padding and never a candidate. Row i of the embedding
table embeds item id i (row 0: padding), and column j of a `[batch, N]` score
tensor scores item id j + 1. Every conversion goes through this module.
"""

PADDING_ID = 0
FIRST_ITEM_ID = 1
# Item ids are int32 inside the model (embedding lookups, session graphs).
MAX_ITEM_ID = 2**31 - 1


def id_to_column(item_ids):
    """Score column of each item id (tensor or array)."""
    return item_ids - FIRST_ITEM_ID


def column_to_id(columns):
    """Item id of each score column (tensor or array)."""
    return columns + FIRST_ITEM_ID


def candidate_rows(embeddings):
    """The rows of an `[N + 1, d]` embedding table that are candidates, `[N, d]` in column order."""
    return embeddings[FIRST_ITEM_ID:]
