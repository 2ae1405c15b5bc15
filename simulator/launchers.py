"""Hydra launchers for sweeps that resume and report: local (joblib) and SLURM (submitit).

Both are the Hydra plugins' launchers with a different ``launch``:

- before launching, :func:`simulator.sweep.plan_sweep` numbers the jobs, skips those whose archive
  is complete and verifies, moves aside incomplete ones and removes stale staging and empty
  folders; the plan is printed;
- the SLURM launcher prints the array job id and how to watch and cancel it, and waits by asking
  ``squeue`` (so a cancelled task never leaves it waiting), then asks ``sacct`` how each task
  ended;
- at the end, every job is listed as complete (verified, with its headline numbers) or missing
  (with the reason: the scheduler's state, the log file and its last line), and a failed sweep
  exits with status 1 and the command that redoes only the missing jobs — never a traceback;
- SIGINT / SIGTERM in the launching process end it at once with one line: local workers are
  stopped with it, submitted SLURM jobs keep running (the line says how to cancel them).

Configured by ``scenarios/hydra/launcher/parallel.yaml`` and ``slurm.yaml`` (``_target_``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import psutil
import submitit
from joblib import Parallel, delayed
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from hydra_plugins.hydra_joblib_launcher import _core as joblib_core
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher as _JoblibLauncher
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

from base import signals
from base.archive import COMMAND_ENV, RunArchive
from .sweep import (SweepError, SweepPlan, final_report, describe_plan, keep_first_multirun_yaml,
                    launch_command, plan_sweep, read_launches, record_end, record_launch,
                    rerun_command, sweep_lock)

PROGRAM = "sim.py"


def _say(*lines: str) -> None:
    print("\n".join(lines), file=sys.stderr, flush=True)


def job_folder(launcher, overrides: Sequence[str], num: int) -> str:
    """The sweep subdirectory Hydra gives job ``num`` with ``overrides`` (``hydra.sweep.subdir``)."""
    if launcher.hydra_context is None:  # a launcher used outside Hydra (tests): name by the values
        return f"{num}_" + "_".join(o.split("=", 1)[-1] for o in overrides)
    sweep_config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.num = num
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{num}"
    return str(OmegaConf.select(sweep_config, "hydra.sweep.subdir"))


def _plan(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> SweepPlan:
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    jobs = [(list(overrides), job_folder(launcher, overrides, initial_job_idx + i))
            for i, overrides in enumerate(job_overrides)]
    plan = plan_sweep(sweep_dir, jobs, initial_job_idx)
    keep_first_multirun_yaml(sweep_dir)
    _say(*describe_plan(plan))
    return plan


def _returns(plan: SweepPlan) -> list[JobReturn]:
    """Hydra's job returns for a sweep whose archives are all complete."""
    returns = []
    for job in plan.jobs:
        ret = JobReturn(overrides=job.overrides, working_dir=str(plan.sweep_dir / job.folder))
        ret.status = JobStatus.COMPLETED
        try:
            summary = RunArchive(plan.sweep_dir / job.folder).read_summary()
            ret.return_value = summary["urbanization_rate_pct"].get("2035")
        except (OSError, ValueError, KeyError, AttributeError):
            ret.return_value = None
        returns.append(ret)
    return returns


def _end_callbacks(launcher, failed: bool) -> None:
    """Before the final report: stop the progress bar; on a failed sweep, run Hydra's end callbacks.

    A failed sweep exits with status 1 (``SystemExit``), after which Hydra would not call
    ``on_multirun_end``: the launcher calls them itself. A sweep that succeeds returns to Hydra,
    which calls them; only the bar is stopped first, so that it does not draw over the report.
    """
    callbacks = getattr(launcher.hydra_context, "callbacks", None)
    if callbacks is None:
        return
    try:
        if failed:
            callbacks.on_multirun_end(config=launcher.config)
        else:
            for callback in getattr(callbacks, "callbacks", []):
                stop = getattr(callback, "stop_drawing", None)
                if callable(stop):
                    stop()
    except Exception as error:  # noqa: BLE001 (the report must still be printed)
        _say(f"{PROGRAM}: warning: an end-of-sweep callback failed: {type(error).__name__}: {error}")


def _finish(launcher, plan: SweepPlan, failures: dict[int, str], started: float) -> list[JobReturn]:
    """Print the final report; a sweep with a missing archive exits with status 1."""
    lines, missing = final_report(plan, failures, time.perf_counter() - started)
    if plan.todo:
        record_end(plan.sweep_dir, missing)
    _end_callbacks(launcher, failed=bool(missing))
    _say(*lines)
    if missing:
        raise SystemExit(1)
    return _returns(plan)


def _progress(plan: SweepPlan) -> str:
    done = sum(1 for job in plan.jobs if RunArchive(plan.sweep_dir / job.folder).complete)
    return f"{done} of {len(plan.jobs)} archive(s) complete"


