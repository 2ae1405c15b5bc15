"""Run archives: written atomically, self-describing, verifiable.

An archive is a directory holding the run's outputs and a ``manifest.json`` that lists every file
with its SHA-256, the git commit, the hashes of the model, config and data files, package versions,
the command line and overrides, the seed and the wall time.

Atomicity: files are written into a hidden staging directory next to the final one
(``.<name>.partial-<pid>``) and the staging directory is renamed onto the final path only when
everything is written. A run that fails is cleaned up; a run that is killed leaves at most a hidden
``.partial`` directory and an empty final directory, neither of which looks complete (no manifest).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import xarray as xr
from model.cache import file_sha256 as sha256_of

from .paths import REPO_ROOT, SCENARIOS_DIR, repo_relative
from .signals import cleanup_on_signal, remove_tree

#: Written last into every archive (simulation, calibration, comparison, sensitivity): its presence
#: marks the archive complete. :class:`RunArchive` spells the other file names of a run archive.
MANIFEST_NAME = "manifest.json"
KEY_PACKAGES = (
    "numpy", "scipy", "pandas", "xarray", "netCDF4", "pysd", "matplotlib", "hydra-core",
    "omegaconf", "SALib",
)


class ArchiveError(RuntimeError):
    """An archive that cannot be written or read (missing, incomplete or altered files)."""


#: Name of the hidden staging directory of archive ``<name>``: ``.<name>.partial-<pid>``; group 1 is
#: ``<name>``. The one spelling of the pattern (the sweep and the comparison recognise stale ones by it).
STAGING_PATTERN = re.compile(r"^\.(.+)\.partial-\d+$")


#: Environment variable in which a sweep launcher hands its jobs the user's command (a JSON list): a
#: job run in another process (a joblib worker, a SLURM task) records it instead of its own argv.
COMMAND_ENV = "IMSIM_SWEEP_COMMAND"
#: SLURM's variables recorded under ``"slurm"`` in the manifest of an archive made in a SLURM job.
SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CLUSTER_NAME",
                   "SLURM_JOB_PARTITION")


def invoking_command() -> list[str]:
    """The command the user typed: the one a launcher handed down (``COMMAND_ENV``), else ``sys.argv``."""
    with contextlib.suppress(ValueError, TypeError):
        command = json.loads(os.environ.get(COMMAND_ENV) or "null")
        if isinstance(command, list) and command:
            return [str(part) for part in command]
    return [sys.executable, *sys.argv]


def slurm_job() -> dict[str, str] | None:
    """Which SLURM job, array task and node this process runs in (``None`` outside SLURM)."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    record = {name: os.environ[name] for name in SLURM_VARIABLES if os.environ.get(name)}
    record["node"] = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    return record


def staging_name(name: str) -> str:
    """The staging directory name of archive ``name`` for this process (see ``STAGING_PATTERN``)."""
    return f".{name}.partial-{os.getpid()}"


@contextlib.contextmanager
def staged_archive(final_dir: str | Path) -> Iterator[Path]:
    """Yield a staging directory that becomes ``final_dir`` atomically when the block succeeds.

    ``final_dir`` may already exist if it is empty (Hydra creates the run directory before the
    task starts); the rename then replaces it. On any exception (including KeyboardInterrupt) the
    staging directory is removed, and an empty ``final_dir`` is removed too.

    Parameters
    ----------
    final_dir : path-like
        Where the finished archive must appear.
    """
    final_dir = Path(final_dir).resolve()
    if final_dir.exists() and any(final_dir.iterdir()):
        raise ArchiveError(
            f"{final_dir} already exists and is not empty; choose another directory "
            f"(e.g. hydra.run.dir=...) instead of overwriting an archive"
        )
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = final_dir.parent / staging_name(final_dir.name)
    if staging.exists():
        shutil.rmtree(staging)
    try:
        # A signal ends the process without unwinding: the clean-up is registered before the
        # staging directory exists and stays registered until it has been renamed, so a signal at
        # any moment leaves no .partial behind (a signal between mkdir and the registration did).
        with cleanup_on_signal(remove_tree(staging)):
            staging.mkdir()
            yield staging
            if final_dir.exists():
                final_dir.rmdir()  # empty (checked above); os.rename cannot replace it on every platform
            os.rename(staging, final_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(final_dir)
        raise


def remove_if_empty(directory: str | Path) -> None:
    """Remove ``directory`` if it exists and is empty (used after a failed or refused run)."""
    directory = Path(directory)
    with contextlib.suppress(OSError):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def git_state(root: str | Path = REPO_ROOT) -> dict[str, Any]:
    """The git commit of ``root`` and whether tracked files differ from it."""
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=20
        ).stdout

    try:
        commit = run("rev-parse", "HEAD").strip()
        # porcelain lines are "XY path": the status columns may start with a space, so never strip them
        dirty_files = [line[3:] for line in run("status", "--porcelain").splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "dirty_files": [],
                "note": "not a git checkout (or git unavailable)"}
    return {"commit": commit, "dirty": bool(dirty_files), "dirty_files": dirty_files[:50]}


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that determine the numbers."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def input_hashes(paths: Mapping[str, str | Path]) -> dict[str, dict[str, str]]:
    """SHA-256 of each input file, keyed by a label, with its path relative to the repository."""
    hashes = {}
    for label, path in paths.items():
        hashes[label] = {"path": repo_relative(path), "sha256": sha256_of(Path(path).resolve())}
    return hashes


