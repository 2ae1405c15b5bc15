"""The model runs the calibration needs: many parameter sets per call, on a sample axis.

Both engines share one interface (that of :class:`model.vectorized.VectorizedModel`)::

    engine.run(params={name: scalar or 1-D array of length n_samples}, n_samples=n,
               final_time=..., time_step=..., saveper=..., return_columns=[...]) -> RunResult

with ``values[name]`` shaped ``(n_time, n_samples)``.

- ``vectorized`` (default): the numpy engine generated from the ``.mdl`` (one call runs every
  parameter set of a Jacobian, a multistart or a bootstrap at once).
- ``pysd``: the PySD reference engine, one run per parameter set (about 0.3-1 s each); for checks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from model import MODEL_PATH
from model.pysd_engine import PySDEngine, RunResult

ENGINES = ("vectorized", "pysd")


class PySDEnsemble:
    """Run a batch of parameter sets with PySD, one after the other (slow; for checking).

    Parameters
    ----------
    mdl_path : path-like
        The Vensim model file.
    """

    def __init__(self, mdl_path: str | Path = MODEL_PATH):
        self.engine = PySDEngine(mdl_path)

    def run(
        self,
        params: Mapping[str, float | np.ndarray] | None = None,
        n_samples: int | None = None,
        *,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        return_columns: Sequence[str] | None = None,
    ) -> RunResult:
        """Run every parameter set; see the module docstring for the interface."""
        params = dict(params or {})
        sizes = {np.size(v) for v in params.values() if np.ndim(v) > 0}
        if n_samples is None:
            n_samples = max(sizes) if sizes else 1
        if any(size != n_samples for size in sizes):
            raise ValueError(f"parameter arrays must have length n_samples={n_samples}, got {sizes}")
        results = []
        for k in range(n_samples):
            one = {name: float(np.ravel(v)[k] if np.ndim(v) > 0 else v) for name, v in params.items()}
            results.append(self.engine.run(one, final_time=final_time, time_step=time_step,
                                           saveper=saveper, return_columns=return_columns))
        values = {name: np.stack([r.values[name] for r in results], axis=1)
                  for name in results[0].values}
        return RunResult(time=results[0].time, values=values)


def make_engine(name: str = "vectorized", mdl_path: str | Path = MODEL_PATH):
    """Return the ensemble engine ``name`` (``vectorized`` or ``pysd``) for ``mdl_path``.

    Raises
    ------
    ValueError
        If ``name`` is not an engine, or ``vectorized`` is asked for but ``model/vectorized.py``
        is not available (the message says to use ``engine=pysd``).
    """
    if name == "pysd":
        return PySDEnsemble(mdl_path)
    if name == "vectorized":
        try:
            from model.vectorized import VectorizedModel
        except ImportError as error:
            raise ValueError(
                f"the vectorized engine is not available ({error}); run with engine=pysd "
                f"(slow: about 0.3-1 s per model run) or install model/vectorized.py"
            ) from None
        return VectorizedModel.from_mdl(mdl_path)
    raise ValueError(f"unknown engine {name!r}; choose one of {ENGINES}")
