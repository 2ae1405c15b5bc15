"""Structural (prior) uncertainty: the posterior of the assumptions the data cannot pin down.

The calibration splits the model's uncertain constants in two roles:

- **fitted** parameters theta (``parameters`` in scenarios/calibrate.yaml): identified by the
  2015-2020 figures; their uncertainty comes from the likelihood (parametric bootstrap);
- **structural** parameters u (``uncertainty.structural.parameters``): assumptions with a documented
  range ``[min, max]`` in the ``.mdl`` that the figures identify weakly or not at all. Their prior is
  uniform on that range; the data update it through the *profile likelihood*
  L(u) = max_theta L(theta, u), i.e. exp(-cost(u)) with cost(u) the weighted least-squares cost
  after refitting theta with u held fixed (at the noise of the primary fit).

The posterior p(u | data) ~ prior(u) L(u) is sampled by **sequential Monte Carlo** (SMC; Del Moral,
Doucet & Jasra 2006): sampling-importance-resampling through tempered likelihoods L(u)^beta,
beta = 0 -> 1, with Metropolis moves between the steps. Why not one SIR step from the prior: on the
real data the likelihood weights of prior draws keep an effective sample size (ESS) of about 1 % of
the draws (the urbanization, birth-rate and water series pin a few combinations of the assumptions
sharply), so plain SIR would need ~10^5 profile refits for a usable ESS. Each SMC step reweights
the particles by L^(beta' - beta), with beta' chosen so that the ESS of the step is
``ess_fraction`` x N, resamples them (systematic resampling) and moves every particle by
``moves`` Metropolis steps targeting prior x L^beta: half of the particles try a Gaussian random
walk scaled by the particle covariance (2.38^2/q, adapted towards 25 % acceptance), the other half
redraw ``refresh_block`` random coordinates from the prior (an independence move that keeps weakly
informed directions mixing). Every proposal refits theta (batched Levenberg-Marquardt, warm-started
from the particle's theta, all particles on the engine's sample axis). The final particles are an
equally weighted sample of the posterior of u, each with its profile fit theta_hat(u).

Parameters with no effect on any fitted figure (checked on prior draws, e.g. the county-town gain,
which multiplies a lever that is 0 until 2020) are *data-free*: the likelihood does not depend on
them, so their posterior is exactly their prior; they are sampled independently (Latin hypercube)
and not moved.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import qmc

from .fit import batched_levenberg_marquardt
from .objective import Problem


class StructuralWarning(UserWarning):
    """The structural posterior may be unreliable (small effective sample size, poor mixing)."""


@dataclass(frozen=True)
class StructuralPrior:
    """Uniform priors of the structural parameters on their documented ranges.

    Attributes
    ----------
    names : tuple of str
        Parameter names (Python names of ``.mdl`` constants).
    lower, upper : numpy.ndarray
        Documented range of each [parameter units].
    mdl : numpy.ndarray
        The value written in the ``.mdl`` [parameter units].
    units : tuple of str
        Units of each parameter (from the ``.mdl``).
    """

    names: tuple
    lower: np.ndarray
    upper: np.ndarray
    mdl: np.ndarray
    units: tuple = ()

    @classmethod
    def from_spec(cls, spec, names: Sequence[str]) -> "StructuralPrior":
        """The priors of ``names`` from the model's documented ranges.

        Raises
        ------
        ValueError
            If a name is listed twice, is a policy lever (``Lever:`` comment; scenarios set levers,
            they are not uncertain), or has an empty range.
        """
        names = tuple(names)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"structural parameters listed twice: {duplicates}")
        problems = []
        for name in names:
            var = spec.check_name(name)
            if var.description.startswith("Lever"):
                problems.append(f"{name} is a policy lever ({var.description[:60]}...): scenarios set levers; "
                                f"remove it from uncertainty.structural.parameters")
            low, high = var.limits
            if not high > low:
                problems.append(f"{name} has an empty documented range [{low}, {high}]")
        if problems:
            raise ValueError("\n".join(problems))
        lower = np.array([spec.parameters[n].limits[0] for n in names], dtype=float)
        upper = np.array([spec.parameters[n].limits[1] for n in names], dtype=float)
        mdl = np.array([spec.parameters[n].value for n in names], dtype=float)
        units = tuple(spec.parameters[n].units.split("[")[0].strip() for n in names)
        return cls(names=names, lower=lower, upper=upper, mdl=mdl, units=units)

    @property
    def size(self) -> int:
        return len(self.names)

    def to_value(self, z: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates -> parameter values."""
        return self.lower + np.asarray(z, dtype=float) * (self.upper - self.lower)

    def to_unit(self, u: np.ndarray) -> np.ndarray:
        """Parameter values -> unit-cube coordinates."""
        return (np.asarray(u, dtype=float) - self.lower) / (self.upper - self.lower)


