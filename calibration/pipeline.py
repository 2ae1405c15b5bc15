"""The calibration as a function of its config: fits, noise, uncertainty, the alternative
observation model and the out-of-sample check. Writes nothing (see :mod:`calibration.report`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from .baselines import constant_growth, linear_trend, un_wup_share
from base.observations import load_observations
from base.paths import DATA_PATH
from model.cache import file_sha256
from model.outputs import load_outputs
from model.spec import load_spec
from simulator.bands import BandsConfig, draw_bands
from simulator.run import open_engine
from .fit import MultistartResult, NoiseEstimate, fit_with_noise, start_points
from .objective import Problem, make_problem
from .observation import APPROACHES, MODEL_START, SERIES, Observations, build_observations
from .stats import fit_statistics
from .structural import StructuralPosterior, StructuralPrior, profile_refit, smc_profile_posterior
from .uncertainty import BootstrapResult, laplace_covariance, parametric_bootstrap, summarise

#: The outputs with prediction bands (declared ``band: true`` in model/inner_mongolia.outputs.yaml):
#: calibration estimates their observation noise on the census basis, and checks them out of sample.
CENSUS_BASIS_OUTPUTS = load_outputs().names("band")


@dataclass
class FitOutcome:
    """One calibration (one observation model, one window).

    Attributes
    ----------
    label : str
        Short description (``bias 2015-2020``...).
    problem : Problem
        The problem at its final noise; its ``varying`` parameters are the structural parameters
        when their posterior was sampled.
    multistart : MultistartResult
        All starts and their agreement (at the ``.mdl`` values of the structural parameters).
    noise : NoiseEstimate
        Per-series noise (estimated at the ``.mdl`` values of the structural parameters).
    theta_hat : numpy.ndarray
        Point estimate of every fitted parameter (model, then nuisance), at ``structural_values``.
    predictions : numpy.ndarray
        Predictions of every observation at the point estimate [series units].
    bootstrap : BootstrapResult or None
        Parametric-bootstrap refits with the structural parameters held at their point estimates
        (conditional uncertainty). Without structural uncertainty, these are the parameter draws.
    summary : pandas.DataFrame or None
        Parameter table of ``bootstrap`` (:func:`calibration.uncertainty.summarise`).
    laplace_cov : numpy.ndarray
        Local covariance at the point estimate [parameter units].
    wall_time_s : float
        Wall time of this calibration [s].
    structural : StructuralPosterior or None
        The posterior sample of the structural parameters (None: not sampled).
    structural_values : dict of str to float
        Values of the structural parameters at the point estimate (posterior median of the informed
        ones, the ``.mdl`` value of the others), or the values they were held at.
    joint : BootstrapResult or None
        Joint draws: a posterior particle each, a data set simulated from its fit, the fitted
        parameters refitted with the particle's structural values (``joint.u``) held fixed.
    joint_summary : pandas.DataFrame or None
        Parameter table of ``joint`` (intervals over the structural uncertainty too).
    cost_mdl : float
        Cost of the fit at the ``.mdl`` values of the structural parameters.
    """

    label: str
    problem: Problem
    multistart: MultistartResult
    noise: NoiseEstimate
    theta_hat: np.ndarray
    predictions: np.ndarray
    bootstrap: BootstrapResult | None
    summary: pd.DataFrame | None
    laplace_cov: np.ndarray
    wall_time_s: float
    structural: StructuralPosterior | None = None
    structural_values: dict = field(default_factory=dict)
    joint: BootstrapResult | None = None
    joint_summary: pd.DataFrame | None = None
    cost_mdl: float = float("nan")

    @property
    def observations(self) -> Observations:
        return self.problem.observations

    @property
    def fitted_params(self) -> dict[str, float]:
        """Point estimates of the fitted model parameters."""
        n = len(self.problem.model_parameters)
        return {name: float(v) for name, v in zip(self.problem.model_parameters, self.theta_hat[:n])}

    @property
    def params(self) -> dict[str, float]:
        """Point estimates of the fitted model parameters, then the structural point values."""
        return {**self.fitted_params, **{k: float(v) for k, v in self.structural_values.items()}}

    @property
    def nuisance(self) -> dict[str, float]:
        n = len(self.problem.model_parameters)
        return {name: float(v) for name, v in zip(self.observations.nuisance, self.theta_hat[n:])}

    @property
    def u_hat(self) -> np.ndarray | None:
        """Structural point values as the problem's ``u`` row (None without varying parameters)."""
        if not self.problem.varying:
            return None
        return np.array([[self.structural_values[n] for n in self.problem.varying]])

    @property
    def parameter_summary(self) -> pd.DataFrame | None:
        """The parameter table of the draws used downstream (joint if sampled, else conditional)."""
        return self.joint_summary if self.joint_summary is not None else self.summary

    def draws(self) -> tuple[list[str], np.ndarray]:
        """Model-parameter draws for ensembles: names and rows (fitted, then structural columns).

        Joint draws when the structural posterior was sampled, else the bootstrap of the fitted
        parameters.
        """
        n_model = len(self.problem.model_parameters)
        if self.joint is not None:
            names = list(self.problem.model_parameters) + list(self.problem.varying)
            return names, np.hstack([self.joint.theta[:, :n_model], self.joint.u])
        if self.bootstrap is None:
            raise ValueError(f"{self.label}: no parameter draws (uncertainty.draws = 0)")
        return list(self.problem.model_parameters), self.bootstrap.theta[:, :n_model]

    def residual_table(self) -> pd.DataFrame:
        """Observations, predictions, residuals and census-consistent (de-biased) values."""
        table = self.observations.table.copy()
        table["predicted"] = self.predictions
        table["residual"] = table["predicted"] - table["value"]
        table["sigma"] = self.problem.sigma
        table["standardised_residual"] = table["residual"] / table["sigma"]
        nuisance = self.nuisance
        table["value_census_basis"] = [
            self.observations.debias(row.series, row.year, row.value, nuisance) if row.biased else row.value
            for row in table.itertuples(index=False)]
        table["predicted_census_basis"] = [
            self.observations.debias(row.series, row.year, row.predicted, nuisance) if row.biased
            else row.predicted for row in table.itertuples(index=False)]
        return table

    def statistics(self) -> pd.DataFrame:
        """Fit statistics per series, as reported and (for biased series) on the census basis."""
        table = self.residual_table()
        rows = []
        for name in self.observations.series_names:
            part = table[table["series"] == name].sort_values("year")
            bases = [("as reported", "predicted", "value")]
            if part["biased"].any():
                bases.append(("census basis", "predicted_census_basis", "value_census_basis"))
            for basis, s_col, a_col in bases:
                stats = fit_statistics(part[s_col], part[a_col]).as_dict()
                rows.append({"series": name, "unit": SERIES[name].unit, "basis": basis,
                             "years": f"{part['year'].min()}-{part['year'].max()}", **stats,
                             "sigma": float(part["sigma"].iloc[0])})
        return pd.DataFrame(rows)


