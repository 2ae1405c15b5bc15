"""Render the five figures of the calibration report: fit and residuals (primary and alternative
fit), model paths with their bands, the out-of-sample check, the fitted parameters' draws, and the
structural posterior against its prior. English labels; every figure is a file."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from base.fonts import subplots

from ..observation import SERIES
from ..pipeline import CalibrationResult, FitOutcome


def plot_fit(outcome: FitOutcome, path: Path) -> Path:
    """Observed against predicted figures (top) and standardised residuals (bottom), one column per series.

    Parameters
    ----------
    outcome : FitOutcome
        A fit (primary or alternative observation model).
    path : Path
        PNG file written.

    Returns
    -------
    Path
        ``path``.
    """
    table = outcome.residual_table()
    names = outcome.observations.series_names
    fig, axes = subplots(2, len(names), figsize=(3.3 * len(names), 6), squeeze=False)
    for k, name in enumerate(names):
        part = table[table["series"] == name].sort_values("year")
        ax = axes[0, k]
        ax.plot(part["year"], part["value"], "o", color="k", label="observed (as reported)")
        ax.plot(part["year"], part["predicted"], "s-", color="C0", label="model via observation model")
        if part["biased"].any():
            ax.plot(part["year"], part["value_census_basis"], "^", color="C3", mfc="none",
                    label="observed, de-biased (census basis)")
            ax.plot(part["year"], part["predicted_census_basis"], "-", color="C3", alpha=0.6,
                    label="model (census basis)")
        ax.set_title(f"{name} [{SERIES[name].unit}]", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xticks(part["year"])
        ax.set_xlim(part["year"].min() - 0.6, part["year"].max() + 0.6)
        ax = axes[1, k]
        ax.axhline(0, color="grey", lw=0.8)
        ax.bar(part["year"], part["standardised_residual"], color="C1")
        ax.set_ylabel("(model - observed) / sigma", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_xticks(part["year"])
        ax.set_xlim(part["year"].min() - 0.6, part["year"].max() + 0.6)
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle(f"Fit and standardised residuals: {outcome.label}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_trajectories(result: CalibrationResult, path: Path) -> Path:
    """Model paths 2015-2020 of urbanization [%], population [million] and hukou urbanization [%] with
    their 5-95 % bands over the parameter draws, against the observations (census basis and as reported).

    Returns
    -------
    Path
        ``path``.
    """
    fig, axes = subplots(1, 3, figsize=(13, 4))
    table = result.primary.residual_table()
    for ax, name, scale, unit in zip(axes, ("urbanization_rate", "total_population", "hukou_urbanization_rate"),
                                     (1.0, 1e-6, 1.0), ("%", "million persons", "%")):
        for k, (label, part) in enumerate(result.trajectories[result.trajectories["variable"] == name].groupby("fit", sort=False)):
            ax.fill_between(part["year"], part["p05"] * scale, part["p95"] * scale, color=f"C{k}", alpha=0.2)
            ax.plot(part["year"], part["estimate"] * scale, "-", color=f"C{k}", label=f"model, {label}")
        obs = table[table["series"] == name]
        if not obs.empty:
            ax.plot(obs["year"], obs["value_census_basis"] * scale, "o", color="k",
                    label="observed (census basis; bulletins de-biased)")
            raw = obs[obs["biased"]]
            ax.plot(raw["year"], raw["value"] * scale, "x", color="grey", label="bulletin as reported")
        ax.set_title(f"{name} [{unit}]", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("Model paths 2015-2020 (band: 5-95 % over bootstrap parameter draws)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_holdout(result: CalibrationResult, path: Path) -> Path:
    """The out-of-sample check: training figures, held-out figures, each method's forecast and the
    model's 90 % band (urbanization [%], population [million]).

    Returns
    -------
    Path
        ``path``.
    """
    holdout = result.holdout
    fig, axes = subplots(1, 2, figsize=(11, 4))
    for ax, name, scale in zip(axes, ("urbanization_rate", "total_population"), (1.0, 1e-6)):
        train = holdout.training[holdout.training["series"] == name]
        test = holdout.table[holdout.table["series"] == name]
        ax.plot(train["year"], train["value_census_basis"] * scale, "o", color="k", label="training (census basis)")
        ax.plot(test["year"], test["observed_census_basis"] * scale, "o", color="C3", label="held out")
        methods = [c for c in test.columns if c not in ("series", "year", "observed_census_basis", "basis")]
        for k, method in enumerate(methods):
            if test[method].isna().all() or "raw bulletins" in method:
                continue
            ax.plot(test["year"], test[method] * scale, "s--", color=f"C{k}", label=method[:40])
        if holdout.band is not None:
            band = holdout.band[holdout.band["series"] == name]
            ax.errorbar(band["year"] + 0.08, band["p50"] * scale,
                        yerr=[(band["p50"] - band["p05"]) * scale, (band["p95"] - band["p50"]) * scale],
                        fmt="none", ecolor="C0", capsize=3, label="model 90 % band")
        ax.set_title(f"{name} ({'%' if scale == 1 else 'million persons'})", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("Out-of-sample check: train 2015-%d, forecast the following years" % result.cfg.holdout.last_year,
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_draws(outcome: FitOutcome, path: Path) -> Path:
    """Histograms of the fitted parameters' draws over their documented ranges [units of each
    parameter], with the point estimate (red: not identified).

    Returns
    -------
    Path
        ``path``.
    """
    names = outcome.problem.names
    draws = (outcome.joint or outcome.bootstrap).theta
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    summary = outcome.parameter_summary.set_index("parameter")
    for k, name in enumerate(names):
        ax = axes[k // cols, k % cols]
        ax.hist(draws[:, k], bins=30, color="C0" if summary.loc[name, "identified"] else "C3")
        ax.axvline(outcome.theta_hat[k], color="k")
        ax.set_xlim(outcome.problem.lower[k], outcome.problem.upper[k])
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=6)
    for k in range(len(names), rows * cols):
        axes[k // cols, k % cols].axis("off")
    kind = "joint draws (structural uncertainty included)" if outcome.joint is not None else "bootstrap draws"
    fig.suptitle(f"Fitted parameters: {kind} over the documented ranges (red: not identified)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_structural(outcome: FitOutcome, table: pd.DataFrame, path: Path) -> Path:
    """Posterior histogram of each structural parameter against its uniform prior [units of the parameter].

    Parameters
    ----------
    outcome : FitOutcome
        The primary fit (with its structural posterior).
    table : pandas.DataFrame
        Its :func:`~.tables.structural_summary`.
    path : Path
        PNG file written.

    Returns
    -------
    Path
        ``path``.
    """
    posterior = outcome.structural
    names = posterior.prior.names
    cols = 5
    rows = math.ceil(len(names) / cols)
    fig, axes = subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False)
    table = table.set_index("parameter")
    for k, name in enumerate(names):
        ax = axes[k // cols, k % cols]
        low, high = posterior.prior.lower[k], posterior.prior.upper[k]
        row = table.loc[name]
        color = "0.6" if row["data_free"] else ("C3" if row["informed"] else "C0")
        ax.hist(posterior.u[:, k], bins=20, range=(low, high), density=True, color=color, alpha=0.8)
        ax.axhline(1.0 / (high - low), color="k", lw=1, ls="--")
        ax.axvline(row["mdl_value"], color="k", lw=1)
        ax.axvline(row["point_estimate"], color="C1", lw=1.5)
        ax.set_xlim(low, high)
        ax.set_title(f"{name}\nKS {row['ks_distance']:.2f}", fontsize=6)
        ax.tick_params(labelsize=5)
        ax.set_yticks([])
    for k in range(len(names), rows * cols):
        axes[k // cols, k % cols].axis("off")
    fig.suptitle("Structural parameters: posterior (bars; red = informed by the data, grey = data-free) against "
                 "the uniform prior (dashed); black = .mdl value, orange = point estimate", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def write_plots(result: CalibrationResult, structural_table: pd.DataFrame | None, directory: Path) -> list[Path]:
    """Write every figure of the report into ``directory``.

    Parameters
    ----------
    result : CalibrationResult
    structural_table : pandas.DataFrame or None
        :func:`~.tables.structural_summary` of the primary fit (None: no structural figure).
    directory : Path
        Where the PNG files go.

    Returns
    -------
    list of Path
        The files written.
    """
    primary, alt, ho = result.primary, result.alternative, result.holdout
    written = [plot_fit(primary, directory / "fit_residuals.png"),
               plot_trajectories(result, directory / "trajectories.png"),
               plot_draws(primary, directory / "parameter_draws.png")]
    if structural_table is not None:
        written.append(plot_structural(primary, structural_table, directory / "structural_posterior.png"))
    if alt is not None:
        written.append(plot_fit(alt, directory / "alternative_fit_residuals.png"))
    if ho is not None:
        written.append(plot_holdout(result, directory / "holdout.png"))
    return written
