#!/bin/sh
# The repeat-explore mixture on the default synthetic log with 45% repeats (full softmax, 5 epochs): the
# plain model and the mixture (whose explore part trains exactly as the plain model), and a rule method
# for scale. Rerunning resumes / skips finished runs.
set -e
cd "$(dirname "$0")/../../.."
for mechanism in none repeat_explore; do
  .venv/bin/python -m trainers.train --dataset=synthetic --synthetic_repeat_share=0.45 --epochs=5 \
      --repeat_mechanism=$mechanism --repeat_gate=session --repeat_floor=none \
      --model_dir=results/repeat_synthetic/ablation/$mechanism \
      > results/repeat_synthetic/ablation/$mechanism.log 2>&1
done
# A rule method on the same log, for scale (fitted in a second).
.venv/bin/python -m trainers.train --dataset=synthetic --synthetic_repeat_share=0.45 --model=sr \
    --model_dir=results/repeat_synthetic/ablation/sr > results/repeat_synthetic/ablation/sr.log 2>&1
