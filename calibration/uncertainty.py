"""Parameter uncertainty: parametric bootstrap (joint draws), local (Laplace) covariance,
interval summaries, correlations and identifiability flags.

Why a parametric bootstrap: with 1-6 figures per series, resampling residuals within a series
reuses the same 4-6 numbers and cannot cover the single-figure series (hukou 2018, settled
2016-2020); simulating new data sets from the fitted model with the estimated noise, and refitting
each one, propagates every series' noise through the nonlinear model and the bounds (Dogan 2007
recommends bootstrap intervals for SD models). The refits run all together on the engine's sample
axis (:func:`calibration.fit.batched_levenberg_marquardt`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .fit import batched_levenberg_marquardt
from .objective import Problem

#: A parameter whose 90 % interval covers more than this share of its documented range is flagged.
WIDE_INTERVAL_SHARE = 0.5
#: Correlations above this (in absolute value) are flagged as confounding.
HIGH_CORRELATION = 0.95


@dataclass
class BootstrapResult:
    """Refits of simulated data sets.

    Attributes
    ----------
    x : numpy.ndarray
        Refitted parameters on the unit cube, shape ``(n_draws, p)``.
    theta : numpy.ndarray
        Refitted parameter values, shape ``(n_draws, p)``.
    cost : numpy.ndarray
        Cost of each refit.
    data : numpy.ndarray
        The simulated data sets, shape ``(n_draws, n_obs)`` [series units].
    u : numpy.ndarray or None
        Structural parameter values held fixed in each refit, shape ``(n_draws, q)`` (joint draws;
        ``None`` when every refit used the same values).
    particle : numpy.ndarray or None
        Index of the structural-posterior particle each draw was simulated from.
    """

    x: np.ndarray
    theta: np.ndarray
    cost: np.ndarray
    data: np.ndarray
    u: np.ndarray | None = None
    particle: np.ndarray | None = None


def parametric_bootstrap(problem: Problem, x_hat: np.ndarray, n_draws: int, seed: int,
                         batch: int = 125, max_iter: int = 40,
                         noise_dof: dict | None = None, u: np.ndarray | None = None) -> BootstrapResult:
    """Simulate ``n_draws`` data sets from the fit and refit each one.

    Data set b is y*_b = f(theta_hat) + sigma_b * e_b with e_b standard normal (seeded), and
    theta*_b minimises the same weighted least squares from theta_hat.

    With structural uncertainty (joint draws), draw b starts from its own fit: ``x_hat`` holds one
    row per draw (the profile fit of a posterior particle) and ``u`` the particle's structural
    values, which stay fixed in the refit; y*_b = f(theta_hat_b, u_b) + sigma_b e_b.

    For a series whose noise was estimated from nu residual degrees of freedom, sigma_b is drawn
    from the scaled inverse chi-square distribution sigma_hat^2 nu / chi2_nu (the posterior of sigma
    under the Jeffreys prior) instead of being held at sigma_hat. With 4-6 figures per series nu is
    2-4, and holding sigma at its estimate gives intervals that are too narrow: on data generated
    by the model, nominal 90 % intervals covered the truth only ~78 % of the time
    (tests/test_calibration_fit.py and calibration/README.md).

    Parameters
    ----------
    problem : Problem
        The calibration problem at its final noise.
    x_hat : numpy.ndarray
        The point estimate on the unit cube, shape ``(p,)``, or one per draw ``(n_draws, p)``.
    n_draws : int
        Number of simulated data sets.
    seed : int
        Seed of the noise.
    batch : int
        Data sets refitted per engine call (memory: batch x (p+1) model runs per call).
    max_iter : int
        Levenberg-Marquardt iterations per batch.
    noise_dof : dict of str to float, optional
        Residual degrees of freedom of the series whose noise was estimated (others keep their
        fixed sigma).
    u : numpy.ndarray, optional
        Values of the problem's ``varying`` (structural) parameters: one vector ``(q,)`` for every
        draw or one row per draw ``(n_draws, q)``.
    """
    if n_draws < 1:
        raise ValueError("the bootstrap needs at least one draw")
    rng = np.random.default_rng(seed)
    centres = np.atleast_2d(np.asarray(x_hat, dtype=float))
    if centres.shape[0] == 1:
        centres = np.repeat(centres, n_draws, axis=0)
    if centres.shape[0] != n_draws:
        raise ValueError(f"x_hat must have one row or {n_draws} rows, got {centres.shape[0]}")
    u_rows = problem.varying_values(u, n_draws)
    unique, inverse = np.unique(centres if u_rows is None else np.hstack([centres, u_rows]), axis=0,
                                return_inverse=True)
    p = centres.shape[1]
    fitted = problem.predict(unique[:, :p], None if u_rows is None else unique[:, p:])[inverse.ravel()]
    sigma = np.repeat(problem.sigma[None, :], n_draws, axis=0)
    for name, dof in sorted((noise_dof or {}).items()):
        rows = problem.observations.index_of(name)
        scale = np.sqrt(dof / rng.chisquare(dof, size=n_draws))
        sigma[:, rows] *= scale[:, None]
    data = fitted + sigma * rng.standard_normal(fitted.shape)
    x = np.empty_like(centres)
    cost = np.empty(n_draws)
    for start in range(0, n_draws, batch):
        stop = min(start + batch, n_draws)
        x[start:stop], cost[start:stop] = batched_levenberg_marquardt(
            problem, centres[start:stop], data[start:stop], max_iter=max_iter,
            u=None if u_rows is None else u_rows[start:stop])
    return BootstrapResult(x=x, theta=problem.to_theta(x), cost=cost, data=data, u=u_rows)


def laplace_covariance(problem: Problem, x_hat: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
    """Local covariance (J'J)^+ of the parameters at the fit, in parameter units.

    Uses the weighted Jacobian (weights 1/sigma), so it is the inverse Fisher information of the
    Gaussian likelihood with the noise held at its estimate. Parameters on a bound are included
    (the approximation is then poor, which the report says). ``u``: structural values held fixed.
    """
    _, jac = problem.residuals_and_jacobian(x_hat[None, :], u=u)
    information = jac[0].T @ jac[0]
    cov_unit = np.linalg.pinv(information, rcond=1e-12)
    scale = problem.upper - problem.lower
    return cov_unit * np.outer(scale, scale)


def correlation(theta: np.ndarray) -> np.ndarray:
    """Correlation matrix of parameter draws (rows = draws); NaN for a constant column."""
    theta = np.asarray(theta, dtype=float)
    centred = theta - theta.mean(axis=0)
    sd = centred.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred.T @ centred) / theta.shape[0] / np.outer(sd, sd)
    return corr


def summarise(problem: Problem, theta_hat: np.ndarray, draws: np.ndarray, laplace_cov: np.ndarray,
              level: float = 0.90) -> pd.DataFrame:
    """One row per parameter: estimate, interval, spread, and identifiability flags.

    Columns: ``parameter``, ``kind`` (model / nuisance), ``estimate``, ``lower``/``upper`` (the
    ``level`` percentile interval of the bootstrap), ``bootstrap_sd``, ``laplace_sd``,
    ``range_low``/``range_high`` (documented range), ``interval_share`` (interval width over the
    range), ``at_bound`` (estimate on a bound), ``max_abs_corr`` and ``most_correlated_with``,
    ``identified`` (bool) and ``note``.
    """
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    corr = correlation(draws)
    rows = []
    n_model = len(problem.model_parameters)
    for j, name in enumerate(problem.names):
        span = problem.upper[j] - problem.lower[j]
        share = (high[j] - low[j]) / span
        others = np.abs(np.nan_to_num(corr[j], nan=0.0)).copy()
        others[j] = 0.0
        k = int(np.argmax(others)) if others.size > 1 else j
        at_bound = bool(np.isclose(theta_hat[j], problem.lower[j], atol=1e-9 * span)
                        or np.isclose(theta_hat[j], problem.upper[j], atol=1e-9 * span))
        notes = []
        if share > WIDE_INTERVAL_SHARE:
            notes.append(f"90% interval covers {share:.0%} of the documented range")
        if others.size > 1 and others[k] > HIGH_CORRELATION:
            notes.append(f"|correlation| {others[k]:.2f} with {problem.names[k]}")
        if at_bound:
            notes.append("estimate on a bound of the range")
        identified = share <= WIDE_INTERVAL_SHARE and not (others.size > 1 and others[k] > HIGH_CORRELATION)
        rows.append({
            "parameter": name, "kind": "model" if j < n_model else "nuisance",
            "estimate": theta_hat[j], "lower": low[j], "upper": high[j],
            "bootstrap_sd": draws[:, j].std(ddof=1) if draws.shape[0] > 1 else np.nan,
            "laplace_sd": float(np.sqrt(max(laplace_cov[j, j], 0.0))),
            "range_low": problem.lower[j], "range_high": problem.upper[j],
            "interval_share": share, "at_bound": at_bound,
            "max_abs_corr": others[k] if others.size > 1 else np.nan,
            "most_correlated_with": problem.names[k] if others.size > 1 else "",
            "identified": identified,
            "note": "; ".join(notes) if notes else "identified by the data",
        })
    return pd.DataFrame(rows)