def _noise_settings(cfg: DictConfig, observations: Observations, borrowed: dict | None):
    estimate = list(cfg.noise.estimate)
    fixed = dict(cfg.noise.fixed)
    if borrowed:
        for name in observations.series_names:
            if name in estimate and len(observations.index_of(name)) < int(cfg.noise.min_obs):
                fixed.setdefault(name, borrowed[name])
    initial = {name: float(cfg.noise.initial.get(name, fixed.get(name, 1.0)))
               for name in observations.series_names}
    initial.update({k: float(v) for k, v in fixed.items() if k in initial})
    return estimate, fixed, dict(cfg.noise.floor), initial


def calibrate(cfg: DictConfig, engine, spec, frame: pd.DataFrame, *, approach: str, last_year: int,
              n_draws: int, borrowed_noise: dict | None = None, n_starts: int | None = None,
              label: str | None = None, observations: Observations | None = None,
              structural: bool | None = None, n_particles: int | None = None,
              structural_values: dict | None = None) -> FitOutcome:
    """Fit one observation model on one window: noise, structural posterior, parameter draws.

    Steps: (1) multistart fit of the fitted parameters with the structural parameters at their
    ``.mdl`` values, iterated with the per-series noise; (2) if ``structural``, the posterior of the
    structural parameters by SMC over the profile likelihood at that noise
    (:mod:`calibration.structural`); the point estimate takes the posterior median of the informed
    structural parameters, the ``.mdl`` value of the others, and refits the fitted parameters there;
    (3) a parametric bootstrap at the point estimate (structural values fixed); (4) joint draws:
    ``n_draws`` posterior particles, each with a data set simulated from its fit and a refit.

    Parameters
    ----------
    observations : Observations, optional
        Replaces the figures selected from ``frame`` (e.g. synthetic data generated by the model).
    structural : bool, optional
        Sample the structural posterior (default: ``cfg.uncertainty.structural.enabled``).
    n_particles : int, optional
        Particles of the sampler (default: ``cfg.uncertainty.structural.particles``).
    structural_values : dict, optional
        Hold the structural parameters at these values instead (no sampling), e.g. the primary
        fit's point values for the comparison of observation models.
    """
    clock = time.perf_counter()
    s_cfg = cfg.uncertainty.structural
    if observations is None:
        observations = build_observations(frame, approach, first_year=int(cfg.window.first_year),
                                          last_year=last_year, series=list(cfg.observation.series),
                                          start_rates=bool(cfg.observation.start_rates))
    estimate, fixed_noise, floor, initial = _noise_settings(cfg, observations, borrowed_noise)
    sample = bool(s_cfg.enabled) if structural is None else bool(structural)
    if structural_values is not None:
        sample = False
    names = list(s_cfg.parameters) if sample else []
    fixed = dict(cfg.fixed)
    fixed.update(structural_values or {})
    problem = make_problem(engine, observations, list(cfg.parameters), spec, initial, fixed=fixed,
                           time_step=float(cfg.time_step), varying=names)
    defaults = spec.defaults()
    first = [defaults[n] for n in problem.model_parameters] + [0.0 for _ in observations.nuisance]
    starts = start_points(problem.n_params, int(n_starts or cfg.fit.starts), int(cfg.fit.seed),
                          first=problem.to_unit(np.clip(first, problem.lower, problem.upper)))
    ms, noise = fit_with_noise(problem, starts, estimate, fixed_noise, floor,
                               min_obs=int(cfg.noise.min_obs), max_rounds=int(cfg.noise.max_rounds))
    x_hat = ms.best.x
    posterior = None
    values = dict(structural_values or {})
    u_hat = None
    if sample:
        prior = StructuralPrior.from_spec(spec, names)
        posterior = smc_profile_posterior(
            problem, x_hat, prior, n_particles=int(n_particles or s_cfg.particles), moves=int(s_cfg.moves),
            seed=int(s_cfg.seed), ess_fraction=float(s_cfg.ess_fraction),
            refit_iterations=int(s_cfg.refit_iterations), refresh_block=int(s_cfg.refresh_block),
            min_ess=float(s_cfg.min_ess))
        u_hat = posterior.point_estimate(float(s_cfg.informed_ks), float(s_cfg.informed_sd_ratio))[None, :]
        values = {name: float(v) for name, v in zip(names, u_hat[0])}
        x_point, _ = profile_refit(problem, x_hat[None, :], u_hat, max_iter=60)
        x_hat = x_point[0]
    theta_hat = problem.to_theta(x_hat)
    predictions = problem.predict(x_hat[None, :], u_hat)[0]
    cov = laplace_covariance(problem, x_hat, u_hat)
    dof = ({name: d for name, d in noise.dof.items() if noise.method[name] == "estimated"}
           if cfg.uncertainty.noise_scale_uncertainty else None)
    level = float(cfg.uncertainty.level)
    n_conditional = int(cfg.uncertainty.conditional_draws) if sample else n_draws
    boot = summary = joint = joint_summary = None
    if n_conditional > 0:
        boot = parametric_bootstrap(problem, x_hat, n_conditional, int(cfg.uncertainty.seed),
                                    batch=int(cfg.uncertainty.batch), noise_dof=dof, u=u_hat)
        summary = summarise(problem, theta_hat, boot.theta, cov, level=level)
    if sample and n_draws > 0:
        rng = np.random.default_rng([int(s_cfg.seed), 1])
        rows = rng.choice(posterior.n_particles, size=n_draws, replace=n_draws > posterior.n_particles)
        joint = parametric_bootstrap(problem, posterior.x[rows], n_draws, int(cfg.uncertainty.seed) + 2,
                                     batch=int(cfg.uncertainty.batch), noise_dof=dof, u=posterior.u[rows])
        joint.particle = rows
        joint_summary = summarise(problem, theta_hat, joint.theta, cov, level=level)
    return FitOutcome(label=label or f"{approach} {cfg.window.first_year}-{last_year}", problem=problem,
                      multistart=ms, noise=noise, theta_hat=theta_hat, predictions=predictions,
                      bootstrap=boot, summary=summary, laplace_cov=cov,
                      wall_time_s=time.perf_counter() - clock, structural=posterior,
                      structural_values=values, joint=joint, joint_summary=joint_summary,
                      cost_mdl=float(ms.best.cost))


