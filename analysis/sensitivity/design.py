"""The design of the sensitivity analysis: which parameters vary, over which ranges.

Every parameter of the ``.mdl`` with a documented range belongs to at most one group
(:data:`~.options.GROUPS`): a policy lever (:mod:`analysis.levers`), a calibrated parameter (it
has draws in ``calibrated.uncertainty``), an assumption (comment ``Assumption:``) or a datum marked
UNVERIFIED. Levers, assumptions and data vary uniformly over their documented range (or the range
of ``analysis/sensitivity_ranges.yaml``, with its reason); calibrated parameters over their draws
(inverse empirical CDF). Parameters the scenario sets stay fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

from ..levers import lever_names
from .options import GROUPS, RANGES_PATH, SensitivityError


@dataclass(frozen=True)
class Factor:
    """One uncertain input of the sensitivity analysis.

    Attributes
    ----------
    name : str
        Model parameter.
    group : str
        One of :data:`~.options.GROUPS`.
    low, high : float
        Range sampled [units of the parameter].
    base : float
        Value in the scenario (used when the factor is not varied) [units of the parameter].
    draws : ndarray or None
        Sorted draws of a calibrated parameter [units of the parameter], sampled by inverse
        empirical CDF; None: uniform on ``[low, high]``.
    note : str
        Where the range comes from.
    """

    name: str
    group: str
    low: float
    high: float
    base: float
    draws: np.ndarray | None = field(default=None, compare=False)
    note: str = ""

    @property
    def distribution(self) -> str:
        """``"uniform"`` or ``"calibration draws (empirical)"``."""
        return "calibration draws (empirical)" if self.draws is not None else "uniform"

    def transform(self, unit: np.ndarray) -> np.ndarray:
        """Map points of ``[0, 1]`` [-] to parameter values [units of the parameter]."""
        unit = np.asarray(unit, dtype=float)
        if self.draws is not None:
            return np.quantile(self.draws, unit, method="inverted_cdf")
        return self.low + (self.high - self.low) * unit


def classify(spec, name: str, calibrated: set[str]) -> str | None:
    """The group of parameter ``name``.

    Parameters
    ----------
    spec : model.spec.ModelSpec
        The model's declarations.
    name : str
        A parameter of ``spec``.
    calibrated : set of str
        Parameters with calibrated draws.

    Returns
    -------
    str or None
        One of :data:`~.options.GROUPS`; None for fixed source values and conventions.
    """
    if name in set(lever_names()):
        return "levers"
    if name in calibrated:
        return "calibrated"
    description = spec.parameters[name].description
    if description.startswith("Assumption"):
        return "assumptions"
    if "UNVERIFIED" in description:
        return "unverified_data"
    return None


def load_range_overrides(path: str | Path = RANGES_PATH) -> dict[str, dict]:
    """Sensitivity ranges that replace the documented ones.

    Parameters
    ----------
    path : path-like
        YAML file mapping parameter names to ``{range: [low, high], reason: ...}``.

    Returns
    -------
    dict
        ``{name: {"range": [low, high], "reason": str}}`` (range in the parameter's units).
    """
    path = Path(path)
    if not path.is_file():
        raise SensitivityError(f"the ranges file {path} does not exist; pass --ranges PATH of a YAML file "
                               f"(default {RANGES_PATH.name})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SensitivityError(f"{path} is not valid YAML ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(data, dict):
        raise SensitivityError(f"{path} must map parameter names to {{range: [low, high], reason: ...}}")
    for name, entry in data.items():
        if not isinstance(entry, dict) or "range" not in entry or "reason" not in entry:
            raise SensitivityError(f"{path}: entry '{name}' needs a 'range: [low, high]' and a 'reason'")
    return data


def input_factors(spec, resolved, uncertainty, groups: Sequence[str] = GROUPS,
                  overrides: Mapping[str, dict] | None = None) -> tuple[list[Factor], list[str]]:
    """The factors to vary, and the names left fixed because the scenario sets them.

    Parameters
    ----------
    spec : model.spec.ModelSpec
        The model's declarations (documented ranges).
    resolved : simulator.config.ResolvedParameters
        Parameters of the scenario.
    uncertainty : base.paramfile.Uncertainty
        Calibrated draws.
    groups : sequence of str
        Subset of :data:`~.options.GROUPS`.
    overrides : mapping, optional
        Range replacements (:func:`load_range_overrides`).

    Returns
    -------
    factors : list of Factor
        By group (in the order of :data:`~.options.GROUPS`), then name.
    fixed : list of str
        Parameters of the chosen groups that the scenario sets (not varied).
    """
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise SensitivityError(f"unknown parameter group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    overrides = dict(overrides or {})
    for name in overrides:
        spec.check_name(name)
    calibrated = set(uncertainty.parameters) if uncertainty.available else set()
    fixed_by_scenario = resolved.fixed_by_user()
    factors, fixed = [], []
    for name in sorted(spec.parameters):
        group = classify(spec, name, calibrated)
        if group is None or group not in groups:
            continue
        var = spec.parameters[name]
        low, high = var.limits
        if high <= low:
            continue
        if name in fixed_by_scenario:
            fixed.append(name)
            continue
        base = float(resolved.values.get(name, var.value))
        note = f"documented range in {spec.mdl_path.name}"
        draws = None
        if group == "calibrated":
            draws = np.sort(uncertainty.draws[:, uncertainty.parameters.index(name)])
            low, high = float(draws[0]), float(draws[-1])
            note = f"{len(draws)} draws (calibrated.uncertainty)"
            if high <= low:
                continue
        elif name in overrides:
            new_low, new_high = (float(v) for v in overrides[name]["range"])
            if new_low >= new_high:
                raise SensitivityError(
                    f"sensitivity range of '{name}' [{new_low:g}, {new_high:g}] is backwards or empty: write "
                    f"[low, high] with low < high, inside the documented range [{var.limits[0]:g}, {var.limits[1]:g}]")
            if not var.limits[0] <= new_low < new_high <= var.limits[1]:
                raise SensitivityError(
                    f"sensitivity range of '{name}' [{new_low:g}, {new_high:g}] must lie inside its "
                    f"documented range [{var.limits[0]:g}, {var.limits[1]:g}]")
            low, high = new_low, new_high
            note = " ".join(str(overrides[name]["reason"]).split())
        factors.append(Factor(name, group, float(low), float(high), base, draws, note))
    group_rank = {g: i for i, g in enumerate(GROUPS)}
    factors.sort(key=lambda f: (group_rank[f.group], f.name))
    if not factors:
        raise SensitivityError("no factor to vary: check --groups (and that the scenario does not fix them all)")
    return factors, fixed
