"""Global sensitivity analysis (Sobol indices): ``python -m analysis.sensitivity [options]``.

Which inputs drive urbanization, urban water demand, total population and the water stress ratio,
in 2020, 2025, 2030 and 2035? Variance-based (Sobol) indices with respect to

- the **policy levers** (:mod:`analysis.levers`), uniform over their documented ranges (or the
  ranges of ``analysis/sensitivity_ranges.yaml``, each with its reason);
- the **calibrated parameters**, over their draws in ``calibrated.uncertainty``: each is
  sampled from its empirical marginal distribution (inverse empirical CDF of the draws). Sobol
  indices assume independent inputs, so the correlation between the draws is not kept;
- the **assumptions** of the ``.mdl`` (comment ``Assumption:``), uniform over their documented
  ranges;
- the **data marked UNVERIFIED** in the ``.mdl`` (source values with a wide documented range),
  uniform over those ranges.

All other parameters keep the value of the chosen scenario (calibrated point estimates plus the
scenario's values); inputs set by the scenario itself stay fixed, as in the scenario's ensemble.

Why Sobol rather than Morris: the vectorized engine runs ~10^5 parameter sets in seconds, so the
variance decomposition (first-order S1 = share of variance explained alone, total ST = share
including interactions) is affordable, with bootstrap confidence intervals and a convergence check;
Morris would only screen and rank.

Design: SALib's Saltelli scheme on a scrambled Sobol sequence with ``N`` base samples (fixed seed),
``N (D + 2)`` model runs in a few vectorized calls. Convergence: the design for ``N / 2`` is the
first half of the design for ``N``, so the indices are also estimated at ``N / 2``; the change is
reported (stable when every index moves by at most the tolerance, default 0.05).

Writes an archive (atomically, with ``manifest.json``): ``sobol_indices.csv``,
``convergence.csv``, ``factors.csv``, ``sensitivity.md``, ``sobol_<year>.png``,
``sobol_over_time.png``.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf

from base.archive import ArchiveError, build_manifest, finalize_manifest, staged_archive
from base.fonts import bilingual, subplots
from base.paramfile import uncertainty_from_config
from base.paths import RUNS_DIR, SCENARIOS_DIR
from model import MODEL_PATH
from model.spec import ParameterError, load_spec
from model.vectorized import VectorizedModel
from simulator.cli import run_command, strip_debug_flag
from simulator.config import ConfigError, check_run_settings, resolve_parameters

from .levers import lever_names
from .sobol import SobolIndices, analyze, check_base_samples, design_rows, unit_design

GROUPS = ("levers", "calibrated", "assumptions", "unverified_data")
DEFAULT_OUTPUTS = ("urbanization_rate", "urban_water_demand", "total_population")
DEFAULT_YEARS = (2020, 2025, 2030, 2035)
RANGES_PATH = Path(__file__).with_name("sensitivity_ranges.yaml")
#: Largest change of an index between N/2 and N for the estimate to count as converged.
CONVERGENCE_TOLERANCE = 0.05
#: Model runs per engine call (bounds memory).
CHUNK_ROWS = 20000
OUTPUT_LABELS = {
    "urbanization_rate": ("urbanization rate", "城镇化率"),
    "urban_water_demand": ("urban water demand", "城镇用水需求"),
    "total_population": ("total population", "常住人口"),
    "water_stress_ratio": ("water stress ratio", "用水压力比"),
}


class SensitivityError(ValueError):
    """Bad options or inputs of the sensitivity analysis (message names the fix)."""


@dataclass(frozen=True)
class Factor:
    """One uncertain input of the sensitivity analysis.

    Attributes
    ----------
    name : str
        Model parameter.
    group : str
        One of :data:`GROUPS`.
    low, high : float
        Range sampled [units of the parameter].
    base : float
        Value in the scenario (used when the factor is not varied) [units].
    draws : ndarray or None
        Bootstrap draws for calibrated parameters (sampled by inverse empirical CDF), else None
        (uniform on ``[low, high]``).
    note : str
        Where the range comes from.
    """

    name: str
    group: str
    low: float
    high: float
    base: float
    draws: np.ndarray | None = field(default=None, compare=False)
    note: str = ""

    @property
    def distribution(self) -> str:
        return "calibration draws (empirical)" if self.draws is not None else "uniform"

    def transform(self, unit: np.ndarray) -> np.ndarray:
        """Map points of ``[0, 1]`` to parameter values."""
        unit = np.asarray(unit, dtype=float)
        if self.draws is not None:
            return np.quantile(self.draws, unit, method="inverted_cdf")
        return self.low + (self.high - self.low) * unit


def classify(spec, name: str, calibrated: set[str]) -> str | None:
    """The group of parameter ``name`` (``None``: fixed source values and conventions)."""
    if name in set(lever_names()):
        return "levers"
    if name in calibrated:
        return "calibrated"
    description = spec.parameters[name].description
    if description.startswith("Assumption"):
        return "assumptions"
    if "UNVERIFIED" in description:
        return "unverified_data"
    return None


def load_range_overrides(path: str | Path = RANGES_PATH) -> dict[str, dict]:
    """Sensitivity ranges that replace the documented ones (``{name: {range, reason}}``)."""
    path = Path(path)
    if not path.is_file():
        raise SensitivityError(f"the ranges file {path} does not exist; pass --ranges PATH of a YAML file "
                               f"(default {RANGES_PATH.name})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SensitivityError(f"{path} is not valid YAML ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(data, dict):
        raise SensitivityError(f"{path} must map parameter names to {{range: [low, high], reason: ...}}")
    for name, entry in data.items():
        if not isinstance(entry, dict) or "range" not in entry or "reason" not in entry:
            raise SensitivityError(f"{path}: entry '{name}' needs a 'range: [low, high]' and a 'reason'")
    return data


def input_factors(spec, resolved, uncertainty, groups: Sequence[str] = GROUPS,
                  overrides: Mapping[str, dict] | None = None) -> tuple[list[Factor], list[str]]:
    """The factors to vary, and the names left fixed because the scenario sets them.

    Parameters
    ----------
    spec : model.spec.ModelSpec
    resolved : simulator.config.ResolvedParameters
        Parameters of the scenario.
    uncertainty : base.paramfile.Uncertainty
        Calibrated draws.
    groups : sequence of str
        Subset of :data:`GROUPS`.
    overrides : mapping, optional
        Range replacements (:func:`load_range_overrides`).
    """
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise SensitivityError(f"unknown parameter group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    overrides = dict(overrides or {})
    for name in overrides:
        spec.check_name(name)
    calibrated = set(uncertainty.parameters) if uncertainty.available else set()
    fixed_by_scenario = resolved.fixed_by_user()
    factors, fixed = [], []
    for name in sorted(spec.parameters):
        group = classify(spec, name, calibrated)
        if group is None or group not in groups:
            continue
        var = spec.parameters[name]
        low, high = var.limits
        if high <= low:
            continue
        if name in fixed_by_scenario:
            fixed.append(name)
            continue
        base = float(resolved.values.get(name, var.value))
        note = f"documented range in {spec.mdl_path.name}"
        draws = None
        if group == "calibrated":
            draws = np.sort(uncertainty.draws[:, uncertainty.parameters.index(name)])
            low, high = float(draws[0]), float(draws[-1])
            note = f"{len(draws)} draws (calibrated.uncertainty)"
            if high <= low:
                continue
        elif name in overrides:
            new_low, new_high = (float(v) for v in overrides[name]["range"])
            if new_low >= new_high:
                raise SensitivityError(
                    f"sensitivity range of '{name}' [{new_low:g}, {new_high:g}] is backwards or empty: write "
                    f"[low, high] with low < high, inside the documented range [{var.limits[0]:g}, {var.limits[1]:g}]")
            if not var.limits[0] <= new_low < new_high <= var.limits[1]:
                raise SensitivityError(
                    f"sensitivity range of '{name}' [{new_low:g}, {new_high:g}] must lie inside its "
                    f"documented range [{var.limits[0]:g}, {var.limits[1]:g}]")
            low, high = new_low, new_high
            note = " ".join(str(overrides[name]["reason"]).split())
        factors.append(Factor(name, group, float(low), float(high), base, draws, note))
    group_rank = {g: i for i, g in enumerate(GROUPS)}
    factors.sort(key=lambda f: (group_rank[f.group], f.name))
    if not factors:
        raise SensitivityError("no factor to vary: check --groups (and that the scenario does not fix them all)")
    return factors, fixed


def evaluate(factors: Sequence[Factor], unit: np.ndarray, base: Mapping[str, float],
             outputs: Sequence[str], years: Sequence[int], settings: Mapping[str, Any],
             engine=None, chunk_rows: int = CHUNK_ROWS) -> dict[tuple[str, int], np.ndarray]:
    """Run the vectorized engine on every row of the unit design.

    Returns
    -------
    dict
        ``{(output, year): values}`` with one value per design row.
    """
    if engine is None:
        engine = VectorizedModel.from_mdl()
    values = {f.name: f.transform(unit[:, j]) for j, f in enumerate(factors)}
    results = {(o, y): np.empty(unit.shape[0]) for o in outputs for y in years}
    for start in range(0, unit.shape[0], chunk_rows):
        stop = min(start + chunk_rows, unit.shape[0])
        params = dict(base)
        params.update({name: column[start:stop] for name, column in values.items()})
        run = engine.run(params, n_samples=stop - start, final_time=settings["final_time"],
                         time_step=settings["time_step"], saveper=1.0, method=settings["method"],
                         return_columns=list(outputs))
        for year in years:
            rows = np.flatnonzero(np.isclose(run.time, year))
            if rows.size == 0:
                raise SensitivityError(f"year {year} is not simulated ({run.time[0]:g}-{run.time[-1]:g})")
            for output in outputs:
                results[(output, year)][start:stop] = run.values[output][rows[0]]
    for key, column in results.items():
        if not np.all(np.isfinite(column)):
            raise SensitivityError(f"{key[0]} in {key[1]} is NaN or infinite for some factor values")
    return results


@dataclass
class SensitivityResult:
    """Indices at N (final) and N/2 (convergence), with the set-up."""

    factors: list[Factor]
    fixed: list[str]
    indices: dict[tuple[str, int], SobolIndices]
    half: dict[tuple[str, int], SobolIndices]
    settings: dict[str, Any]
    runs: int
    engine_seconds: float


def compose_scenario(scenario: str, calibrated: str, overrides: Sequence[str] = ()):
    """The composed ``sim.py`` config of a scenario (Hydra compose API)."""
    try:
        with initialize_config_dir(config_dir=str(SCENARIOS_DIR), version_base="1.3"):
            return compose(config_name="config",
                           overrides=[f"scenario={scenario}", f"calibrated={calibrated}", *overrides])
    except HydraException as error:
        raise SensitivityError(f"cannot compose scenario '{scenario}' with calibrated '{calibrated}': "
                               f"{error}") from None


def run_sensitivity(*, scenario: str = "baseline", calibrated: str = "default", n: int = 1024,
                    seed: int = 20211122, groups: Sequence[str] = GROUPS,
                    outputs: Sequence[str] = DEFAULT_OUTPUTS, years: Sequence[int] = DEFAULT_YEARS,
                    resamples: int = 100, ranges: str | Path = RANGES_PATH,
                    config_overrides: Sequence[str] = (), cfg=None) -> SensitivityResult:
    """Sample, run and analyse.

    Parameters
    ----------
    scenario, calibrated : str
        Config options of ``sim.py`` (``scenarios/scenario/<scenario>.yaml``...).
    n : int
        Base samples (power of two); ``n (D + 2)`` model runs.
    seed : int
        Seed of the design and of the bootstrap.
    groups : sequence of str
        Factor groups to vary (:data:`GROUPS`).
    outputs : sequence of str
        Model variables analysed.
    years : sequence of int
        Year-ends analysed.
    resamples : int
        Bootstrap resamples of the confidence intervals.
    ranges : path-like
        Range replacements (:data:`RANGES_PATH`).
    config_overrides : sequence of str
        Further Hydra overrides of the run config (e.g. ``run.time_step=0.125``).
    cfg : omegaconf.DictConfig, optional
        An already composed ``sim.py`` config to use instead of composing ``scenario`` and
        ``calibrated`` (composition with the calibrated draws takes seconds).
    """
    check_base_samples(n)
    if n < 4:
        raise SensitivityError("n must be at least 4 (the convergence check uses n / 2)")
    spec = load_spec()
    unknown = [o for o in outputs if o not in spec.variables]
    if unknown:
        raise SensitivityError(f"unknown output(s) {', '.join(unknown)}: use model variable names "
                               f"such as {', '.join(DEFAULT_OUTPUTS)}")
    if cfg is None:
        cfg = compose_scenario(scenario, calibrated, config_overrides)
    else:
        scenario = str(cfg.scenario.name)
    try:
        resolved = resolve_parameters(cfg, spec)
        settings = check_run_settings(cfg, spec.variables["initial_time"].value)
        uncertainty = uncertainty_from_config(OmegaConf.select(cfg, "calibrated.uncertainty"), spec)
    except (ParameterError, ConfigError) as error:
        raise SensitivityError(str(error)) from None
    if max(years) > settings["final_time"]:
        raise SensitivityError(f"year {max(years)} is after run.final_time = {settings['final_time']:g}")
    factors, fixed = input_factors(spec, resolved, uncertainty, groups, load_range_overrides(ranges))
    unit = unit_design(len(factors), n, seed)
    base = dict(resolved.values)
    started = time.perf_counter()
    values = evaluate(factors, unit, base, outputs, years, settings)
    engine_seconds = time.perf_counter() - started
    names = [f.name for f in factors]
    half_rows = design_rows(n // 2, len(factors))
    indices, half = {}, {}
    for key, column in values.items():
        indices[key] = analyze(names, column, seed, resamples=resamples)
        half[key] = analyze(names, column[:half_rows], seed, resamples=resamples)
    info = {"scenario": scenario, "calibrated": calibrated, "n": n, "seed": seed, "groups": list(groups),
            "outputs": list(outputs), "years": [int(y) for y in years], "resamples": resamples,
            "time_step": settings["time_step"], "method": settings["method"],
            "config_overrides": list(config_overrides)}
    return SensitivityResult(factors, fixed, indices, half, info, unit.shape[0], engine_seconds)


# --------------------------------------------------------------------------- tables
def indices_rows(result: SensitivityResult) -> list[dict[str, Any]]:
    """One row per output, year and factor (the final estimates at N)."""
    groups = {f.name: f.group for f in result.factors}
    rows = []
    for (output, year), si in result.indices.items():
        for j, name in enumerate(si.names):
            rows.append({"output": output, "year": year, "factor": name, "group": groups[name],
                         "n": si.n, "S1": si.S1[j], "S1_conf": si.S1_conf[j],
                         "ST": si.ST[j], "ST_conf": si.ST_conf[j]})
    return rows


def convergence_rows(result: SensitivityResult, tolerance: float = CONVERGENCE_TOLERANCE) -> list[dict[str, Any]]:
    """Per output and year: largest change of S1 and ST between N/2 and N, top-5 agreement."""
    rows = []
    for key, full in result.indices.items():
        half = result.half[key]
        d_s1 = float(np.nanmax(np.abs(full.S1 - half.S1))) if np.any(np.isfinite(full.S1)) else float("nan")
        d_st = float(np.nanmax(np.abs(full.ST - half.ST))) if np.any(np.isfinite(full.ST)) else float("nan")
        rows.append({"output": key[0], "year": key[1], "n_half": half.n, "n": full.n,
                     "max_abs_change_S1": d_s1, "max_abs_change_ST": d_st,
                     "top5_same_set": set(full.ranking()[:5]) == set(half.ranking()[:5]),
                     "stable": bool(d_s1 <= tolerance and d_st <= tolerance)})
    return rows


def factor_rows(result: SensitivityResult) -> list[dict[str, Any]]:
    return [{"factor": f.name, "group": f.group, "distribution": f.distribution, "low": f.low,
             "high": f.high, "scenario_value": f.base, "range_source": f.note} for f in result.factors]


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()})
    return buffer.getvalue()


def markdown(result: SensitivityResult, wall_time_s: float, top: int = 10) -> str:
    """``sensitivity.md``: set-up, top factors per output, sums, convergence."""
    info = result.settings
    last = max(info["years"])
    lines = [
        f"# Global sensitivity analysis (Sobol): scenario `{info['scenario']}`",
        "",
        f"{len(result.factors)} factors ({', '.join(f'{g}: {sum(f.group == g for f in result.factors)}' for g in GROUPS if any(f.group == g for f in result.factors))}), "
        f"N = {info['n']} base samples, {result.runs} model runs (vectorized engine, {result.engine_seconds:.1f} s; "
        f"total {wall_time_s:.1f} s), seed {info['seed']}, 95 % bootstrap confidence intervals "
        f"({info['resamples']} resamples). Factors set by the scenario and kept fixed: "
        f"{', '.join(result.fixed) if result.fixed else 'none'}.",
        "",
        "S1: share of the output's variance explained by the factor alone; ST: share including all "
        "its interactions (ST ≥ S1 up to estimation error; 1 − ΣS1 is the share due to "
        "interactions). Calibrated parameters (those with draws in `calibrated.uncertainty`) vary "
        "over their draws, each from its marginal (correlations between them are not kept); "
        "levers, assumptions and UNVERIFIED data over their documented ranges "
        "(`analysis/sensitivity_ranges.yaml` lists the exceptions, with reasons).",
        "",
    ]
    for output in info["outputs"]:
        si = result.indices[(output, last)]
        en, _ = OUTPUT_LABELS.get(output, (output, ""))
        lines += [f"## {en} ({output}), {last}", ""]
        if not np.any(np.isfinite(si.ST)):
            lines += ["The output does not vary over the design: indices undefined.", ""]
            continue
        lines += [f"ΣS1 = {np.nansum(si.S1):.3f}; variance {si.variance:.4g}.", "",
                  "| factor | group | S1 | ST |", "|---|---|---|---|"]
        groups = {f.name: f.group for f in result.factors}
        for name in si.ranking()[:top]:
            j = si.names.index(name)
            lines.append(f"| `{name}` | {groups[name]} | {si.S1[j]:.3f} ± {si.S1_conf[j]:.3f} "
                         f"| {si.ST[j]:.3f} ± {si.ST_conf[j]:.3f} |")
        lines.append("")
    lines += [f"## Over time: the three largest ST per output", "", "| output | " + " | ".join(map(str, info["years"])) + " |",
              "|---|" + "---|" * len(info["years"])]
    for output in info["outputs"]:
        cells = []
        for year in info["years"]:
            si = result.indices[(output, year)]
            if not np.any(np.isfinite(si.ST)):
                cells.append("no variance")
                continue
            cells.append(", ".join(f"`{name}` {si.ST[si.names.index(name)]:.2f}" for name in si.ranking()[:3]))
        lines.append(f"| {output} | " + " | ".join(cells) + " |")
    conv = convergence_rows(result)
    stable = all(row["stable"] for row in conv if np.isfinite(row["max_abs_change_ST"]))
    lines += ["", f"## Convergence (N = {info['n'] // 2} against N = {info['n']})", "",
              f"Every index moves by at most {CONVERGENCE_TOLERANCE} when N doubles: "
              f"**{'yes' if stable else 'no'}**.", "",
              "| output | year | max abs change S1 | max abs change ST | same top 5 | stable |",
              "|---|---|---|---|---|---|"]
    for row in conv:
        lines.append(f"| {row['output']} | {row['year']} | {row['max_abs_change_S1']:.3f} "
                     f"| {row['max_abs_change_ST']:.3f} | {'yes' if row['top5_same_set'] else 'no'} "
                     f"| {'yes' if row['stable'] else 'no'} |")
    lines += ["", "## Factors", "", "| factor | group | distribution | range | scenario value | range source |",
              "|---|---|---|---|---|---|"]
    for f in result.factors:
        lines.append(f"| `{f.name}` | {f.group} | {f.distribution} | [{f.low:.6g}, {f.high:.6g}] "
                     f"| {f.base:.6g} | {f.note} |")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots
def plot_indices(result: SensitivityResult, year: int, path: Path, top: int = 12) -> Path:
    """Bars of S1 and ST (with confidence intervals) of the top factors, one panel per output."""

    outputs = result.settings["outputs"]
    cols = 2 if len(outputs) > 1 else 1
    rows = int(np.ceil(len(outputs) / cols))
    fig, axes = subplots(rows, cols, figsize=(7 * cols, 0.32 * top * rows + 1.5 * rows), squeeze=False)
    for ax, output in zip(axes.flat, outputs):
        si = result.indices[(output, year)]
        en, zh = OUTPUT_LABELS.get(output, (output, output))
        ax.set_title(bilingual(f"{en}, {year}", f"{zh}，{year}年"))
        if not np.any(np.isfinite(si.ST)):
            ax.text(0.5, 0.5, "no variance", ha="center", transform=ax.transAxes)
            continue
        names = si.ranking()[:top][::-1]
        idx = [si.names.index(n) for n in names]
        y = np.arange(len(names))
        ax.barh(y + 0.2, si.ST[idx], height=0.4, xerr=si.ST_conf[idx], color="tab:red", alpha=0.7,
                label=bilingual("total (ST)", "总效应"))
        ax.barh(y - 0.2, si.S1[idx], height=0.4, xerr=si.S1_conf[idx], color="tab:blue", alpha=0.7,
                label=bilingual("first order (S1)", "一阶效应"))
        ax.set_yticks(y, names, fontsize=7)
        ax.set_xlabel(bilingual("Sobol index (share of variance)", "Sobol指数（方差占比）"))
        ax.axvline(0, color="black", lw=0.6)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="lower right")
    return _save_grid(fig, axes, len(outputs), path)


def _save_grid(fig, axes, used: int, path: Path) -> Path:
    """Hide the unused panels of a grid of axes, then write and close the figure."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_over_time(result: SensitivityResult, path: Path, top: int = 6) -> Path:
    """Total indices over the analysed years for each output's top factors."""

    outputs, years = result.settings["outputs"], result.settings["years"]
    cols = 2 if len(outputs) > 1 else 1
    rows = int(np.ceil(len(outputs) / cols))
    fig, axes = subplots(rows, cols, figsize=(7 * cols, 4 * rows), squeeze=False)
    for ax, output in zip(axes.flat, outputs):
        table = np.array([[np.nan_to_num(result.indices[(output, y)].ST[j], nan=0.0)
                           for y in years] for j in range(len(result.factors))])
        names = [f.name for f in result.factors]
        for j in np.argsort(-table.max(axis=1), kind="stable")[:top]:
            conf = np.array([result.indices[(output, y)].ST_conf[j] for y in years])
            ax.errorbar(years, table[j], yerr=np.nan_to_num(conf), marker="o", capsize=3, label=names[j])
        en, zh = OUTPUT_LABELS.get(output, (output, output))
        ax.set_title(bilingual(f"{en}: total Sobol index over time", f"{zh}：总效应指数随时间变化"))
        ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
        ax.set_ylabel(bilingual("ST", "总效应"))
        ax.set_xticks(years)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    return _save_grid(fig, axes, len(outputs), path)


