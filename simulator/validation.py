"""Checks of a composed run config and of its run directory, made before anything is computed.

Everything a run needs to know about its settings is checked here, so that a bad setting stops the
run in a second with a message naming the setting and the fix, and never after the computation:

- :func:`check_schema`        every section holds only known keys, ``scenario.name`` is given;
- :func:`check_run_settings`  time step, final time, method, sample count, seed, booleans;
- :func:`estimate_resources`  memory and disk of the run, refused if they do not fit
  (:func:`check_resources`);
- :func:`claim_run_dir`       the run directory is writable, empty or new, and claimed by this run
  alone (an exclusive lock on a hidden claim file next to it, released when the run ends).

The checks take plain mappings or omegaconf configs, so any front end (``sim.py``, the scenario
comparison, a web page) can run them on a config before it starts a run.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import errno
import fcntl
import json
import math
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from omegaconf import DictConfig, OmegaConf

from base import signals

#: The known keys of each config section (``None``: the section's keys are free, e.g. parameter names).
SCHEMA: dict[str, tuple[str, ...] | None] = {
    "": ("model", "calibrated", "scenario", "engine", "bands", "league_fit", "params", "run", "ensemble", "plots"),
    "model": ("mdl",),
    "scenario": ("name", "title", "title_zh", "params"),
    "calibrated": ("params", "uncertainty"),
    "calibrated.uncertainty": ("method", "parameters", "draws_file", "draws", "draws_count",
                               "draws_sha256", "observation_noise"),
    "engine": ("name",),
    "run": ("final_time", "time_step", "method"),
    "ensemble": ("samples", "seed", "save_members"),
    "bands": ("enabled", "first_year", "process_noise", "model_form"),
    "league_fit": ("enabled", "method", "parameters", "mean", "covariance"),
}
#: Where each section comes from (for the messages).
SECTION_FILES = {
    "": "scenarios/config.yaml or a +KEY=VALUE override",
    "model": "scenarios/config.yaml (model:) or model.mdl=PATH",
    "scenario": "the scenario file scenarios/scenario/<name>.yaml",
    "calibrated": "the calibrated parameter file scenarios/calibrated/<name>.yaml",
    "calibrated.uncertainty": "the calibrated parameter file scenarios/calibrated/<name>.yaml",
    "engine": "scenarios/engine/<name>.yaml",
    "run": "scenarios/config.yaml (run:)",
    "ensemble": "scenarios/config.yaml (ensemble:)",
    "bands": "scenarios/bands/<name>.yaml",
    "league_fit": "scenarios/league_fit/<name>.yaml (python -m calibration.leagues --write)",
}
#: The last year a run must reach: the plan's 2035 target is evaluated there.
LAST_TARGET_YEAR = 2035
LATEST_FINAL_TIME = 2100
#: Memory of a run besides its ensemble (interpreter, PySD, the point run) [bytes], measured ~270 MB.
BASE_MEMORY = 350 * 2**20
#: Peak memory per byte of ensemble output: measured 1.1 (20,000 and 100,000 members); margin 1.5.
MEMORY_PER_OUTPUT_BYTE = 1.5
#: Files of an archive besides ``ensemble.nc`` (outputs.nc, plots, draws copy) [bytes], measured ~1 MB.
BASE_DISK = 16 * 2**20
#: Share of the available memory a run may plan to use.
MEMORY_SHARE = 0.8


class SettingsError(ValueError):
    """A run setting, config key or run directory that cannot be used (the message names the fix)."""


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _section(cfg: Mapping[str, Any], path: str) -> Any:
    node: Any = cfg
    for part in filter(None, path.split(".")):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def check_schema(cfg: DictConfig | Mapping[str, Any]) -> None:
    """Refuse unknown keys in every section of the config and a missing ``scenario.name``.

    Raises
    ------
    SettingsError
        Naming each unknown key with the closest known one and the file it came from.
    """
    cfg = _plain(cfg)
    problems = []
    for path, allowed in SCHEMA.items():
        node = _section(cfg, path)
        if node is None:
            continue
        where = path or "the top level of the config"
        if not isinstance(node, Mapping):
            problems.append(f"{where} must be a mapping, got {type(node).__name__} {node!r}")
            continue
        for key in node:
            if key in allowed or (path == "" and key == "hydra"):
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            name = f"{path}.{key}" if path else str(key)
            problems.append(f"unknown key '{name}'{hint} in {SECTION_FILES[path]}; "
                            f"known keys: {', '.join(allowed)}")
    scenario = _section(cfg, "scenario")
    if isinstance(scenario, Mapping):
        name = scenario.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"scenario.name is missing (got {name!r}): every scenario file needs "
                            f"`name: <its file name>`")
    elif scenario is None:
        problems.append("the config has no scenario: choose one with scenario=baseline")
    for key in ("scenario.params", "calibrated.params", "params"):
        node = _section(cfg, key)
        if node is not None and not isinstance(node, Mapping):
            problems.append(f"{key} must be a mapping of parameter names to numbers, "
                            f"got {type(node).__name__} {node!r}")
    if problems:
        raise SettingsError("\n".join(problems))


def check_run_settings(cfg: DictConfig | Mapping[str, Any], initial_time: float) -> dict[str, Any]:
    """Check the ``run`` and ``ensemble`` settings and ``plots``; return them as plain values.

    Raises
    ------
    SettingsError
        Naming the setting, its valid values and the fix.
    """
    cfg = _plain(cfg)
    run = _section(cfg, "run") or {}
    ensemble = _section(cfg, "ensemble") or {}
    problems = []

    def number(section: Mapping, key: str, where: str) -> float | None:
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{where} must be a finite number, got {value!r}")
            return None
        return float(value)

    def boolean(value: Any, where: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            problems.append(f"{where} must be true or false, got {value!r}")
            return default
        return value

    time_step = number(run, "time_step", "run.time_step")
    if time_step is not None:
        if not 0 < time_step <= 1:
            problems.append(f"run.time_step = {time_step:g} must be in (0, 1] year (the .mdl uses 0.25)")
        elif abs(1 / time_step - round(1 / time_step)) > 1e-9 * (1 / time_step):
            steps = max(1, round(1 / time_step))
            problems.append(f"run.time_step = {time_step:g}: 1/time_step must be a whole number (outputs "
                            f"are year-end values); use e.g. {1 / steps:g} or {1 / (2 * steps):g}")
    final_time = number(run, "final_time", "run.final_time")
    if final_time is not None:
        if final_time != int(final_time):
            problems.append(f"run.final_time = {final_time:g} must be a whole year (year-end values)")
        elif not LAST_TARGET_YEAR <= final_time <= LATEST_FINAL_TIME:
            problems.append(f"run.final_time = {final_time:g} must be in [{LAST_TARGET_YEAR}, "
                            f"{LATEST_FINAL_TIME}]: the plan's targets are evaluated up to "
                            f"{LAST_TARGET_YEAR} (the model starts at {initial_time:g})")
    method = run.get("method")
    if method not in ("euler", "rk4"):
        problems.append(f"run.method must be 'euler' or 'rk4', got {method!r}")
    samples = ensemble.get("samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        problems.append(f"ensemble.samples must be a whole number >= 0, got {samples!r}")
    seed = ensemble.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"ensemble.seed must be a whole number >= 0, got {seed!r}")
    save_members = boolean(ensemble.get("save_members"), "ensemble.save_members", True)
    plots = boolean(cfg.get("plots") if isinstance(cfg, Mapping) else None, "plots", True)
    if problems:
        raise SettingsError("\n".join(problems))
    return {"time_step": time_step, "final_time": final_time, "method": method,
            "samples": samples, "seed": seed, "save_members": save_members, "plots": plots}


# --------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Resources:
    """What a run needs [bytes]: ``memory`` (peak) and ``disk`` (the archive)."""

    memory: int
    disk: int
    bytes_per_member: int


def estimate_resources(settings: Mapping[str, Any], n_columns: int, n_parameters: int,
                       initial_time: float, elements_per_variable: int = 1) -> Resources:
    """Memory and disk of a run from its sample count.

    Parameters
    ----------
    settings : mapping
        :func:`check_run_settings` output (``samples``, ``final_time``, ``save_members``).
    n_columns : int
        Series kept per member: the declared ensemble outputs (``ensemble: true`` in the model's
        outputs file, :mod:`model.outputs`), each subscripted element counted once.
    n_parameters : int
        Parameters stored per member.
    initial_time : float
        First model year.
    elements_per_variable : int
        Elements of a subscripted variable (leagues x ages once the model has them; 1 today).
    """
    n_times = int(settings["final_time"] - initial_time) + 1
    per_member = 8 * (n_columns * n_times * elements_per_variable + n_parameters + 1)
    output = per_member * int(settings["samples"])
    memory = BASE_MEMORY + int(MEMORY_PER_OUTPUT_BYTE * output)
    disk = BASE_DISK + (output if settings.get("save_members", True) else 0)
    return Resources(memory=memory, disk=disk, bytes_per_member=per_member)


def available_memory() -> int | None:
    """``MemAvailable`` of /proc/meminfo [bytes] (``None`` where it cannot be read)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _existing_ancestor(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_resources(estimate: Resources, settings: Mapping[str, Any], run_dir: Path | None,
                    memory: int | None = None, disk_free: int | None = None) -> None:
    """Refuse a run whose estimated memory or disk does not fit, naming both and a sample count that fits."""
    memory = available_memory() if memory is None else memory
    if memory is not None and estimate.memory > MEMORY_SHARE * memory:
        fits = max(0, int((MEMORY_SHARE * memory - BASE_MEMORY)
                          / (MEMORY_PER_OUTPUT_BYTE * estimate.bytes_per_member)))
        raise SettingsError(
            f"ensemble.samples = {settings['samples']:,} needs about {_gib(estimate.memory)} of memory, "
            f"more than {MEMORY_SHARE:.0%} of the {_gib(memory)} available; use ensemble.samples <= "
            f"{fits:,} (1,000-10,000 members give probabilities to +-0.01-0.03)")
    if run_dir is not None:
        if disk_free is None:
            disk_free = shutil.disk_usage(_existing_ancestor(run_dir)).free
        if estimate.disk > disk_free:
            fits = max(0, int((disk_free - BASE_DISK) / estimate.bytes_per_member))
            raise SettingsError(
                f"the archive needs about {_gib(estimate.disk)} of disk, but "
                f"{_existing_ancestor(run_dir)} has {_gib(disk_free)} free; use ensemble.save_members=false "
                f"(no ensemble.nc), ensemble.samples <= {fits:,}, or a hydra.run.dir on a larger disk")


# --------------------------------------------------------------------------- the run directory
def claim_path(run_dir: str | Path) -> Path:
    """The hidden claim file of ``run_dir`` (next to it, so the directory itself stays empty)."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent / f".{run_dir.name}.claim"


@contextlib.contextmanager
def claim_run_dir(run_dir: str | Path) -> Iterator[Path]:
    """Claim ``run_dir`` for this run: writable, empty or new, and not claimed by another run.

    The claim is an exclusive ``flock`` on ``.<name>.claim`` next to the directory, held until the
    block ends; the operating system drops it if the process dies, so a killed run never blocks the
    next one. The claim file is removed when the block ends.

    Raises
    ------
    SettingsError
        If the directory's parent cannot be written, the directory holds files, or another live run
        holds the claim.
    """
    run_dir = Path(run_dir).resolve()
    marker = claim_path(run_dir)
    fix = "choose another directory with hydra.run.dir=..."
    if run_dir.exists() and not run_dir.is_dir():
        raise SettingsError(f"the run directory {run_dir} is a file, not a directory; {fix}")
    handle = _lock(marker, run_dir, fix)
    try:
        if run_dir.is_dir() and any(run_dir.iterdir()):
            raise SettingsError(f"the run directory {run_dir} already exists and is not empty (an earlier "
                                f"run?); {fix} instead of overwriting it")
        if run_dir.is_dir() and not os.access(run_dir, os.W_OK):
            raise SettingsError(f"the run directory {run_dir} is not writable; {fix}")
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(info).encode(), 0)
        with signals.cleanup_on_signal(lambda: marker.unlink(missing_ok=True)):  # a signal: no claim left
            yield run_dir
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()  # ours: we hold its lock
        os.close(handle)


def _lock(marker: Path, run_dir: Path, fix: str) -> int:
    """Open and exclusively lock ``marker``; retry if another run removed it meanwhile."""
    for _ in range(20):
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(marker, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise SettingsError(f"cannot write the run directory {run_dir} "
                                f"({error.strerror or error}); {fix}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.pread(handle, 4096, 0).decode("utf-8", "replace")
            os.close(handle)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise SettingsError(f"cannot lock {marker} ({error.strerror}); {fix}") from None
            with contextlib.suppress(ValueError, KeyError, TypeError):
                info = json.loads(holder)
                holder = f"pid {info['pid']} on {info['host']}, started {info['started_utc']}"
            raise SettingsError(f"the run directory {run_dir} is being written by another run "
                                f"({holder or 'starting'}); wait for it to finish or {fix}") from None
        try:
            same = os.fstat(handle).st_ino == os.stat(marker).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        os.close(handle)  # the previous holder removed the file after we opened it: take the new one
    raise SettingsError(f"could not claim {run_dir} (its claim file keeps changing); {fix}")
