"""A sweep directory that resumes: which jobs are complete, which to (re)do, and the reports.

A sweep (``python sim.py -m ...``) writes one archive per job into ``<sweep dir>/<num>_<name>/``.
This module keeps a small record in ``<sweep dir>/.sweep/``:

- ``jobs.json``      every job of the sweep: its number, folder and overrides;
- ``multirun.yaml``  the sweep's ``multirun.yaml`` as first written (restored after a rerun, so a
  rerun of a few jobs does not overwrite the record of the whole sweep);
- ``launches.jsonl`` one line per launch: time, command, launcher, SLURM array job id, jobs run;
- ``lock``           held while a launch runs (a second launch of the same sweep is refused);
- ``superseded/``    folders that held an incomplete or altered archive, moved aside (never
  deleted) before their job was redone.

Rerunning the same sweep command with ``hydra.sweep.dir=<sweep dir>`` skips the jobs whose archive
is complete and verifies, redoes the others into their own ``<num>_<name>`` folders, and removes
stale staging (``.partial``) and empty folders. The launchers of :mod:`simulator.launchers` do
this and print what they did.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from base.archive import (COMMAND_ENV, MANIFEST_NAME, STAGING_PATTERN, ArchiveError, RunArchive,
                          invoking_command, verify_archive)

RECORD_DIR = ".sweep"
JOBS_FILE = "jobs.json"
LAUNCHES_FILE = "launches.jsonl"
FIRST_MULTIRUN = "multirun.yaml"
SUPERSEDED_DIR = "superseded"


class SweepError(RuntimeError):
    """A sweep that cannot be launched as asked (the message names the fix)."""


@dataclass
class Job:
    """One job of a sweep.

    Attributes
    ----------
    num : int
        Hydra's job number (the ``<num>`` of ``<num>_<name>``).
    overrides : list of str
        The job's task overrides (what tells two jobs apart).
    folder : str
        The archive folder's name inside the sweep directory.
    state : str
        ``"complete"`` (verified archive, skipped), ``"missing"``, ``"incomplete"`` or
        ``"altered"`` (to be run) — before the launch.
    reason : str
        Why the job must run again (empty when complete or never run).
    """

    num: int
    overrides: list[str]
    folder: str
    state: str = "missing"
    reason: str = ""

    @property
    def todo(self) -> bool:
        return self.state != "complete"


@dataclass
class SweepPlan:
    """What a launch does: the sweep's jobs, those to run, and what was cleaned up."""

    sweep_dir: Path
    jobs: list[Job]
    removed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    first_launch: bool = True

    @property
    def todo(self) -> list[Job]:
        return [job for job in self.jobs if job.todo]

    @property
    def skipped(self) -> list[Job]:
        return [job for job in self.jobs if not job.todo]


def record_dir(sweep_dir: Path) -> Path:
    return Path(sweep_dir) / RECORD_DIR


def read_jobs(sweep_dir: Path) -> list[dict[str, Any]] | None:
    """The jobs recorded for ``sweep_dir`` (``None`` if it has no record)."""
    path = record_dir(sweep_dir) / JOBS_FILE
    if not path.is_file():
        return None
    try:
        return list(json.loads(path.read_text())["jobs"])
    except (ValueError, KeyError, TypeError) as error:
        raise SweepError(f"{path} is malformed ({error}); delete it to start the sweep record anew") from None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """Hold ``<sweep dir>/.sweep/lock`` for the launch; refuse if another launch holds it."""
    directory = record_dir(sweep_dir)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / "lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SweepError(f"another launch of the sweep {sweep_dir} is running ({holder}); wait "
                             f"for it to end, or use another hydra.sweep.dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def archive_state(folder: Path, overrides: Sequence[str]) -> tuple[str, str]:
    """``(state, reason)`` of a job's folder: complete, missing, incomplete or altered."""
    if not folder.exists():
        return "missing", "no archive yet"
    if not folder.is_dir():
        return "altered", f"{folder.name} is not a directory"
    if not (folder / MANIFEST_NAME).is_file():
        if not any(folder.iterdir()):
            return "incomplete", "empty folder (the job was stopped or failed)"
        return "incomplete", f"folder without {MANIFEST_NAME} (the job did not finish)"
    try:
        manifest = verify_archive(folder)
    except ArchiveError as error:
        return "altered", f"fails verification ({error})"
    recorded = manifest.get("overrides")
    if recorded is not None and list(recorded) != list(overrides):
        raise SweepError(
            f"{folder} holds an archive made with other overrides ({' '.join(recorded)}) than this "
            f"job ({' '.join(overrides)}): the sweep directory belongs to another sweep; use a new "
            f"hydra.sweep.dir")
    return "complete", ""


