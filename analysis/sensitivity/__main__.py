"""``python -m analysis.sensitivity``: the command of :mod:`.cli`, with errors as one line
(tracebacks with ``--debug``)."""
import sys

from simulator.cli import run_command, strip_debug_flag

from .cli import PROGRAM, main

if __name__ == "__main__":
    raise SystemExit(run_command(PROGRAM, lambda: main(strip_debug_flag(sys.argv[1:]))))
