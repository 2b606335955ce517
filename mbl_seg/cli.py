"""``mbl-seg``: the command line for instructors.

    mbl-seg check               versions, device, memory and the notebooks' mode
    mbl-seg data                generate and cache the course datasets
    mbl-seg exercises [--check] regenerate notebooks/ from solutions/
    mbl-seg run [NB ...]        execute notebooks headless into executed/ (--in-place: rewrite them)
    mbl-seg leaderboard         every method of the course on fly/test, as one markdown table
                                (--readme README.md: also put it between the README's markers;
                                --table zebrafish: the fly networks on zebrafish/test;
                                --table fibsem: every method on the real FIB-SEM volume)
    mbl-seg first-cell          the notebooks' first cell (installs the course on Colab & co.;
                                --insert: put it into every solution notebook)
    mbl-seg fetch NAME          download a listed public EM volume into the cache (checked,
                                resumable; --list: the volumes, their sources and terms)

Also available as ``python -m mbl_seg``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _check(args: argparse.Namespace) -> int:
    from .env import report

    info = report()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:>{width}} : {value}")
    print(f"\nNotebooks will run in {info['mode']} mode on {info['device']} "
          "(override with MBL_SEG_MODE=fast|full, MBL_SEG_DEVICE=cpu|cuda|mps).")
    return 0


def _data(args: argparse.Namespace) -> int:
    from .data import data_dir, prepare_datasets

    try:
        names = prepare_datasets(args.names or None, directory=args.dir)
    except FileExistsError as err:  # a folder we must not touch: say which, no traceback
        print(f"mbl-seg data: {err}", file=sys.stderr)
        return 1
    print(f"{len(names)} datasets ready in {Path(args.dir or data_dir()) / 'course.zarr'}")
    return 0


def _exercises(args: argparse.Namespace) -> int:
    from .notebooks import generate_exercises

    paths = generate_exercises(args.solutions, args.exercises, check=args.check,
                               force=args.force)
    if args.check:
        if paths:
            print("out of date (run `mbl-seg exercises`):\n  " + "\n  ".join(map(str, paths)))
            return 1
        print("all exercise notebooks are up to date")
        return 0
    print("wrote:\n  " + "\n  ".join(map(str, paths)))
    return 0


def _run(args: argparse.Namespace) -> int:
    from .notebooks import execute_notebook, list_notebooks

    paths = [Path(p) for p in args.notebooks] or list_notebooks(args.solutions)
    for path in paths:
        # the committed solutions are only rewritten when asked (--in-place)
        output = None if args.in_place else Path(args.output_dir) / path.name
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
        print(f"running {path} ({args.mode or 'auto'} mode) -> {output or path}")
        execute_notebook(path, output=output, mode=args.mode, timeout=args.timeout)
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from . import leaderboard

    if args.readme:  # a README without markers fails now, not after minutes of work
        try:
            leaderboard.replace_block(Path(args.readme).read_text(encoding="utf-8"), "",
                                      table=args.table)
        except (OSError, ValueError) as err:
            print(f"mbl-seg leaderboard: {args.readme}: {err}", file=sys.stderr)
            return 1
    table = leaderboard.TABLES[args.table]
    rows = leaderboard.final_table(args.volume or table.volume,
                                   validation=args.validation or table.validation,
                                   methods=args.methods or table.methods, device=args.device,
                                   verbose=True)
    text = leaderboard.markdown(rows, note=leaderboard.machine_note(args.device))
    print(text)
    if args.readme:
        path = leaderboard.update_readme(args.readme, text, table=args.table)
        print(f"wrote the table into {path}")
    return 0


def _first_cell(args: argparse.Namespace) -> int:
    from .hosted import first_cell_source

    if not args.insert:
        print(first_cell_source())
        return 0
    from .notebooks import list_notebooks, set_first_cell

    changed = [p for p in list_notebooks(args.solutions) if set_first_cell(p, first_cell_source())]
    print("updated:\n  " + "\n  ".join(map(str, changed)) if changed else
          "every solution notebook starts with the first cell already")
    if changed:
        print("now run `mbl-seg exercises` to carry it into notebooks/")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mbl-seg", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="show versions, device and mode").set_defaults(func=_check)
    data = sub.add_parser("data", help="generate and cache the course datasets")
    data.add_argument("names", nargs="*", help="datasets (default: all), e.g. fly/train")
    data.add_argument("--dir", default=None, help="cache directory (default: data/)")
    data.set_defaults(func=_data)
    ex = sub.add_parser("exercises", help="regenerate exercise notebooks from solutions")
    ex.add_argument("--check", action="store_true", help="only report stale notebooks")
    ex.add_argument("--force", action="store_true",
                    help="also replace exercise notebooks you have edited")
    ex.add_argument("--solutions", default="solutions")
    ex.add_argument("--exercises", default="notebooks")
    ex.set_defaults(func=_exercises)
    run = sub.add_parser("run", help="execute notebooks headless")
    run.add_argument("notebooks", nargs="*", help="notebooks (default: all solutions)")
    run.add_argument("--solutions", default="solutions")
    run.add_argument("--mode", choices=("fast", "full"), default=None)
    where = run.add_mutually_exclusive_group()
    where.add_argument("--output-dir", default="executed",
                       help="write executed copies here (default: executed/)")
    where.add_argument("--in-place", action="store_true",
                       help="overwrite the notebooks themselves (to update committed solutions)")
    run.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    run.set_defaults(func=_run)
    board = sub.add_parser("leaderboard", help="score every method of the course on one volume")
    board.add_argument("--readme", default=None,
                       help="also replace the table between the leaderboard markers of this file")
    board.add_argument("--table", default="fly", choices=["fly", "zebrafish", "fibsem"],
                       help="fly: every method on fly/test (the final table); zebrafish: the "
                            "fly networks on zebrafish/test, as they are and fine-tuned; "
                            "fibsem: every method on the real FIB-SEM volume (notebook 09)")
    board.add_argument("--volume", default=None, help="the held-out volume (default: the "
                                                      "table's: fly/test, zebrafish/test or "
                                                      "fibsem/test)")
    board.add_argument("--validation", default=None,
                       help="where the agglomeration threshold is chosen (default: the table's)")
    board.add_argument("--methods", nargs="*", default=None,
                       help="a subset of: classical boundaries2d affs2d malis2d affs3d mtlsd "
                            "acrlsd affs3d_zebrafish mtlsd_zebrafish acrlsd_zebrafish "
                            "affs3d_grid mtlsd_grid (default: the table's)")
    board.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best)")
    board.set_defaults(func=_leaderboard)
    first = sub.add_parser("first-cell",
                           help="print the notebooks' first cell (Colab, Kaggle, hubs)")
    first.add_argument("--insert", action="store_true",
                       help="put it (or its new version) at the top of every solution notebook")
    first.add_argument("--solutions", default="solutions")
    first.set_defaults(func=_first_cell)
    get = sub.add_parser("fetch", help="download a listed public EM volume (after the course)")
    get.add_argument("name", nargs="?", help="e.g. cremi/A (see --list)")
    get.add_argument("--list", action="store_true", help="the volumes fetch knows")
    get.add_argument("--directory", default=None, help="the cache (default: data/fetched)")
    get.set_defaults(func=_fetch)
    return parser


def _fetch(args: argparse.Namespace) -> int:
    from .data.remote import REMOTE, fetch, list_remote

    if args.list or not args.name:
        for name in list_remote():
            r = REMOTE[name]
            print(f"{name}: {r.layout}\n  from: {r.source}\n  terms: {r.terms}")
        return 0 if args.list else 1
    try:
        path = fetch(args.name, directory=args.directory)
    except (ValueError, ConnectionError) as err:
        print(f"mbl-seg fetch: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


# what the `lab` extra installs (JupyterLab and the headless notebook runners)
_LAB_MODULES = ("nbformat", "nbclient", "ipykernel", "jupyterlab")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mbl-seg``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ModuleNotFoundError as err:  # e.g. `mbl-seg run` where only the package is installed
        if err.name not in _LAB_MODULES:
            raise
        print(f"mbl-seg {args.command}: needs {err.name}, part of the package's `lab` extra: "
              "pip install 'mbl-seg[lab]' (make setup installs it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
