"""The reference engine: one run at a time through PySD.

Every control argument is passed explicitly on each call (PySD keeps ``run()`` arguments on the
model object between calls, see design/pysd-notes.md, pitfall 3), and the model is reloaded
before each run so that parameters never leak from one run to the next.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import MODEL_PATH
from .cache import translated_model_path
from .spec import load_spec

import pysd


@dataclass
class RunResult:
    """Trajectories of one or many runs.

    Attributes
    ----------
    time : numpy.ndarray
        Saved times [Year], shape ``(n_time,)``.
    values : dict of str to numpy.ndarray
        One array per variable, shape ``(n_time,)`` for a single run or ``(n_time, n_samples)``
        for an ensemble (plus subscript axes, if any).
    """

    time: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._model.reload()
            frame = self._model.run(
                params=dict(params or {}),
                return_columns=list(return_columns),
                final_time=final_time,
                time_step=time_step,
                saveper=saveper,
                progress=False,
            )
        result = RunResult(time=frame.index.to_numpy(dtype=float))
        for name in return_columns:
            column = frame[name]
            result.values[name] = column.to_numpy(dtype=float)
        return result
