#!/bin/bash
# session 7: ACRLSD's branch stops at 2000 iterations (8.5 CPU hours with its branch point,
# level with the affinity (10.1 h) and MTLSD (9.7 h) networks once the LSD network it reads is
# counted): the rest of the 1500 at 5e-4 (resumed, seed 9), 500 at 1e-4 (seed 10); then its
# zebrafish fine-tune like the other two (16 sections, 300 iterations, seed 21).
cd /work/main
export OMP_NUM_THREADS=1 MBL_SEG_THREADS=1
while pgrep -f "name 06_acrlsd_fly --patch 136 136 136 --iterations 1500" > /dev/null; do sleep 20; done
T="scripts/train_course_models.py --out training --force --mirror-faces --workers 0"
PY=.venv/bin/python
C="--model acrlsd --start-from training/06_acrlsd_fly.pt --name 06_acrlsd_fly --patch 136 136 136"
$PY $T $C --lr 1e-4 --iterations 500 --validate-every 100 --seed 10 > runs/p4_acrlsd_b.log 2>&1 || exit 1
cp training/06_acrlsd_fly.pt training/06_acrlsd_fly_2000.pt
Z="scripts/train_course_models.py --out training --force --workers 0 --domain zebrafish --sections 16 --iterations 300 --validate-every 100"
$PY $Z --model acrlsd --start-from training/06_acrlsd_fly.pt --patch 88 172 172 --seed 21 > runs/p9_acrlsd_zf.log 2>&1 || exit 1
echo done > runs/p9_acrlsd.done
