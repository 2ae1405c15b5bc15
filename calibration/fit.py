"""Fitting: multistart bounded least squares (scipy), noise estimation, and a batched
Levenberg-Marquardt solver that refits many data sets in the same engine calls (bootstrap).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import qmc

from .objective import Problem


@dataclass
class StartResult:
    """One local fit from one start.

    Attributes
    ----------
    start : numpy.ndarray
        Starting point on the unit cube.
    x : numpy.ndarray
        Solution on the unit cube.
    cost : float
        Half the weighted sum of squared residuals at the solution.
    status : int
        scipy's termination status.
    nfev : int
        Residual evaluations.
    """

    start: np.ndarray
    x: np.ndarray
    cost: float
    status: int
    nfev: int


@dataclass
class MultistartResult:
    """All starts of a multistart fit and whether they agree.

    Attributes
    ----------
    starts : list of StartResult
        Every local fit, in the order of the starts.
    best : StartResult
        The lowest cost.
    n_agree : int
        Starts whose cost is within ``cost_tolerance`` of the best (relative, plus an absolute 1e-6).
    max_spread : numpy.ndarray
        For each parameter, the largest distance [unit-cube] between the best solution and the
        solution of an agreeing start (a large spread at equal cost means a flat direction).
    """

    starts: list
    best: StartResult
    n_agree: int
    max_spread: np.ndarray
    cost_tolerance: float = 1e-4


def start_points(n_params: int, n_starts: int, seed: int, first: np.ndarray | None = None) -> np.ndarray:
    """Latin-hypercube starts on the unit cube, optionally led by ``first`` (e.g. the .mdl values).

    Parameters
    ----------
    n_params : int
        Dimension.
    n_starts : int
        Number of starts (including ``first``).
    seed : int
        Seed of the Latin hypercube.
    first : numpy.ndarray, optional
        A start to put first [unit cube].
    """
    n_random = n_starts - (first is not None)
    points = []
    if first is not None:
        points.append(np.clip(np.asarray(first, dtype=float), 0.0, 1.0))
    if n_random > 0:
        sampler = qmc.LatinHypercube(d=n_params, seed=np.random.default_rng(seed))
        points.extend(sampler.random(n_random))
    return np.array(points).reshape(-1, n_params)


def local_fit(problem: Problem, x0: np.ndarray, observed: np.ndarray | None = None,
              max_nfev: int = 200) -> StartResult:
    """Bounded trust-region least squares (scipy ``trf``) from ``x0`` on the unit cube."""
    cache: dict = {}

    def evaluate(x):
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            r, j = problem.residuals_and_jacobian(x[None, :], observed)
            cache[key] = (r[0], j[0])
        return cache[key]

    solution = least_squares(
        lambda x: evaluate(x)[0], np.clip(x0, 0.0, 1.0), jac=lambda x: evaluate(x)[1],
        bounds=(0.0, 1.0), method="trf", x_scale=1.0, ftol=1e-12, xtol=1e-12, gtol=1e-10,
        max_nfev=max_nfev,
    )
    return StartResult(start=np.asarray(x0, dtype=float), x=solution.x, cost=float(solution.cost),
                       status=int(solution.status), nfev=int(solution.nfev))


def multistart(problem: Problem, starts: np.ndarray, cost_tolerance: float = 1e-4) -> MultistartResult:
    """Run :func:`local_fit` from every start and summarise their agreement."""
    results = [local_fit(problem, x0) for x0 in starts]
    best = min(results, key=lambda r: r.cost)
    agree = [r for r in results if r.cost <= best.cost * (1 + cost_tolerance) + 1e-6]
    spread = np.max(np.abs(np.array([r.x for r in agree]) - best.x), axis=0)
    return MultistartResult(starts=results, best=best, n_agree=len(agree), max_spread=spread,
                            cost_tolerance=cost_tolerance)


def _damped_steps(normal: np.ndarray, gradient: np.ndarray, damping: np.ndarray, diag: np.ndarray,
                  blocked: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt steps of many sets at once, parameters on an active bound held.

    Solves (J'J + lambda diag(J'J)) step = -J'r over the free parameters of every set: a blocked
    parameter gets an identity row and column and a zero gradient, so its step is 0 and the other
    steps solve the free sub-system exactly. A singular system falls back to least squares.
    """
    n_sets, p = gradient.shape
    a = normal + damping[:, None, None] * (np.eye(p)[None, :, :] * diag[:, None, :])
    g = np.where(blocked, 0.0, gradient)
    keep = ~blocked
    a = a * (keep[:, :, None] & keep[:, None, :])
    a[:, np.arange(p), np.arange(p)] += blocked
    try:
        return -np.linalg.solve(a, g[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return np.stack([-np.linalg.lstsq(a[k], g[k], rcond=None)[0] for k in range(n_sets)])


def batched_levenberg_marquardt(problem: Problem, x0: np.ndarray, observed: np.ndarray,
                                max_iter: int = 40, tol: float = 1e-10,
                                u: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit many data sets at once: bounded Levenberg-Marquardt, one engine call per stage.

    Every iteration runs one Jacobian evaluation for all sets together, then one trial evaluation;
    each set keeps its own damping and accepts a step only if its cost falls. Bounds are handled by
    freezing parameters at a bound whose gradient points outwards and clipping the step.

    Parameters
    ----------
    problem : Problem
        The calibration problem (its sigma gives the weights).
    x0 : numpy.ndarray
        Starting points on the unit cube, shape ``(n_sets, p)``.
    observed : numpy.ndarray
        One data vector per set, shape ``(n_sets, n_obs)`` [series units], or one vector
        ``(n_obs,)`` for every set.
    max_iter : int
        Iterations.
    tol : float
        Relative cost decrease below which a set counts as converged.
    u : numpy.ndarray, optional
        Values of the problem's ``varying`` (structural) parameters, held fixed in each set's fit:
        shape ``(n_sets, q)`` or ``(q,)`` [parameter units].

    Returns
    -------
    x : numpy.ndarray
        Solutions, shape ``(n_sets, p)``.
    cost : numpy.ndarray
        Half the weighted sum of squares at the solutions, shape ``(n_sets,)``.
    """
    x = np.clip(np.array(x0, dtype=float), 0.0, 1.0)
    n_sets, p = x.shape
    observed = np.asarray(observed, dtype=float)
    if observed.ndim == 1:
        observed = np.repeat(observed[None, :], n_sets, axis=0)
    u = problem.varying_values(u, n_sets)
    damping = np.full(n_sets, 1e-3)
    active = np.ones(n_sets, dtype=bool)
    cost = np.full(n_sets, np.inf)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        u_idx = None if u is None else u[idx]
        r, jac = problem.residuals_and_jacobian(x[idx], observed[idx], u=u_idx)
        cost[idx] = 0.5 * np.sum(r ** 2, axis=1)
        gradient = np.einsum("sij,si->sj", jac, r)
        normal = np.einsum("sij,sik->sjk", jac, jac)
        blocked = ((x[idx] <= 0.0) & (gradient > 0)) | ((x[idx] >= 1.0) & (gradient < 0))
        diag = np.einsum("sjj->sj", normal).copy()
        diag = np.maximum(diag, 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300))
        step = _damped_steps(normal, gradient, damping[idx], diag, blocked)
        trial_x = np.clip(x[idx] + step, 0.0, 1.0)
        trial_r = problem.residuals(trial_x, observed[idx], u=u_idx)
        trial_cost = 0.5 * np.sum(trial_r ** 2, axis=1)
        better = trial_cost < cost[idx]
        improvement = np.where(better, (cost[idx] - trial_cost) / np.maximum(cost[idx], 1e-300), 0.0)
        x[idx[better]] = trial_x[better]
        cost[idx[better]] = trial_cost[better]
        damping[idx[better]] = np.maximum(damping[idx[better]] / 3.0, 1e-9)
        damping[idx[~better]] = damping[idx[~better]] * 4.0
        converged = (better & (improvement < tol)) | (damping[idx] > 1e8)
        active[idx[converged]] = False
    return x, cost


@dataclass
class NoiseEstimate:
    """Per-series observation noise and how it was obtained.

    Attributes
    ----------
    sigma : dict of str to float
        Standard deviation per series [series unit].
    method : dict of str to str
        ``estimated`` (leverage-corrected residual variance), ``fixed`` (justified value from the
        config) or ``floor`` (estimate below the reporting precision, raised to it).
    dof : dict of str to float
        Residual degrees of freedom of estimated series (n_s - sum of leverages).
    iterations : int
        Refits until the estimates settled.
    """

    sigma: dict
    method: dict
    dof: dict = field(default_factory=dict)
    iterations: int = 0


def leverages(jacobian: np.ndarray, x: np.ndarray, bound_tol: float = 1e-9) -> np.ndarray:
    """Diagonal of the weighted least-squares hat matrix J (J'J)^+ J' over parameters off their bounds."""
    free = (x > bound_tol) & (x < 1 - bound_tol)
    j = jacobian[:, free]
    if j.shape[1] == 0:
        return np.zeros(jacobian.shape[0])
    u, s, _ = np.linalg.svd(j, full_matrices=False)
    rank = int(np.sum(s > s.max() * 1e-10)) if s.size else 0
    return np.sum(u[:, :rank] ** 2, axis=1)


def estimate_noise(problem: Problem, x: np.ndarray, estimate: list, fixed: dict, floor: dict,
                   min_obs: int = 3) -> tuple[dict, dict, dict]:
    """One update of the per-series noise from the residuals at ``x``.

    sigma_s^2 = SSR_s / max(n_s - h_s, 1), with h_s the sum of the leverages of the series' rows
    (a REML-type correction: the fitted parameters absorb part of the residual variance).
    """
    r, jac = problem.residuals_and_jacobian(x[None, :])
    raw = r[0] * problem.sigma
    h = leverages(jac[0], x)
    sigma, method, dof = {}, {}, {}
    for name in problem.observations.series_names:
        rows = problem.observations.index_of(name)
        if name in estimate and rows.size >= min_obs:
            d = max(rows.size - float(h[rows].sum()), 1.0)
            value = float(np.sqrt(np.sum(raw[rows] ** 2) / d))
            dof[name] = d
            if value < floor.get(name, 0.0):
                sigma[name], method[name] = float(floor[name]), "floor"
            else:
                sigma[name], method[name] = value, "estimated"
        else:
            if name not in fixed:
                raise ValueError(
                    f"series {name!r} has {rows.size} observation(s): its noise cannot be estimated "
                    f"(needs {min_obs}); give a justified value in noise.fixed of the calibration config")
            sigma[name], method[name] = float(fixed[name]), "fixed"
    return sigma, method, dof


def set_sigma(problem: Problem, sigma: dict) -> None:
    """Set the per-observation noise of ``problem`` from a per-series mapping."""
    problem.sigma = problem.observations.table["series"].map(sigma).to_numpy(dtype=float)


def fit_with_noise(problem: Problem, starts: np.ndarray, estimate: list, fixed: dict, floor: dict,
                   min_obs: int = 3, max_rounds: int = 10, rtol: float = 1e-3) -> tuple[MultistartResult, NoiseEstimate]:
    """Alternate fits and noise updates until the noise settles, then a final multistart.

    Round 0 runs every start with the initial noise; later rounds refit locally from the best
    point; the final multistart (with the settled noise) is the one reported.
    """
    ms = multistart(problem, starts)
    x = ms.best.x
    sigma_old = None
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        sigma, method, dof = estimate_noise(problem, x, estimate, fixed, floor, min_obs=min_obs)
        set_sigma(problem, sigma)
        x = local_fit(problem, x).x
        if sigma_old is not None and all(
                abs(sigma[k] - sigma_old[k]) <= rtol * sigma_old[k] for k in sigma):
            break
        sigma_old = sigma
    final = multistart(problem, np.vstack([x[None, :], starts]))
    return final, NoiseEstimate(sigma=sigma, method=method, dof=dof, iterations=rounds)