def plan_sweep(sweep_dir: Path, jobs: Sequence[tuple[list[str], str]], initial_job_idx: int = 0,
               folder_of=None) -> SweepPlan:
    """Number the jobs, find which are complete, and clean the sweep directory.

    Parameters
    ----------
    sweep_dir : Path
        The sweep directory (created if needed).
    jobs : sequence of (overrides, folder)
        The jobs Hydra's sweeper asked for, with the folder each would get as job number
        ``initial_job_idx + i``.
    initial_job_idx : int
        Hydra's number of the first job.
    folder_of : callable (overrides, num) -> str, optional
        The folder name of a job given its number (needed when a rerun renumbers a job).
    """
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    recorded = read_jobs(sweep_dir)
    plan = SweepPlan(sweep_dir, [], first_launch=recorded is None)
    if recorded is None:
        planned = [Job(initial_job_idx + i, list(overrides), folder)
                   for i, (overrides, folder) in enumerate(jobs)]
    else:
        by_key = {tuple(entry["overrides"]): entry for entry in recorded}
        unknown = [overrides for overrides, _ in jobs if tuple(overrides) not in by_key]
        if unknown:
            raise SweepError(
                f"{sweep_dir} holds another sweep: its jobs do not include "
                f"{'; '.join(' '.join(o) or '(no overrides)' for o in unknown)}. Rerun that sweep's "
                f"own command to fill its gaps, or use a new hydra.sweep.dir")
        planned = []
        for overrides, folder in jobs:
            entry = by_key[tuple(overrides)]
            planned.append(Job(int(entry["num"]), list(overrides), str(entry["folder"])))
    wanted = {job.folder for job in planned}
    # stale staging directories (a job killed while writing) and empty folders of no job
    for child in sorted(sweep_dir.iterdir()):
        staging = STAGING_PATTERN.match(child.name)
        if staging and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
            plan.removed.append(f"{child.name} (staging directory left by a stopped job)")
        elif (child.is_dir() and not child.name.startswith(".") and child.name not in wanted
              and not any(child.iterdir())):
            child.rmdir()
            plan.removed.append(f"{child.name} (empty folder)")
    for job in planned:
        folder = sweep_dir / job.folder
        job.state, job.reason = archive_state(folder, job.overrides)
        if job.state == "incomplete" and not any(folder.iterdir()):
            folder.rmdir()
            plan.removed.append(f"{job.folder} (empty folder)")
        elif job.state in ("incomplete", "altered"):
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            target = record_dir(sweep_dir) / SUPERSEDED_DIR / f"{job.folder}-{stamp}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder, target)
            plan.moved.append(f"{job.folder} -> {target.relative_to(sweep_dir)} ({job.reason})")
    plan.jobs = planned
    all_jobs = {int(e["num"]): e for e in (recorded or [])}
    for job in planned:
        all_jobs.setdefault(job.num, {"num": job.num, "folder": job.folder, "overrides": job.overrides})
    _write_json(record_dir(sweep_dir) / JOBS_FILE, {"jobs": [all_jobs[n] for n in sorted(all_jobs)]})
    return plan


