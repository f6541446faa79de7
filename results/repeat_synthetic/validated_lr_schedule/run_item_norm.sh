#!/bin/sh
# The full synthetic log's best TAGNN + repeat-explore try (tuning try 3 under the validated schedule:
# learning rate 0.002, no L2, the tuning's readout and 6 epochs) trained again with normalised item
# vectors (--item_norm_scale=8), then that with the repeat-explore gate reading the session's history
# (--repeat_gate=history). The log is the study's (`experiments.repeat_synthetic` defaults:
# 2,000 items, 40,000 sessions, seed 7, 45% repeats), written again by the same generator. Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/validated_lr_schedule
.venv/bin/python -c "from experiments.repeat_synthetic import write_synthetic_dataset, DATASET; \
write_synthetic_dataset('runs/repeat_synthetic_full/data/' + DATASET, 2000, 40000, 7, 0.45)"
for name in tagnn_repeat-item-norm tagnn_repeat-item-norm-history-gate; do
  gate=session; [ $name = tagnn_repeat-item-norm ] || gate=history
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=runs/repeat_synthetic_full/data \
      --model_dir=$out/$name --valid_split=time --train_candidates=sampled --readout=paper \
      --repeat_mechanism=repeat_explore --learning_rate=0.002 --l2=0 --epochs=6 --lr_schedule=validated \
      --item_norm_scale=8 --repeat_gate=$gate --repeat_floor=none > $out/$name.log 2>&1
done