@dataclass
class HoldoutResult:
    """The out-of-sample check: the model and the baselines on the same split.

    Attributes
    ----------
    fit : FitOutcome
        The calibration on the training window.
    table : pandas.DataFrame
        One row per (series, held-out year): observed (census-consistent) value and the forecast of
        every method.
    errors : pandas.DataFrame
        One row per (series, method): mean absolute error and RMSE over the held-out years, and
        mean absolute percentage error.
    training : pandas.DataFrame
        The census-consistent training values every method saw.
    band : pandas.DataFrame or None
        The model's 90 % prediction band for the held-out values (parameter draws + noise).
    """

    fit: FitOutcome
    table: pd.DataFrame
    errors: pd.DataFrame
    training: pd.DataFrame
    band: pd.DataFrame | None = None


def holdout_check(cfg: DictConfig, engine, spec, frame: pd.DataFrame) -> HoldoutResult:
    """Calibrate up to ``holdout.last_year`` and forecast the later years; compare with baselines.

    The split: the training fit sees the bulletin figures 2015..last_year through the reporting
    bias (plus birth/death rates and hukou 2018); the held-out figures are the census-consistent
    urbanization rate and population of the following years: bulletin years are de-biased with the
    *training* estimate of the bias, the post-census 2020 figures are used as published. Every
    method starts from the same census-consistent training values (the model's 2015 state and the
    de-biased bulletin figures), so the comparison is one of dynamics.
    """
    last = int(cfg.holdout.last_year)
    target_last = int(cfg.window.last_year)
    fit = calibrate(cfg, engine, spec, frame, approach="bias", last_year=last,
                    n_draws=int(cfg.holdout.draws), n_starts=int(cfg.holdout.starts),
                    n_particles=int(cfg.holdout.particles),
                    label=f"bias {cfg.window.first_year}-{last} (training)")
    full = build_observations(frame, "bias", first_year=int(cfg.window.first_year),
                              last_year=target_last, series=list(CENSUS_BASIS_OUTPUTS))
    years_out = list(range(last + 1, target_last + 1))
    params = dict(cfg.fixed)
    params.update({n: np.array([v]) for n, v in fit.params.items()})
    run = engine.run(params=params, n_samples=1, final_time=float(target_last), time_step=float(cfg.time_step),
                     saveper=1.0, return_columns=list(CENSUS_BASIS_OUTPUTS))
    year_index = _year_index(run.time, [MODEL_START, *years_out])
    initial = {name: float(run.values[name][year_index[MODEL_START], 0]) for name in CENSUS_BASIS_OUTPUTS}
    rows, training_rows = [], []
    for series in CENSUS_BASIS_OUTPUTS:
        part = full.table[full.table["series"] == series]
        consistent = {}
        for row in part.itertuples(index=False):
            value = full.debias(series, row.year, row.value, fit.nuisance) if row.biased else row.value
            consistent[int(row.year)] = float(value)
        train_years = [MODEL_START] + [y for y in sorted(consistent) if MODEL_START < y <= last]
        train_values = [initial[series]] + [consistent[y] for y in train_years[1:]]
        raw = {int(r.year): float(r.value) for r in part.itertuples(index=False) if r.biased}
        for y, v in zip(train_years, train_values):
            training_rows.append({"series": series, "year": y, "value_census_basis": v,
                                  "value_as_reported": raw.get(y, np.nan)})
        if series == "urbanization_rate":
            trend_name, trend = "UN WUP (constant urban-rural growth difference)", un_wup_share
        else:
            trend_name, trend = "constant growth rate (UN-type, first-last training years)", constant_growth
        raw_years = [y for y in sorted(raw) if y <= last]
        for y in years_out:
            if y not in consistent:
                continue
            rows.append({
                "series": series, "year": y, "observed_census_basis": consistent[y],
                "basis": "de-biased bulletin (training bias)" if y in raw else "post-census",
                "model": float(run.values[series][year_index[y], 0]),
                trend_name: float(trend(train_years, train_values, [y])[0]),
                "linear trend": float(linear_trend(train_years, train_values, [y])[0]),
                "linear trend on raw bulletins (pre-census information only)":
                    float(linear_trend(raw_years, [raw[t] for t in raw_years], [y])[0]) if len(raw_years) >= 2 else np.nan,
            })
    table = pd.DataFrame(rows)
    methods = [c for c in table.columns if c not in ("series", "year", "observed_census_basis", "basis")]
    errors = []
    for series, part in table.groupby("series", sort=False):
        for method in methods:
            forecast = part[method].to_numpy(dtype=float)
            observed = part["observed_census_basis"].to_numpy(dtype=float)
            if np.all(np.isnan(forecast)):
                continue
            error = forecast - observed
            errors.append({"series": series, "method": method, "n_years": int(error.size),
                           "mean_abs_error": float(np.mean(np.abs(error))),
                           "rmse": float(np.sqrt(np.mean(error ** 2))),
                           "mape": float(100 * np.mean(np.abs(error) / np.abs(observed))),
                           "errors_by_year": ", ".join(f"{y}: {e:+.4g}" for y, e in zip(part["year"], error))})
    band = None
    if fit.joint is not None or fit.bootstrap is not None:
        band = _prediction_band(cfg, engine, spec, fit, table, target_last, first_noise_year=last + 1)
    return HoldoutResult(fit=fit, table=table, errors=pd.DataFrame(errors),
                         training=pd.DataFrame(training_rows), band=band)