def keep_first_multirun_yaml(sweep_dir: Path) -> None:
    """Keep ``multirun.yaml`` as the sweep's first launch wrote it (Hydra rewrites it each launch)."""
    current = Path(sweep_dir) / "multirun.yaml"
    first = record_dir(sweep_dir) / FIRST_MULTIRUN
    if first.is_file():
        shutil.copyfile(first, current)
    elif current.is_file():
        record_dir(sweep_dir).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(current, first)


def _append_record(sweep_dir: Path, entry: dict[str, Any]) -> None:
    entry = {"utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **entry}
    with open(record_dir(sweep_dir) / LAUNCHES_FILE, "a") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def record_launch(sweep_dir: Path, launcher: str, jobs: Sequence[Job], **extra: Any) -> None:
    """Append one line to ``.sweep/launches.jsonl``: time, command, launcher, the jobs run, and
    ``extra`` (e.g. ``slurm_array_job_id``, ``logs``: the log file of each job's folder)."""
    _append_record(sweep_dir, {"command": launch_command(), "launcher": launcher,
                               "jobs": [job.folder for job in jobs], **extra})


def record_end(sweep_dir: Path, missing: dict[str, str]) -> None:
    """Append the end of a launch to ``.sweep/launches.jsonl``: what is known of each job left
    without a complete archive (``{folder: how it ended}``; read by :func:`missing_jobs`)."""
    _append_record(sweep_dir, {"ended": True, "missing": dict(missing)})


def read_launches(sweep_dir: Path) -> list[dict[str, Any]]:
    """The lines of ``.sweep/launches.jsonl`` (launches and their ends), oldest first."""
    path = record_dir(sweep_dir) / LAUNCHES_FILE
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line cut by a killed launcher
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def launch_command() -> list[str]:
    """The command that launched the sweep (in a job: as the launcher handed it down in
    ``base.archive.COMMAND_ENV``, which the archive manifest records)."""
    return invoking_command()


def rerun_command(sweep_dir: Path, command: Sequence[str] | None = None) -> str:
    """The launching command (or ``command``: interpreter, ``sim.py``, arguments) with
    ``hydra.sweep.dir=<sweep dir>`` (in place of the one it gave, if any: the sweep may have moved)."""
    argv = list(command or launch_command())[2:]
    target = f"hydra.sweep.dir={sweep_dir}"
    given = [i for i, arg in enumerate(argv) if arg.startswith("hydra.sweep.dir=")]
    if given:
        argv[given[-1]] = target
    else:
        argv.append(target)
    return "python sim.py " + " ".join(shlex.quote(arg) for arg in argv)


@dataclass
class MissingJob:
    """A recorded job of a sweep without a complete archive.

    Attributes
    ----------
    folder : str
        The job's archive folder inside the sweep directory.
    reason : str
        What is known of its end: how the last launch saw it end (scheduler state, last line of
        its log), else what its folder holds.
    log : str or None
        The log file of its last launch (SLURM: submitit's ``*_log.err``), ``None`` for a local
        launch (its messages went to the launching terminal).
    """

    folder: str
    reason: str
    log: str | None = None

    def describe(self) -> str:
        text = f"{self.folder}: {self.reason}"
        if self.log and self.log not in self.reason:
            text += f"; log {self.log}" + ("" if Path(self.log).is_file() else " (not written: the task never ran)")
        return text


def missing_jobs(sweep_dir: Path) -> list[MissingJob]:
    """Recorded jobs of ``sweep_dir`` without a complete archive, with how they ended and their log.

    Only the presence of the manifest is checked here (readers verify every archive they read).
    """
    sweep_dir = Path(sweep_dir)
    recorded = read_jobs(sweep_dir) or []
    ended: dict[str, str] = {}
    logs: dict[str, str] = {}
    for entry in read_launches(sweep_dir):
        if entry.get("ended"):
            ended.update({str(k): str(v) for k, v in (entry.get("missing") or {}).items()})
            continue
        for folder in entry.get("jobs") or []:
            ended.pop(folder, None)  # launched again: an older end no longer tells
            logs.pop(folder, None)
        logs.update({str(k): str(v) for k, v in (entry.get("logs") or {}).items()})
    missing = []
    for entry in recorded:
        name = str(entry["folder"])
        folder = sweep_dir / name
        if (folder / MANIFEST_NAME).is_file():
            continue
        reason = ended.get(name) or ("no archive (the job never ran, or a launch of it is still running)"
                                     if not folder.exists() else
                                     f"no {MANIFEST_NAME} (the job did not finish)")
        missing.append(MissingJob(name, reason, logs.get(name)))
    return missing


def first_command(sweep_dir: Path) -> list[str] | None:
    """The command of the sweep's first recorded launch (``None`` without a record)."""
    for entry in read_launches(sweep_dir):
        if entry.get("command") and not entry.get("ended"):
            return [str(part) for part in entry["command"]]
    return None


def one_line_summary(folder: Path) -> str:
    """The headline numbers of an archive's ``summary.json`` on one line."""
    try:
        summary = RunArchive(folder).read_summary()
    except (OSError, ValueError):
        return f"(no {RunArchive.SUMMARY})"
    parts = []
    rates = summary.get("urbanization_rate_pct") or {}
    shown = [f"{year} {float(rates[year]):.2f} %" for year in ("2025", "2035") if year in rates]
    if shown:
        parts.append("urbanization " + ", ".join(shown))
    for year, target in (summary.get("targets") or {}).items():
        probability = target.get("probability") if isinstance(target, dict) else None
        if isinstance(probability, (int, float)):
            parts.append(f"P({target.get('target_pct', '?'):g} % in {year}) = {probability:.3f}")
    return "; ".join(parts) or "(summary without headline numbers)"


def describe_plan(plan: SweepPlan) -> list[str]:
    """Lines printed at the start of a launch."""
    lines = [f"sweep {plan.sweep_dir}: {len(plan.jobs)} job(s)"
             + ("" if plan.first_launch else " (rerun into an existing sweep)")]
    for text in plan.removed:
        lines.append(f"  removed stale {text}")
    for text in plan.moved:
        lines.append(f"  moved aside {text}")
    for job in plan.skipped:
        lines.append(f"  skip {job.folder}: archive complete and verified")
    for job in plan.todo:
        if job.state == "missing":
            lines.append(f"  run  {job.folder}" + ("" if plan.first_launch else " (no archive yet)"))
        else:
            lines.append(f"  run  {job.folder} (redo: {job.reason})")
    return lines


def final_report(plan: SweepPlan, failures: dict[int, str] | None = None,
                 wall_time_s: float | None = None) -> tuple[list[str], dict[str, str]]:
    """Lines printed at the end of a launch, and the jobs left without a complete archive
    (``{folder: what is known of its end}``, empty when every archive is complete and verified).

    ``failures`` maps a job number to what is known of its end (scheduler state, log path, last
    line of its error output).
    """
    failures = failures or {}
    lines, complete, missing = [], 0, {}
    for job in plan.jobs:
        folder = plan.sweep_dir / job.folder
        state, reason = archive_state(folder, job.overrides)
        if state == "complete":
            complete += 1
            ran = "skipped, done before" if not job.todo else "done"
            lines.append(f"  complete  {job.folder} ({ran}): {one_line_summary(folder)}")
        else:
            detail = failures.get(job.num) or reason
            missing[job.folder] = detail
            lines.append(f"  MISSING   {job.folder}: {detail}")
    total = len(plan.jobs)
    took = f" in {wall_time_s:.0f} s" if wall_time_s is not None else ""
    head = f"sweep {plan.sweep_dir}: {complete} of {total} archive(s) complete and verified{took}"
    if complete < total:
        lines.append(f"{total - complete} job(s) missing: rerun to redo only those: {rerun_command(plan.sweep_dir)}")
    return [head, *lines], missing
