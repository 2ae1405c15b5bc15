"""Summary statistics of historical fit (Sterman 1984; formulas in design/reference.md).

``simulated`` is S_t and ``observed`` is A_t, t = 1..n. Means and standard deviations are population
moments (divide by n); r is the correlation of S and A.

- MAPE = (100/n) sum |S - A| / |A|                                    [%]
- RMSE = sqrt((1/n) sum (S - A)^2)                                   [units of the series]
- MSE  = (mean S - mean A)^2 + (s_S - s_A)^2 + 2 (1 - r) s_S s_A
- U^M = (mean S - mean A)^2 / MSE (bias), U^S = (s_S - s_A)^2 / MSE (unequal variation),
  U^C = 2 (1 - r) s_S s_A / MSE (unequal covariation); U^M + U^S + U^C = 1.
- Theil U = RMSE / (sqrt(mean A^2) + sqrt(mean S^2))                 [Dmnl, 0 = perfect]
- R^2 is the squared correlation r^2 of S and A (Sterman's definition), for the levels and for the
  year-on-year changes (first differences), because on a trending series the R^2 of levels is close
  to 1 for almost any monotone model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class FitStatistics:
    """Summary statistics of one simulated series against its observations.

    Attributes
    ----------
    n : int
        Number of paired observations.
    mape : float
        Mean absolute percentage error [%].
    rmse : float
        Root mean square error [units of the series].
    mse : float
        Mean square error [units squared].
    theil_u : float
        Theil inequality coefficient [Dmnl]; NaN when both series are zero.
    u_bias, u_variance, u_covariance : float
        U^M, U^S, U^C [Dmnl], summing to 1; NaN when MSE is 0 (a perfect fit).
    r2_levels : float
        Squared correlation of the levels [Dmnl]; NaN if either series is constant or n < 2.
    r2_changes : float
        Squared correlation of the first differences [Dmnl]; NaN if n < 3 or a change series is
        constant.
    """

    n: int
    mape: float
    rmse: float
    mse: float
    theil_u: float
    u_bias: float
    u_variance: float
    u_covariance: float
    r2_levels: float
    r2_changes: float

    def as_dict(self) -> dict:
        return asdict(self)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2:
        return math.nan
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return math.nan
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def _as_pair(simulated, observed) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(simulated, dtype=float).ravel()
    a = np.asarray(observed, dtype=float).ravel()
    if s.shape != a.shape:
        raise ValueError(f"simulated ({s.size}) and observed ({a.size}) must have the same length")
    if s.size == 0:
        raise ValueError("no observations: pass at least one (simulated, observed) pair")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(a))):
        raise ValueError("simulated and observed values must be finite numbers")
    return s, a


def theil_decomposition(simulated, observed) -> tuple[float, float, float, float]:
    """Return (MSE, U^M, U^S, U^C) with population moments (Sterman 1984).

    Parameters
    ----------
    simulated, observed : array-like
        Paired values [units of the series].
    """
    s, a = _as_pair(simulated, observed)
    mse = float(np.mean((s - a) ** 2))
    if mse == 0.0:
        return 0.0, math.nan, math.nan, math.nan
    s_s, s_a = s.std(), a.std()
    r = _correlation(s, a)
    r = 0.0 if math.isnan(r) else r  # a constant series: the covariance term is s_S s_A (= 0 anyway)
    bias = (s.mean() - a.mean()) ** 2
    variance = (s_s - s_a) ** 2
    covariance = 2.0 * (1.0 - r) * s_s * s_a
    return mse, bias / mse, variance / mse, covariance / mse


def fit_statistics(simulated, observed) -> FitStatistics:
    """Compute MAPE, RMSE, Theil U and its decomposition, and R^2 of levels and changes.

    Parameters
    ----------
    simulated, observed : array-like
        Paired values of one series in time order [units of the series]. ``observed`` must be
        non-zero for the MAPE.

    Returns
    -------
    FitStatistics
    """
    s, a = _as_pair(simulated, observed)
    if np.any(a == 0):
        raise ValueError("observed values must be non-zero for the MAPE")
    mse, u_m, u_s, u_c = theil_decomposition(s, a)
    rmse = math.sqrt(mse)
    denominator = math.sqrt(np.mean(a ** 2)) + math.sqrt(np.mean(s ** 2))
    theil_u = rmse / denominator if denominator > 0 else math.nan
    r_levels = _correlation(s, a)
    r_changes = _correlation(np.diff(s), np.diff(a)) if s.size >= 3 else math.nan
    return FitStatistics(
        n=int(s.size),
        mape=float(100.0 * np.mean(np.abs(s - a) / np.abs(a))),
        rmse=rmse,
        mse=mse,
        theil_u=float(theil_u),
        u_bias=u_m,
        u_variance=u_s,
        u_covariance=u_c,
        r2_levels=r_levels ** 2 if not math.isnan(r_levels) else math.nan,
        r2_changes=r_changes ** 2 if not math.isnan(r_changes) else math.nan,
    )
