#!/bin/sh
# The command the issue's held-back log will be rerun with, on both synthetic repeat logs (45% repeats):
# trainers.train's defaults (the validated schedule, repeat-explore with the history gate, learning rate
# 1e-3, L2 1e-5) with --valid_split=time --train_candidates=sampled and 6 epochs, and the post-hoc boost
# with the same flags (--repeat_mechanism=boost). The logs are the studies' (`experiments.repeat_synthetic`:
# the full log 2,000 items, 40,000 sessions, seed 7; the small log 300 items, 2,500 sessions, seed 1), written
# again by the same generator; their S-POP and tuned STAN are in ../repeat_synthetic.json and
# ../small_log/repeat_synthetic.json. Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/issue_command
for log in full small; do
  case $log in
    full) args="2000, 40000, 7" ;;
    small) args="300, 2500, 1" ;;
  esac
  data=runs/repeat_synthetic_$log/data
  .venv/bin/python -c "from experiments.repeat_synthetic import write_synthetic_dataset, DATASET; \
write_synthetic_dataset('$data/' + DATASET, $args, 0.45)"
  for mechanism in repeat_explore boost; do
    .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=$data \
        --model_dir=$out/$log-$mechanism --repeat_mechanism=$mechanism --valid_split=time \
        --train_candidates=sampled --epochs=6 --repeat_floor=none > $out/$log-$mechanism.log 2>&1
  done
done
# The same command after `--repeat_floor=validated` became trainers.train's default (experiments.
# repeat_floor_default; the runs above name the floor's absence, trainers.train's default before).
for log in full small; do
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=runs/repeat_synthetic_$log/data \
      --model_dir=$out/$log-repeat_explore-floor --repeat_mechanism=repeat_explore --valid_split=time \
      --train_candidates=sampled --epochs=6 > $out/$log-repeat_explore-floor.log 2>&1
done
