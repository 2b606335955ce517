#!/bin/bash
# session 6: once the affinity chain of phase7.sh is done (runs/p6_affs.done), the zebrafish
# fine-tunes of the final fly networks (issue 24 item 3): 16 sections, 300 iterations, as the
# shipped ones were made; one torch thread (ACRLSD's chain runs beside it)
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
while [ ! -f runs/p6_affs.done ]; do sleep 60; done
T="scripts/train_course_models.py --out training --force --workers 0 --domain zebrafish --sections 16 --iterations 300 --validate-every 100"
PY=.venv/bin/python
$PY $T --model mtlsd --start-from training/06_mtlsd_fly.pt --seed 21 > runs/p7_mtlsd_zf.log 2>&1 || exit 1
$PY $T --model affs --start-from training/05_affs3d_fly.pt --seed 21 > runs/p7_affs_zf.log 2>&1 || exit 1
echo done > runs/p7_zebrafish.done
