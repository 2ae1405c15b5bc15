"""The command ``python -m analysis.sensitivity [options] [overrides]``: parse the options, run the
analysis (:mod:`.compute`), write the archive (:mod:`.write`) and print the summary."""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path
from typing import Sequence

from base.archive import ArchiveError
from base.paths import RUNS_DIR

from .compute import run_sensitivity
from .markdown import summary_text
from .options import (DEFAULT_N, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_YEARS, GROUPS,
                      RANGES_PATH, SensitivityError)
from .write import write_archive

PROGRAM = "analysis.sensitivity"


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parser() -> argparse.ArgumentParser:
    """The command's options (the defaults of :mod:`.options`)."""
    p = argparse.ArgumentParser(
        prog="python -m analysis.sensitivity",
        description="Sobol indices of urbanization, water demand... with respect to the levers and "
                    "the uncertain parameters (SALib, vectorized engine).")
    p.add_argument("--scenario", default="baseline", help="scenario whose values are the base (default baseline)")
    p.add_argument("--calibrated", default="default", help="calibrated config (default: default)")
    p.add_argument("--n", type=int, default=DEFAULT_N, help=f"base samples, a power of two (default {DEFAULT_N})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of design and bootstrap")
    p.add_argument("--groups", default=",".join(GROUPS), help=f"factor groups (default {','.join(GROUPS)})")
    p.add_argument("--outputs", help="model variables to analyse (default: those the model's outputs declaration "
                                      "marks sensitivity: true)")
    p.add_argument("--years", default=",".join(map(str, DEFAULT_YEARS)), help="year-ends to analyse")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                   help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    p.add_argument("--ranges", default=str(RANGES_PATH), help="YAML file of range replacements")
    p.add_argument("--out", help="output directory (default runs/sensitivity/<date>_<time>_<scenario>)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("overrides", nargs="*", help="Hydra overrides of the run config, e.g. run.time_step=0.125")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command.

    Parameters
    ----------
    argv : sequence of str, optional
        Options and overrides (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0, or 2 for bad options or inputs (one line on stderr, nothing written).
    """
    args = parser().parse_args(argv)
    started = time.perf_counter()
    try:
        years = [int(y) for y in _csv_list(args.years)]
    except ValueError:
        print(f"{PROGRAM}: error: --years must be whole years, got {args.years!r}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (
        RUNS_DIR / "sensitivity" / f"{_dt.datetime.now():%Y-%m-%d_%H-%M-%S}_{args.scenario}")
    if out.exists() and any(out.iterdir()):
        print(f"{PROGRAM}: error: {out} already exists; choose another --out", file=sys.stderr)
        return 2
    try:
        result = run_sensitivity(scenario=args.scenario, calibrated=args.calibrated, n=args.n,
                                 seed=args.seed, groups=_csv_list(args.groups),
                                 outputs=None if args.outputs is None else _csv_list(args.outputs), years=years,
                                 resamples=args.resamples, ranges=args.ranges,
                                 config_overrides=args.overrides)
        wall = time.perf_counter() - started
        write_archive(result, out, wall, plots=not args.no_plots)
    except (SensitivityError, ValueError, ArchiveError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    print(summary_text(result, time.perf_counter() - started))
    print(f"\nsensitivity archive: {out}")
    return 0
