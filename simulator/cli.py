"""One way for every command to fail: a short message naming the problem and the fix, no traceback.

``sim.py``, ``python -m calibration``, ``python -m simulator.reproduce`` and the ``analysis``
commands run their main function through :func:`run_command`. A known input error (a bad setting,
parameter, data file, model file or archive) prints ``<command>: error: <message>`` and exits
with status 2; any other exception prints one line with its type and message, says how to get the
traceback, and exits with status 1. The traceback is shown only with ``--debug`` on the command
line or ``IMSIM_DEBUG=1`` in the environment.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Callable, Iterator, Sequence

import yaml
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from base.archive import ArchiveError
from base.errors import InputError
from base.observations import DataFileError
from base.paramfile import UncertaintyError
from model.cache import ModelFileError
from model.spec import ParameterError

from .validation import SettingsError

#: Environment variable that turns on tracebacks (``IMSIM_DEBUG=1``).
DEBUG_ENV = "IMSIM_DEBUG"
DEBUG_FLAG = "--debug"
#: Exit status of a refused input (as argparse uses) and of an unexpected failure.
EXIT_INPUT, EXIT_FAILURE = 2, 1
MAX_LINE = 400


def debug_enabled(argv: Sequence[str] | None = None) -> bool:
    """Whether tracebacks were asked for (``--debug`` in ``argv`` or ``IMSIM_DEBUG`` set)."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return True
    return DEBUG_FLAG in (sys.argv[1:] if argv is None else argv)


def strip_debug_flag(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--debug`` (Hydra would take it for an override)."""
    return [arg for arg in argv if arg != DEBUG_FLAG]


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the input is wrong" (each message already names the fix)."""
    return (ParameterError, SettingsError, ArchiveError, ModelFileError, DataFileError, UncertaintyError,
            InputError)


def condense(message: str, max_lines: int = 2) -> str:
    """At most ``max_lines`` lines of a long message (Hydra's and OmegaConf's span many lines)."""
    lines: list[str] = []
    for raw in str(message).splitlines():
        if raw.startswith("Config search path"):
            break
        if raw.startswith("\t") and lines and lines[-1].endswith(":"):  # Hydra's option lists
            lines[-1] += " " + raw.strip()
            continue
        if raw.startswith("\t") and lines and ":" in lines[-1]:
            lines[-1] += ", " + raw.strip()
            continue
        line = " ".join(raw.split())
        if not line or re.match(r"^(full_key|object_type|reference_type|Set the environment variable)", line):
            continue
        lines.append(line)
    if not lines:
        return "(no message)"
    head, rest = lines[:max_lines - 1], lines[max_lines - 1:]
    tail = " ".join(rest)
    out = head + ([tail] if tail else [])
    return "\n".join(line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..." for line in out)


def describe(error: BaseException) -> tuple[str, int]:
    """The message and exit status for ``error``."""
    config_errors: tuple[type[BaseException], ...] = (HydraException, OmegaConfBaseException)
    if isinstance(error, user_error_types()):
        return condense(str(error), max_lines=max(2, str(error).count("\n") + 1)), EXIT_INPUT
    if isinstance(error, yaml.YAMLError):
        return condense(f"a YAML file cannot be parsed: {error}"), EXIT_INPUT
    if config_errors and isinstance(error, config_errors):
        text = str(error)
        cause = error.__cause__ or error.__context__
        if cause is not None and str(cause) and str(cause).splitlines()[0] not in text:
            text += "\n" + str(cause)
        return condense(text), EXIT_INPUT
    if isinstance(error, MemoryError):
        return ("out of memory; use a smaller ensemble.samples (or a machine with more memory)",
                EXIT_FAILURE)
    if isinstance(error, OSError) and error.filename:
        return (f"{error.strerror or error} : {error.filename}; check that the path exists and is "
                f"writable", EXIT_INPUT)
    first = (str(error).splitlines() or [""])[0]
    return (f"unexpected {type(error).__name__}: {first[:MAX_LINE]}\n"
            f"this is a bug or an input nobody checks yet: run again with {DEBUG_FLAG} (or "
            f"{DEBUG_ENV}=1) for the traceback and report it", EXIT_FAILURE)


def report(program: str, error: BaseException) -> int:
    """Print ``error`` as ``<program>: error: ...`` (one or two lines); return the exit status."""
    message, status = describe(error)
    lines = message.splitlines() or [""]
    print(f"{program}: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}", file=sys.stderr)
    return status


@contextlib.contextmanager
def errors_as_exit(program: str) -> Iterator[None]:
    """Inside a Hydra task: report an exception and exit, before Hydra prints its own lines."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the point of this function
        if debug_enabled():
            raise
        raise SystemExit(report(program, error)) from None


def run_command(program: str, main: Callable[[], object], argv: Sequence[str] | None = None) -> int:
    """Run ``main()``; turn every exception into a short message and an exit status.

    Parameters
    ----------
    program : str
        The name shown before ``error:`` (``sim.py``, ``calibration``...).
    main : callable
        The command's main function, called without arguments. Its return value is the exit status
        if it is an int, else 0.
    argv : sequence of str, optional
        The command line (for ``--debug``; default ``sys.argv[1:]``).
    """
    if debug_enabled(argv):
        result = main()
        return result if isinstance(result, int) else 0
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # Hydra re-raises instead of printing a traceback
    try:
        result = main()
    except SystemExit as exit_:
        code = exit_.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
        return code if isinstance(code, int) else (0 if code is None else EXIT_FAILURE)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the point of this function
        return report(program, error)
    return result if isinstance(result, int) else 0
