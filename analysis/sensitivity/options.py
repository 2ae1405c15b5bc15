"""The options of the sensitivity analysis: factor groups, default outputs, years and design size,
convergence tolerance, and the error raised for bad options.

One place for the defaults, shared by the computation (:mod:`.compute`), the report
(:mod:`.markdown`, :mod:`.plots`) and the command (:mod:`.cli`).
"""
from __future__ import annotations

from pathlib import Path

from model.outputs import load_outputs

#: Factor groups, in the order of the tables: policy levers, calibrated parameters, the
#: ``.mdl``'s assumptions, data marked UNVERIFIED in the ``.mdl``.
GROUPS = ("levers", "calibrated", "assumptions", "unverified_data")
#: Model variables analysed by default: the outputs declared ``sensitivity: true`` in
#: ``model/inner_mongolia.outputs.yaml``.
DEFAULT_OUTPUTS = load_outputs().names("sensitivity")
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
#: English and Chinese labels of the outputs (plots and report; other outputs use their name):
#: the labels of the declared outputs (``model/inner_mongolia.outputs.yaml``).
OUTPUT_LABELS = {name: (output.label, output.label_zh) for name, output in load_outputs().items() if output.label}


class SensitivityError(ValueError):
    """Bad options or inputs of the sensitivity analysis (message names the fix)."""
