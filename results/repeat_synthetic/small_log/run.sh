#!/bin/sh
# The small synthetic log (the size of tests/experiments/test_repeat_synthetic.py's) with full budgets,
# then the best TAGNN + repeat-explore try's settings (tuning try 3: learning rate 0.002, no L2)
# trained up to 40 epochs with early stopping, with the default learning-rate decay (x0.1 every 3
# epochs, the official schedule), without it (--lr_decay_epochs=100) and with the linear schedule
# (--lr_schedule=linear: from 0.002 to 0 at the end of epoch 40), with the official decays kept only where
# validation prefers them (--lr_schedule=validated), and that with normalised item vectors
# (--item_norm_scale=8), and both with the repeat-explore gate reading the session's history
# (--repeat_gate=history; the others name RepeatNet's session gate, trainers.train's default before
# experiments.repeat_gate_default; all name --repeat_floor=none, its default before
# experiments.repeat_floor_default). Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/small_log
.venv/bin/python -m experiments.repeat_synthetic --work_dir=runs/repeat_synthetic_small --results_dir=$out \
    --num_items=300 --num_sessions=2500 --seed=1 --neural_tries=4 > $out/repeat_synthetic.log 2>&1
for name in tagnn_repeat-official-decay tagnn_repeat-no-decay tagnn_repeat-linear tagnn_repeat-validated \
    tagnn_repeat-validated-item-norm tagnn_repeat-validated-history-gate \
    tagnn_repeat-validated-item-norm-history-gate; do
  case $name in
    tagnn_repeat-official-decay) schedule="--lr_schedule=official --lr_decay_epochs=3 --repeat_gate=session" ;;
    tagnn_repeat-no-decay) schedule="--lr_schedule=official --lr_decay_epochs=100 --repeat_gate=session" ;;
    tagnn_repeat-linear) schedule="--lr_schedule=linear --repeat_gate=session" ;;
    tagnn_repeat-validated) schedule="--lr_schedule=validated --repeat_gate=session" ;;
    tagnn_repeat-validated-item-norm) schedule="--lr_schedule=validated --item_norm_scale=8 --repeat_gate=session" ;;
    tagnn_repeat-validated-history-gate) schedule="--lr_schedule=validated --repeat_gate=history" ;;
    tagnn_repeat-validated-item-norm-history-gate)
      schedule="--lr_schedule=validated --item_norm_scale=8 --repeat_gate=history" ;;
  esac
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=runs/repeat_synthetic_small/data \
      --model_dir=$out/$name --valid_split=time --train_candidates=sampled \
      --learning_rate=0.002 --l2=0 --epochs=40 --patience=4 --repeat_floor=none $schedule > $out/$name.log 2>&1
done
