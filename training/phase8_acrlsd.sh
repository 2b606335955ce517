#!/bin/bash
# ACRLSD's chain from where session 6 stopped it (iteration 1200 of its first call, run folder
# runs/06_acrlsd_fly_208fc846eb6b.pt; exported as training/06_acrlsd_fly.pt). Resumes the run
# folder if the machine was kept; if not, replace the first call by
#   --start-from training/06_acrlsd_fly.pt ... --iterations 300 --seed 13 (the rest at 5e-4).
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
T="scripts/train_course_models.py --out training --force --mirror-faces --workers 0"
PY=.venv/bin/python
C="--model acrlsd --start-from training/06_acrlsd_fly.pt --name 06_acrlsd_fly --patch 136 136 136"
$PY $T --model acrlsd --lsd-from 06_lsd_fly --context-from training/05_affs3d_fly_6000.pt --name 06_acrlsd_fly --patch 136 136 136 --iterations 1500 --validate-every 250 --seed 9 > runs/p4_acrlsd_a.log 2>&1 || exit 1
$PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_acrlsd_b.log 2>&1 || exit 1
$PY $T $C --iterations 1500 --validate-every 250 --seed 11 > runs/p6_acrlsd_e.log 2>&1 || exit 1
$PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 12 > runs/p6_acrlsd_f.log 2>&1 || exit 1
echo done > runs/p8_acrlsd.done
