"""The options of the sensitivity analysis: factor groups, default years and design size,
convergence tolerance, and the error raised for bad options.

One place for the defaults, shared by the computation (:mod:`.compute`), the report
(:mod:`.markdown`, :mod:`.plots`) and the command (:mod:`.cli`).
"""
from __future__ import annotations

from pathlib import Path

#: Factor groups, in the order of the tables: policy levers, calibrated parameters, the
#: ``.mdl``'s assumptions, data marked UNVERIFIED in the ``.mdl``.
GROUPS = ("levers", "calibrated", "assumptions", "unverified_data")
# The outputs analysed by default are those declared ``sensitivity: true`` with the run's model
# (``model/inner_mongolia.outputs.yaml``; :attr:`simulator.run.RunPlan.outputs`), read when the
# analysis runs; their labels come from the same declaration.
#: Year-ends analysed by default [Year].
DEFAULT_YEARS = (2020, 2025, 2030, 2035)
#: Base samples of the Saltelli design (a power of two); ``N (D + 2)`` model runs.
DEFAULT_N = 1024
#: Seed of the design and of the bootstrap (any integer; fixed for reproducibility).
DEFAULT_SEED = 20211122
#: Bootstrap resamples of the confidence intervals.
DEFAULT_RESAMPLES = 100
#: Sensitivity ranges that replace documented ones, each with its reason.
RANGES_PATH = Path(__file__).parent.with_name("sensitivity_ranges.yaml")
#: Largest change of an index between N/2 and N for the estimate to count as converged [share of variance].
CONVERGENCE_TOLERANCE = 0.05
#: Model runs per engine call (bounds memory).
CHUNK_ROWS = 20000


class SensitivityError(ValueError):
    """Bad options or inputs of the sensitivity analysis (message names the fix)."""
