"""Re-run a simulation archive from its own files and compare: ``python -m simulator.reproduce DIR``.

The archive's ``config.yaml`` holds every setting (parameters by layer, run settings, seed), so the
run can be made again without the configs that produced it. The command verifies the archive
against its manifest, warns if the model file or the code differ from those recorded, re-runs, and
compares every variable of ``outputs.nc`` (and ``ensemble.nc``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import OmegaConf

from model import MODEL_PATH
from model.spec import load_spec

from .archive import ArchiveError, git_state, sha256_of, verify_archive
from .run import prepare, simulate


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


def reproduce(archive: str | Path, rtol: float = 1e-9) -> list[str]:
    """Re-run ``archive`` and return the differences (empty if it reproduces)."""
    archive = Path(archive)
    manifest = verify_archive(archive)
    recorded_model = manifest.get("inputs", {}).get("model", {}).get("sha256")
    if recorded_model and recorded_model != sha256_of(MODEL_PATH):
        print(f"warning: {MODEL_PATH.name} differs from the one recorded in the archive "
              f"(check out git commit {manifest['git'].get('commit')})", file=sys.stderr)
    if manifest["git"].get("commit") and manifest["git"]["commit"] != git_state().get("commit"):
        print(f"warning: the archive was made at commit {manifest['git']['commit']}, "
              f"this checkout is at {git_state().get('commit')}", file=sys.stderr)
    cfg = OmegaConf.load(archive / "config.yaml")
    spec = load_spec(MODEL_PATH)
    resolved, settings, uncertainty = prepare(cfg, spec, base_dir=archive)
    point, ensemble, _, _ = simulate(cfg, spec, resolved, settings, uncertainty, progress=False)
    with xr.open_dataset(archive / "outputs.nc") as recorded:
        differences = compare(recorded.load(), point, rtol)
    if (archive / "ensemble.nc").is_file():
        if ensemble is None:
            differences.append("ensemble.nc: the new run made no ensemble")
        else:
            with xr.open_dataset(archive / "ensemble.nc") as recorded:
                differences += [f"ensemble {d}" for d in compare(recorded.load(), ensemble, rtol)]
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", help="a run archive directory (with manifest.json)")
    parser.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (default 1e-9)")
    args = parser.parse_args(argv)
    try:
        differences = reproduce(args.archive, args.rtol)
    except ArchiveError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    if differences:
        print(f"{args.archive} does NOT reproduce:")
        for line in differences:
            print(f"  {line}")
        return 1
    print(f"{args.archive} reproduces: every variable agrees within rtol={args.rtol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
