"""Calibration of the league layer on the 2010 and 2020 league censuses: ``python -m calibration.leagues``.

**What is fitted.** The league layer of ``model/inner_mongolia.mdl`` (group ``.Leagues``) shares the
province's flows out among the 12 leagues and moves people between them; nothing in it feeds back on the
province, so the province's fit (``python -m calibration``, ``python -m calibration.backcast``) is the
same with or without it, to the last digit. Fitted here, from the back-cast of
:mod:`calibration.backcast` (the main model from the 2010 census state to the end of 2020 at the
back-cast's province parameters), with the leagues started from :func:`base.league_state.league_state`
of 2010 (census, summed over age and sex) and their birth and death factors of the 2010 age structure:

* ``inter league migration rate`` [1/Year], ``inter league distance scale`` [km] and
  ``destination size elasticity`` [Dmnl], the gravity form of migration between leagues;
* ``league urbanization propensity[league]`` [Dmnl] (12 values within the range 0.25-4, their geometric
  mean held at 1 by one more residual, the mean logarithm over 0.001: only
  their ratios matter);

to 24 targets of the 2020 census: each league's share of the region's residents and its share of the
region's urban residents (shares, so that the back-cast's province error, +1.18 pp of urbanization in
2020, does not enter the league fit). Weighted least squares: each share's error over 1 % of the
share (a relative error). 15 parameters for 24 targets; the league pull factors and out-migration
propensities stay at 1 (no data separate them from the fitted terms).

**Uncertainty.** 90 % intervals from the Jacobian at the optimum, the residual variance as the error
variance (asymptotic normal approximation; the intervals of parameters at a bound are one-sided and
marked).

**Statistics by league** (printed, and in :func:`league_fit`'s result): the error of the 2020 residents
[%] and urbanization rate [pp] of each league, for the fitted layer and for a benchmark without league
dynamics (every league keeps its 2010 share of each residence of the province), so the fit says what the
league terms add. The province's statistics are those of the back-cast (printed beside them).

``--write`` writes the fitted values into the ``.mdl``'s constants (their comments give the fit and its
interval). Run time on 2 cores: printed (``wall time``).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import norm

from base.archive import git_state
from base.league_state import league_state
from base.leagues import league_census, load_leagues
from base.schedule_tables import league_tables
from model import MODEL_PATH
from model.vectorized import VectorizedModel

from .backcast import END, START, backcast_parameters, run_backcast

#: Scalar parameters fitted, with their bounds (the ``.mdl`` ranges).
SCALARS = {"inter_league_migration_rate": (0.0, 0.03), "share_of_rural_migrants_leaving_league": (0.0, 0.8),
           "inter_league_distance_scale": (100.0, 1000.0), "destination_size_elasticity": (0.0, 1.5)}
PROPENSITY = "league_urbanization_propensity"
PROPENSITY_BOUNDS = (0.25, 4.0)
COLUMNS = ("population_by_league", "urban_population_by_league")
#: Relative error scale of a league's share of the residents [Dmnl].
RELATIVE_SCALE = 0.01
#: Error scale of a league's urbanization rate [Dmnl] (1 pp).
RATE_SCALE = 0.01
#: Scale of the residual that holds the propensities' mean logarithm at 0 (their geometric mean at 1) [Dmnl].
LEVEL_SCALE = 0.001
#: Starting points of the fit (scalars; the propensities start at 1).
STARTS = ((0.01, 0.3, 300.0, 1.0), (0.002, 0.1, 200.0, 0.5), (0.02, 0.6, 600.0, 1.2), (0.005, 0.5, 400.0, 0.2))


@dataclass(frozen=True)
class LeagueFit:
    """Result of :func:`league_fit`."""

    leagues: tuple
    values: dict            # name -> float or array [league]
    intervals: dict         # name -> (low, high) or array (league, 2)
    statistics: dict        # league -> {"population_error_pct", "rate_error_pp", "benchmark_...": ...}
    province: dict          # the back-cast's province targets: name -> (model, observed)
    rmse: dict              # fitted and benchmark RMSE over the leagues
    seconds: float
    x: np.ndarray = None    # the optimum in the fit's coordinates (scalars, then log propensities)
    covariance: np.ndarray = None  # its covariance (normal approximation)
    bounds: tuple = ()      # (lower, upper) in the fit's coordinates


def _scale_in(x: np.ndarray) -> dict:
    n = len(x) - len(SCALARS)
    logs = x[len(SCALARS):]
    return {**{name: x[k] for k, name in enumerate(SCALARS)}, PROPENSITY: np.exp(logs).reshape(n)}


def league_fit(engine: VectorizedModel | None = None) -> LeagueFit:
    """Fit the league layer (module docstring)."""
    clock = time.perf_counter()
    engine = VectorizedModel.from_mdl(MODEL_PATH) if engine is None else engine
    leagues = load_leagues()
    backcast = run_backcast(engine)
    state = league_state(START).counts
    tables = league_tables(START)
    fixed = {**backcast.params, "initial_league_population": state.sum(axis=(1, 2)),
             "league_birth_factor": tables["league birth factor"],
             "league_death_factor": tables["league death factor"]}
    census = league_census(END, leagues)
    pop_obs = census["population"].values
    urban_obs = census["urban_population"].values
    share_obs = np.concatenate([pop_obs / pop_obs.sum(), urban_obs / urban_obs.sum()])
    n = len(leagues.names)

    def simulate(xs: np.ndarray):
        members = len(xs)
        params = dict(fixed)
        for k, name in enumerate(SCALARS):
            params[name] = xs[:, k]
        logs = xs[:, len(SCALARS):]
        params[PROPENSITY] = np.exp(logs)
        result = engine.run(params, n_samples=members, return_columns=list(COLUMNS), initial_time=START,
                            final_time=END)
        return result["population_by_league"][-1], result["urban_population_by_league"][-1]

    rate_obs = urban_obs / pop_obs

    def residuals_many(xs):
        pop, urban = simulate(xs)
        share = pop / pop.sum(axis=1, keepdims=True)
        level = xs[:, len(SCALARS):].mean(axis=1, keepdims=True)  # only the ratios matter: pin the level
        return np.concatenate([(share / share_obs[None, :n] - 1) / RELATIVE_SCALE,
                               (urban / pop - rate_obs[None, :]) / RATE_SCALE, level / LEVEL_SCALE], axis=1)

    def residuals(x):
        return residuals_many(x[None, :])[0]

    def jacobian(x):
        steps = 1e-6 * np.maximum(1.0, np.abs(x))
        xs = np.vstack([x, x + np.diag(steps)])
        r = residuals_many(xs)
        return ((r[1:] - r[0]) / steps[:, None]).T

    lower = np.array([b[0] for b in SCALARS.values()] + [np.log(PROPENSITY_BOUNDS[0])] * n)
    upper = np.array([b[1] for b in SCALARS.values()] + [np.log(PROPENSITY_BOUNDS[1])] * n)
    fits = [least_squares(residuals, np.array(list(start) + [0.0] * n), jac=jacobian, bounds=(lower, upper),
                          x_scale="jac", xtol=1e-10, ftol=1e-10) for start in STARTS]
    fit = min(fits, key=lambda f: f.cost)
    print("starts: costs " + ", ".join(f"{f.cost:.1f}" for f in fits) + f" (best {fit.cost:.1f})")
    x = fit.x
    dof = max(1, fit.fun.size - 1 - (x.size - 1))  # the level residual and the level are not data
    sigma2 = float(fit.fun @ fit.fun) / dof
    jac = jacobian(x)
    cov = sigma2 * np.linalg.pinv(jac.T @ jac)
    half = norm.ppf(0.95) * np.sqrt(np.clip(np.diag(cov), 0.0, None))
    values = _scale_in(x)
    intervals = {name: (float(max(lower[k], x[k] - half[k])), float(min(upper[k], x[k] + half[k])))
                 for k, name in enumerate(SCALARS)}
    logs = x[len(SCALARS):]
    intervals[PROPENSITY] = np.exp(np.column_stack([logs - half[len(SCALARS):], logs + half[len(SCALARS):]]))
    pop, urban = (v[0] for v in simulate(x[None, :]))
    # benchmark: the 2010 league shares of each residence of the province, applied to the back-cast's 2020
    province_2020 = backcast.state_2020.sum(axis=(0, 1))  # (residence,)
    start_shares = state.sum(axis=(1, 2)) / state.sum(axis=(0, 1, 2))[None, :]
    bench = start_shares * province_2020[None, :]
    bench_pop, bench_urban = bench.sum(axis=1), bench[:, 1:].sum(axis=1)
    statistics = {}
    for k, name in enumerate(leagues.names):
        statistics[name] = {
            "population_2020": float(pop[k]), "population_census": float(pop_obs[k]),
            "population_error_pct": float(100 * (pop[k] / pop_obs[k] - 1)),
            "rate_2020_pct": float(100 * urban[k] / pop[k]), "rate_census_pct": float(100 * urban_obs[k] / pop_obs[k]),
            "rate_error_pp": float(100 * (urban[k] / pop[k] - urban_obs[k] / pop_obs[k])),
            "benchmark_population_error_pct": float(100 * (bench_pop[k] / pop_obs[k] - 1)),
            "benchmark_rate_error_pp": float(100 * (bench_urban[k] / bench_pop[k] - urban_obs[k] / pop_obs[k])),
        }

    def rmse(key):
        return float(np.sqrt(np.mean([s[key] ** 2 for s in statistics.values()])))

    return LeagueFit(leagues=leagues.names, values=values, intervals=intervals, statistics=statistics,
                     province=backcast.targets,
                     rmse={key: rmse(key) for key in ("population_error_pct", "rate_error_pp",
                                                      "benchmark_population_error_pct", "benchmark_rate_error_pp")},
                     seconds=time.perf_counter() - clock, x=x, covariance=0.5 * (cov + cov.T),
                     bounds=(lower, upper))


#: The generated config group of the league uncertainty (read by simulator.league_uncertainty).
FIT_CONFIG = MODEL_PATH.parent.parent / "scenarios" / "league_fit" / "default.yaml"


def fit_config_text(fit: LeagueFit, commit: str | None = None) -> str:
    """``scenarios/league_fit/default.yaml``: the fit's coordinates, estimate, covariance and ranges."""
    stamp = f"{time.strftime('%Y-%m-%d')}, git {commit[:12]}" if commit else time.strftime("%Y-%m-%d")
    lines = ["# @package league_fit",
             f"# Generated by `python -m calibration.leagues --write` ({stamp}). Do not edit by hand.",
             "# Read by simulator/league_uncertainty.py: each ensemble member draws the league parameters from this",
             "# normal approximation (coordinates: the scalars as they are, the propensities as logarithms).",
             "enabled: true",
             "method: \"normal approximation at the weighted least-squares fit to the 2020 league census from the 2010 "
             "state (covariance: residual variance x (J'J)^-1); propensities' geometric mean held at 1 by a residual; "
             "clipped to the ranges\"",
             "parameters:"]
    lower, upper = fit.bounds
    names = [(name, None, "identity") for name in SCALARS] + [(PROPENSITY, league, "log") for league in fit.leagues]
    for k, (name, element, transform) in enumerate(names):
        low, high = (lower[k], upper[k]) if transform == "identity" else PROPENSITY_BOUNDS
        element_text = "null" if element is None else element
        lines.append(f"  - {{name: {name}, element: {element_text}, transform: {transform}, "
                     f"bounds: [{low:.6g}, {high:.6g}]}}")
    lines.append("mean: [" + ", ".join(f"{v:.10g}" for v in fit.x) + "]")
    lines.append("covariance:")
    for row in fit.covariance:
        lines.append("  - [" + ", ".join(f"{v:.10g}" for v in row) + "]")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return f"{value:.6g}"


