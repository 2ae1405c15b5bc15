"""The change in urbanization split into its flows, from the model's four accounting stocks.

The model integrates, next to the population stocks, four stocks whose inflows are the
contributions of each flow to the change of the urbanization rate in one Euler step
(``urbanization_change_from_migration``, ``_reclassification``, ``_natural_increase``,
``_out_migration``, all in percentage points since 2015). Under Euler integration their sum equals
the change of the urbanization rate exactly (to floating-point rounding), for every member.

For a period ``[start, end]`` the part of a flow is ``stock(end) - stock(start)``. Members are
summarised by the **mean** of each part: means are linear, so the mean parts add up exactly to
the mean total change (medians would not). The 5-95 % range of each part over members is given
too; those ranges do not add up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from simulator.summary import at_year

#: Flow label -> accounting stock of the model [%].
FLOW_STOCKS = {
    "migration": "urbanization_change_from_migration",
    "reclassification": "urbanization_change_from_reclassification",
    "natural_increase": "urbanization_change_from_natural_increase",
    "out_migration": "urbanization_change_from_out_migration",
}
#: Bilingual labels of the flows (English, Chinese).
FLOW_LABELS = {
    "migration": ("rural-to-urban migration", "乡城迁移"),
    "reclassification": ("reclassification (in-situ)", "就地城镇化"),
    "natural_increase": ("natural-increase differential", "自然增长差异"),
    "out_migration": ("out-migration differential", "外流差异"),
}
#: Default period: the plan period 2021-2035 (year-end 2020 to year-end 2035).
DEFAULT_PERIOD = (2020, 2035)
#: Largest tolerated closure error of one member [pp] (floating-point rounding of Euler sums).
CLOSURE_TOLERANCE = 1e-9


class DecompositionError(ValueError):
    """The parts of the decomposition do not add up to the total change."""


@dataclass(frozen=True)
class Decomposition:
    """Per-member parts of the change in urbanization over a period.

    Attributes
    ----------
    period : tuple of int
        ``(start, end)`` year-ends.
    parts : dict of str to ndarray
        Flow label -> change contributed by that flow, one value per member [pp].
    total : ndarray
        Change of the urbanization rate, one value per member [pp].
    """

    period: tuple
    parts: Mapping[str, np.ndarray]
    total: np.ndarray

    @property
    def residual(self) -> np.ndarray:
        """``total - sum(parts)`` per member [pp]; zero to rounding under Euler."""
        return self.total - sum(self.parts.values())

    def summary(self) -> dict[str, float]:
        """Mean of each part and of the total, the largest |residual|, and 5-95 % ranges [pp]."""
        result: dict[str, float] = {}
        for name, values in self.parts.items():
            result[name] = float(np.mean(values))
        result["sum_of_parts"] = float(sum(result[name] for name in self.parts))
        result["total_change"] = float(np.mean(self.total))
        result["max_abs_residual"] = float(np.max(np.abs(self.residual)))
        for name, values in {**self.parts, "total_change": self.total}.items():
            result[f"{name}_p05"], result[f"{name}_p95"] = (float(v) for v in np.percentile(values, [5, 95]))
        return result


def decompose(dataset: xr.Dataset, period: tuple = DEFAULT_PERIOD) -> Decomposition:
    """Split the change of ``urbanization_rate`` over ``period`` into the four flows.

    Parameters
    ----------
    dataset : xarray.Dataset
        An ensemble (dimensions ``(sample, time)``) or a point run (``time``) holding
        ``urbanization_rate`` and the four ``urbanization_change_from_*`` stocks.
    period : tuple of int
        Start and end year-ends; the default is 2020-2035.

    Raises
    ------
    KeyError
        If a variable or a year is missing.
    """
    start, end = period
    if not start < end:
        raise ValueError(f"the period must run forwards, got {start}-{end}")

    def change(name: str) -> np.ndarray:
        return np.atleast_1d(np.asarray(at_year(dataset[name], end) - at_year(dataset[name], start),
                                        dtype=float))

    parts = {label: change(stock) for label, stock in FLOW_STOCKS.items()}
    return Decomposition((start, end), parts, change("urbanization_rate"))


def check_closure(decomposition: Decomposition, tolerance: float = CLOSURE_TOLERANCE) -> None:
    """Raise if the parts of some member do not add up to its total change.

    The four stocks are exact under Euler integration; a larger residual means the run used
    another method (``run.method=rk4``) or the model's accounting is broken.
    """
    worst = float(np.max(np.abs(decomposition.residual)))
    if not worst <= tolerance:
        raise DecompositionError(
            f"the decomposition does not close: parts and total change differ by up to {worst:.3g} pp "
            f"(tolerance {tolerance:g}). The accounting stocks are exact only under Euler "
            f"integration (run.method=euler)")
