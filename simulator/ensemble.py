"""The point run and the Monte Carlo ensemble over the calibrated parameter uncertainty.

The ensemble draws its members from the joint parameter draws that calibration stores in
``calibrated.uncertainty`` (resampled with replacement, seeded). Parameters set by the scenario or
the command line stay fixed in every member. Prediction bands add the observation error of the
official statistics (``calibrated.uncertainty.observation_noise``) to each member.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from base.paramfile import Uncertainty
from model.engines import PySDEnsemble
from model.result import RunResult

from .config import ResolvedParameters

#: Percentiles of the prediction bands written to ``outputs.nc``. The banded variables are the
#: outputs declared with ``band: true`` (:mod:`model.outputs`).
BAND_PERCENTILES = (5, 50, 95)


def draw_members(resolved: ResolvedParameters, uncertainty: Uncertainty, n_samples: int,
                 rng: np.random.Generator) -> dict[str, np.ndarray | float]:
    """Parameter values of ``n_samples`` ensemble members.

    Calibrated parameters vary jointly (rows of the draws, resampled with replacement); those
    fixed by the scenario or the command line, and all others, keep one value.
    """
    members: dict[str, np.ndarray | float] = dict(resolved.values)
    if n_samples == 0 or not uncertainty.available:
        return members
    rows = rng.integers(0, uncertainty.draws.shape[0], size=n_samples)
    fixed = resolved.fixed_by_user()
    for j, name in enumerate(uncertainty.parameters):
        if name not in fixed:
            members[name] = uncertainty.draws[rows, j]
    return members


def prediction_bands(ensemble_values: Mapping[str, np.ndarray], noise: Mapping[str, float],
                     rng: np.random.Generator,
                     percentiles: Sequence[float] = BAND_PERCENTILES) -> dict[str, np.ndarray]:
    """Percentiles over members of each band variable plus its observation noise.

    Parameters
    ----------
    ensemble_values : mapping of str to ndarray
        Member trajectories of the banded variables, in the order the noise is drawn, shaped
        ``(n_time, n_samples, *subscripts)``.
    noise : mapping of str to float
        Standard deviation of the observation error per variable (same units); missing = 0.
    rng : numpy.random.Generator
        Source of the observation errors (seeded by the caller).

    Returns
    -------
    dict
        ``{f"{name}_p{q:02d}": ndarray of shape (n_time, *subscripts)}``.
    """
    bands = {}
    for name in ensemble_values:
        values = np.asarray(ensemble_values[name], dtype=float)
        sigma = float(noise.get(name, 0.0))
        observed = values + rng.normal(0.0, sigma, size=values.shape) if sigma > 0 else values
        for q in percentiles:
            bands[f"{name}_p{int(q):02d}"] = np.percentile(observed, q, axis=1)
    return bands


def predictive_draws(values: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Member values plus observation noise with standard deviation ``sigma``."""
    values = np.asarray(values, dtype=float)
    return values + rng.normal(0.0, sigma, size=values.shape) if sigma > 0 else values


def run_engine(engine, params: Mapping[str, Any], n_samples: int | None, settings: Mapping[str, Any],
               return_columns: Sequence[str] | None = None, progress: bool = False) -> RunResult:
    """Run ``engine`` with the run settings of :func:`simulator.config.check_run_settings`."""
    kwargs = dict(final_time=settings["final_time"], time_step=settings["time_step"], saveper=1.0,
                  method=settings["method"], return_columns=return_columns)
    if isinstance(engine, PySDEnsemble):
        kwargs["progress"] = progress
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return engine.run(params=params, n_samples=n_samples, **kwargs)
