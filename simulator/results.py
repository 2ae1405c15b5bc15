"""Engine results as xarray Datasets whose variables carry their units and descriptions."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import xarray as xr

from model.pysd_engine import RunResult
from model.spec import ModelSpec

#: Variables kept for every ensemble member (dimensions sample x time).
ENSEMBLE_VARIABLES = (
    "total_population", "urban_population", "rural_population", "urban_non_hukou_population",
    "urban_hukou_population", "urbanization_rate", "hukou_urbanization_rate", "urbanization_gap",
    "rural_to_urban_migration", "reclassification", "hukou_settlement", "total_out_migration",
    "cumulative_hukou_settlement", "net_population_change",
    "urbanization_change_from_migration", "urbanization_change_from_reclassification",
    "urbanization_change_from_natural_increase", "urbanization_change_from_out_migration",
    "urban_construction_land", "urban_land_conversion", "land_per_urban_resident",
    "annual_land_quota", "urban_water_demand", "water_cap", "water_stress_ratio",
    "regional_water_cap", "non_urban_water_use", "total_water_demand",
    "relative_urban_attractiveness",
)


def variable_attrs(spec: ModelSpec, name: str) -> dict[str, str]:
    """``units``, ``description`` and ``vensim_name`` of a model variable."""
    var = spec.variables[name]
    return {"units": var.units or "1", "description": var.description,
            "vensim_name": var.vensim_name, "kind": var.kind}


def run_to_dataset(result: RunResult, spec: ModelSpec, *, sample_axis: bool = False) -> xr.Dataset:
    """Convert an engine result to a Dataset.

    Parameters
    ----------
    result : RunResult
        Values shaped ``(n_time,)`` (one run) or ``(n_time, n_samples)`` (ensemble).
    spec : ModelSpec
        Supplies units and descriptions.
    sample_axis : bool
        If true, the result is an ensemble and the Dataset has dimensions ``(sample, time)``.
        If false and the values carry a sample axis of length 1, it is dropped.
    """
    data_vars = {}
    for name, values in result.values.items():
        values = np.asarray(values, dtype=float)
        if sample_axis:
            if values.ndim == 1:
                values = values[:, None]
            data_vars[name] = (("sample", "time"), values.T, variable_attrs(spec, name))
        else:
            if values.ndim == 2:
                if values.shape[1] != 1:
                    raise ValueError(f"{name} has {values.shape[1]} samples; pass sample_axis=True")
                values = values[:, 0]
            data_vars[name] = (("time",), values, variable_attrs(spec, name))
    coords = {"time": ("time", np.asarray(result.time, dtype=float),
                       {"units": "Year", "description": "model time: the value at Y is the year-end value of year Y"})}
    if sample_axis:
        n_samples = next(iter(data_vars.values()))[1].shape[0] if data_vars else 0
        coords["sample"] = ("sample", np.arange(n_samples), {"description": "ensemble member"})
    return xr.Dataset(data_vars, coords=coords)


def check_finite(dataset: xr.Dataset, names: Iterable[str] | None = None) -> None:
    """Raise if any variable holds NaN or infinity (never write silent NaN)."""
    bad = [
        name for name in (names or dataset.data_vars)
        if not np.all(np.isfinite(dataset[name].values))
    ]
    if bad:
        raise FloatingPointError(
            f"the simulation produced NaN or infinite values in {', '.join(sorted(bad)[:10])}; "
            f"check the parameter values (extreme values can divide by zero)"
        )