def _stop_children(timeout: float = 5.0) -> None:
    """Terminate this process's child processes (its sweep workers), then kill what is left."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass


def _guarded(launch):
    """Run a launch under the sweep lock; a refused sweep prints one line and exits with 2."""
    def wrapper(self, job_overrides, initial_job_idx):
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        try:
            with sweep_lock(sweep_dir):
                return launch(self, job_overrides, initial_job_idx)
        except SweepError as error:
            _say(f"{PROGRAM}: error: {error}")
            raise SystemExit(2) from None
    wrapper.__doc__ = launch.__doc__
    return wrapper


# --------------------------------------------------------------------------- local (joblib)
def _run_local_job(num, overrides, hydra_context, config, task_function, singleton_state,
                   parent_pid: int, command: list[str]) -> tuple[int, str | None]:
    """One job in a joblib worker: ``(num, None)`` when it ran, ``(num, reason)`` when it failed."""
    os.environ[COMMAND_ENV] = json.dumps(command)
    signals.exit_with_parent(parent_pid)
    try:
        ret = joblib_core.execute_job(num, overrides, hydra_context, config, task_function,
                                      singleton_state)
    except SystemExit as error:
        return num, f"refused (exit status {error.code}; the job printed why when it was launched)"
    except Exception as error:  # noqa: BLE001 (reported in the sweep's final lines)
        return num, f"failed: {type(error).__name__}: {error}"
    if ret.status != JobStatus.COMPLETED:
        error = ret._return_value
        return num, f"failed: {type(error).__name__}: {error}"
    return num, None


class JoblibLauncher(_JoblibLauncher):
    """Local parallel sweeps (joblib/loky) that resume and report; see the module docstring."""

    @_guarded
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        started = time.perf_counter()
        plan = _plan(self, job_overrides, initial_job_idx)
        todo = plan.todo
        failures: dict[int, str] = {}
        if todo:
            record_launch(plan.sweep_dir, "joblib", todo)
            signals.install(PROGRAM, lambda: (
                f"sweep {plan.sweep_dir} stopped, its workers too; {_progress(plan)}; "
                f"rerun to do the rest: {rerun_command(plan.sweep_dir)}"))
            joblib_cfg = dict(self.joblib)
            joblib_cfg["backend"] = "loky"
            joblib_core.process_joblib_cfg(joblib_cfg)
            singleton_state = Singleton.get_state()
            command = launch_command()
            with signals.cleanup_on_signal(_stop_children):
                results = Parallel(**joblib_cfg)(
                    delayed(_run_local_job)(job.num, job.overrides, self.hydra_context, self.config,
                                            self.task_function, singleton_state, os.getpid(), command)
                    for job in todo)
            failures = {num: reason for num, reason in results if reason}
        return _finish(self, plan, failures, started)


# --------------------------------------------------------------------------- SLURM (submitit)
def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None


def queued_tasks(array_id: str) -> set[str] | None:
    """Task ids (``<array>_<task>``) of ``array_id`` still pending or running; ``None`` if squeue fails."""
    done = _run(["squeue", "-h", "-r", "-j", str(array_id), "-o", "%i"])
    if done is None:
        return None
    if done.returncode != 0:
        return set() if "Invalid job id" in done.stderr else None
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}


def task_states(array_id: str) -> dict[str, str] | None:
    """``{<array>_<task>: "STATE (exit code X:Y)"}`` from sacct; ``None`` without accounting."""
    done = _run(["sacct", "-n", "-P", "-X", "-j", str(array_id), "-o", "JobID,State,ExitCode"])
    if done is None or done.returncode != 0:
        return None
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split("|")
        if len(parts) >= 3:
            states[parts[0]] = f"{parts[1]} (exit code {parts[2]})"
    return states


def slurm_task_name() -> str:
    """``<array job id>_<task id>`` of this SLURM array task (``SLURM_JOB_ID`` if not an array)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID", "?")


