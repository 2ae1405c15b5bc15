"""Render ``report.md`` of the calibration archive: set-up, observations, noise, multistart, the
structural posterior, the fitted parameters, fit statistics, the other observation model and the
out-of-sample check (text only; :mod:`.write` writes it)."""
from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..pipeline import CalibrationResult
from .tables import ReportTables, noise_frame, starts_frame, structural_summary


def _fmt(value, digits: int = 4) -> str:
    """One cell: numbers with ``digits`` significant digits, booleans as yes/no, missing as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}g}"
    return str(value)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A pandas frame as a GitHub markdown table (numbers with ``digits`` significant digits)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def report_text(result: CalibrationResult, tables: ReportTables, plots: bool) -> str:
    """``report.md``.

    Parameters
    ----------
    result : CalibrationResult
    tables : ReportTables
        Its tables (:func:`~.tables.report_tables`).
    plots : bool
        Whether the archive holds the figures (the report links them).

    Returns
    -------
    str
        The markdown text.
    """
    stats, corr, units, structural_table = tables.stats, tables.corr, tables.units, tables.structural
    cfg = result.cfg
    primary = result.primary
    ms = primary.multistart
    fixed_noise = {k: v for k, v in primary.noise.sigma.items() if primary.noise.method[k] == "fixed"}
    lines = [
        "# Calibration report",
        "",
        f"- Created: {_dt.datetime.now().isoformat(timespec='seconds')}; wall time {result.wall_time_s:.1f} s "
        f"(engine `{cfg.engine.name}`; primary {result.timings.get('primary', float('nan')):.1f} s, "
        f"alternative {result.timings.get('alternative', float('nan')):.1f} s, "
        f"out-of-sample {result.timings.get('holdout', float('nan')):.1f} s).",
        f"- Data: `{Path(result.data_path).name}`, sha256 `{result.data_sha256}`.",
        f"- Window: year-end {cfg.window.first_year}-{cfg.window.last_year}; observation model "
        f"**{cfg.observation.approach}** (primary); the other approach is fitted for comparison below.",
        f"- Model runs: {primary.problem.n_model_runs} for the primary fit, the structural posterior and the draws.",
        "- Method and choices: see `calibration/README.md`.",
        "",
        "## Parameter roles",
        "",
        f"- **Fitted** (identified by the data; likelihood and parametric bootstrap): "
        f"{', '.join(primary.problem.model_parameters)}.",
        f"- **Nuisance** (reporting bias of the bulletins; not written to the parameter file): "
        f"{', '.join(primary.observations.nuisance) or 'none'}.",
    ]
    if primary.structural is not None:
        lines += [f"- **Structural** (uniform prior on the documented range, updated by the profile likelihood; "
                  f"varied in the ensemble): {', '.join(primary.structural.prior.names)}."]
    else:
        lines += ["- **Structural**: not sampled (uncertainty.structural.enabled = false); every other parameter "
                  "keeps its .mdl value."]
    lines += [
        "- Policy levers (`Lever:` in the .mdl) are never uncertain parameters: scenarios set them.",
        "",
        "## Observations and observation model",
        "",
        "Pre-census bulletin figures are predicted through the reporting bias "
        "(bulletin population = P x (1 + beta tau), bulletin urbanization = u - gamma tau, tau = years since "
        "the 1 Nov 2010 census to the year-end); post-census 2020 figures are compared with the model "
        "directly. Birth and death *rates* are basis-invariant ratios"
        f"{'; the 2015 rates are compared with the model rates at the start (the .mdl 2015 rates)' if cfg.observation.start_rates else ''}. "
        "Residuals below are model minus observed, at the point estimate.",
        "",
    ]
    if "total_water_use" in primary.observations.series_names:
        lines += [f"**Weak evidence.** Total water use 2015-2020 is UNVERIFIED (memory-only figures, data/README.md). "
                  f"It is used with a fixed, wide noise (sigma = {fixed_noise.get('total_water_use', float('nan')):g} "
                  f"x 1e8 m3/Year, about 5 % of the level; never estimated) and is the only information on "
                  f"`total_water_use_2015` and the 2016-2020 sector drivers of water use.", ""]
    lines += [
        markdown_table(primary.residual_table()[["series", "year", "value", "basis", "status", "biased", "predicted",
                                                 "residual", "sigma", "standardised_residual",
                                                 "value_census_basis"]], 6),
        "",
        "## Observation noise",
        "",
        "Estimated series: sigma^2 = SSR / (n - sum of leverages), iterated with the fit until it settles "
        f"({primary.noise.iterations} rounds), with the structural parameters at their .mdl values. Fixed series: "
        "justified values from `scenarios/calibrate.yaml`.",
        "",
        markdown_table(noise_frame(primary)),
        "",
        "## Multistart",
        "",
        f"{len(ms.starts)} starts (the .mdl values, the noise-settled solution and Latin-hypercube points), with the "
        f"structural parameters at their .mdl values. **{ms.n_agree} of {len(ms.starts)} reach the best cost "
        f"{ms.best.cost:.6g}** (relative tolerance {ms.cost_tolerance:g}); the largest distance of an agreeing "
        f"solution from the best is {ms.max_spread.max():.2e} of a parameter's range.",
        "",
        markdown_table(starts_frame(primary)[["start", "cost", "agrees_with_best", "nfev"]]),
        "",
    ]
    if primary.structural is not None:
        lines += _structural_section(result, structural_table, plots)
    lines += _fitted_parameter_section(result, corr, units, plots)
    lines += [
        "## Fit statistics",
        "",
        "Sterman (1984): MAPE [%], RMSE [series unit], Theil U and U^M (bias) / U^S (unequal variation) / "
        "U^C (unequal covariation), summing to 1; R^2 as squared correlation of levels and of year-on-year "
        "changes. For the biased series, `as reported` compares the bulletin figures with the model seen "
        "through the observation model and `census basis` the de-biased figures with the model itself. The "
        "`as reported` R^2 of changes includes the 2019-2020 re-basing jump, which the observation model "
        "reproduces by construction: read the `census basis` row. With n = 1 (single figures) only the error "
        "is meaningful.",
        "",
        markdown_table(stats[["series", "unit", "basis", "years", "n", "mape", "rmse", "theil_u", "u_bias",
                              "u_variance", "u_covariance", "r2_levels", "r2_changes", "sigma"]]),
        "",
    ]
    if plots:
        lines += ["![fit and residuals](fit_residuals.png)", "", "![trajectories](trajectories.png)", ""]
    alt = result.alternative
    if alt is not None:
        lines += _alternative_section(result, units, plots)
    if result.holdout is not None:
        lines += _holdout_section(result, plots)
    lines += ["## Outputs", "",
              f"- The point estimates, {primary.draws()[1].shape[0]} joint draws and the census-basis "
              f"observation noise ({', '.join(f'{k} = {v:.4g}' for k, v in result.observation_noise.items())}) "
              f"go to `{cfg.output.parameter_file}`"
              f"{'' if cfg.output.write_parameter_file else ' (not written: output.write_parameter_file=false)'}; "
              "a copy is `calibrated_parameters.yaml` (with its draws, `calibrated_draws.csv`) in this archive.",
              "- Tables: the CSV files next to this report; `manifest.json` lists every file with its hash.", ""]
    return "\n".join(lines)


def _structural_section(result: CalibrationResult, table: pd.DataFrame, plots: bool) -> list[str]:
    cfg = result.cfg
    s_cfg = cfg.uncertainty.structural
    primary = result.primary
    posterior = primary.structural
    n = posterior.n_particles
    cost_point = float(0.5 * np.sum(((primary.predictions - primary.observations.values) / primary.problem.sigma) ** 2))
    c05, c50, c95 = np.percentile(posterior.cost, [5, 50, 95])
    informed = table.loc[table["informed"], "parameter"].tolist()
    free = table.loc[table["data_free"], "parameter"].tolist()
    flat = table.loc[~table["informed"] & ~table["data_free"], "parameter"].tolist()
    lines = [
        "## Structural parameters: prior against posterior",
        "",
        "Prior: uniform on the documented range of the .mdl. Likelihood: the profile likelihood exp(-cost(u)), "
        "cost(u) = half the weighted SSR after refitting the fitted parameters with u held fixed, at the noise above. "
        f"Posterior: sequential Monte Carlo ({n} particles, {s_cfg.moves} Metropolis moves per tempering step, seed "
        f"{s_cfg.seed}; calibration/structural.py).",
        "",
        f"- **ESS.** A single SIR step from the prior (likelihood weights of the {n} initial prior draws) keeps an "
        f"effective sample size of **{posterior.prior_sir_ess:.1f}** of {n}: the data pin some combinations of "
        f"the assumptions sharply, so one-step SIR would need ~10^5 refits. The sampler tempers the likelihood in "
        f"{len(posterior.steps)} steps, each reweighting to an ESS of {s_cfg.ess_fraction:g} x N, resampling and "
        f"moving the particles; the last step (to beta = 1) had an ESS of **{posterior.final_ess:.0f}** of {n}; "
        f"{posterior.distinct} distinct particles at the end.",
    ]
    if posterior.final_ess < float(s_cfg.min_ess):
        lines += [f"- **WARNING: the last step's ESS ({posterior.final_ess:.0f}) is below "
                  f"{float(s_cfg.min_ess):g}; the posterior sample may be unreliable.**"]
    lines += [
        f"- **Point estimate.** Posterior median of the parameters the data inform (KS distance from the prior >= "
        f"{float(s_cfg.informed_ks):g}, or posterior sd <= {float(s_cfg.informed_sd_ratio):g} x prior sd), the .mdl "
        f"value of the others; the fitted parameters are refitted there. "
        f"Cost at the .mdl values {primary.cost_mdl:.3f}; at the point estimate {cost_point:.3f}; over the "
        f"posterior particles 5/50/95 % = {c05:.3f} / {c50:.3f} / {c95:.3f}.",
        f"- **Informed by the data:** {', '.join(informed) or 'none'}.",
        f"- **Posterior close to the prior (the data say little):** {', '.join(flat) or 'none'}.",
        f"- **Data-free (no effect on any fitted figure; posterior = prior exactly):** {', '.join(free) or 'none'}.",
        "",
        "Tempering steps:",
        "",
        markdown_table(posterior.steps_frame(), 4),
        "",
        "`sd_ratio` = posterior / prior standard deviation; `mean_shift` = posterior minus prior mean in prior "
        "standard deviations; `ks_distance` = Kolmogorov-Smirnov distance of the posterior marginal from the "
        "uniform prior. Monte Carlo noise: across sampler seeds the KS distance of a weakly informed parameter "
        "and its sd_ratio vary by about +-0.08 (calibration/README.md); borderline parameters "
        "can change class with the seed.",
        "",
        markdown_table(table[["parameter", "unit", "range_low", "range_high", "mdl_value", "posterior_median",
                              "lower", "upper", "sd_ratio", "mean_shift", "ks_distance", "informed",
                              "point_estimate"]]),
        "",
    ]
    if plots:
        lines += ["![structural posterior](structural_posterior.png)", ""]
    return lines


def _fitted_parameter_section(result: CalibrationResult, corr: pd.DataFrame, units: dict, plots: bool) -> list[str]:
    primary = result.primary
    joint = primary.joint is not None
    lines = ["## Fitted parameters (90 % intervals)", ""]
    summary = primary.parameter_summary.copy()
    summary.insert(1, "unit", summary["parameter"].map(units))
    if joint:
        cond = primary.summary.set_index("parameter") if primary.summary is not None else None
        lines += [
            f"Intervals: 5th-95th percentiles of {primary.joint.theta.shape[0]} joint draws (a structural posterior "
            "particle, a data set simulated from its fit with noise of uncertain scale, a refit with the particle's "
            "structural values held fixed): they include the structural uncertainty. `conditional` = the same "
            f"bootstrap ({primary.bootstrap.theta.shape[0] if primary.bootstrap is not None else 0} refits) with "
            "the structural parameters held at their point estimate. A parameter is flagged **not identified** when "
            "its interval covers more than half of its documented range or it is correlated above 0.95 with "
            "another parameter.",
            "",
        ]
        if cond is not None:
            summary["conditional"] = [f"[{cond.loc[n, 'lower']:.4g}, {cond.loc[n, 'upper']:.4g}]"
                                      for n in summary["parameter"]]
        else:
            summary["conditional"] = ""
        lines += [markdown_table(summary[["parameter", "unit", "kind", "estimate", "lower", "upper", "conditional",
                                          "bootstrap_sd", "laplace_sd", "range_low", "range_high", "interval_share",
                                          "identified", "note"]]), ""]
    else:
        lines += [
            f"Intervals: 5th-95th percentiles of {primary.bootstrap.theta.shape[0]} parametric-bootstrap refits. "
            "`laplace_sd` is the local (inverse Fisher information) standard deviation for comparison. A parameter "
            "is flagged **not identified** when its 90 % interval covers more than half of its documented range "
            "or it is correlated above 0.95 with another parameter.",
            "",
            markdown_table(summary[["parameter", "unit", "kind", "estimate", "lower", "upper", "bootstrap_sd",
                                    "laplace_sd", "range_low", "range_high", "interval_share", "identified",
                                    "note"]]),
            "",
        ]
    unidentified = summary.loc[~summary["identified"], "parameter"].tolist()
    lines += [f"**Not identified by the data:** {', '.join(unidentified) if unidentified else 'none'}.", "",
              f"### Correlation of the {'joint' if joint else 'bootstrap'} draws (fitted parameters; all columns in "
              f"{'correlation_joint.csv' if joint else 'correlation.csv'})", "",
              markdown_table(corr.reset_index().rename(columns={"index": "parameter"}), 2), ""]
    if plots:
        lines += ["![parameter draws](parameter_draws.png)", ""]
    return lines


def _alternative_section(result: CalibrationResult, units: dict, plots: bool) -> list[str]:
    primary, alt = result.primary, result.alternative
    rows = []
    p_sum = (primary.summary if primary.summary is not None else primary.parameter_summary).set_index("parameter")
    a_sum = alt.summary.set_index("parameter") if alt.summary is not None else None
    for name in alt.problem.model_parameters:
        row = {"parameter": name, "unit": units.get(name, ""),
               f"{primary.label}": p_sum.loc[name, "estimate"],
               f"{primary.label} 90 %": f"[{p_sum.loc[name, 'lower']:.4g}, {p_sum.loc[name, 'upper']:.4g}]",
               f"{alt.label}": float(alt.params[name])}
        if a_sum is not None:
            row[f"{alt.label} 90 %"] = f"[{a_sum.loc[name, 'lower']:.4g}, {a_sum.loc[name, 'upper']:.4g}]"
            row[f"{alt.label} identified"] = bool(a_sum.loc[name, "identified"])
        rows.append(row)
    table = alt.residual_table()
    lines = [
        f"## The other observation model: {alt.label}",
        "",
        "Same fitted parameters, same noise for the rates, hukou, settlement and water series; the 2020 urbanization "
        "and population get the noise estimated by the primary fit (one figure each cannot estimate it). The "
        "structural parameters are held at the primary point estimate in both columns (the primary interval is the "
        "conditional one), so the comparison isolates the observation model.",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
        "Its fit:",
        "",
        markdown_table(table[["series", "year", "value", "predicted", "residual", "sigma"]], 6),
        "",
        "Paths of both fits on the census basis are in the trajectories figure above: with only the 2020 "
        "figures, the anchors fit leaves the 2016-2019 path and the split of population change between "
        "out-migration level and trend to the model's structure.",
        "",
    ]
    if plots:
        lines += ["![alternative fit](alternative_fit_residuals.png)", ""]
    return lines


def _holdout_section(result: CalibrationResult, plots: bool) -> list[str]:
    ho = result.holdout
    last = result.cfg.holdout.last_year
    lines = [
        f"## Out-of-sample check: train on 2015-{last}, forecast {last + 1}-{result.cfg.window.last_year}",
        "",
        "The training fit uses the `bias` observation model on figures up to the end of "
        f"{last} (the settlement total 2016-2020 is excluded: it ends in 2020). Held out: the urbanization rate and "
        f"population after {last}: bulletin years de-biased with the *training* bias estimate, 2020 as published "
        "(post-census). The baselines extrapolate the same census-consistent training values (the 2015 census-basis "
        "state and the de-biased bulletins). Caveat: the 2015 census-basis state itself comes from the 2020 "
        "census (revised 62.09 % = 67.48 - 5.39; population interpolated between the censuses), so this tests the "
        "*dynamics* from a census-consistent start, not a forecast with 2018 information; the last row shows what "
        "extrapolating the raw bulletins (all that was known in 2018) gives.",
        "",
        markdown_table(ho.table, 6),
        "",
        "Errors (forecast - observed) over the held-out years:",
        "",
        markdown_table(ho.errors, 4),
        "",
    ]
    verdicts = []
    for series, part in ho.errors.groupby("series", sort=False):
        fair = part[~part["method"].str.contains("raw bulletins")]
        best = fair.loc[fair["mean_abs_error"].idxmin(), "method"]
        model_error = float(fair.loc[fair["method"] == "model", "mean_abs_error"].iloc[0])
        if best == "model":
            verdicts.append(f"- **{series}: the model wins** (mean absolute error {model_error:.4g}).")
        else:
            verdicts.append(f"- **{series}: the model loses to `{best}`** (model {model_error:.4g} against "
                            f"{float(fair['mean_abs_error'].min()):.4g}); see calibration/README.md for why.")
    lines += verdicts + [""]
    if ho.fit.parameter_summary is not None:
        kind = "joint draws" if ho.fit.joint is not None else "bootstrap"
        lines += [f"Fitted parameters of the training fit (90 % intervals of the {kind}):", "",
                  markdown_table(ho.fit.parameter_summary[["parameter", "estimate", "lower", "upper", "identified"]]), ""]
    if ho.fit.structural is not None:
        table = structural_summary(result.cfg, ho.fit.structural)
        informed = table[table["informed"]]
        lines += [f"Structural posterior of the training fit ({ho.fit.structural.n_particles} particles; final-step "
                  f"ESS {ho.fit.structural.final_ess:.0f}); the forecast uses the point estimate (posterior median of "
                  f"the informed parameters below, .mdl values otherwise) and its band the joint draws:", "",
                  markdown_table(informed[["parameter", "mdl_value", "posterior_median", "lower", "upper",
                                           "ks_distance"]]) if len(informed) else "(no structural parameter informed)",
                  ""]
    if ho.band is not None:
        lines += ["The model's 90 % forecast band (parameter draws of the training fit, process noise and model-form "
                  "alternatives of the `bands` config from the first held-out year, + estimated observation noise; "
                  "`*_parameters_only`: the same without process noise and model form):", "",
                  markdown_table(ho.band, 6), ""]
    if plots:
        lines += ["![out-of-sample](holdout.png)", ""]
    return lines