def _year_index(time: np.ndarray, years) -> dict[int, int]:
    """Row of each year-end in a saved time axis; a clear error if one was not saved."""
    index = {}
    for year in years:
        hits = np.flatnonzero(np.abs(np.asarray(time, dtype=float) - year) < 1e-6)
        if hits.size != 1:
            raise ValueError(f"year-end {year} is not in the saved times of the run")
        index[int(year)] = int(hits[0])
    return index


def _prediction_band(cfg, engine, spec, fit: FitOutcome, table: pd.DataFrame, target_last: int,
                     first_noise_year: int) -> pd.DataFrame:
    """90 % band of the held-out values: parameter draws (joint with the structural parameters when
    sampled), the process noise and model-form alternatives of the ``bands`` config (shocks from
    ``first_noise_year``, the first held-out year), plus the estimated observation noise. The band
    of the parameter draws alone (same draws and observation noise) is given next to it."""
    names, draws = fit.draws()
    n = draws.shape[0]
    params = dict(cfg.fixed)
    params.update({name: draws[:, j] for j, name in enumerate(names)})
    node = OmegaConf.select(cfg, "bands", default=None)
    bands = BandsConfig.from_config(OmegaConf.to_container(node, resolve=True) if node is not None else None)
    varied = draw_bands(bands.with_first_year(first_noise_year), spec, n,
                        np.random.SeedSequence(int(cfg.uncertainty.seed) + 2), frozenset(cfg.fixed))
    settings = dict(n_samples=n, final_time=float(target_last), time_step=float(cfg.time_step), saveper=1.0,
                    return_columns=list(CENSUS_BASIS_OUTPUTS))
    runs = {"bands": engine.run(params={**params, **varied}, **settings),
            "parameters_only": engine.run(params=params, **settings) if varied else None}
    year_index = _year_index(runs["bands"].time, sorted(set(table["year"])))
    rows = []
    for row in table.itertuples(index=False):
        sigma = fit.noise.sigma[row.series]
        entry = {"series": row.series, "year": row.year}
        for label, run in runs.items():
            rng = np.random.default_rng(int(cfg.uncertainty.seed) + 1)  # the same observation noise in both
            values = run.values[row.series][year_index[row.year]] if run is not None else None
            if values is None:
                continue
            values = values + sigma * rng.standard_normal(values.shape)
            low, mid, high = np.percentile(values, [5, 50, 95])
            if label == "bands":
                entry.update({"p05": low, "p50": mid, "p95": high, "width_90": high - low,
                              "observed_census_basis": row.observed_census_basis,
                              "inside": bool(low <= row.observed_census_basis <= high)})
            else:
                entry.update({"p05_parameters_only": low, "p95_parameters_only": high,
                              "width_90_parameters_only": high - low,
                              "inside_parameters_only": bool(low <= row.observed_census_basis <= high)})
        rows.append(entry)
    return pd.DataFrame(rows)


