#!/bin/bash
# session 6: resume phase6's chains (runs/ kept; the processes died with the session)
#   05_affs3d_fly 8000 -> 9500 (seed 11, resumes its run folder) -> 10000 at 1e-4 (seed 12)
#   06_acrlsd_fly from 05_affs3d_fly_6000: 1500 at 5e-4 (seed 9) -> 2000 at 1e-4 (seed 10);
#   seeds 11, 12 (-> 4000) follow next session
# Two chains, one torch thread each (2 cores); pause both with kill -STOP for timings or nbval.
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
T="scripts/train_course_models.py --out training --force --mirror-faces --workers 0"
PY=.venv/bin/python
A="--model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96"
C="--model acrlsd --start-from training/06_acrlsd_fly.pt --name 06_acrlsd_fly --patch 136 136 136"
affs() {
  $PY $T $A --iterations 1500 --validate-every 250 --seed 11 > runs/p6_affs_e.log 2>&1 || exit 1
  cp training/05_affs3d_fly.pt training/05_affs3d_fly_9500.pt; cp training/05_affs3d_fly.json training/05_affs3d_fly_9500.json
  $PY $T $A --lr 1e-4 --iterations 500 --validate-every 100 --seed 12 > runs/p6_affs_f.log 2>&1 || exit 1
  echo done > runs/p6_affs.done
}
acrlsd() {
  $PY $T --model acrlsd --lsd-from 06_lsd_fly --context-from training/05_affs3d_fly_6000.pt --name 06_acrlsd_fly --patch 136 136 136 --iterations 1500 --validate-every 250 --seed 9 > runs/p4_acrlsd_a.log 2>&1 || exit 1
  $PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_acrlsd_b.log 2>&1 || exit 1
  echo done > runs/p7_acrlsd.done
}
affs &
acrlsd &
wait