def write_model(fit: LeagueFit, path: Path = MODEL_PATH) -> None:
    """Write the fitted values into the ``.mdl``'s constants (value, range and first comment line)."""
    text = Path(path).read_text(encoding="utf-8")
    stamp = f"fitted by python -m calibration.leagues on the 2010-2020 league censuses"
    for name in SCALARS:
        vensim = name.replace("_", " ")
        low, high = fit.intervals[name]
        pattern = re.compile(rf"(^{re.escape(vensim)}=\n\t)[^\n]+(\n\t~\t[^\[\n]*)\[[^\]]*\](\n\t~\t)Calibrated \([^)]*\)",
                             re.MULTILINE)
        text, count = pattern.subn(lambda m: f"{m.group(1)}{_number(fit.values[name])}{m.group(2)}"
                                             f"[{_number(SCALARS[name][0])},{_number(SCALARS[name][1])}]{m.group(3)}"
                                             f"Calibrated ({stamp}; 90 % interval [{low:.4g}, {high:.4g}])",
                                   text)
        if count != 1:
            raise ValueError(f"calibration.leagues: no constant '{vensim}' with a 'Calibrated (...)' comment in {path}")
    vensim = PROPENSITY.replace("_", " ")
    start = text.find(f"\n{vensim}[")
    units = text.find("\n\t~\tDmnl [", start)
    comment = re.compile(r"\n\t~\tCalibrated \([^)]*\)")
    match = comment.match(text, text.find("\n", units + 1))
    if start < 0 or units < 0 or match is None:
        raise ValueError(f"calibration.leagues: no constant '{vensim}[...]' with a 'Calibrated (...)' comment")
    # one equation per league (a constant of the model per element, as model.spec reads constants)
    equations = " ~~|\n".join(f"{vensim}[{league}]=\n\t{_number(v)}"
                              for league, v in zip(fit.leagues, fit.values[PROPENSITY]))
    text = (text[:start + 1] + equations + text[units:match.start()]
            + f"\n\t~\tCalibrated ({stamp}, geometric mean 1)" + text[match.end():])
    Path(path).write_text(text, encoding="utf-8")


