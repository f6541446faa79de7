#!/bin/sh
# The small synthetic log (the size of tests/experiments/test_repeat_synthetic.py's) with full budgets,
# then the best TAGNN + repeat-explore try's settings (tuning try 3: learning rate 0.002, no L2)
# trained up to 40 epochs with early stopping, with the default learning-rate decay (x0.1 every 3
# epochs, the official schedule) and without it (--lr_decay_epochs=100). Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/small_log
.venv/bin/python -m experiments.repeat_synthetic --work_dir=runs/repeat_synthetic_small --results_dir=$out \
    --num_items=300 --num_sessions=2500 --seed=1 --neural_tries=4 > $out/repeat_synthetic.log 2>&1
for decay in 3 100; do
  name=tagnn_repeat-official-decay; [ $decay = 100 ] && name=tagnn_repeat-no-decay
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=runs/repeat_synthetic_small/data \
      --model_dir=$out/$name --valid_split=time --train_candidates=sampled \
      --learning_rate=0.002 --l2=0 --epochs=40 --patience=4 --lr_decay_epochs=$decay > $out/$name.log 2>&1
done
