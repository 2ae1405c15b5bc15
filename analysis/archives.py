"""Finding and reading run archives for analysis (files only, each checked against its manifest).

A run archive is what ``python sim.py`` writes (its files are named by :class:`base.archive.RunArchive`);
a multirun directory holds one archive per job (``runs/multirun/<date>_<time>/<job>_<scenario>/``).
Every archive is read through :meth:`base.archive.RunArchive.verify`, so a missing, truncated or altered file stops the analysis
with a message naming the archive and the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import netCDF4
import numpy as np
import xarray as xr
import yaml

from base.errors import InputError
from base.archive import MANIFEST_NAME, STAGING_PATTERN, ArchiveError, RunArchive, sha256_of
from base.paths import REPO_ROOT, repo_relative
from model import MODEL_PATH
from model.outputs import Outputs, load_outputs
from simulator.sweep import first_command, missing_jobs, rerun_command

# What the comparison reads is declared with the model's outputs (model.outputs): the variables
# marked ``compare`` must be in ``ensemble.nc``, the constants marked ``constant`` are read from
# ``outputs.nc``.
_JOB_NUMBER = re.compile(r"^(\d+)_")


class ComparisonInputError(InputError):
    """Input that cannot be compared: no archives, an incomplete archive, a missing variable."""


@dataclass
class LoadedArchive:
    """A verified simulation archive (:class:`base.archive.RunArchive`), loaded into memory.

    Attributes
    ----------
    path : Path
        The archive directory.
    manifest : dict
        ``manifest.json`` (git commit, hashes, seed...).
    summary : dict
        ``summary.json``.
    config : dict
        The resolved configuration (``config.yaml``).
    point : xarray.Dataset
        The constants of ``outputs.nc`` (the point run) declared ``constant`` in the model's outputs.
    ensemble : xarray.Dataset
        ``ensemble.nc``: the members, dimensions ``(sample, time, *subscripts)``.
    outputs : model.outputs.Outputs
        The declared outputs of the archive's model (``model.mdl`` of its config).
    """

    path: Path
    manifest: dict
    summary: dict
    config: dict
    point: xr.Dataset
    ensemble: xr.Dataset
    outputs: Outputs

    @property
    def model(self) -> str:
        """The archive's model file as its config names it (the project's model if it names none)."""
        return str((self.config.get("model") or {}).get("mdl") or repo_relative(MODEL_PATH))

    @property
    def scenario(self) -> str:
        """Scenario name (``scenario.name`` of the config)."""
        return str(self.config["scenario"]["name"])

    @property
    def title(self) -> str:
        return str(self.config["scenario"].get("title", self.scenario))

    @property
    def title_zh(self) -> str:
        return str(self.config["scenario"].get("title_zh", ""))

    @property
    def seed(self) -> int:
        return int(self.config["ensemble"]["seed"])

    @property
    def members(self) -> int:
        return int(self.ensemble.sizes["sample"])

    def observation_noise(self, variable: str) -> float:
        """Standard deviation of the observation noise of ``variable`` used by the run (0 if none)."""
        uncertainty = (self.config.get("calibrated") or {}).get("uncertainty") or {}
        return float((uncertainty.get("observation_noise") or {}).get(variable, 0.0))


def job_sort_key(path: Path) -> tuple:
    """Order archives by Hydra job number (``<num>_<scenario>``), then by name."""
    match = _JOB_NUMBER.match(path.name)
    return (int(match.group(1)) if match else 1 << 30, path.name)


def _manifest_kind(directory: Path) -> str | None:
    try:
        return RunArchive(directory).read_manifest().get("kind")
    except (ArchiveError, AttributeError):
        return None


def find_archives(paths: Iterable[str | Path]) -> list[Path]:
    """Expand run archives and multirun directories into a list of archive directories.

    Parameters
    ----------
    paths : iterable of path-like
        Archive directories (holding ``manifest.json``) and/or multirun directories (holding one
        archive per job).

    Raises
    ------
    ComparisonInputError
        If a path does not exist or is not a directory, a multirun directory holds an unfinished
        job (a directory without manifest, or a staging directory left by a killed job), a job its
        sweep record lists has no archive (named with how it ended and its log), or no archive is
        found at all.
    """
    found: list[Path] = []
    paths = [Path(p) for p in paths]
    if not paths:
        raise ComparisonInputError("no input: pass a multirun directory or run archive directories")
    for path in paths:
        if not path.exists():
            raise ComparisonInputError(f"{path} does not exist; pass a multirun directory "
                                       f"(runs/multirun/<date>_<time>) or run archives")
        if not path.is_dir():
            raise ComparisonInputError(f"{path} is not a directory; pass a multirun directory or run archives")
        if RunArchive(path).complete:
            kind = _manifest_kind(path)
            if kind not in (None, "simulation"):
                raise ComparisonInputError(
                    f"{path} is a '{kind}' archive, not a simulation run; pass the runs it was made from")
            found.append(path)
            continue
        missing = missing_jobs(path)  # the jobs of a recorded sweep (simulator.sweep) not done
        if missing:
            command = first_command(path)
            rerun = f"`{rerun_command(path, command)}`" if command else "the sweep's command"
            raise ComparisonInputError(
                f"{path}: {len(missing)} job(s) of this sweep have no complete archive; rerun {rerun} "
                f"to redo only those (or pass the complete archives one by one):\n"
                + "\n".join(f"  {job.describe()}" for job in missing))
        jobs = []
        for child in sorted(path.iterdir(), key=job_sort_key):
            if not child.is_dir():
                continue
            if STAGING_PATTERN.match(child.name):
                raise ComparisonInputError(
                    f"{child} is the staging directory of a job that was killed while writing its "
                    f"archive; re-run that job (or delete {child.name}) before comparing")
            if child.name.startswith("."):
                continue  # e.g. submitit's .submitit/ logs
            if not RunArchive(child).complete:
                raise ComparisonInputError(
                    f"{child} has no {MANIFEST_NAME}: that job did not finish (or failed). Re-run "
                    f"it, or pass only the finished archives")
            kind = _manifest_kind(child)
            if kind not in (None, "simulation"):
                continue  # e.g. an earlier comparison written into the multirun directory
            jobs.append(child)
        if not jobs:
            raise ComparisonInputError(
                f"{path} holds no run archive; run a sweep first, e.g. "
                f"`python sim.py -m scenario=baseline,strict_water`")
        found.extend(jobs)
    resolved = [p.resolve() for p in found]
    duplicates = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if duplicates:
        raise ComparisonInputError(f"archive(s) given twice: {', '.join(duplicates)}")
    return found


def _read_constants(path: Path, names: Iterable[str]) -> xr.Dataset:
    """A few variables of a point run as a Dataset over ``time``.

    Read with netCDF4 directly: opening ``outputs.nc`` (every model variable) through xarray
    decodes all of them first and costs ten times more.
    """
    data = {}
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)
        time = np.asarray(nc.variables["time"][:], dtype=float)
        for name in names:
            if name not in nc.variables:
                raise ComparisonInputError(f"{path} lacks the constant '{name}'; re-run the scenario")
            variable = nc.variables[name]
            data[name] = (variable.dimensions, np.asarray(variable[:], dtype=float),
                          {"units": getattr(variable, "units", "")})
    return xr.Dataset(data, coords={"time": time})


def load_archive(path: str | Path) -> LoadedArchive:
    """Verify and read one simulation archive.

    Raises
    ------
    base.archive.ArchiveError
        If the archive is incomplete or altered (message names the file).
    ComparisonInputError
        If it has no ensemble or lacks a variable the comparison needs.
    """
    run = RunArchive(path)
    path, A = run.path, RunArchive
    manifest = run.verify()
    files = manifest.get("files", {})
    for name in (A.ENSEMBLE, A.OUTPUTS, A.SUMMARY, A.CONFIG):
        if name not in files:
            hint = (" (the run had ensemble.samples=0 or no calibrated uncertainty); re-run it with "
                    "ensemble.samples > 0") if name == A.ENSEMBLE else ""
            raise ComparisonInputError(f"{path} has no {name}{hint}")
    summary = run.read_summary()
    # libyaml's loader when available: config.yaml holds the calibrated draws (thousands of numbers)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    config = yaml.load(run.read_text(A.CONFIG), Loader=loader)
    mdl = (config.get("model") or {}).get("mdl") if isinstance(config, dict) else None
    mdl_path = Path(mdl) if mdl is not None and Path(mdl).is_absolute() else REPO_ROOT / (mdl or repo_relative(MODEL_PATH))
    if not mdl_path.is_file():
        raise ComparisonInputError(f"{path}: its model {mdl} does not exist here; check out the commit "
                                   f"that made it, or re-run the scenario")
    outputs = load_outputs(mdl_path)
    point = _read_constants(run.outputs_path, outputs.names("constant"))
    ensemble = run.open_dataset(A.ENSEMBLE)
    missing = [name for name in outputs.names("compare") if name not in ensemble]
    if missing:
        raise ComparisonInputError(
            f"{run.ensemble_path} lacks {', '.join(missing)} (made before these outputs were declared "
            f"with ensemble: true in {outputs.path or 'the model'}?); re-run the scenario")
    if ensemble.sizes.get("sample", 0) == 0:
        raise ComparisonInputError(f"{run.ensemble_path} has no members; re-run with ensemble.samples > 0")
    return LoadedArchive(path, manifest, summary, config, point, ensemble, outputs)


def load_archives(paths: Iterable[str | Path]) -> list[LoadedArchive]:
    """:func:`find_archives` then :func:`load_archive` for each, in job order."""
    return [load_archive(path) for path in find_archives(paths)]


def row_labels(archives: list[LoadedArchive]) -> list[str]:
    """A unique label per archive: the scenario name; if it repeats, with the overrides that set
    this archive apart (e.g. ``baseline [params.water_cap_growth_after_2025=0.01]``), else its
    directory name."""
    names = [a.scenario for a in archives]
    overrides = [[o for o in a.manifest.get("overrides", []) if not o.startswith("scenario=")]
                 for a in archives]
    common = set.intersection(*(set(o) for o in overrides)) if overrides else set()
    labels = []
    for name, archive, own in zip(names, archives, overrides):
        if names.count(name) == 1:
            labels.append(name)
            continue
        distinct = [o.lstrip("+") for o in own if o not in common]
        labels.append(f"{name} [{', '.join(distinct)}]" if distinct else f"{name} ({archive.path.name})")
    if len(set(labels)) < len(labels):
        labels = [label if labels.count(label) == 1 else f"{label} ({a.path.name})"
                  for label, a in zip(labels, archives)]
    return labels


def common_random_numbers(archives: list[LoadedArchive]) -> bool:
    """Whether all archives share seed and member count (members then share parameter draws)."""
    return len({(a.seed, a.members) for a in archives}) == 1


def describe(archive: LoadedArchive) -> dict[str, Any]:
    """Provenance of one archive for the comparison manifest."""
    git = archive.manifest.get("git", {})
    return {
        "path": str(archive.path),
        "scenario": archive.scenario,
        "manifest_sha256": sha256_of(RunArchive(archive.path).manifest_path),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "seed": archive.seed,
        "members": archive.members,
        "overrides": archive.manifest.get("overrides", []),
    }


__all__ = ["ArchiveError", "ComparisonInputError", "LoadedArchive", "find_archives", "load_archive",
           "load_archives", "row_labels", "common_random_numbers", "describe"]
