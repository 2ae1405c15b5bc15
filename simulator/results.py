"""Engine results as xarray Datasets whose variables carry their units, descriptions and dimensions.

The dimensions of a variable are ``time`` (and ``sample`` for an ensemble) followed by its
subscript ranges, with their elements as coordinates, as the engine's
:class:`model.result.RunResult` reports them (taken from the ``.mdl``). Which variables an
ensemble keeps is declared in the model's outputs file (:mod:`model.outputs`).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import xarray as xr

from model.result import RunResult
from model.spec import ModelSpec


def variable_attrs(spec: ModelSpec, name: str) -> dict[str, str]:
    """``units``, ``description`` and ``vensim_name`` of a model variable."""
    var = spec.variables[name]
    return {"units": var.units or "1", "description": var.description,
            "vensim_name": var.vensim_name, "kind": var.kind}


def run_to_dataset(result: RunResult, spec: ModelSpec, *, sample_axis: bool = False) -> xr.Dataset:
    """Convert an engine result to a Dataset with named dimensions and coordinates.

    Parameters
    ----------
    result : RunResult
        Values shaped ``(n_time, *subscripts)`` (one run of the PySD engine) or
        ``(n_time, n_samples, *subscripts)`` (the ensemble engines).
    spec : ModelSpec
        Supplies units and descriptions.
    sample_axis : bool
        If true, the result is an ensemble and the variables have dimensions
        ``(sample, time, *subscripts)``. If false and the values carry a sample axis of length 1,
        it is dropped: ``(time, *subscripts)``.
    """
    data_vars = {}
    n_samples = 0
    for name, values in result.values.items():
        values = np.asarray(values, dtype=float)
        dims = result.dims_of(name)
        if values.ndim == 1 + len(dims):  # no sample axis (a single PySD run)
            values = values[:, None]
        if sample_axis:
            n_samples = values.shape[1]
            data_vars[name] = (("sample", "time") + dims, np.moveaxis(values, 1, 0), variable_attrs(spec, name))
        else:
            if values.shape[1] != 1:
                raise ValueError(f"{name} has {values.shape[1]} samples; pass sample_axis=True")
            data_vars[name] = (("time",) + dims, values[:, 0], variable_attrs(spec, name))
    coords = {"time": ("time", np.asarray(result.time, dtype=float),
                       {"units": "Year", "description": "model time: the value at Y is the year-end value of year Y"})}
    used = {dim for name in result.values for dim in result.dims_of(name)}
    for dim in sorted(used):
        coords[dim] = (dim, np.asarray(result.coords[dim], dtype=str),
                       {"description": f"subscript range {dim} of the model"})
    if sample_axis:
        coords["sample"] = ("sample", np.arange(n_samples), {"description": "ensemble member"})
    return xr.Dataset(data_vars, coords=coords)


def province_total(data: xr.DataArray) -> xr.DataArray:
    """The province-level figure of a variable: its sum over every subscript dimension.

    ``sample`` and ``time`` are kept; a scalar variable is returned as it is. (A rate is not a
    sum: the model declares its province-level rate as a variable of its own.)
    """
    subscripts = [dim for dim in data.dims if dim not in ("sample", "time")]
    return data.sum(subscripts) if subscripts else data


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
