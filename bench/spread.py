"""How much does each checked result of the solution notebooks vary over seeds and threads?

A checked output must reproduce on another computer. Another CPU rounds floating-point
sums in another order, and a short fast-mode training amplifies that into other
weights; a different seed does the same, only more. This script runs solution notebooks
(each from a fresh temporary copy with an empty checkpoint folder, as on a fresh clone)
for every combination of seeds and torch thread counts asked for, with
``$MBL_SEG_SEED`` and ``$MBL_SEG_THREADS`` set, and collects every value that
``checks.expect_between`` / ``checks.expect_less`` compared (``$MBL_SEG_RECORD_CHECKS``).
It prints, per notebook and check, the smallest and largest value over the runs next
to the range the notebook allows, and how many runs passed:

    python bench/spread.py [--seeds 0 1 2] [--threads 1 2] [--jobs 2] [--json FILE]
                           [--merge FILE ...] [--markdown docs/spread.md] [notebook names ...]

Each run uses ``threads`` torch threads; ``--jobs`` runs that many notebooks at once,
so keep ``jobs x threads`` at most the number of cores (the results do not depend on
the load, only the time does). For ``expect_less`` checks the spread is that of the
margin ``larger - smaller`` (positive: passed). ``--merge`` adds the records of
earlier runs (their ``--json`` files), e.g. a 1-thread run made with ``--jobs 2`` and a
2-thread run made with ``--jobs 1``; ``--merge-dir`` adds what ``make test`` recorded with
``$MBL_SEG_RECORD_CHECKS_DIR`` set (every solution notebook, seed 0, the suite's threads);
``--markdown`` writes the table to a file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the notebooks whose checked results come from a training (seeds matter) or a prediction
TRAINING = ("01_classical_boundaries", "02_deep_boundaries", "03_affinities", "04_malis",
            "05_3d_unet", "06_lsds")


def run_one(name: str, seed: int, threads: int, record: Path) -> float:
    """Run ``solutions/<name>.ipynb`` in a child process; the seconds it took."""
    env = {**os.environ, "MBL_SEG_SEED": str(seed), "MBL_SEG_THREADS": str(threads),
           "MBL_SEG_RECORD_CHECKS": str(record), "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--one", name], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:  # a cell raised: say which, and count the run as failed
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message",
              file=sys.stderr)
        with open(record, "a", encoding="utf-8") as file:
            file.write(json.dumps({"kind": "between", "what": "the notebook ran to the end",
                                   "values": [0.0], "limits": [1.0, 1.0], "passed": False}) + "\n")
    return time.perf_counter() - started


def summarise(records: list[dict]) -> list[dict]:
    """One row per (notebook, check): every run's value, the limits of the last record (the
    notebook's range now, if the records of earlier versions come first), and how many of
    the values those limits pass."""
    rows: dict[tuple[str, str], dict] = {}
    for r in records:
        if r["kind"] not in ("between", "less"):  # expect_equal: exact, nothing to spread
            continue
        margin = r["values"][0] if r["kind"] == "between" else r["values"][1] - r["values"][0]
        row = rows.setdefault((r["notebook"], r["what"]), {
            "notebook": r["notebook"], "what": r["what"], "kind": r["kind"], "values": []})
        row["limits"] = r["limits"]
        row["values"].append(margin)
    for row in rows.values():
        low, high = row["limits"] if row["kind"] == "between" else (0.0, None)
        row["passed"] = sum(bool(low <= v <= high) if high is not None else v > low
                            for v in row["values"])
    return list(rows.values())


def with_margin(low: float, high: float) -> tuple[float, float]:
    """The measured ``[low, high]`` widened by the margin the notebooks' ranges keep at least:
    half the measured width on each side, and never less than 5 % of the larger magnitude.

    >>> with_margin(1.25, 2.25)
    (0.75, 2.75)
    """
    margin = max((high - low) / 2, 0.05 * max(abs(low), abs(high)))
    return low - margin, high + margin


def table(rows: list[dict]) -> str:
    """The summary as a markdown table."""
    lines = ["| notebook | check | runs | measured min - max | with margin | allowed | passed |",
             "|---|---|--:|---|---|---|--:|"]
    for row in rows:
        low, high = min(row["values"]), max(row["values"])
        allowed = (f"{row['limits'][0]:g} to {row['limits'][1]:g}" if row["kind"] == "between"
                   else "margin > 0")
        what = row["what"] if row["kind"] == "between" else f"{row['what']} (margin)"
        runs = len(row["values"])
        wide = with_margin(low, high) if row["kind"] == "between" else (low, low)
        needed = f"{wide[0]:.3g} to {wide[1]:.3g}" if row["kind"] == "between" else (
            "holds in every run" if low > 0 else "FAILS in some run")
        lines.append(f"| {row['notebook'][:2]} | {what} | {runs} | {low:.4g} - {high:.4g} | "
                     f"{needed} | {allowed} | {row['passed']}/{runs} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"notebooks (default: {', '.join(TRAINING)})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "spread.json",
                        help="where to keep every record (default: bench/out/spread.json)")
    parser.add_argument("--merge", type=Path, nargs="+", default=[],
                        help="add the records of earlier runs (their --json files)")
    parser.add_argument("--merge-dir", type=Path, nargs="+", default=[],
                        help="add the records a test run left in $MBL_SEG_RECORD_CHECKS_DIR "
                             "(one <notebook>.jsonl each; make test does that when it is set)")
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        from bench_notebooks import execute_cold  # beside this script

        execute_cold(ROOT / "solutions" / f"{args.one}.ipynb")
        return 0
    names = args.names or ([] if args.merge or args.merge_dir else list(TRAINING))
    missing = [n for n in names if not (ROOT / "solutions" / f"{n}.ipynb").is_file()]
    if missing:
        parser.error(f"no solution notebook named {missing}")
    from mbl_seg.data import prepare_datasets

    prepare_datasets(progress=False)
    runs = list(itertools.product(names, args.seeds, args.threads))
    records: list[dict] = [r for path in args.merge
                           for r in json.loads(path.read_text(encoding="utf-8"))]
    records += [{**json.loads(line), "notebook": path.stem} for folder in args.merge_dir
                for path in sorted(folder.glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as folder:
        def one(run):
            name, seed, threads = run
            path = Path(folder) / f"{name}_{seed}_{threads}.jsonl"
            seconds = run_one(name, seed, threads, path)
            print(f"  {name:<24} seed {seed}, {threads} thread(s): {seconds:6.1f} s", flush=True)
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            return [{**json.loads(line), "notebook": name, "seed": seed, "threads": threads}
                    for line in lines]

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for found in pool.map(one, runs):
                records += found
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    rows = summarise(records)
    combos = sorted({(r["notebook"], r["seed"], r["threads"]) for r in records})
    summary = (f"{len(combos)} notebook runs: "
               + "; ".join(f"{n[:2]}: seeds {sorted({s for m, s, _ in combos if m == n})} x "
                           f"threads {sorted({t for m, _, t in combos if m == n})}"
                           for n in sorted({c[0] for c in combos}))
               + f"; on {os.cpu_count()} CPU cores ({platform.machine()}), "
               + time.strftime("%Y-%m-%d"))
    print(f"\n{summary}; records in {args.json}\n")
    print(table(rows))
    if args.markdown is not None:
        args.markdown.write_text(
            "# The spread of the solution notebooks' checked results\n\n"
            "Written by `python bench/spread.py --markdown docs/spread.md` (see its docstring): "
            "every value a `checks.expect_between` / `checks.expect_less` of a solution notebook "
            "compared, smallest and largest over the runs, the same widened by the margin every "
            "range keeps (half the measured width on each side, at least 5 % of the value), "
            "and what the notebook allows. "
            "For `expect_less` checks the value is the margin (larger - smaller; above 0: "
            f"passed).\n\n{summary}.\n\n{table(rows)}\n", encoding="utf-8")
    return 0 if all(row["passed"] == len(row["values"]) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
