#!/bin/sh
# A synthetic log shaped like the issue's held-back shop log (about 65,000 training sessions, 41,000 items,
# 45% repeats): 41,000 items, 76,500 sessions (15% test), seed 3. S-POP and the fairly tuned STAN
# (experiments.repeat_synthetic, the tuning protocol), then the held-back log's command: trainers.train's
# defaults with --repeat_mechanism=repeat_explore --valid_split=time --train_candidates=sampled and 6 epochs,
# and the post-hoc boost with the same flags. The two trainings run beside the tuning. Then the same
# command with RepeatNet's session gate (--repeat_gate=session), and the repeat-explore mixture of both
# gates' runs taken apart on the test split (experiments.repeat_part_diagnostics). Rerunning resumes.
set -e
cd "$(dirname "$0")/../../.."
out=results/repeat_synthetic/sparse_log
work=runs/repeat_synthetic_sparse
.venv/bin/python -c "from experiments.repeat_synthetic import write_synthetic_dataset, DATASET; \
write_synthetic_dataset('$work/data/' + DATASET, 41000, 76500, 3, 0.45)"
.venv/bin/python -m experiments.repeat_synthetic --work_dir=$work --results_dir=$out --num_items=41000 \
    --num_sessions=76500 --seed=3 --methods=spop,stan > $out/repeat_synthetic.log 2>&1 &
for mechanism in repeat_explore boost; do
  .venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=$work/data \
      --model_dir=$out/$mechanism --repeat_mechanism=$mechanism --valid_split=time \
      --train_candidates=sampled --epochs=6 --repeat_floor=none > $out/$mechanism.log 2>&1
done
wait
.venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=$work/data \
    --model_dir=$out/repeat_explore-session-gate --repeat_mechanism=repeat_explore --repeat_gate=session \
    --repeat_floor=none --valid_split=time --train_candidates=sampled --epochs=6 > $out/repeat_explore-session-gate.log 2>&1
.venv/bin/python -m experiments.repeat_part_diagnostics --run_dirs=$out/repeat_explore,$out/repeat_explore-session-gate \
    --output=$out/repeat_part_diagnostics.json > $out/repeat_part_diagnostics.log 2>&1
# The same command after `--repeat_floor=validated` became trainers.train's default (the repeat distribution's
# floor picked on validation), and its paired comparison with the boost and the run before the floor.
.venv/bin/python -m trainers.train --dataset=synthetic_repeat --data_dir=$work/data \
    --model_dir=$out/repeat_explore-floor --repeat_mechanism=repeat_explore --valid_split=time \
    --train_candidates=sampled --epochs=6 > $out/repeat_explore-floor.log 2>&1
.venv/bin/python -m experiments.compare_run_dirs --reference=$out/boost \
    --run_dirs=$out/repeat_explore-floor,$out/repeat_explore --output=$out/floor_vs_boost.json \
    > $out/floor_vs_boost.log 2>&1
# The floor alone: every floor applied after training to the run before it (its weights and schedule as they are).
.venv/bin/python -m experiments.repeat_floor_posthoc --run_dir=$out/repeat_explore \
    --output=$out/repeat_explore_floors.json > $out/repeat_explore_floors.log 2>&1