# ----------------------------------------------------------------------------------- small tools
def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of non-negative importance weights.

    Equals n for equal weights and 1 when one weight carries everything.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0 or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be a non-empty array of finite non-negative numbers")
    total = w.sum()
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    return float(total ** 2 / np.sum(w ** 2))


def log_weights_to_weights(log_weights: np.ndarray) -> np.ndarray:
    """Normalised weights from log-weights (shifted by the maximum; no overflow)."""
    lw = np.asarray(log_weights, dtype=float)
    w = np.exp(lw - np.max(lw))
    return w / w.sum()


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of a systematic resample of ``len(weights)`` particles (Kitagawa 1996)."""
    w = np.asarray(weights, dtype=float)
    n = w.size
    positions = (rng.random() + np.arange(n)) / n
    cumulative = np.cumsum(w)
    cumulative[-1] = 1.0
    return np.minimum(np.searchsorted(cumulative, positions), n - 1)


def ks_distance_uniform(z: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Kolmogorov-Smirnov distance between a (weighted) sample on [0, 1] and the uniform law.

    Parameters
    ----------
    z : numpy.ndarray
        Sample in unit-cube coordinates, shape ``(n,)``.
    weights : numpy.ndarray, optional
        Importance weights (default: equal).
    """
    z = np.asarray(z, dtype=float).ravel()
    w = np.full(z.size, 1.0 / z.size) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    order = np.argsort(z, kind="stable")
    zs, ws = z[order], w[order]
    upper = np.cumsum(ws)
    lower = upper - ws
    return float(max(np.max(upper - zs), np.max(zs - lower), 0.0))


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A Latin-hypercube sample of ``n`` points in ``[0, 1]^d`` (seeded through ``rng``)."""
    if d == 0:
        return np.zeros((n, 0))
    return qmc.LatinHypercube(d=d, seed=rng).random(n)


def profile_refit(problem: Problem, x_start: np.ndarray, u: np.ndarray, max_iter: int,
                  observed: np.ndarray | None = None, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Refit the fitted parameters of every set with its structural values ``u`` held fixed.

    Returns the solutions on the unit cube ``(n, p)`` and their costs ``(n,)`` (half the weighted sum
    of squares at the problem's noise: minus the profile log-likelihood up to a constant). ``tol``
    is the relative cost decrease below which a set stops (see
    :func:`calibration.fit.batched_levenberg_marquardt`).
    """
    observed = problem.observations.values if observed is None else observed
    if len(u) == 0:
        return np.zeros((0, problem.n_params)), np.zeros(0)
    return batched_levenberg_marquardt(problem, x_start, observed, max_iter=max_iter, tol=tol, u=u)


def find_data_free(problem: Problem, x_hat: np.ndarray, prior: StructuralPrior, rng: np.random.Generator,
                   n_checks: int = 16, tol: float = 1e-9) -> np.ndarray:
    """Which structural parameters have no effect on any fitted figure.

    For ``n_checks`` prior draws of all structural parameters, each parameter is set to the bottom
    and to the top of its range (the others kept) and the predictions at ``x_hat`` compared. A
    parameter whose change moves no prediction by more than ``tol`` noise standard deviations in any
    draw is data-free: the likelihood does not depend on it.

    Returns
    -------
    numpy.ndarray
        Boolean mask over ``prior.names``.
    """
    q = prior.size
    base = prior.to_value(latin_hypercube(n_checks, q, rng))
    rows = [base]
    for j in range(q):
        for end in (prior.lower[j], prior.upper[j]):
            changed = base.copy()
            changed[:, j] = end
            rows.append(changed)
    u = np.vstack(rows)
    predictions = problem.predict(np.repeat(x_hat[None, :], u.shape[0], axis=0), u=u)
    reference = predictions[:n_checks]
    free = np.zeros(q, dtype=bool)
    for j in range(q):
        start = n_checks * (1 + 2 * j)
        low = predictions[start:start + n_checks]
        high = predictions[start + n_checks:start + 2 * n_checks]
        change = np.maximum(np.abs(low - reference), np.abs(high - reference)) / problem.sigma
        free[j] = bool(np.all(np.isfinite(change)) and change.max() <= tol)
    return free


