#!/bin/sh
# The explore loss weight of the repeat-explore mixture, on the default synthetic log with 45% repeats:
# the plain model, the mixture trained on its likelihood alone (weight 0) and with the explore part's
# own cross-entropy added (weight 1, the default). Rerunning resumes / skips finished runs.
set -e
cd "$(dirname "$0")/../../.."
for run in "none none 1" "repeat_explore weight0 0" "repeat_explore weight1 1"; do
  set -- $run
  .venv/bin/python -m trainers.train --dataset=synthetic --synthetic_repeat_share=0.45 --epochs=5 \
      --repeat_mechanism=$1 --explore_loss_weight=$3 --model_dir=results/repeat_synthetic/ablation/$2 \
      > results/repeat_synthetic/ablation/$2.log 2>&1
done
# A rule method on the same log, for scale (fitted in a second).
.venv/bin/python -m trainers.train --dataset=synthetic --synthetic_repeat_share=0.45 --model=sr \
    --model_dir=results/repeat_synthetic/ablation/sr > results/repeat_synthetic/ablation/sr.log 2>&1
