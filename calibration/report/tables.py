"""Compute the tables of the calibration report from a :class:`~calibration.pipeline.CalibrationResult`:
every CSV of the archive, and the frames the markdown and the plots share (no files written)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..observation import NUISANCE, SERIES
from ..pipeline import CalibrationResult, FitOutcome


def parameter_units(spec, names: Sequence[str]) -> dict[str, str]:
    """Units of the fitted parameters (nuisance parameters: from :data:`~calibration.observation.NUISANCE`).

    Parameters
    ----------
    spec : model.spec.ModelSpec
    names : sequence of str
        Parameters of the fit, nuisance included.

    Returns
    -------
    dict
        ``{name: unit}`` (the ``.mdl`` unit without its ``[range]``).
    """
    units = {}
    for name in names:
        if name in NUISANCE:
            units[name] = NUISANCE[name][2]
        else:
            units[name] = spec.parameters[name].units.split("[")[0].strip()
    return units


def structural_summary(cfg, posterior) -> pd.DataFrame:
    """Prior against posterior of the structural parameters, with the config's rule for "informed".

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        The calibration config (``uncertainty.structural.informed_ks``, ``informed_sd_ratio``,
        ``uncertainty.level``).
    posterior : calibration.structural.StructuralPosterior
        The SMC sample.

    Returns
    -------
    pandas.DataFrame
        One row per structural parameter (ranges, medians and intervals in the parameter's units;
        ``sd_ratio``, ``mean_shift``, ``ks_distance`` [-]; ``informed``, ``data_free``).
    """
    s_cfg = cfg.uncertainty.structural
    return posterior.summary(float(s_cfg.informed_ks), float(cfg.uncertainty.level),
                             max_sd_ratio=float(s_cfg.informed_sd_ratio))


def starts_frame(outcome: FitOutcome) -> pd.DataFrame:
    """The multistart: one row per start with its cost [-], status, evaluations and solution
    [units of each parameter]."""
    ms = outcome.multistart
    rows = []
    for k, start in enumerate(ms.starts):
        row = {"start": k, "cost": start.cost, "agrees_with_best": start.cost <= ms.best.cost * (1 + ms.cost_tolerance) + 1e-6,
               "status": start.status, "nfev": start.nfev}
        row.update({name: v for name, v in zip(outcome.problem.names, outcome.problem.to_theta(start.x))})
        rows.append(row)
    return pd.DataFrame(rows)


def noise_frame(outcome: FitOutcome) -> pd.DataFrame:
    """The observation noise: one row per series with its unit, figures, sigma [series unit], how it
    was set and the residual degrees of freedom."""
    rows = []
    for name, sigma in outcome.noise.sigma.items():
        rows.append({"series": name, "unit": SERIES[name].unit, "n_obs": len(outcome.observations.index_of(name)),
                     "sigma": sigma, "method": outcome.noise.method[name],
                     "residual_dof": outcome.noise.dof.get(name, np.nan)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ReportTables:
    """The tables of one calibration report.

    Attributes
    ----------
    files : dict
        ``{file name: (frame, write the index)}``, every CSV of the archive.
    stats : pandas.DataFrame
        Fit statistics of the primary fit.
    corr : pandas.DataFrame
        Correlation of the fitted parameters' draws (joint draws when there are some).
    units : dict
        Units of the primary fit's parameters.
    structural : pandas.DataFrame or None
        :func:`structural_summary` of the primary fit (None without a structural posterior).
    """

    files: dict[str, tuple[pd.DataFrame, bool]]
    stats: pd.DataFrame
    corr: pd.DataFrame
    units: dict[str, str]
    structural: pd.DataFrame | None


def report_tables(result: CalibrationResult, spec) -> ReportTables:
    """Every table of the report.

    Parameters
    ----------
    result : CalibrationResult
    spec : model.spec.ModelSpec

    Returns
    -------
    ReportTables
    """
    primary = result.primary
    cfg = result.cfg
    files: dict[str, tuple[pd.DataFrame, bool]] = {}

    def add(name: str, frame: pd.DataFrame, index: bool = False) -> None:
        files[name] = (frame, index)

    add("observations_residuals.csv", primary.residual_table())
    stats = primary.statistics()
    add("fit_statistics.csv", stats)
    add("parameters.csv", primary.parameter_summary)
    draws_theta = (primary.joint or primary.bootstrap).theta
    corr = pd.DataFrame(np.corrcoef(draws_theta, rowvar=False), index=primary.problem.names,
                        columns=primary.problem.names)
    add("correlation.csv", corr, index=True)
    add("multistart.csv", starts_frame(primary))
    add("noise.csv", noise_frame(primary))
    if primary.bootstrap is not None:
        add("bootstrap_draws.csv", pd.DataFrame(primary.bootstrap.theta, columns=primary.problem.names))
    structural_table = None
    if primary.structural is not None:
        structural_table = structural_summary(cfg, primary.structural)
        add("structural_posterior.csv", structural_table)
        add("structural_steps.csv", primary.structural.steps_frame())
        particles = pd.DataFrame(primary.structural.u, columns=list(primary.structural.prior.names))
        particles["profile_cost"] = primary.structural.cost
        add("structural_particles.csv", particles)
        add("parameters_conditional.csv", primary.summary)
        names, draws = primary.draws()
        joint = pd.DataFrame(draws, columns=names)
        joint["particle"] = primary.joint.particle
        add("joint_draws.csv", joint)
        full = pd.DataFrame(np.corrcoef(draws, rowvar=False), index=names, columns=names)
        add("correlation_joint.csv", full, index=True)
    add("trajectories.csv", result.trajectories)
    alt = result.alternative
    if alt is not None:
        add("alternative_observations_residuals.csv", alt.residual_table())
        add("alternative_fit_statistics.csv", alt.statistics())
        if alt.summary is not None:
            add("alternative_parameters.csv", alt.summary)
        add("alternative_multistart.csv", starts_frame(alt))
    ho = result.holdout
    if ho is not None:
        add("holdout_forecasts.csv", ho.table)
        add("holdout_errors.csv", ho.errors)
        add("holdout_training.csv", ho.training)
        if ho.fit.parameter_summary is not None:
            add("holdout_parameters.csv", ho.fit.parameter_summary)
        if ho.fit.structural is not None:
            add("holdout_structural_posterior.csv", structural_summary(cfg, ho.fit.structural))
        if ho.band is not None:
            add("holdout_band.csv", ho.band)
    return ReportTables(files, stats, corr, parameter_units(spec, primary.problem.names), structural_table)
