"""Synthetic raw click logs for the preprocessing benchmarks (vectorised NumPy, written with pyarrow).

Sessions of geometric length (mean ~4.4 clicks, as Yoochoose's), items drawn from a
Zipf-like popularity over a catalogue of SKU-like text ids, session starts spread
over `days` days in time order, clicks 1-120 s apart: the shape of a shop's log.
"""

import numpy as np


def click_columns(clicks: int, num_items: int = 200_000, days: int = 180, seed: int = 0) -> dict:
    """`{"session_id", "item_id", "ts"}` arrays of about `clicks` rows (text, text, unix seconds)."""
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(1 / 4.4, size=clicks // 3)
    lengths = lengths[np.cumsum(lengths) <= clicks]
    sessions = len(lengths)
    session_of_click = np.repeat(np.arange(sessions), lengths)
    starts = np.sort(rng.integers(1_400_000_000, 1_400_000_000 + days * 86400, sessions))
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)  # index of each click's session start
    elapsed = np.cumsum(rng.integers(1, 121, len(session_of_click)))
    offsets = elapsed - elapsed[first]  # 0 at a session's first click
    popularity = 1.0 / np.arange(1, num_items + 1) ** 1.1
    ranks = rng.choice(num_items, size=len(session_of_click), p=popularity / popularity.sum())
    item_names = np.char.add("SKU-", np.char.zfill(rng.permutation(num_items).astype(str), 7))
    return {"session_id": np.char.add("s", session_of_click.astype(str)), "item_id": item_names[ranks],
            "ts": starts[session_of_click] + offsets}


def write_csv(path: str, clicks: int, **kwargs) -> None:
    import pyarrow as pa
    import pyarrow.csv as csv

    columns = click_columns(clicks, **kwargs)
    csv.write_csv(pa.table({k: pa.array(v) for k, v in columns.items()}), path)
