"""The two engines behind one call signature, and the choice between them.

Both run many parameter sets per call (the interface of
:class:`model.vectorized.VectorizedModel`)::

    engine.run(params={name: scalar or 1-D array of length n_samples}, n_samples=n,
               final_time=..., time_step=..., saveper=..., method="euler",
               return_columns=[...]) -> RunResult

with ``values[name]`` shaped ``(n_time, n_samples)``.

- ``vectorized`` (default): the numpy engine generated from the ``.mdl``; one call runs every
  parameter set of an ensemble, a Jacobian or a bootstrap at once.
- ``pysd``: the PySD reference engine, one run per parameter set (0.3-1 s each); for checks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import MODEL_PATH
from .pysd_engine import PySDEngine
from .result import RunResult

from tqdm import tqdm

from .vectorized import VectorizedModel

ENGINES = ("vectorized", "pysd")


class PySDEnsemble:
    """Run a batch of parameter sets with PySD, one after the other (slow; the reference).

    Parameters
    ----------
    mdl_path : path-like
        The Vensim model file.
    engine : PySDEngine, optional
        An already loaded PySD engine to reuse.
    """

    def __init__(self, mdl_path: str | Path = MODEL_PATH, engine: PySDEngine | None = None):
        self.engine = engine or PySDEngine(mdl_path)
        self.variables = self.engine.spec.variables

    def run(
        self,
        params: Mapping[str, float | np.ndarray] | None = None,
        n_samples: int | None = None,
        *,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        method: str = "euler",
        return_columns: Sequence[str] | None = None,
        progress: bool = False,
    ) -> RunResult:
        """Run every parameter set; see the module docstring for the interface.

        Raises
        ------
        ValueError
            For ``method="rk4"`` (PySD integrates with Euler only) or arrays whose length differs
            from ``n_samples``.
        """
        if method != "euler":
            raise ValueError("engine=pysd integrates with Euler only; use engine=vectorized for rk4")
        params = dict(params or {})
        sizes = {np.shape(v)[0] for name, v in params.items()
                 if np.ndim(v) > 0 and not self._per_element(name, v)}
        if n_samples is None:
            n_samples = max(sizes) if sizes else 1
        if any(size != n_samples for size in sizes):
            raise ValueError(f"parameter arrays must have length n_samples={n_samples}, got {sizes}")
        members = range(n_samples)
        if progress and n_samples > 1:
            members = tqdm(members, desc="pysd ensemble", unit="run")
        results = []
        for k in members:
            one = {name: self._member_value(name, v, k, n_samples) for name, v in params.items()}
            results.append(self.engine.run(one, final_time=final_time, time_step=time_step,
                                           saveper=saveper, return_columns=return_columns))
        values = {name: np.stack([r.values[name] for r in results], axis=1)
                  for name in results[0].values}
        return RunResult(time=results[0].time, values=values, dims=results[0].dims,
                         coords=results[0].coords)

    def _per_element(self, name: str, value) -> bool:
        """Whether ``value`` is shaped like the subscripts of ``name`` (the same for every member)."""
        dims = self.variables[name].dims if name in self.variables else ()
        return bool(dims) and np.shape(value) == tuple(len(self.engine.spec.coords[d]) for d in dims)

    def _member_value(self, name: str, value, k: int, n_samples: int):
        """Member ``k``'s value of a parameter given as the vectorized engine takes it.

        Scalars apply to every member; a 1-D array of length ``n_samples`` gives one value per
        member; a subscripted parameter may be shaped ``(*dims)`` (every member) or
        ``(n_samples, *dims)``.
        """
        array = np.asarray(value, dtype=float)
        if array.ndim == 0 or self._per_element(name, array):
            return array if array.ndim else float(array)
        if array.ndim > 1:
            return array[k]
        return float(array[k])


def make_engine(name: str = "vectorized", mdl_path: str | Path = MODEL_PATH):
    """Return the engine ``name`` (``vectorized`` or ``pysd``) for ``mdl_path``.

    Raises
    ------
    ValueError
        If ``name`` is not an engine (the message lists them).
    """
    if name == "pysd":
        return PySDEnsemble(mdl_path)
    if name == "vectorized":
        return VectorizedModel.from_mdl(mdl_path)
    raise ValueError(f"unknown engine {name!r}: use engine=vectorized or engine=pysd")
