"""Re-run a simulation archive from its own files and compare: ``python -m simulator.reproduce DIR``.

The archive's ``config.yaml`` holds every setting (parameters by layer, run settings, seed), so the
run can be made again without the configs that produced it. The command verifies the archive
against its manifest (and notes files the manifest does not list), refuses archives that are not
simulation archives, warns if the model file or the code differ from those recorded, re-runs, and
compares every derived file: every variable of ``outputs.nc`` (and ``ensemble.nc``), every entry
of ``summary.json``, and ``config.yaml`` and ``README.md`` as re-made from the archive.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import OmegaConf

from base.archive import ArchiveError, RunArchive, git_state, sha256_of, summary_text, unlisted_files

from .cli import DEBUG_FLAG, run_command
from .run import archive_readme, archived_config, job_summary, prepare, simulate


def compare(recorded: xr.Dataset, fresh: xr.Dataset, rtol: float) -> list[str]:
    """Names of variables that differ by more than ``rtol`` (relative) or are missing."""
    differences = []
    for name in recorded.data_vars:
        if name not in fresh:
            differences.append(f"{name}: missing from the new run")
            continue
        a, b = np.asarray(recorded[name].values, float), np.asarray(fresh[name].values, float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True):
            worst = np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)) if a.shape == b.shape else np.inf
            differences.append(f"{name}: largest relative difference {worst:.3g}")
    return differences


def compare_summary(recorded: Any, fresh: Any, rtol: float, where: str = RunArchive.SUMMARY,
                    added: list[str] | None = None) -> list[str]:
    """Entries of ``summary.json`` that differ (numbers beyond ``rtol``, anything else at all).

    Every entry the archive records is compared; an entry it lacks but the new run makes (the
    summary gained a figure since the archive was written) is not a difference: its path is
    appended to ``added`` (if given) so that the caller can report it.
    """
    if isinstance(recorded, dict) and isinstance(fresh, dict):
        differences = []
        for key in sorted(set(recorded) | set(fresh)):
            if key not in fresh:
                differences.append(f"{where}.{key}: not in the new summary")
            elif key not in recorded:
                if added is not None:
                    added.append(f"{where}.{key}")
            else:
                differences += compare_summary(recorded[key], fresh[key], rtol, f"{where}.{key}", added)
        return differences
    if isinstance(recorded, list) and isinstance(fresh, list):
        if len(recorded) != len(fresh):
            return [f"{where}: {len(recorded)} items, the new run has {len(fresh)}"]
        return [d for i, (a, b) in enumerate(zip(recorded, fresh))
                for d in compare_summary(a, b, rtol, f"{where}[{i}]", added)]
    numbers = (int, float)
    if isinstance(recorded, numbers) and isinstance(fresh, numbers) and \
            not isinstance(recorded, bool) and not isinstance(fresh, bool):
        if np.isclose(recorded, fresh, rtol=rtol, atol=0.0, equal_nan=True):
            return []
        return [f"{where}: archived {recorded!r}, new run {fresh!r}"]
    return [] if recorded == fresh else [f"{where}: archived {recorded!r}, new run {fresh!r}"]


def reproduce(archive: str | Path, rtol: float = 1e-9, added: list[str] | None = None) -> list[str]:
    """Re-run ``archive`` and return the differences (empty if it reproduces).

    Every derived file (:attr:`base.archive.RunArchive.DERIVED`) is made again and compared:
    ``outputs.nc`` and ``ensemble.nc`` variable by variable within ``rtol``, ``summary.json``
    entry by entry (numbers within ``rtol``; entries the new summary adds are listed in ``added``,
    not counted as differences), ``config.yaml`` and ``README.md`` as text.

    Raises
    ------
    ArchiveError
        If the archive is incomplete or altered, or is not a simulation archive.
    """
    run = RunArchive(archive)
    archive = run.path
    rtol = check_rtol(rtol)
    manifest = run.verify()
    kind = manifest.get("kind")
    if kind != "simulation":
        remake = {"comparison": "python -m analysis.compare <the multirun or archives it compared>",
                  "calibration": "python -m calibration (with the overrides in its manifest.json)",
                  "sensitivity": "python -m analysis.sensitivity (with the arguments in its manifest.json)"}
        raise ArchiveError(f"{archive} is a {kind or 'unknown'} archive; reproduce re-runs simulation "
                           f"archives made by sim.py. Re-make this one with "
                           f"{remake.get(str(kind), 'the command in its manifest.json')}")
    for name in unlisted_files(archive, manifest):
        print(f"note: {archive / name} is not listed in the manifest (added after the run; not verified)",
              file=sys.stderr)
    try:
        cfg = OmegaConf.load(run.file(RunArchive.CONFIG))
    except Exception as error:  # noqa: BLE001 - any YAML or OmegaConf error: the file is broken
        raise ArchiveError(f"{run.file(RunArchive.CONFIG)} cannot be read ({error}); the archive is broken") from None
    plan = prepare(cfg, None, base_dir=archive, program="reproduce")
    recorded_model = manifest.get("inputs", {}).get("model", {}).get("sha256")
    if recorded_model and recorded_model != sha256_of(plan.mdl_path):
        print(f"warning: {plan.mdl_path.name} differs from the one recorded in the archive "
              f"(check out git commit {manifest['git'].get('commit')})", file=sys.stderr)
    if manifest["git"].get("commit") and manifest["git"]["commit"] != git_state().get("commit"):
        print(f"warning: the archive was made at commit {manifest['git']['commit']}, "
              f"this checkout is at {git_state().get('commit')}", file=sys.stderr)
    settings = plan.settings
    simulation = simulate(plan)
    point, ensemble = simulation.point, simulation.ensemble
    A = RunArchive
    differences = compare(run.open_dataset(A.OUTPUTS), point, rtol)
    if run.has(A.ENSEMBLE):
        if ensemble is None:
            differences.append(f"{A.ENSEMBLE}: the new run made no ensemble")
        else:
            differences += [f"ensemble {d}" for d in compare(run.open_dataset(A.ENSEMBLE), ensemble, rtol)]
    elif ensemble is not None and settings["save_members"]:
        differences.append(f"{A.ENSEMBLE}: missing from the archive, but the new run writes one")
    fresh_summary = json.loads(summary_text(job_summary(plan, simulation)))
    differences += compare_summary(run.read_summary(), fresh_summary, rtol, added=added)
    archived = archived_config(cfg, plan.uncertainty)
    if OmegaConf.to_yaml(archived, resolve=True) != run.read_text(A.CONFIG):
        differences.append(f"{A.CONFIG}: differs from the config re-made from it")
    if run.has(A.README):
        readme = archive_readme(archived, manifest, has_ensemble=run.has(A.ENSEMBLE),
                                has_bands=any(name.endswith("_p50") for name in point.data_vars),
                                has_plots=any(name.endswith(".png") for name in manifest["files"]),
                                ensemble=ensemble if run.has(A.ENSEMBLE) else None,
                                plan_summary="targets" in fresh_summary,
                                plot_files=[name for name in manifest["files"] if name.endswith(".png")])
        if readme != run.read_text(A.README):
            differences.append(f"{A.README}: differs from the one re-made from {A.CONFIG} and {A.MANIFEST}")
    return differences


def check_rtol(value: Any) -> float:
    """A relative tolerance: a finite number in [0, 1)."""
    try:
        rtol = float(value)
    except (TypeError, ValueError):
        raise ArchiveError(f"--rtol must be a number in [0, 1), e.g. 1e-9; got {value!r}") from None
    if not (np.isfinite(rtol) and 0 <= rtol < 1):
        raise ArchiveError(f"--rtol must be a number in [0, 1), e.g. 1e-9; got {value!r}")
    return rtol


def _rtol_argument(text: str) -> float:
    try:
        return check_rtol(text)
    except ArchiveError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--rtol ")) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.reproduce",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("archive", help=f"a run archive directory (with {RunArchive.MANIFEST})")
    parser.add_argument("--rtol", type=_rtol_argument, default=1e-9,
                        help="relative tolerance, a number in [0, 1) (default 1e-9)")
    parser.add_argument(DEBUG_FLAG, action="store_true", help="show tracebacks of unexpected errors")
    args = parser.parse_args(argv)
    added: list[str] = []
    differences = reproduce(args.archive, args.rtol, added)
    if added:
        print(f"note: the new run's {RunArchive.SUMMARY} has {len(added)} entr{'y' if len(added) == 1 else 'ies'} "
              f"the archive does not record (added to the summary since; not compared): {', '.join(added)}")
    if differences:
        print(f"{args.archive} does NOT reproduce:")
        for line in differences:
            print(f"  {line}")
        return 1
    print(f"{args.archive} reproduces: {', '.join(RunArchive.DERIVED)} re-made and equal within "
          f"rtol={args.rtol:g} (the plots are drawn from {RunArchive.OUTPUTS})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("reproduce", main))
