#!/bin/bash
# session 5: resume the chains of phase4/phase5 (runs/ kept), all three networks to 10000 iterations
#   05_affs3d_fly 6000 -> 8000 (seeds 9, 10) -> 10000 (seeds 11, 12)
#   06_mtlsd_fly  8000 -> 10000 (seeds 11, 12), then 06_acrlsd_fly from 05_affs3d_fly_6000:
#   2000 (seeds 9, 10) -> 4000 (seeds 11, 12): the same seeds as the affinity network's last 4000
# Two chains, one torch thread each (2 cores); pause both with kill -STOP for timings or nbval.
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
T="scripts/train_course_models.py --out training --force --mirror-faces --workers 0"
PY=.venv/bin/python
A="--model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96"
M="--model mtlsd --start-from training/06_mtlsd_fly.pt --name 06_mtlsd_fly --patch 96 96 96"
C="--model acrlsd --start-from training/06_acrlsd_fly.pt --name 06_acrlsd_fly --patch 136 136 136"
affs() {
  $PY $T $A --iterations 1500 --validate-every 250 --seed 9 > runs/p4_affs_c.log 2>&1 || exit 1
  $PY $T $A --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_affs_d.log 2>&1 || exit 1
  cp training/05_affs3d_fly.pt training/05_affs3d_fly_8000.pt; cp training/05_affs3d_fly.json training/05_affs3d_fly_8000.json
  $PY $T $A --iterations 1500 --validate-every 250 --seed 11 > runs/p6_affs_e.log 2>&1 || exit 1
  $PY $T $A --lr 1e-4 --iterations 500 --validate-every 100 --seed 12 > runs/p6_affs_f.log 2>&1 || exit 1
  echo done > runs/p6_affs.done
}
mtlsd() {
  $PY $T $M --iterations 1500 --validate-every 250 --seed 11 > runs/p5_mtlsd_a.log 2>&1 || exit 1
  $PY $T $M --lr 1e-4 --iterations 500 --validate-every 100 --seed 12 > runs/p5_mtlsd_b.log 2>&1 || exit 1
  echo done > runs/p6_mtlsd.done
  $PY $T --model acrlsd --lsd-from 06_lsd_fly --context-from training/05_affs3d_fly_6000.pt --name 06_acrlsd_fly --patch 136 136 136 --iterations 1500 --validate-every 250 --seed 9 > runs/p4_acrlsd_a.log 2>&1 || exit 1
  $PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_acrlsd_b.log 2>&1 || exit 1
  $PY $T $C --iterations 1500 --validate-every 250 --seed 11 > runs/p6_acrlsd_e.log 2>&1 || exit 1
  $PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 12 > runs/p6_acrlsd_f.log 2>&1 || exit 1
  echo done > runs/p6_acrlsd.done
}
affs &
mtlsd &
wait
