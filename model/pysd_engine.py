"""The reference engine: one run at a time through PySD, also for subscripted models.

Every control argument is passed explicitly on each call (PySD keeps ``run()`` arguments on the
model object between calls, see design/pysd-notes.md, pitfall 3), and the model is reloaded
before each run so that parameters never leak from one run to the next. A subscripted model is
run with ``flatten_output=False`` and each variable comes back with its subscript axes, in the
order of :attr:`model.spec.Variable.dims` (the layout of the vectorized engine).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from . import MODEL_PATH
from .cache import translated_model_path
from .result import RunResult
from .spec import load_spec

import pysd


def load_pysd_model(mdl_path: str | Path = MODEL_PATH):
    """Load the PySD model of ``mdl_path`` from the translation cache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.load(str(translated_model_path(mdl_path)))


class PySDEngine:
    """Run the ``.mdl`` with PySD, one parameter set per call.

    Parameters
    ----------
    mdl_path : path-like
        The Vensim model file.
    """

    def __init__(self, mdl_path: str | Path = MODEL_PATH):
        self.mdl_path = Path(mdl_path)
        self.spec = load_spec(self.mdl_path)
        self._model = load_pysd_model(self.mdl_path)

    def control(self) -> dict[str, float]:
        """The control values written in the ``.mdl`` (initial/final time, time step, saveper)."""
        return {name: self.spec.variables[name].value for name in
                ("initial_time", "final_time", "time_step", "saveper")}

    def run(
        self,
        params: Mapping[str, float] | None = None,
        *,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        return_columns: Sequence[str] | None = None,
    ) -> RunResult:
        """Run once and return the saved trajectories.

        Parameters
        ----------
        params : mapping of str to float, optional
            Constant overrides by Python name. They are not range-checked here (extreme-condition
            tests need values outside the documented ranges); use ``ModelSpec.validate`` for user
            input.
        final_time, time_step, saveper : float, optional
            Control overrides [Year]; default to the ``.mdl`` values.
        return_columns : sequence of str, optional
            Variables to return (Python names); default: every stock, flow, auxiliary and constant.
        """
        control = self.control()
        final_time = control["final_time"] if final_time is None else final_time
        time_step = control["time_step"] if time_step is None else time_step
        saveper = control["saveper"] if saveper is None else saveper
        if return_columns is None:
            return_columns = [
                name for name, var in self.spec.variables.items()
                if var.kind in ("stock", "auxiliary", "constant")
            ]
        unknown = [name for name in (params or {}) if name not in self.spec.variables]
        if unknown:
            raise KeyError(f"unknown model variables {unknown}; use the Python names of the .mdl")
        subscripted = bool(self.spec.coords)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._model.reload()
            frame = self._model.run(
                params={name: self._pysd_value(name, value) for name, value in (params or {}).items()},
                return_columns=list(return_columns),
                final_time=final_time,
                time_step=time_step,
                saveper=saveper,
                progress=False,
                **({"flatten_output": False} if subscripted else {}),
            )
        result = RunResult(time=frame.index.to_numpy(dtype=float))
        for name in return_columns:
            dims = self.spec.variables[name].dims
            if not dims:
                result.values[name] = frame[name].to_numpy(dtype=float)
                continue
            result.values[name] = np.array([cell.transpose(*dims).values if hasattr(cell, "dims") else
                                            np.broadcast_to(cell, self._shape(name))
                                            for cell in frame[name]], dtype=float)
            result.dims[name] = dims
            result.coords.update({dim: self.spec.coords[dim] for dim in dims})
        return result

    def _shape(self, name: str) -> tuple:
        return tuple(len(self.spec.coords[dim]) for dim in self.spec.variables[name].dims)

    def _pysd_value(self, name: str, value):
        """A parameter as PySD takes it: a float, or a DataArray over the variable's subscripts."""
        dims = self.spec.variables[name].dims
        if not dims:
            return float(np.asarray(value, dtype=float))
        array = np.broadcast_to(np.asarray(value, dtype=float), self._shape(name)).copy()
        return xr.DataArray(array, {dim: list(self.spec.coords[dim]) for dim in dims}, list(dims))
