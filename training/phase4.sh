#!/bin/bash
# session 4: affs 4750 -> 6000 -> 8000; mtlsd 6750 -> 8000, then ACRLSD branched from affs at 6000
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
T="scripts/train_course_models.py --out training --force --mirror-faces --workers 0"
PY=.venv/bin/python
affs() {
  $PY $T --model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96 --iterations 750 --validate-every 250 --seed 7 > runs/p4_affs_a.log 2>&1 || exit 1
  $PY $T --model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96 --lr 1e-4 --iterations 500 --validate-every 100 --seed 8 > runs/p4_affs_b.log 2>&1 || exit 1
  cp training/05_affs3d_fly.pt training/05_affs3d_fly_6000.pt; cp training/05_affs3d_fly.json training/05_affs3d_fly_6000.json
  $PY $T --model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96 --iterations 1500 --validate-every 250 --seed 9 > runs/p4_affs_c.log 2>&1 || exit 1
  $PY $T --model affs --start-from training/05_affs3d_fly.pt --name 05_affs3d_fly --patch 96 96 96 --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_affs_d.log 2>&1 || exit 1
  echo done > runs/p4_affs.done
}
mtlsd() {
  $PY $T --model mtlsd --start-from training/06_mtlsd_fly.pt --name 06_mtlsd_fly --patch 96 96 96 --iterations 750 --validate-every 250 --seed 7 > runs/p4_mtlsd_a.log 2>&1 || exit 1
  $PY $T --model mtlsd --start-from training/06_mtlsd_fly.pt --name 06_mtlsd_fly --patch 96 96 96 --lr 1e-4 --iterations 500 --validate-every 100 --seed 8 > runs/p4_mtlsd_b.log 2>&1 || exit 1
  echo done > runs/p4_mtlsd.done
  while [ ! -f training/05_affs3d_fly_6000.json ]; do sleep 30; done
  $PY $T --model acrlsd --lsd-from 06_lsd_fly --context-from training/05_affs3d_fly_6000.pt --name 06_acrlsd_fly --patch 136 136 136 --iterations 1500 --validate-every 250 --seed 9 > runs/p4_acrlsd_a.log 2>&1 || exit 1
  $PY $T --model acrlsd --start-from training/06_acrlsd_fly.pt --name 06_acrlsd_fly --patch 136 136 136 --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_acrlsd_b.log 2>&1 || exit 1
  echo done > runs/p4_acrlsd.done
}
affs &
mtlsd &
wait