# ----------------------------------------------------------------------------------- SMC
@dataclass
class SMCStep:
    """One tempering step of the sampler.

    Attributes
    ----------
    beta : float
        Likelihood exponent reached.
    ess : float
        Effective sample size of the reweighting into this step (before resampling).
    acceptance_walk, acceptance_refresh : float
        Mean acceptance of the random-walk and prior-refresh moves at this temperature.
    distinct : int
        Distinct particles after the moves.
    scale : float
        Random-walk scale after adaptation [multiple of the particle covariance's square root].
    """

    beta: float
    ess: float
    acceptance_walk: float
    acceptance_refresh: float
    distinct: int
    scale: float


@dataclass
class StructuralPosterior:
    """An equally weighted sample of the structural posterior, with the profile fit of each particle.

    Attributes
    ----------
    prior : StructuralPrior
        The priors.
    u : numpy.ndarray
        Particles [parameter units], shape ``(n_particles, q)``.
    x : numpy.ndarray
        Profile fit of the fitted parameters at each particle [unit cube], shape ``(n_particles, p)``.
    cost : numpy.ndarray
        Profile cost of each particle (half the weighted SSR at the primary noise).
    steps : list of SMCStep
        The tempering steps.
    prior_sir_ess : float
        ESS of the likelihood weights exp(-cost) over the initial prior draws: what plain SIR from
        the prior would have kept out of ``n_particles``.
    data_free : numpy.ndarray
        Mask of parameters with no effect on any fitted figure (posterior = prior exactly).
    wall_time_s : float
        Wall time [s].
    """

    prior: StructuralPrior
    u: np.ndarray
    x: np.ndarray
    cost: np.ndarray
    steps: list = field(default_factory=list)
    prior_sir_ess: float = float("nan")
    data_free: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    wall_time_s: float = 0.0

    @property
    def n_particles(self) -> int:
        return int(self.u.shape[0])

    @property
    def final_ess(self) -> float:
        """ESS of the last reweighting (into beta = 1)."""
        return float(self.steps[-1].ess) if self.steps else float(self.n_particles)

    @property
    def distinct(self) -> int:
        """Distinct particles at the end (rows of ``u``)."""
        return int(np.unique(self.u, axis=0).shape[0])

    def ks_distance(self) -> np.ndarray:
        """KS distance of each marginal posterior from its uniform prior."""
        z = self.prior.to_unit(self.u)
        return np.array([ks_distance_uniform(z[:, j]) for j in range(self.prior.size)])

    def sd_ratio(self) -> np.ndarray:
        """Posterior over prior standard deviation of each parameter."""
        prior_sd = (self.prior.upper - self.prior.lower) / np.sqrt(12.0)
        return self.u.std(axis=0, ddof=1) / prior_sd

    def informed(self, min_ks: float, max_sd_ratio: float = 0.0) -> np.ndarray:
        """Mask of parameters the data inform: not data-free, and a posterior KS distance from the
        prior of at least ``min_ks`` (shifted) or a standard deviation of at most ``max_sd_ratio``
        times the prior's (narrowed)."""
        return ((self.ks_distance() >= min_ks) | (self.sd_ratio() <= max_sd_ratio)) & ~self.data_free

    def point_estimate(self, min_ks: float, max_sd_ratio: float = 0.0) -> np.ndarray:
        """Posterior median of the informed parameters, the ``.mdl`` value of the others."""
        median = np.median(self.u, axis=0)
        return np.where(self.informed(min_ks, max_sd_ratio), median, self.prior.mdl)

    def summary(self, min_ks: float, level: float = 0.90, max_sd_ratio: float = 0.0) -> pd.DataFrame:
        """Prior against posterior, one row per structural parameter.

        Columns: ``parameter``, ``unit``, ``range_low``, ``range_high``, ``mdl_value``,
        ``prior_mean``, ``prior_sd``, ``posterior_mean``, ``posterior_sd``, ``posterior_median``,
        ``lower``/``upper`` (the ``level`` interval), ``sd_ratio`` (posterior over prior sd),
        ``mean_shift`` (posterior minus prior mean, in prior sd), ``ks_distance``, ``data_free``,
        ``informed``, ``point_estimate`` and ``note`` (``min_ks`` and ``max_sd_ratio``: see
        :meth:`informed`).
        """
        prior = self.prior
        tail = 100 * (1 - level) / 2
        low, med, high = np.percentile(self.u, [tail, 50, 100 - tail], axis=0)
        prior_mean = 0.5 * (prior.lower + prior.upper)
        prior_sd = (prior.upper - prior.lower) / np.sqrt(12.0)
        mean, sd = self.u.mean(axis=0), self.u.std(axis=0, ddof=1) if self.n_particles > 1 else np.zeros(prior.size)
        ks = self.ks_distance()
        informed = self.informed(min_ks, max_sd_ratio)
        point = self.point_estimate(min_ks, max_sd_ratio)
        rows = []
        for j, name in enumerate(prior.names):
            if self.data_free[j]:
                note = "data-free: no effect on any fitted figure; posterior = prior"
            elif informed[j]:
                note = "informed by the data; point estimate = posterior median"
            else:
                note = "posterior close to the prior; point estimate = .mdl value"
            rows.append({
                "parameter": name, "unit": prior.units[j] if prior.units else "",
                "range_low": prior.lower[j], "range_high": prior.upper[j], "mdl_value": prior.mdl[j],
                "prior_mean": prior_mean[j], "prior_sd": prior_sd[j],
                "posterior_mean": mean[j], "posterior_sd": sd[j], "posterior_median": med[j],
                "lower": low[j], "upper": high[j], "sd_ratio": sd[j] / prior_sd[j],
                "mean_shift": (mean[j] - prior_mean[j]) / prior_sd[j], "ks_distance": ks[j],
                "data_free": bool(self.data_free[j]), "informed": bool(informed[j]),
                "point_estimate": point[j], "note": note,
            })
        return pd.DataFrame(rows)

    def steps_frame(self) -> pd.DataFrame:
        """The tempering steps as a table."""
        return pd.DataFrame([vars(s) for s in self.steps])