@dataclass
class CalibrationResult:
    """Everything one ``python -m calibration`` computes."""

    cfg: Any
    primary: FitOutcome
    alternative: FitOutcome | None
    holdout: HoldoutResult | None
    observation_noise: dict
    data_path: str
    data_sha256: str
    wall_time_s: float
    timings: dict = field(default_factory=dict)
    trajectories: pd.DataFrame | None = None


def run_calibration(cfg: DictConfig | dict, engine=None, spec=None) -> CalibrationResult:
    """Run the whole calibration described by ``cfg`` (see ``scenarios/calibrate.yaml``).

    Parameters
    ----------
    cfg : DictConfig or dict
        The calibration config.
    engine : object, optional
        Ensemble engine (default: :func:`simulator.run.open_engine` of ``cfg.engine.name``).
    spec : model.spec.ModelSpec, optional
        The model spec (default: :func:`model.spec.load_spec`).
    """
    clock = time.perf_counter()
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    if cfg.observation.approach not in APPROACHES:
        raise ValueError(f"observation.approach must be one of {APPROACHES}, got {cfg.observation.approach!r}")
    spec = spec or load_spec()
    engine = engine or open_engine(str(cfg.engine.name))
    data_path = DATA_PATH if cfg.data in (None, "") else cfg.data
    frame = load_observations(data_path)
    timings = {}
    primary = calibrate(cfg, engine, spec, frame, approach=str(cfg.observation.approach),
                        last_year=int(cfg.window.last_year), n_draws=int(cfg.uncertainty.draws))
    timings["primary"] = primary.wall_time_s
    alternative = None
    if cfg.observation.compare:
        other = [a for a in APPROACHES if a != cfg.observation.approach][0]
        alternative = calibrate(cfg, engine, spec, frame, approach=other,
                                last_year=int(cfg.window.last_year),
                                n_draws=int(cfg.observation.compare_draws),
                                borrowed_noise=primary.noise.sigma,
                                structural_values=primary.structural_values or None)
        timings["alternative"] = alternative.wall_time_s
    holdout = None
    if cfg.holdout.enabled:
        start = time.perf_counter()
        holdout = holdout_check(cfg, engine, spec, frame)
        timings["holdout"] = time.perf_counter() - start
    noise = census_basis_noise(primary)
    paths = [trajectories(cfg, engine, primary)]
    if alternative is not None:
        paths.append(trajectories(cfg, engine, alternative))
    return CalibrationResult(cfg=cfg, primary=primary, alternative=alternative, holdout=holdout,
                             observation_noise=noise, data_path=str(data_path),
                             data_sha256=file_sha256(data_path),
                             wall_time_s=time.perf_counter() - clock, timings=timings,
                             trajectories=pd.concat(paths, ignore_index=True))


