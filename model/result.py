"""The result type both engines return (:class:`RunResult`): trajectories with named dimensions.

Neutral ground between :mod:`model.pysd_engine` and :mod:`model.vectorized`: neither engine
imports the other's types.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RunResult:
    """Trajectories of one or many runs, with the subscript dimensions of each variable.

    Attributes
    ----------
    time : numpy.ndarray
        Saved times [Year], shape ``(n_time,)``.
    values : dict of str to numpy.ndarray
        One array per variable: ``(n_time, *subscript shape)`` for a single run of
        :class:`model.pysd_engine.PySDEngine`, ``(n_time, n_samples, *subscript shape)`` from the
        ensemble engines (:mod:`model.engines`).
    dims : dict of str to tuple of str
        Subscript ranges of each variable, in the order of its trailing axes (empty for scalars;
        a variable missing here is a scalar).
    coords : dict of str to tuple of str
        Elements of every subscript range named in ``dims``.
    """

    time: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    dims: dict[str, tuple] = field(default_factory=dict)
    coords: dict[str, tuple] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def dims_of(self, name: str) -> tuple:
        """Subscript ranges of variable ``name`` (empty for a scalar)."""
        return tuple(self.dims.get(name, ()))