def _next_beta(cost: np.ndarray, beta: float, target_ess: float) -> float:
    """The largest beta' in (beta, 1] whose incremental weights exp(-(beta' - beta) cost) keep
    an ESS of at least ``target_ess`` (bisection; 1 if that already holds at beta' = 1)."""
    def ess_at(b: float) -> float:
        return effective_sample_size(log_weights_to_weights(-(b - beta) * cost))

    if ess_at(1.0) >= target_ess:
        return 1.0
    low, high = beta, 1.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        if ess_at(mid) >= target_ess:
            low = mid
        else:
            high = mid
    return max(low, beta + 1e-12)


def smc_profile_posterior(problem: Problem, x_hat: np.ndarray, prior: StructuralPrior, *, n_particles: int,
                          moves: int, seed: int, ess_fraction: float = 0.5, refit_iterations: int = 10,
                          initial_iterations: int = 40, refresh_block: int = 2, target_acceptance: float = 0.25,
                          max_steps: int = 50, data_free_checks: int = 16, min_ess: float = 100.0,
                          refit_tolerance: float = 1e-8) -> StructuralPosterior:
    """Sample the posterior of the structural parameters (module docstring).

    Parameters
    ----------
    problem : Problem
        Calibration problem whose ``varying`` parameters are ``prior.names`` (same order), at the
        noise of the primary fit.
    x_hat : numpy.ndarray
        The primary fit of the fitted parameters [unit cube]; start of every profile refit.
    prior : StructuralPrior
        Uniform priors.
    n_particles : int
        Number of particles N.
    moves : int
        Metropolis moves per tempering step.
    seed : int
        Seed of every random choice (Latin hypercube, resampling, proposals, acceptance).
    ess_fraction : float
        Each reweighting keeps an ESS of this fraction of N (sets the temperature ladder).
    refit_iterations, initial_iterations : int
        Levenberg-Marquardt iterations of a refit after a move (warm start) and from ``x_hat``.
    refresh_block : int
        Coordinates redrawn from the prior in an independence move.
    target_acceptance : float
        Acceptance rate the random-walk scale is adapted towards.
    max_steps : int
        Upper limit on the tempering steps.
    data_free_checks : int
        Prior draws used to detect data-free parameters (:func:`find_data_free`).
    min_ess : float
        Below this, a :class:`StructuralWarning` says the sample may be unreliable.
    refit_tolerance : float
        Relative cost decrease at which a refit after a move stops (1e-8 of a cost of ~5 is far below
        the cost differences that decide acceptance).

    Returns
    -------
    StructuralPosterior
    """
    if tuple(problem.varying) != tuple(prior.names):
        raise ValueError("the problem's varying parameters must be the structural parameters, in the same order")
    if n_particles < 10 or moves < 1:
        raise ValueError("the sampler needs at least 10 particles and 1 move per step")
    clock = time.perf_counter()
    rng = np.random.default_rng(seed)
    q = prior.size
    data_free = find_data_free(problem, x_hat, prior, rng, n_checks=data_free_checks)
    active = np.flatnonzero(~data_free)
    z = latin_hypercube(n_particles, q, rng)
    x, cost = profile_refit(problem, np.repeat(x_hat[None, :], n_particles, axis=0), prior.to_value(z),
                            initial_iterations)
    prior_sir_ess = effective_sample_size(log_weights_to_weights(-cost))
    beta, scale = 0.0, 2.38 / np.sqrt(max(active.size, 1))
    steps: list[SMCStep] = []
    target = ess_fraction * n_particles
    while beta < 1.0 and len(steps) < max_steps and active.size:
        new_beta = _next_beta(cost, beta, target)
        weights = log_weights_to_weights(-(new_beta - beta) * cost)
        ess = effective_sample_size(weights)
        index = systematic_resample(weights, rng)
        z, x, cost = z[index], x[index], cost[index]
        beta = new_beta
        walk_rates, refresh_rates = [], []
        for _ in range(moves):
            cov = np.atleast_2d(np.cov(z[:, active].T)) + 1e-12 * np.eye(active.size)
            walk = rng.random(n_particles) < 0.5
            proposal = z.copy()
            steps_walk = rng.multivariate_normal(np.zeros(active.size), cov, size=n_particles, method="cholesky")
            proposal[np.ix_(walk, active)] += scale * steps_walk[walk]
            refresh = np.flatnonzero(~walk)
            if refresh.size:
                block = min(refresh_block, active.size)
                chosen = active[np.argsort(rng.random((refresh.size, active.size)), axis=1)[:, :block]]
                proposal[refresh[:, None], chosen] = rng.random((refresh.size, block))
            inside = np.all((proposal >= 0.0) & (proposal <= 1.0), axis=1)
            uniform = rng.random(n_particles)
            idx = np.flatnonzero(inside)
            new_x, new_cost = x.copy(), np.full(n_particles, np.inf)
            new_x[idx], new_cost[idx] = profile_refit(problem, x[idx], prior.to_value(proposal[idx]),
                                                      refit_iterations, tol=refit_tolerance)
            with np.errstate(invalid="ignore", over="ignore"):
                accept = inside & (np.log(uniform) < -beta * (new_cost - cost))
            z[accept], x[accept], cost[accept] = proposal[accept], new_x[accept], new_cost[accept]
            walk_rate = float(accept[walk].mean()) if walk.any() else float("nan")
            walk_rates.append(walk_rate)
            refresh_rates.append(float(accept[~walk].mean()) if (~walk).any() else float("nan"))
            if np.isfinite(walk_rate):
                scale *= float(np.exp(walk_rate - target_acceptance))
        steps.append(SMCStep(beta=beta, ess=ess, acceptance_walk=float(np.nanmean(walk_rates)),
                             acceptance_refresh=float(np.nanmean(refresh_rates)),
                             distinct=int(np.unique(z, axis=0).shape[0]), scale=scale))
    if beta < 1.0 and active.size:
        raise RuntimeError(f"the sampler did not reach beta = 1 in {max_steps} steps (beta = {beta:.3g}); "
                           f"raise max_steps or the number of particles")
    if data_free.any():  # the likelihood does not depend on them: an independent prior sample
        z[:, data_free] = latin_hypercube(n_particles, int(data_free.sum()), rng)
    posterior = StructuralPosterior(prior=prior, u=prior.to_value(z), x=x, cost=cost, steps=steps,
                                    prior_sir_ess=prior_sir_ess, data_free=data_free,
                                    wall_time_s=time.perf_counter() - clock)
    low_acceptance = [s for s in steps if s.acceptance_walk < 0.05]
    if steps and (posterior.final_ess < min_ess or low_acceptance):
        warnings.warn(f"structural posterior: final ESS {posterior.final_ess:.0f} of {n_particles} particles, "
                      f"{len(low_acceptance)} step(s) with random-walk acceptance below 5 %; the sample may be "
                      f"unreliable (raise uncertainty.structural.particles or moves)", StructuralWarning)
    return posterior