# --------------------------------------------------------------------------- archive and CLI
def write_archive(result: SensitivityResult, out: Path, wall_time_s: float, plots: bool = True,
                  command: Sequence[str] | None = None) -> Path:
    """Write the sensitivity archive into ``out`` (atomically)."""
    manifest = build_manifest(kind="sensitivity", command=command, seed=result.settings["seed"],
                              wall_time_s=wall_time_s,
                              inputs={"model": MODEL_PATH,
                                      "ranges": RANGES_PATH},
                              extra={"settings": result.settings, "runs": result.runs,
                                     "factors": [f.name for f in result.factors],
                                     "fixed_by_scenario": result.fixed})
    with staged_archive(out) as staging:
        (staging / "sobol_indices.csv").write_text(to_csv(indices_rows(result)))
        (staging / "convergence.csv").write_text(to_csv(convergence_rows(result)))
        (staging / "factors.csv").write_text(to_csv(factor_rows(result)))
        (staging / "sensitivity.md").write_text(markdown(result, wall_time_s), encoding="utf-8")
        if plots:
            plot_indices(result, max(result.settings["years"]), staging / f"sobol_{max(result.settings['years'])}.png")
            if len(result.settings["years"]) > 1:
                plot_over_time(result, staging / "sobol_over_time.png")
        finalize_manifest(staging, manifest)
    return out


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.sensitivity",
        description="Sobol indices of urbanization, water demand... with respect to the levers and "
                    "the uncertain parameters (SALib, vectorized engine).")
    parser.add_argument("--scenario", default="baseline", help="scenario whose values are the base (default baseline)")
    parser.add_argument("--calibrated", default="default", help="calibrated config (default: default)")
    parser.add_argument("--n", type=int, default=1024, help="base samples, a power of two (default 1024)")
    parser.add_argument("--seed", type=int, default=20211122, help="seed of design and bootstrap")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"factor groups (default {','.join(GROUPS)})")
    parser.add_argument("--outputs", default=",".join(DEFAULT_OUTPUTS), help="model variables to analyse")
    parser.add_argument("--years", default=",".join(map(str, DEFAULT_YEARS)), help="year-ends to analyse")
    parser.add_argument("--resamples", type=int, default=100, help="bootstrap resamples (default 100)")
    parser.add_argument("--ranges", default=str(RANGES_PATH), help="YAML file of range replacements")
    parser.add_argument("--out", help="output directory (default runs/sensitivity/<date>_<time>_<scenario>)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the run config, e.g. run.time_step=0.125")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        years = [int(y) for y in _csv_list(args.years)]
    except ValueError:
        print(f"analysis.sensitivity: error: --years must be whole years, got {args.years!r}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (
        RUNS_DIR / "sensitivity" / f"{_dt.datetime.now():%Y-%m-%d_%H-%M-%S}_{args.scenario}")
    if out.exists() and any(out.iterdir()):
        print(f"analysis.sensitivity: error: {out} already exists; choose another --out", file=sys.stderr)
        return 2
    try:
        result = run_sensitivity(scenario=args.scenario, calibrated=args.calibrated, n=args.n,
                                 seed=args.seed, groups=_csv_list(args.groups),
                                 outputs=_csv_list(args.outputs), years=years,
                                 resamples=args.resamples, ranges=args.ranges,
                                 config_overrides=args.overrides)
        wall = time.perf_counter() - started
        write_archive(result, out, wall, plots=not args.no_plots)
    except (SensitivityError, ValueError, ArchiveError) as error:
        print(f"analysis.sensitivity: error: {error}", file=sys.stderr)
        return 2
    text = markdown(result, time.perf_counter() - started)
    print(text.split("\n## Over time")[0].rstrip())
    print(f"\nsensitivity archive: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command("analysis.sensitivity", lambda: main(strip_debug_flag(sys.argv[1:]))))
