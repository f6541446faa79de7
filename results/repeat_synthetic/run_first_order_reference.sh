#!/bin/sh
# The generator's form fitted on each synthetic study's training part (experiments.first_order_reference):
# the full log (2,000 items, 40,000 sessions, seed 7) and the small one (300 items, 2,500 sessions, seed 1),
# both 45% repeats, written again by the same generator when their folders are missing.
set -e
cd "$(dirname "$0")/../.."
out=results/repeat_synthetic
.venv/bin/python -c "from experiments.repeat_synthetic import write_synthetic_dataset, DATASET; \
write_synthetic_dataset('runs/repeat_synthetic_full/data/' + DATASET, 2000, 40000, 7, 0.45); \
write_synthetic_dataset('runs/repeat_synthetic_small/data/' + DATASET, 300, 2500, 1, 0.45)"
.venv/bin/python -m experiments.first_order_reference --data_dir=runs/repeat_synthetic_full/data \
    --output=$out/first_order_reference.json > $out/first_order_reference.log 2>&1
.venv/bin/python -m experiments.first_order_reference --data_dir=runs/repeat_synthetic_small/data \
    --output=$out/small_log/first_order_reference.json > $out/small_log/first_order_reference.log 2>&1