def report(fit: LeagueFit) -> str:
    """The fit as text (parameters, statistics by league, province targets)."""
    lines = ["League layer fitted on the 2020 league census (shares of residents and urban residents), from 2010:"]
    for name in SCALARS:
        low, high = fit.intervals[name]
        lines.append(f"  {name}: {fit.values[name]:.4g}  (90 % interval [{low:.4g}, {high:.4g}])")
    for k, league in enumerate(fit.leagues):
        low, high = fit.intervals[PROPENSITY][k]
        lines.append(f"  {PROPENSITY}[{league}]: {fit.values[PROPENSITY][k]:.3f}  ([{low:.3f}, {high:.3f}])")
    lines.append("")
    lines.append(f"  {'league':10s} {'pop 2020':>10s} {'census':>10s} {'err %':>7s} {'bench %':>8s} "
                 f"{'rate %':>7s} {'census':>7s} {'err pp':>7s} {'bench pp':>8s}")
    for league, s in fit.statistics.items():
        lines.append(f"  {league:10s} {s['population_2020']:10.0f} {s['population_census']:10.0f} "
                     f"{s['population_error_pct']:7.2f} {s['benchmark_population_error_pct']:8.2f} "
                     f"{s['rate_2020_pct']:7.2f} {s['rate_census_pct']:7.2f} {s['rate_error_pp']:7.2f} "
                     f"{s['benchmark_rate_error_pp']:8.2f}")
    r = fit.rmse
    lines.append(f"  RMSE over the leagues: residents {r['population_error_pct']:.2f} % (benchmark "
                 f"{r['benchmark_population_error_pct']:.2f} %), urbanization {r['rate_error_pp']:.2f} pp (benchmark "
                 f"{r['benchmark_rate_error_pp']:.2f} pp)")
    lines.append("Province (the back-cast, the same with or without the league layer): "
                 + "; ".join(f"{name} model {m:.6g} census {o:.6g}" for name, (m, o) in fit.province.items()))
    lines.append(f"wall time: {fit.seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.leagues", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the fitted values into the .mdl")
    args = parser.parse_args(argv)
    fit = league_fit()
    print(report(fit))
    if args.write:
        write_model(fit)
        FIT_CONFIG.write_text(fit_config_text(fit, git_state().get("commit")), encoding="utf-8")
        print(f"written into {MODEL_PATH} and {FIT_CONFIG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
