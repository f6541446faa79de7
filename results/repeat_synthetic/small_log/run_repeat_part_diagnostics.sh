#!/bin/sh
# The repeat-explore mixture of the small log's validated runs taken apart (experiments.repeat_part_diagnostics):
# `tagnn_repeat-validated` and `tagnn_repeat-validated-item-norm` of run.sh trained again with the same flags
# under runs/ (their best.keras is not committed), then diagnosed on the test split. Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/small_log
work=runs/repeat_synthetic_small/diagnostics
mkdir -p $work
.venv/bin/python -c "from experiments.repeat_synthetic import write_synthetic_dataset, DATASET; \
write_synthetic_dataset('runs/repeat_synthetic_small/data/' + DATASET, 300, 2500, 1, 0.45)"
for norm in 0 8; do
  name=tagnn_repeat-validated; [ $norm = 0 ] || name=tagnn_repeat-validated-item-norm
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=runs/repeat_synthetic_small/data \
      --model_dir=$work/$name --valid_split=time --train_candidates=sampled --learning_rate=0.002 --l2=0 \
      --epochs=40 --patience=4 --lr_schedule=validated --item_norm_scale=$norm \
      --repeat_gate=session --repeat_floor=none > $work/$name.log 2>&1
done
.venv/bin/python -m experiments.repeat_part_diagnostics \
    --run_dirs=$work/tagnn_repeat-validated,$work/tagnn_repeat-validated-item-norm \
    --output=$out/repeat_part_diagnostics.json > $out/repeat_part_diagnostics.log 2>&1