TRAJECTORY_OUTPUTS = ("urbanization_rate", "total_population", "hukou_urbanization_rate",
                      "cumulative_hukou_settlement")


def trajectories(cfg: DictConfig, engine, outcome: FitOutcome) -> pd.DataFrame:
    """Yearly model paths on the census basis at the estimate, with the 5-95 % range over the
    parameter draws (joint with the structural parameters when sampled; no observation noise)."""
    point = outcome.params
    names = list(point)
    rows_theta = np.array([[point[n] for n in names]])
    if outcome.joint is not None or outcome.bootstrap is not None:
        draw_names, draws = outcome.draws()
        columns = [draws[:, draw_names.index(n)] if n in draw_names else np.full(draws.shape[0], point[n])
                   for n in names]
        rows_theta = np.vstack([rows_theta, np.column_stack(columns)])
    params = dict(cfg.fixed)
    params.update({name: rows_theta[:, j] for j, name in enumerate(names)})
    last = outcome.observations.final_year
    run = engine.run(params=params, n_samples=rows_theta.shape[0], final_time=float(last),
                     time_step=float(cfg.time_step), saveper=1.0, return_columns=list(TRAJECTORY_OUTPUTS))
    index = _year_index(run.time, range(MODEL_START, last + 1))
    rows = []
    for name in TRAJECTORY_OUTPUTS:
        for year, i in index.items():
            values = run.values[name][i]
            draws = values[1:] if values.size > 1 else values
            rows.append({"fit": outcome.label, "variable": name, "year": year, "estimate": float(values[0]),
                         "p05": float(np.percentile(draws, 5)), "p95": float(np.percentile(draws, 95))})
    return pd.DataFrame(rows)


def census_basis_noise(outcome: FitOutcome) -> dict[str, float]:
    """Observation noise of the census-basis outputs used for prediction bands.

    The per-series noise of the primary fit: the scatter of the (de-biased) figures around the
    model path, which is what a yearly figure adds to the model's own uncertainty.
    """
    missing = [n for n in CENSUS_BASIS_OUTPUTS if n not in outcome.noise.sigma]
    if missing:
        raise ValueError(f"the calibration did not fit {missing}; they are needed for prediction bands")
    return {name: float(outcome.noise.sigma[name]) for name in CENSUS_BASIS_OUTPUTS}
