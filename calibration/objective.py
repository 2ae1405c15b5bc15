"""The weighted least-squares objective, evaluated for many parameter sets in one engine call.

Parameters are handled on the unit cube: x in [0, 1]^p maps to theta = lower + x (upper - lower),
where [lower, upper] is the documented range of each model parameter (its units field in the
``.mdl``) or the assumed range of a nuisance parameter (:data:`calibration.observation.NUISANCE`).
The residual of observation i is (prediction_i - observed_i) / sigma_i; the cost is half the sum of
squares (scipy's convention), i.e. minus the Gaussian log-likelihood up to a constant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .observation import NUISANCE, Observations, MODEL_START


@dataclass
class Problem:
    """A calibration problem: parameters, bounds, fixed values, observations, noise and engine.

    Attributes
    ----------
    engine : object
        Ensemble engine with the :mod:`model.engines` interface.
    observations : Observations
        The figures to fit.
    model_parameters : list of str
        Calibrated model parameters (Python names of ``.mdl`` constants).
    lower, upper : numpy.ndarray
        Bounds of all fitted parameters (model parameters, then nuisance parameters).
    sigma : numpy.ndarray
        Observation noise standard deviation of each observation [series unit].
    fixed : dict of str to float
        Other parameter overrides held fixed during the fit (one value for every parameter set).
    varying : tuple of str
        Parameters held fixed during a fit but at a different value for each parameter set (the
        structural parameters of :mod:`calibration.structural`). Their values are passed as ``u``
        (shape ``(n_sets, len(varying))`` in parameter units) to :meth:`predict`,
        :meth:`residuals` and :meth:`residuals_and_jacobian`; without ``u`` they keep the value in
        ``fixed`` or the ``.mdl``.
    time_step : float
        Euler time step [Year] (as in the ``.mdl``).
    fd_step : float
        Forward-difference step on the unit cube.
    """

    engine: object
    observations: Observations
    model_parameters: list
    lower: np.ndarray
    upper: np.ndarray
    sigma: np.ndarray
    fixed: dict = field(default_factory=dict)
    varying: tuple = ()
    time_step: float = 0.25
    fd_step: float = 1.0e-6
    n_model_runs: int = 0

    @property
    def names(self) -> list[str]:
        """All fitted parameters: model parameters, then nuisance parameters."""
        return list(self.model_parameters) + list(self.observations.nuisance)

    @property
    def n_params(self) -> int:
        return len(self.names)

    def to_theta(self, x: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates -> parameter values (same shape)."""
        return self.lower + np.asarray(x, dtype=float) * (self.upper - self.lower)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """Parameter values -> unit-cube coordinates (same shape)."""
        return (np.asarray(theta, dtype=float) - self.lower) / (self.upper - self.lower)

    # ---------------------------------------------------------------- model runs
    def varying_values(self, u: np.ndarray | None, n_sets: int) -> np.ndarray | None:
        """Per-set values of the ``varying`` parameters, shape ``(n_sets, q)`` (or ``None``).

        ``u`` may be one vector ``(q,)``, one row ``(1, q)`` (same for every set) or one row per set.
        """
        if u is None:
            return None
        u = np.atleast_2d(np.asarray(u, dtype=float))
        q = len(self.varying)
        if u.shape[1] != q:
            raise ValueError(f"u must have {q} columns ({', '.join(self.varying) or 'no varying parameters'}), "
                             f"got shape {u.shape}")
        if u.shape[0] == 1 and n_sets != 1:
            u = np.repeat(u, n_sets, axis=0)
        if u.shape[0] != n_sets:
            raise ValueError(f"u must have one row per parameter set ({n_sets}), got {u.shape[0]}")
        return u

    def _run(self, theta_model: np.ndarray, u: np.ndarray | None = None):
        n = theta_model.shape[0]
        params = dict(self.fixed)
        if u is not None:
            for j, name in enumerate(self.varying):
                params[name] = u[:, j]
        for j, name in enumerate(self.model_parameters):
            params[name] = theta_model[:, j]
        self.n_model_runs += n
        return self.engine.run(
            params=params, n_samples=n, final_time=float(self.observations.final_year),
            time_step=self.time_step, saveper=self.time_step, return_columns=self.observations.return_columns,
        )

    def _predict_from(self, result, theta_nuisance: np.ndarray) -> np.ndarray:
        nuisance = {name: theta_nuisance[:, j] for j, name in enumerate(self.observations.nuisance)}
        return self.observations.predict(result.values, result.time, nuisance)

    def predict(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Predictions [series units], shape ``(n_sets, n_obs)``, for unit-cube points ``(n_sets, p)``.

        ``u`` gives the values of the ``varying`` parameters per set (see the class docstring).
        """
        theta = self.to_theta(np.atleast_2d(x))
        p_model = len(self.model_parameters)
        result = self._run(theta[:, :p_model], self.varying_values(u, theta.shape[0]))
        return self._predict_from(result, theta[:, p_model:])

    def residuals(self, x: np.ndarray, observed: np.ndarray | None = None,
                  u: np.ndarray | None = None) -> np.ndarray:
        """Weighted residuals (prediction - observed) / sigma, shape ``(n_sets, n_obs)``.

        ``observed`` may be one vector ``(n_obs,)`` or one per set ``(n_sets, n_obs)`` (bootstrap);
        ``u`` the values of the ``varying`` parameters per set.
        """
        observed = self.observations.values if observed is None else np.asarray(observed, dtype=float)
        return (self.predict(x, u) - observed) / self.sigma

    def cost(self, x: np.ndarray, observed: np.ndarray | None = None, u: np.ndarray | None = None) -> np.ndarray:
        """Half the weighted sum of squares (minus the Gaussian log-likelihood up to a constant),
        shape ``(n_sets,)``."""
        return 0.5 * np.sum(self.residuals(x, observed, u) ** 2, axis=1)

    def residuals_and_jacobian(self, x: np.ndarray, observed: np.ndarray | None = None,
                               u: np.ndarray | None = None):
        """Weighted residuals and their Jacobian with respect to x, for many points in one run.

        Forward differences on the unit cube (backward at the upper bound). Nuisance parameters
        only transform the model output, so their columns need no extra model run. ``u`` gives
        the values of the ``varying`` parameters per set (held fixed: no Jacobian columns).

        Returns
        -------
        residuals : numpy.ndarray
            Shape ``(n_sets, n_obs)``.
        jacobian : numpy.ndarray
            Shape ``(n_sets, n_obs, p)``.
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n_sets, p = x.shape
        p_model = len(self.model_parameters)
        observed = self.observations.values if observed is None else np.asarray(observed, dtype=float)
        steps = np.where(x + self.fd_step <= 1.0, self.fd_step, -self.fd_step)  # (n_sets, p)
        # model runs: the base point and one perturbation per model parameter, for every set
        points = np.repeat(x[:, None, :], p_model + 1, axis=1)  # (n_sets, p_model+1, p)
        for j in range(p_model):
            points[:, j + 1, j] += steps[:, j]
        theta = self.to_theta(points.reshape(-1, p))
        u = self.varying_values(u, n_sets)
        result = self._run(theta[:, :p_model], None if u is None else np.repeat(u, p_model + 1, axis=0))
        base_theta_nuisance = np.repeat(self.to_theta(x)[:, p_model:], p_model + 1, axis=0)
        predictions = self._predict_from(result, base_theta_nuisance).reshape(n_sets, p_model + 1, -1)
        base = predictions[:, 0, :]
        jac = np.empty((n_sets, base.shape[1], p))
        for j in range(p_model):
            jac[:, :, j] = (predictions[:, j + 1, :] - base) / steps[:, [j]]
        if p > p_model:
            base_values = {name: v[:, ::p_model + 1] for name, v in result.values.items()}

            class _Base:
                values = base_values
                time = result.time

            for j in range(p_model, p):
                shifted = x.copy()
                shifted[:, j] += steps[:, j]
                perturbed = self._predict_from(_Base, self.to_theta(shifted)[:, p_model:])
                jac[:, :, j] = (perturbed - base) / steps[:, [j]]
        jac /= self.sigma[None, :, None]
        return (base - observed) / self.sigma, jac


def make_problem(engine, observations: Observations, model_parameters: Sequence[str], spec,
                 sigma: Mapping[str, float], fixed: Mapping[str, float] | None = None,
                 time_step: float = 0.25, varying: Sequence[str] = ()) -> Problem:
    """Build a :class:`Problem`, taking bounds from the model's documented ranges.

    Parameters
    ----------
    engine : object
        Ensemble engine.
    observations : Observations
        Figures to fit.
    model_parameters : sequence of str
        Model parameters to calibrate; each must have a documented range in the ``.mdl``.
    spec : model.spec.ModelSpec
        The model's declared parameters (for names and ranges).
    sigma : mapping of series name to float
        Noise standard deviation per series [series unit].
    fixed : mapping of str to float, optional
        Parameter overrides held fixed (validated against the documented ranges).
    time_step : float
        Euler time step [Year].
    varying : sequence of str, optional
        Parameters held fixed in a fit at a per-set value (structural parameters); each must be a
        model parameter, and neither fitted nor in ``fixed``.
    """
    names = list(model_parameters)
    varying = tuple(varying)
    for name in varying:
        spec.check_name(name)
    both = set(varying) & set(names)
    if both:
        raise ValueError(f"parameters both fitted and structural: {sorted(both)}; remove them from one list")
    if len(set(varying)) != len(varying):
        raise ValueError(f"structural parameters listed twice: {sorted(n for n in varying if varying.count(n) > 1)}")
    for name in names:
        spec.check_name(name)
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"parameters listed twice: {sorted(duplicates)}")
    fixed = spec.validate(dict(fixed or {}))
    clash = set(fixed) & set(names)
    if clash:
        raise ValueError(f"parameters both fitted and fixed: {sorted(clash)}; remove them from one list")
    clash = set(fixed) & set(varying)
    if clash:
        raise ValueError(f"parameters both structural and fixed: {sorted(clash)}; remove them from one list")
    lower = [spec.parameters[n].limits[0] for n in names] + [NUISANCE[n][0] for n in observations.nuisance]
    upper = [spec.parameters[n].limits[1] for n in names] + [NUISANCE[n][1] for n in observations.nuisance]
    missing = [s for s in observations.series_names if s not in sigma]
    if missing:
        raise ValueError(f"no noise standard deviation for series {missing}")
    sigma_obs = observations.table["series"].map(dict(sigma)).to_numpy(dtype=float)
    if np.any(~np.isfinite(sigma_obs)) or np.any(sigma_obs <= 0):
        raise ValueError(f"noise standard deviations must be positive numbers, got {dict(sigma)}")
    if observations.table["year"].min() < MODEL_START:
        raise ValueError(f"observations before the model start ({MODEL_START}) cannot be predicted")
    return Problem(engine=engine, observations=observations, model_parameters=names,
                   lower=np.array(lower, dtype=float), upper=np.array(upper, dtype=float),
                   sigma=sigma_obs, fixed=dict(fixed), varying=varying, time_step=time_step)
