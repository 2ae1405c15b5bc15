"""The base of the input errors that a command reports as one line (``<command>: error: ...``).

Every layer defines its own input errors (a bad archive, data file, parameter file, comparison
input...); those of the layers above ``simulator`` derive from :class:`InputError`, so that
:mod:`simulator.cli` recognises them without importing upward.
"""
from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used as it is; the message names the problem and the fix."""