def last_message(log: Path) -> str:
    """The last line the job printed about its end (a ``sim.py:`` line if any)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    ours = [line for line in lines if line.startswith(f"{PROGRAM}:")]
    chosen = ours[-1] if ours else (lines[-1] if lines else "(empty log)")
    return chosen if len(chosen) <= 300 else chosen[:297] + "..."


class SlurmLauncher(_SlurmLauncher):
    """SLURM sweeps (one array task per job) that resume and report; see the module docstring."""

    poll_interval_s = 3.0
    _command: list[str] | None = None

    def __call__(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state):
        """In the SLURM task: take over the signals, say which job this is, run it."""
        # our handlers replace submitit's at once: its SIGUSR2 handler would requeue the task (it
        # takes an early SIGUSR2 for a pre-emption) and its SIGTERM handler ignores the signal
        task = slurm_task_name()
        signals.install(PROGRAM, f"SLURM task {task}, job {job_num} ({' '.join(sweep_overrides)}) "
                                 f"stopped, no archive written")
        if self._command:  # the manifest records the launching command, not submitit's worker
            os.environ[COMMAND_ENV] = json.dumps(self._command)
        _say(f"{PROGRAM}: SLURM task {task} on {os.environ.get('SLURMD_NODENAME') or os.uname().nodename}: "
             f"job {job_num} ({' '.join(sweep_overrides)}) started")
        return super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)

    def _check_time_limit(self) -> None:
        timeout_min = self.params.get("timeout_min")
        delay = self.params.get("signal_delay_s") or 0
        if timeout_min is not None and float(timeout_min) * 60 < 2 * float(delay):
            raise SweepError(
                f"hydra.launcher.timeout_min={timeout_min} leaves less than {delay} s of work: SLURM "
                f"warns a job (SIGUSR2) hydra.launcher.signal_delay_s={delay} s before its time "
                f"limit and the job then stops without an archive; give timeout_min >= "
                f"{max(1, int(2 * float(delay) / 60 + 0.999))} (or lower signal_delay_s)")

    def _check_earlier_launches(self, sweep_dir: Path) -> None:
        for launch in read_launches(sweep_dir):
            array_id = launch.get("slurm_array_job_id")
            if not array_id:
                continue
            running = queued_tasks(array_id)
            if running:
                raise SweepError(
                    f"tasks of an earlier launch of this sweep are still queued or running "
                    f"({', '.join(sorted(running))}); wait for them (squeue -j {array_id}) or cancel "
                    f"them (scancel {array_id}), then rerun")

    def _executor(self):
        params = self.params
        init_params = {"folder": params["submitit_folder"]}
        specific_init_keys = {"max_num_timeout"}
        init_params.update(**{f"{self._EXECUTOR}_{x}": y for x, y in params.items() if x in specific_init_keys})
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        baseparams = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{
            x if x in baseparams else f"{self._EXECUTOR}_{x}": y
            for x, y in params.items() if x not in specific_init_keys | {"submitit_folder"}})
        return executor

    @_guarded
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        started = time.perf_counter()
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        self._check_time_limit()
        self._check_earlier_launches(sweep_dir)
        plan = _plan(self, job_overrides, initial_job_idx)
        todo = plan.todo
        if not todo:
            return _finish(self, plan, {}, started)
        self._command = launch_command()
        executor = self._executor()
        job_params = [(job.overrides, "hydra.sweep.dir", job.num, f"job_id_for_{job.num}",
                       Singleton.get_state()) for job in todo]
        jobs = executor.map_array(self, *zip(*job_params))
        array_id = str(jobs[0].job_id).split("_")[0]
        record_launch(plan.sweep_dir, "slurm", todo, slurm_array_job_id=array_id,
                      logs={plan_job.folder: str(job.paths.stderr) for job, plan_job in zip(jobs, todo)})
        logs = Path(str(jobs[0].paths.folder)).parent
        _say(f"submitted SLURM array job {array_id}: {len(todo)} task(s) "
             f"(partition {self.params.get('partition') or 'default'}, {self.params.get('timeout_min')} min "
             f"each, at most {self.params.get('array_parallelism')} at once)",
             *[f"  task {job.job_id}: {plan_job.folder}" for job, plan_job in zip(jobs, todo)],
             f"  watch:  squeue -j {array_id}    (logs: {logs}/{array_id}_<task>/)",
             f"  cancel: scancel {array_id}    (one task: scancel {array_id}_<task>)",
             "  Ctrl-C here stops only this launcher: submitted jobs keep running; rerun the same "
             "command later to collect them")
        signals.install(PROGRAM, lambda: (
            f"launcher of sweep {plan.sweep_dir} stopped; {_progress(plan)}. The submitted SLURM jobs "
            f"keep running: watch them with `squeue -j {array_id}`, cancel them with `scancel {array_id}`; "
            f"rerun to collect them and redo what is missing: {rerun_command(plan.sweep_dir)}"))
        while True:
            queued = queued_tasks(array_id)
            if queued is not None and not queued:
                break
            time.sleep(self.poll_interval_s)
        states = task_states(array_id)
        failures = {}
        for job, plan_job in zip(jobs, todo):
            state = ("unknown: sacct gave no answer (SLURM accounting is needed to tell how a task ended)"
                     if states is None else states.get(str(job.job_id), "unknown to sacct"))
            failures[plan_job.num] = (f"task {job.job_id} ended: {state}; log {job.paths.stderr}: "
                                      f"{last_message(Path(str(job.paths.stderr)))}")
        return _finish(self, plan, failures, started)