def config_file_hashes(config_dir: str | Path = SCENARIOS_DIR) -> dict[str, str]:
    """SHA-256 of every YAML config file under ``config_dir`` (the composition inputs)."""
    config_dir = Path(config_dir)
    return {
        str(path.relative_to(config_dir)): sha256_of(path)
        for path in sorted(config_dir.rglob("*.yaml"))
    }


def build_manifest(
    *,
    kind: str,
    command: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    wall_time_s: float | None = None,
    inputs: Mapping[str, str | Path] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to tell how an archive was made and to make it again.

    Parameters
    ----------
    kind : str
        What made the archive (``"simulation"``, ``"calibration"``, ``"comparison"``...).
    command : sequence of str, optional
        The full command line (default: :func:`invoking_command`: the user's command, also in a
        sweep job or SLURM task). In a SLURM job the manifest also records :func:`slurm_job`.
    overrides : sequence of str
        The Hydra overrides given on the command line.
    seed : int, optional
        The random seed.
    wall_time_s : float, optional
        Wall time of the run [s].
    inputs : mapping of label to path, optional
        Input files to hash (model, data, ...). Config files under ``scenarios/`` are always hashed.
    extra : mapping, optional
        Further fields.
    """
    manifest: dict[str, Any] = {
        "kind": kind,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(command if command is not None else invoking_command()),
        "overrides": list(overrides),
        "seed": seed,
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 3),
        "git": git_state(),
        "inputs": input_hashes(inputs or {}),
        "config_files": config_file_hashes(),
        "packages": package_versions(),
        "platform": {"system": platform.platform(), "machine": platform.machine(),
                     "host": socket.gethostname(), "cpus": os.cpu_count()},
    }
    if slurm_job():
        manifest["slurm"] = slurm_job()
    if extra:
        manifest.update(extra)
    return manifest


def finalize_manifest(staging: str | Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the SHA-256 of every file in ``staging`` and write ``manifest.json`` last."""
    staging = Path(staging)
    files = {
        str(path.relative_to(staging)): sha256_of(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }
    manifest = {**manifest, "files": files}
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def unlisted_files(archive: str | Path, manifest: Mapping[str, Any]) -> list[str]:
    """Files in ``archive`` that its manifest does not list (not verified: added after the run)."""
    archive = Path(archive)
    listed = set(manifest.get("files", {})) | {MANIFEST_NAME}
    return sorted(str(path.relative_to(archive)) for path in archive.rglob("*")
                  if path.is_file() and str(path.relative_to(archive)) not in listed)


def verify_archive(archive: str | Path) -> dict[str, Any]:
    """Check that ``archive`` is complete and unaltered; return its manifest.

    Raises
    ------
    ArchiveError
        If the directory or its manifest is missing or malformed, a listed file is missing, or a
        file's hash differs from the manifest. The message names the file and what to do.
    """
    archive = Path(archive)
    if not archive.is_dir():
        raise ArchiveError(f"{archive} is not a directory; pass the path of a run archive")
    manifest_path = archive / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ArchiveError(
            f"{archive} has no {MANIFEST_NAME}: the run did not finish (or this is not a run "
            f"archive). Re-run it; archives are only complete once the manifest is written."
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ArchiveError(f"{manifest_path} is malformed ({error}); the archive is broken") from None
    for name, digest in files.items():
        path = archive / name
        if not path.is_file():
            raise ArchiveError(f"{archive}: {name} is listed in the manifest but missing")
        if sha256_of(path) != digest:
            raise ArchiveError(
                f"{archive}: {name} differs from the manifest (SHA-256 mismatch): the file was "
                f"altered or truncated after the run; re-run to regenerate it"
            )
    return manifest


class RunArchive:
    """The run archive of ``sim.py``: the one place that names its files, writes, reads and verifies it.

    A run archive holds

    - :attr:`OUTPUTS` ``outputs.nc``: the point run (every model variable, with its dimensions);
    - :attr:`ENSEMBLE` ``ensemble.nc``: the ensemble members (optional);
    - :attr:`SUMMARY` ``summary.json``: targets and limits;
    - :attr:`CONFIG` ``config.yaml``: the resolved configuration (reproduces the run);
    - :attr:`DRAWS` ``calibrated_draws.csv``: the copy of the calibrated draws (optional);
    - :attr:`README` ``README.md``: what the files are;
    - ``*.png`` plots, and :attr:`MANIFEST` ``manifest.json``, written last.

    Write one with :meth:`staged` (atomic: the directory appears complete or not at all), open an
    existing one with ``RunArchive(path)`` and check it with :meth:`verify`.

    Parameters
    ----------
    path : path-like
        The archive directory (or, inside :meth:`staged`, its staging directory).
    """

    OUTPUTS = "outputs.nc"
    ENSEMBLE = "ensemble.nc"
    SUMMARY = "summary.json"
    CONFIG = "config.yaml"
    DRAWS = "calibrated_draws.csv"
    README = "README.md"
    MANIFEST = MANIFEST_NAME
    PLOTS = "*.png"
    #: The netCDF backend of both datasets.
    NETCDF_ENGINE = "netcdf4"
    #: Files re-made from ``config.yaml`` and compared by ``python -m simulator.reproduce``.
    DERIVED = (OUTPUTS, ENSEMBLE, SUMMARY, CONFIG, README)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunArchive({str(self.path)!r})"

    # ------------------------------------------------------------------ paths
    def file(self, name: str) -> Path:
        """Path of file ``name`` of the archive (one of the class's names)."""
        return self.path / name

    @property
    def outputs_path(self) -> Path:
        return self.path / self.OUTPUTS

    @property
    def ensemble_path(self) -> Path:
        return self.path / self.ENSEMBLE

    @property
    def manifest_path(self) -> Path:
        return self.path / self.MANIFEST

    def has(self, name: str) -> bool:
        """Whether file ``name`` exists in the archive."""
        return (self.path / name).is_file()

    @property
    def complete(self) -> bool:
        """Whether the manifest exists (archives are renamed into place only when complete)."""
        return self.manifest_path.is_file()

    # ------------------------------------------------------------------ writing
    @classmethod
    @contextlib.contextmanager
    def staged(cls, final_dir: str | Path) -> Iterator["RunArchive"]:
        """A :class:`RunArchive` on a staging directory that becomes ``final_dir`` atomically.

        See :func:`staged_archive`; call :meth:`finalize` last inside the block.
        """
        with staged_archive(final_dir) as staging:
            yield cls(staging)

    def write_dataset(self, name: str, dataset: Any) -> Path:
        """Write an xarray Dataset as netCDF file ``name`` (:attr:`OUTPUTS` or :attr:`ENSEMBLE`)."""
        path = self.path / name
        dataset.to_netcdf(path, engine=self.NETCDF_ENGINE)
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Write text file ``name`` (UTF-8)."""
        path = self.path / name
        path.write_text(text, encoding="utf-8")
        return path

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write :attr:`SUMMARY` (indented JSON, non-ASCII kept)."""
        return self.write_text(self.SUMMARY, summary_text(summary))

    def copy_draws(self, source: str | Path) -> Path:
        """Copy the calibrated draws file into the archive as :attr:`DRAWS`."""
        target = self.path / self.DRAWS
        shutil.copyfile(source, target)
        return target

    def finalize(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Hash every file and write the manifest last (:func:`finalize_manifest`)."""
        return finalize_manifest(self.path, manifest)

    # ------------------------------------------------------------------ reading
    def verify(self) -> dict[str, Any]:
        """Check the archive against its manifest and return the manifest (:func:`verify_archive`)."""
        return verify_archive(self.path)

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, unverified (raises :class:`ArchiveError` if missing or malformed)."""
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ArchiveError(f"{self.manifest_path} cannot be read ({error})") from None

    def read_text(self, name: str) -> str:
        """Text file ``name`` of the archive."""
        return (self.path / name).read_text(encoding="utf-8")

    def read_summary(self) -> dict[str, Any]:
        """:attr:`SUMMARY` as a dict."""
        return json.loads(self.read_text(self.SUMMARY))

    def open_dataset(self, name: str, variables: Sequence[str] | None = None) -> Any:
        """netCDF file ``name`` read into memory as an xarray Dataset (only ``variables`` if given).

        A missing variable raises ``KeyError``.
        """
        with xr.open_dataset(self.path / name, engine=self.NETCDF_ENGINE) as dataset:
            if variables is not None:
                dataset = dataset[list(variables)]
            return dataset.load()


def summary_text(summary: Mapping[str, Any]) -> str:
    """``summary.json`` as written: indented JSON, non-ASCII characters kept, final newline."""
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
