"""Simple forecasting baselines the model must beat (design/reference.md, "Forecasting baselines").

- :func:`un_wup_share`: the UN World Urbanization Prospects method. The urban-rural growth
  difference d = ln(U_t/U_{t-1}) - ln(R_t/R_{t-1}) is held constant, so the urban share is a
  logistic: PU_t = e^{s0 + d (t - t0)} / (1 + e^{s0 + d (t - t0)}), s0 = ln(U_0/R_0). Since
  U/R = PU/(1 - PU), two observations of the share fix it.
- :func:`linear_trend`: ordinary least squares line through the training values.
- :func:`constant_growth`: constant exponential growth between the first and last training value (the
  population analogue of the UN method: the growth rate of the last period is held constant).
"""
from __future__ import annotations

import numpy as np


def _check(years, values, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    years = np.asarray(years, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    if years.shape != values.shape:
        raise ValueError("years and values must have the same length")
    if years.size < minimum:
        raise ValueError(f"the baseline needs at least {minimum} training observations, got {years.size}")
    if np.unique(years).size != years.size:
        raise ValueError("training years must be distinct")
    order = np.argsort(years)
    return years[order], values[order]


def un_wup_share(years, share_pct, target_years) -> np.ndarray:
    """Urban share [%] projected by the UN WUP method from the first and last training observation.

    Parameters
    ----------
    years : array-like
        Training years [Year] (the first and last are used, as the UN uses the latest period).
    share_pct : array-like
        Urban share in each training year [%], strictly between 0 and 100.
    target_years : array-like
        Years to project [Year].

    Returns
    -------
    numpy.ndarray
        Projected urban share [%].
    """
    years, share = _check(years, share_pct, 2)
    if np.any(share <= 0) or np.any(share >= 100):
        raise ValueError("the urban share must be strictly between 0 and 100 %")
    logit = np.log(share / (100.0 - share))  # ln(U/R)
    d = (logit[-1] - logit[0]) / (years[-1] - years[0])  # urban-rural growth difference [1/Year]
    s = logit[0] + d * (np.asarray(target_years, dtype=float) - years[0])
    return 100.0 / (1.0 + np.exp(-s))


def linear_trend(years, values, target_years) -> np.ndarray:
    """OLS straight line through the training values, evaluated at ``target_years``."""
    years, values = _check(years, values, 2)
    slope, intercept = np.polyfit(years, values, 1)
    return intercept + slope * np.asarray(target_years, dtype=float)


def constant_growth(years, values, target_years) -> np.ndarray:
    """Constant exponential growth rate between the first and last training values."""
    years, values = _check(years, values, 2)
    if np.any(values <= 0):
        raise ValueError("constant growth needs positive values")
    rate = np.log(values[-1] / values[0]) / (years[-1] - years[0])
    return values[-1] * np.exp(rate * (np.asarray(target_years, dtype=float) - years[-1]))
