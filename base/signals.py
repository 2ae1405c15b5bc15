"""Ending a run cleanly on a signal: SIGINT (Ctrl-C), SIGTERM (``kill``, ``scancel``) and SIGUSR2
(SLURM's warning that the time limit is near).

A job that receives one of them removes what it was writing (the hidden staging directory of its
archive and the empty run directory Hydra made for it), prints one line naming the signal, and
exits at once with status ``128 + signal number`` (130 for SIGINT, 143 for SIGTERM, 140 for
SIGUSR2). It never raises ``KeyboardInterrupt`` into the computation: an exception raised inside
the netCDF/HDF5 writer used to leave its lock held, and the clean-up then waited on that lock for
ever.

A sweep worker (a joblib/loky process) also exits when the process that launched the sweep is gone
(:func:`exit_with_parent`), so no orphaned worker keeps computing.

Clean-up steps are registered with :func:`cleanup_on_signal` (a context manager), so only the
files of the step that was interrupted are removed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

#: Signals that end a run, and the words the one-line message uses for them.
HANDLED = {
    "SIGINT": "interrupted (SIGINT, Ctrl-C)",
    "SIGTERM": "terminated (SIGTERM: kill, or scancel / the end of a SLURM allocation)",
    "SIGUSR2": "stopped by SIGUSR2 (SLURM's warning that the job's time limit is near: "
               "raise hydra.launcher.timeout_min)",
}

_cleanups: dict[int, Callable[[], None]] = {}
#: Re-entrant: the signal handler runs in the main thread, possibly while that thread holds the lock
#: inside :func:`cleanup_on_signal`; a plain lock would then wait for itself for ever.
_lock = threading.RLock()
_counter = iter(range(1 << 62))
_state = {"program": "sim.py", "context": "", "installed": False, "parent_watch": None}


def exit_status(signum: int) -> int:
    """The shell's convention: ``128 + signal number`` (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


@contextlib.contextmanager
def cleanup_on_signal(step: Callable[[], None]) -> Iterator[None]:
    """Run ``step`` if a handled signal ends the process inside this block."""
    with _lock:
        key = next(_counter)
        _cleanups[key] = step
    try:
        yield
    finally:
        with _lock:
            _cleanups.pop(key, None)


def remove_tree(path: str | Path) -> Callable[[], None]:
    """A clean-up step removing the directory ``path`` (e.g. an archive's staging directory)."""
    return lambda: shutil.rmtree(path, ignore_errors=True)


def remove_if_empty(path: str | Path) -> Callable[[], None]:
    """A clean-up step removing ``path`` if it is an empty directory."""
    def step() -> None:
        with contextlib.suppress(OSError):
            Path(path).rmdir()
    return step


def run_cleanups() -> None:
    """Run the registered clean-up steps, the latest first (errors are ignored)."""
    with _lock:
        steps = [_cleanups[key] for key in sorted(_cleanups, reverse=True)]
        _cleanups.clear()
    for step in steps:
        with contextlib.suppress(Exception):
            step()


def _say(message: str) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        os.write(2, (message.rstrip("\n") + "\n").encode())


def end_now(message: str, status: int) -> None:
    """Clean up, print ``message`` on one line and exit with ``status`` (without unwinding)."""
    run_cleanups()
    _say(message)
    os._exit(status)


def _handler(signum: int, frame) -> None:  # noqa: ARG001 (signal handler signature)
    if _state.get("ending"):
        return  # a second signal while cleaning up (e.g. Ctrl-C reaches a whole process group)
    _state["ending"] = True
    name = signal.Signals(signum).name
    context = _state["context"]
    if callable(context):
        try:
            context = context()
        except Exception:  # noqa: BLE001 (the message must still be printed)
            context = ""
    end_now(f"{_state['program']}: {HANDLED.get(name, name)}{': ' + context if context else ''}; "
            f"nothing half-written was left behind", exit_status(signum))


def install(program: str = "sim.py", context: str = "") -> None:
    """Handle SIGINT, SIGTERM and SIGUSR2 in this process (main thread only; else a no-op).

    Parameters
    ----------
    program : str
        Name printed at the start of the message.
    context : str
        What the process was doing (e.g. the run directory), printed after the signal's name.
    """
    _state["program"], _state["context"] = program, context
    if threading.current_thread() is not threading.main_thread():
        return
    for name in HANDLED:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _handler)
    _state["installed"] = True


def set_context(context) -> None:
    """Change the part of the message that says what was interrupted (a str, or a callable
    returning one when the signal arrives)."""
    _state["context"] = context


def exit_with_parent(parent_pid: int, poll_interval: float = 0.5) -> bool:
    """End this process (with clean-up) when the process ``parent_pid`` is no longer its parent.

    For sweep workers: when the launching process dies, its workers are re-parented and would
    otherwise keep computing. Starts one watcher thread per process; does nothing (and returns
    ``False``) if ``parent_pid`` is not this process's parent (e.g. a SLURM task, whose parent is
    slurmstepd, or the launching process itself).
    """
    if os.getppid() != int(parent_pid):
        return False
    if _state["parent_watch"] is not None:
        return True

    def watch() -> None:
        while os.getppid() == int(parent_pid):
            time.sleep(poll_interval)
        end_now(f"{_state['program']}: the process that launched the sweep (pid {parent_pid}) ended; "
                f"this worker stops too{': ' + _state['context'] if _state['context'] else ''}",
                exit_status(signal.SIGTERM))

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    _state["parent_watch"] = thread
    thread.start()
    return True
