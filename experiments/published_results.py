"""The published numbers of ../shared/data/README.md's results table (the papers' HR@20 / MRR@20)."""

from __future__ import annotations

import re
from typing import Dict

from tagnn_tf.errors import InputError


def paper_numbers(data_readme: str, model: str = "TAGNN") -> Dict[str, Dict[str, float]]:
    """{dataset: {"hr@20": .., "mrr@20": ..}} from `model`'s row of the published-results table."""
    with open(data_readme) as f:
        text = f.read()
    # The name, then an optional "(venue)": "SR" must not match the "SR-GNN (AAAI 2019)" row.
    row = re.search(rf"^\|\s*{re.escape(model)}(?:\s*\([^|]*\))?\s*\|([^\n]*)$", text, re.M)
    if row is None:
        raise InputError(f"{data_readme}: no {model} row in the published results table")
    values = [float(v) for v in re.findall(r"[0-9]+\.[0-9]+", row.group(1))]
    if len(values) != 4:
        raise InputError(f"{data_readme}: the {model} row should hold 4 numbers. Received: {values}")
    return {"diginetica": {"hr@20": values[0], "mrr@20": values[1]},
            "yoochoose1_64": {"hr@20": values[2], "mrr@20": values[3]}}
