"""Compare scenarios from their run archives: ``python -m analysis.compare <multirun dir> [--out DIR]``.

Reads the archives of a sweep (``runs/multirun/<date>_<time>/``) or any list of run archives,
verifies each against its manifest, and writes a comparison archive (atomically, with its own
``manifest.json``):

- ``comparison.csv`` / ``comparison.md``: one row per scenario — urbanization in 2025 and 2035
  (median and 90 % band), the probabilities of reaching 69 % (2025) and 72 % (2035), of keeping
  urban water demand within the cap every year to 2035, of keeping new land 2021-2025 within
  the quota and land per resident within the national standard in 2035, the joint probability of
  reaching each target *within the limits*, and a verdict (p >= 0.5 and p >= 0.9);
- ``decomposition.csv`` and a section of ``comparison.md``: the change in urbanization 2020-2035
  split into migration, reclassification, natural-increase and out-migration differentials;
- ``outcomes.csv`` and sections of ``comparison.md``: the outcomes of :mod:`analysis.outcomes`
  per scenario and their paired differences from the baseline (common random numbers, checked by
  :func:`crn_check`), the plan's ch.8 sec.2 check (nearly 1 million people moving to towns by
  2025), and the 2025/2035 urbanization benchmarks of :mod:`analysis.urban_benchmarks`;
- loop dominance by knockout (:mod:`analysis.loops`, re-running the first members of each archive
  from its own config and draws): a section of ``comparison.md`` and ``loops.png``;
- ``urbanization.png``, ``population.png``, ``water.png``, ``land.png``, ``decomposition.png``;
- ``regional.csv`` and a section of ``comparison.md`` when the model has leagues: the regional targets
  with their probabilities and the shrinking leagues (:mod:`analysis.regional`).

Definitions (also written into ``comparison.md``):

- a probability is a share of the ensemble members (equally weighted draws of the calibrated
  parameter uncertainty); the targets' probabilities include the observation noise of the
  urbanization rate as ``summary.json``'s ``probability`` does, evaluated exactly
  (:mod:`analysis.probability`); the water and land limits are model quantities without
  observation noise;
- *within the limits*, per member: the water all sectors want <= the cap in force in every year to
  2035 (the cap never binds) AND all new urban construction land 2021-2025 <= the quota. The joint
  probability of a target is ``mean_i P(member i reaches it) * [member i within the limits]``.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from base.archive import ArchiveError, RunArchive, build_manifest, finalize_manifest, staged_archive
from base.paths import RUNS_DIR
from simulator.cli import run_command, strip_debug_flag
from simulator.results import province_total
from simulator.summary import PLAN_VARIABLES, URBANIZATION_TARGETS, at_year, indicators, land_quota_km2

from .archives import (ComparisonInputError, LoadedArchive, common_random_numbers, describe,
                       find_archives, load_archive, row_labels)
from .decomposition import DEFAULT_PERIOD, DecompositionError, check_closure, decompose
from .plots import plot_loops, write_comparison_plots, write_output_plots
from .regional import regional_csv_rows, regional_markdown, regional_row
from .loops import DEFAULT_MEMBERS as LOOP_MEMBERS, LOOPS_PATH, archive_knockout, load_loops, loops_markdown
from .outcomes import OUTCOMES, from_ensemble
from .probability import exceedance, predictive_quantiles
from .urban_benchmarks import benchmarks as urbanization_benchmarks

#: Probability levels of the verdict.
VERDICT_LEVELS = (0.5, 0.9)
#: The 90 % band.
BAND = (0.05, 0.5, 0.95)
#: The plan's own check (ch.8 sec.2): "到2025年城镇化率达到69%左右,意味着未来将有近100万人进城".
PLAN_MOVERS_2021_2025 = 1.0e6
#: Flows that bring people into towns (persons/Year), summed for the plan's check.
INFLOWS = ("rural_to_urban_migration", "reclassification")


def crn_check(archive: LoadedArchive, baseline: LoadedArchive) -> dict[str, Any]:
    """Whether member *i* of ``archive`` has the same parameter draw as member *i* of ``baseline``.

    Compares the ``param_*`` columns of both ``ensemble.nc`` files (each member's parameter values)
    that vary over the members in both archives (a parameter the scenario fixes is not compared).

    Returns
    -------
    dict
        ``{"shared": bool, "compared": int, "differing": [names]}``; ``shared`` is False when the
        seeds or member counts differ, or any compared parameter differs.
    """
    if (archive.seed, archive.members) != (baseline.seed, baseline.members):
        return {"shared": False, "compared": 0, "differing": [], "reason": "different seed or member count"}
    compared, differing = 0, []
    for name in archive.ensemble.data_vars:
        if not str(name).startswith("param_") or name not in baseline.ensemble:
            continue
        a = np.asarray(archive.ensemble[name].values, dtype=float)
        b = np.asarray(baseline.ensemble[name].values, dtype=float)
        if a.shape != b.shape or np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        compared += 1
        if not np.array_equal(a, b):
            differing.append(str(name)[len("param_"):])
    return {"shared": not differing, "compared": compared, "differing": differing}


def outcome_rows(archive: LoadedArchive, baseline: LoadedArchive | None = None) -> dict[str, Any]:
    """The outcomes of :data:`analysis.outcomes.OUTCOMES` per scenario (median and 90 % band over
    members, parameter uncertainty only) and, with a baseline sharing the draws (common random
    numbers, :func:`crn_check`), the paired member-by-member differences (median, 5 %, 95 %).

    An outcome whose variables the archive lacks is listed in ``missing`` instead (a note, not an
    error)."""
    trajectories = from_ensemble(archive.ensemble, archive.point)
    row: dict[str, Any] = {"scenario": archive.scenario, "missing": {}, "basis": {}}
    paired = None
    if baseline is not None:
        check = crn_check(archive, baseline)
        row["crn"] = check
        if check["shared"]:
            paired = from_ensemble(baseline.ensemble, baseline.point)
    for item in OUTCOMES:
        if not item.available(trajectories):
            row["missing"][item.name] = item.missing(trajectories.values)
            continue
        values = item(trajectories)
        if item.basis(trajectories):
            row["basis"][item.name] = item.basis(trajectories)
        low, median, high = np.percentile(values, [5, 50, 95])
        row[f"{item.name}_median"], row[f"{item.name}_p05"], row[f"{item.name}_p95"] = (
            float(median), float(low), float(high))
        if paired is not None and item.way(paired) is item.way(trajectories):
            difference = values - item(paired)
            low, median, high = np.percentile(difference, [5, 50, 95])
            row[f"{item.name}_vs_baseline_median"] = float(median)
            row[f"{item.name}_vs_baseline_p05"] = float(low)
            row[f"{item.name}_vs_baseline_p95"] = float(high)
    if trajectories.has(*INFLOWS):
        # the flows are saved at year-ends: the trapezoid over 2020-2025 approximates their integral
        time = trajectories.time
        inside = (time >= 2020) & (time <= 2025)
        flow = sum(trajectories.series(name) for name in INFLOWS)[inside]
        movers = np.trapezoid(flow, time[inside], axis=0)
        row["movers_2021_2025_median"] = float(np.median(movers))
        row["movers_2021_2025_p05"], row["movers_2021_2025_p95"] = (float(x) for x in np.percentile(movers, [5, 95]))
    return row


def target_key(year: int) -> str:
    """``"69_2025"`` for the 2025 target."""
    return f"{URBANIZATION_TARGETS[year]:g}_{year}"


def verdict(probability: float) -> str:
    """``"p>=0.9"``, ``"p>=0.5"`` or ``"p<0.5"``."""
    for level in sorted(VERDICT_LEVELS, reverse=True):
        if probability >= level:
            return f"p>={level:g}"
    return f"p<{min(VERDICT_LEVELS):g}"


def scenario_indicators(archive: LoadedArchive, baseline: LoadedArchive | None = None) -> dict[str, Any]:
    """Every number of one comparison row, computed from the archive's files.

    Parameters
    ----------
    archive : LoadedArchive
        A verified simulation archive with an ensemble.
    baseline : LoadedArchive, optional
        The baseline run with the same seed and members (common random numbers): adds the paired
        difference of 2035 urbanization against it [pp].
    """
    ensemble, point = archive.ensemble, archive.point
    sigma = archive.observation_noise("urbanization_rate")
    flags = indicators(ensemble, point)
    water = np.asarray(flags["water_within_cap"].values, dtype=bool)
    land = np.asarray(flags["land_within_quota"].values, dtype=bool)
    within_limits = water & land
    row: dict[str, Any] = {
        "scenario": archive.scenario, "title": archive.title, "title_zh": archive.title_zh,
        "members": archive.members, "seed": archive.seed,
        "observation_noise_pp": sigma,
    }
    for year in URBANIZATION_TARGETS:
        rate = at_year(ensemble["urbanization_rate"], year).values
        low, median, high = predictive_quantiles(rate, sigma, BAND)
        row[f"urbanization_{year}_median"] = float(median)
        row[f"urbanization_{year}_p05"] = float(low)
        row[f"urbanization_{year}_p95"] = float(high)
    for year, target in URBANIZATION_TARGETS.items():
        rate = at_year(ensemble["urbanization_rate"], year).values
        reach = exceedance(rate, target, sigma)
        row[f"p_reach_{target_key(year)}"] = float(np.mean(reach))
        row[f"p_reach_{target_key(year)}_parameters_only"] = float(np.mean(rate >= target))
    row["p_water_within_cap"] = float(np.mean(water))
    row["p_land_within_quota"] = float(np.mean(land))
    row["p_land_per_capita_in_standard"] = float(np.mean(flags["land_per_capita_in_standard"].values))
    row["p_within_limits"] = float(np.mean(within_limits))
    for year, target in URBANIZATION_TARGETS.items():
        rate = at_year(ensemble["urbanization_rate"], year).values
        joint = float(np.mean(exceedance(rate, target, sigma) * within_limits))
        key = target_key(year)
        row[f"p_{key}_within_limits"] = joint
        for level in VERDICT_LEVELS:
            row[f"meets_{key}_p{int(round(level * 100))}"] = bool(joint >= level)
        row[f"verdict_{year}"] = verdict(joint)
    row["total_population_2035_median"] = float(np.median(at_year(ensemble["total_population"], 2035).values))
    row["new_land_2021_2025_median_km2"] = float(np.median(flags["new_land_2021_2025_km2"].values))
    row["land_quota_2021_2025_km2"] = land_quota_km2(point)
    row["max_water_stress_median"] = float(np.median(flags["max_water_stress"].values))
    demand_2035 = at_year(ensemble["total_water_demand_before_cap"], 2035).values
    cap_2035 = at_year(ensemble["effective_water_cap"], 2035).values
    row["water_demand_to_cap_2035_median"] = float(np.median(
        np.divide(demand_2035, cap_2035, out=np.full_like(demand_2035, np.inf), where=cap_2035 > 0)))
    if baseline is not None:
        difference = (at_year(ensemble["urbanization_rate"], 2035).values
                      - at_year(baseline.ensemble["urbanization_rate"], 2035).values)
        row["urbanization_2035_vs_baseline_mean_pp"] = float(np.mean(difference))
        row["urbanization_2035_vs_baseline_p05_pp"] = float(np.percentile(difference, 5))
        row["urbanization_2035_vs_baseline_p95_pp"] = float(np.percentile(difference, 95))
    return row


def output_indicators(archive: LoadedArchive) -> dict[str, Any]:
    """A comparison row of any model: for each output declared ``compare``, its province total
    (sum over its subscripts) in the last simulated year, median and 90 % band over members."""
    ensemble = archive.ensemble
    last = float(ensemble["time"].values[-1])
    row: dict[str, Any] = {"scenario": archive.scenario, "title": archive.title, "title_zh": archive.title_zh,
                           "members": archive.members, "seed": archive.seed}
    for name in archive.outputs.names("compare"):
        values = at_year(province_total(ensemble[name]), last).values
        low, median, high = np.percentile(values, [5, 50, 95])
        row[f"{name}_{last:g}_median"] = float(median)
        row[f"{name}_{last:g}_p05"] = float(low)
        row[f"{name}_{last:g}_p95"] = float(high)
    return row


def outputs_markdown(rows: Sequence[dict], labels: Sequence[str], archives: Sequence[LoadedArchive]) -> str:
    """``comparison.md`` of a model without the plan's variables: the declared outputs."""
    outputs = archives[0].outputs
    last = float(archives[0].ensemble["time"].values[-1])
    names = outputs.names("compare")
    lines = ["# Scenario comparison", "",
             f"{len(rows)} scenarios of `{archives[0].model}` (it lacks the plan's variables, so no targets "
             f"or limits): the outputs declared `compare`, province totals (sums over their subscripts) at "
             f"year-end {last:g}, median [5 %, 95 %] over the ensemble members.", "",
             "| scenario | " + " | ".join(f"{outputs.label(n)[0]} ({archives[0].ensemble[n].attrs.get('units', '')})"
                                         for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for label, row in zip(labels, rows):
        lines.append(f"| {label} | " + " | ".join(
            f"{row[f'{n}_{last:g}_median']:.6g} [{row[f'{n}_{last:g}_p05']:.6g}, {row[f'{n}_{last:g}_p95']:.6g}]"
            for n in names) + " |")
    lines += ["", "## Archives", "", "| scenario | archive | members | seed |", "|---|---|---|---|"]
    lines += [f"| {label} | `{a.path}` | {a.members} | {a.seed} |" for label, a in zip(labels, archives)]
    return "\n".join(lines) + "\n"


def has_plan(archive: LoadedArchive) -> bool:
    """Whether the archive's model has every variable the plan's targets and limits need."""
    return all(name in archive.ensemble or name in archive.point for name in PLAN_VARIABLES)


def decomposition_row(archive: LoadedArchive, period: tuple = DEFAULT_PERIOD) -> dict[str, Any]:
    """Mean contribution of each flow to the change in urbanization over ``period`` [pp]."""
    parts = decompose(archive.ensemble, period)
    check_closure(parts)
    return {"scenario": archive.scenario, "period": f"{period[0]}-{period[1]}", **parts.summary()}


# --------------------------------------------------------------------------- writing
def to_csv(rows: Sequence[dict], labels: Sequence[str]) -> str:
    """Rows as CSV text (first column: the row label)."""
    columns = ["label"] + list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for label, row in zip(labels, rows):
        writer.writerow({"label": label, **{k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()}})
    return buffer.getvalue()


def _band(row: dict, year: int) -> str:
    return (f"{row[f'urbanization_{year}_median']:.2f} "
            f"[{row[f'urbanization_{year}_p05']:.2f}, {row[f'urbanization_{year}_p95']:.2f}]")


def _ratio(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "no allocation left"


def _verdict_cell(row: dict, year: int) -> str:
    key = target_key(year)
    if row[f"meets_{key}_p90"]:
        return "yes, p ≥ 0.9"
    if row[f"meets_{key}_p50"]:
        return "yes, p ≥ 0.5"
    return "no, p < 0.5"


def _fmt(row: dict, key: str, digits: int, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return (f"{row[key + '_median']:{sign}.{digits}f} "
            f"[{row[key + '_p05']:{sign}.{digits}f}, {row[key + '_p95']:{sign}.{digits}f}]")


def flat_outcomes(row: dict) -> dict:
    """An outcome row for CSV: the missing outcomes and the draw check as text columns."""
    flat = {k: v for k, v in row.items() if k not in ("missing", "crn", "basis")}
    flat["missing_outcomes"] = "; ".join(f"{k} (needs {', '.join(v)})" for k, v in row["missing"].items())
    if "crn" in row:
        flat["draws_shared_with_baseline"] = row["crn"]["shared"]
    return flat


def outcomes_markdown(outcome_table: Sequence[dict], labels: Sequence[str]) -> list[str]:
    """The outcome table, the paired differences from the baseline and the plan's own check."""
    lines = ["", "## Outcomes next to the rate", "",
             "Median [5 %, 95 %] over the members (parameter uncertainty only, no observation noise). "
             "Absolute urban population, the official hukou rate, land per resident and the water margin "
             "separate policies that the rate (a ratio, raised by rural depopulation) does not. Water "
             "margin: its smallest value in 2021-2035 (negative: the cap binds; what it measures is "
             "given under the table). Definitions: `analysis/outcomes.py`.", "",
             "| scenario | " + " | ".join(f"{o.label} [{o.unit}]" for o in OUTCOMES) + " |",
             "|---|" + "---|" * len(OUTCOMES)]
    missing_notes = []
    for label, row in zip(labels, outcome_table):
        cells = []
        for item in OUTCOMES:
            if item.name in row["missing"]:
                cells.append("n/a")
                missing_notes.append(f"{label}: {item.label} (its archive lacks "
                                     f"{', '.join(row['missing'][item.name])})")
            else:
                cells.append(_fmt(row, item.name, item.digits))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    bases = {}
    for row in outcome_table:
        for name, text in row.get("basis", {}).items():
            bases.setdefault(name, set()).add(text)
    if bases:
        labels_of = {o.name: o.label for o in OUTCOMES}
        lines += ["", "Measured as: " + "; ".join(f"*{labels_of[n]}*: {' or '.join(sorted(t))}"
                                                 for n, t in bases.items()) + "."]
    if missing_notes:
        lines += ["", "n/a — not in the archive (made before the output existed, or a model without it; "
                  "re-run the scenario to get it): " + "; ".join(missing_notes) + "."]
    crn = [(label, row["crn"]) for label, row in zip(labels, outcome_table) if "crn" in row]
    if crn:
        lines += ["", "### Paired differences from the baseline (common random numbers)", "",
                  "Member *i* of every scenario draws the same calibrated parameters as member *i* of the "
                  "baseline (same seed and size; checked on every `param_*` column that varies in both "
                  "archives). The difference is taken member by member, then summarised: median "
                  "[5 %, 95 %]. A band that excludes 0 is a difference the parameter uncertainty does not "
                  "blur; one that straddles 0 is not a real difference. Only the parameter uncertainty is "
                  "paired: sources of variation not stored as `param_*` columns are not checked.", "",
                  "| scenario | draws shared | " + " | ".join(f"Δ {o.label} [{o.change_unit}]" for o in OUTCOMES) + " |",
                  "|---|---|" + "---|" * len(OUTCOMES)]
        for (label, check), row in zip(crn, [r for r in outcome_table if "crn" in r]):
            if not check["shared"]:
                why = check.get("reason") or "differ: " + ", ".join(check["differing"])
                lines.append(f"| {label} | **no** ({why}) | " + " | ".join("—" for _ in OUTCOMES) + " |")
                continue
            cells = [(_fmt(row, f"{o.name}_vs_baseline", o.digits, signed=True)
                      if f"{o.name}_vs_baseline_median" in row else "n/a") for o in OUTCOMES]
            lines.append(f"| {label} | yes ({check['compared']} parameters) | " + " | ".join(cells) + " |")
    movers = [(label, row) for label, row in zip(labels, outcome_table) if "movers_2021_2025_median" in row]
    if movers:
        lines += ["", "### The plan's own check: people moving to towns 2021–2025", "",
                  "Plan ch.8 sec.2: reaching about 69 % in 2025 “means that nearly 1 million people will move "
                  "to towns” (意味着未来将有近100万人进城). The model's figures: the people entering towns "
                  "(rural→urban migration plus reclassification, trapezoid over the year-end flow rates "
                  "2020–2025, an approximation of the integral) and the net growth of urban residents "
                  "(exact, stock 2025 − 2020; it nets out deaths, births and out-migration). Median "
                  "[5 %, 95 %], 10k persons.", "",
                  "| scenario | entering towns 2021–2025 | net growth of urban residents 2021–2025 | plan |",
                  "|---|---|---|---|"]
        for label, row in movers:
            growth = (_fmt(row, "urban_growth_2021_2025", 1) if "urban_growth_2021_2025_median" in row else "n/a")
            lines.append(f"| {label} | {row['movers_2021_2025_median'] / 1e4:.1f} "
                         f"[{row['movers_2021_2025_p05'] / 1e4:.1f}, {row['movers_2021_2025_p95'] / 1e4:.1f}] "
                         f"| {growth} | nearly {PLAN_MOVERS_2021_2025 / 1e4:.0f} |")
    return lines


def benchmarks_markdown(rows: Sequence[dict], labels: Sequence[str], bench: dict | None) -> list[str]:
    """The 2025 and 2035 urbanization benchmarks (URGD, damped logistic) next to each scenario."""
    if bench is None:
        return []
    record = bench["record"]
    anchors = ", ".join(f"{t:.2f}: {r:.2f} %" for t, r in zip(record.times, record.rates))
    logistic = bench["logistic"]
    lines = ["", "## Benchmarks for the urbanization rate (no SD structure)", "",
             f"From the census-consistent record up to 2020 only ({anchors}; {record.basis}); methods in "
             "`analysis/urban_benchmarks.py`. **URGD**: the UN urban-rural growth-difference method, the "
             f"2010-2020 difference d = {bench['urgd_per_year'] * 100:.2f} %/yr held constant (WUP's "
             "convergence to a world norm not applied). **Damped logistic**: saturation level "
             f"K = {logistic['level']:.1f} % fitted with its rate ({logistic['rate'] * 100:.2f} %/yr) "
             "through the three anchors. Scenario columns: median of the members with observation noise.", "",
             "| | 2025 | 2035 |", "|---|---|---|",
             f"| URGD (UN) | {bench['urgd'][2025]:.2f} | {bench['urgd'][2035]:.2f} |",
             f"| damped logistic | {bench['damped_logistic'][2025]:.2f} | {bench['damped_logistic'][2035]:.2f} |"]
    for label, row in zip(labels, rows):
        lines.append(f"| {label} | {row['urbanization_2025_median']:.2f} | {row['urbanization_2035_median']:.2f} |")
    return lines


def comparison_markdown(rows: Sequence[dict], labels: Sequence[str], decomposition: Sequence[dict],
                        archives: Sequence[LoadedArchive], period: tuple,
                        outcome_table: Sequence[dict] = (), bench: dict | None = None,
                        loop_lines: Sequence[str] = ()) -> str:
    """``comparison.md``: definitions, the comparison table, the outcomes with their paired
    differences, the benchmarks, the loop knockouts and the decomposition table."""
    members = sorted({a.members for a in archives})
    seeds = sorted({a.seed for a in archives})
    sigmas = sorted({row["observation_noise_pp"] for row in rows})
    crn = common_random_numbers(list(archives))
    t25, t35 = (f"{URBANIZATION_TARGETS[y]:g} %" for y in (2025, 2035))
    se = 0.5 / np.sqrt(min(members))
    lines = [
        "# Scenario comparison",
        "",
        f"{len(rows)} scenarios, {', '.join(map(str, members))} ensemble members each (seed "
        f"{', '.join(map(str, seeds))}; "
        + ("common random numbers: member *i* has the same calibrated parameter draw in every scenario)."
           if crn else "different seeds or sizes: the scenarios do **not** share parameter draws).")
        + f" Monte Carlo standard error of a probability: at most {se:.3f}.",
        "",
        "**Definitions.** Urbanization: median and 90 % band [5 %, 95 %] of the resident urbanization "
        "rate (%), year-end. Probabilities are shares of the members (the calibrated parameter "
        "uncertainty). **The target probabilities include the observation noise** of the "
        f"urbanization rate (σ = {', '.join(f'{s:.3g}' for s in sigmas)} pp, "
        "`calibrated.uncertainty.observation_noise`), as `summary.json`'s `probability` does — here "
        "evaluated exactly, mean of Φ((u − target)/σ) over members, instead of one noise draw per "
        "member — and so do the urbanization medians and bands. Water and land are model quantities "
        "without observation noise. *Water within cap*: the water all sectors want (domestic, "
        "agriculture, industry, ecology) ≤ the cap in force (after dry-year shortfalls) in every year "
        "up to 2035, i.e. the cap never binds. *Land within quota*: all new urban construction land "
        "2021–2025 (cities and county seats, towns, development zones, infrastructure) ≤ the quota. *Land per capita in standard*: 65–115 m² per "
        "urban resident in 2035 (GB 50137-2011). **Within the limits** is judged jointly per "
        "member: the member reaches the target AND stays within the water cap AND the land quota; "
        "the verdict says whether that joint probability is ≥ 0.9, ≥ 0.5 or below.",
        "",
        f"| scenario | urbanization 2025 (with obs. noise) | urbanization 2035 (with obs. noise) "
        f"| P(≥ {t25}, 2025; with obs. noise) | P(≥ {t35}, 2035; with obs. noise) "
        f"| P(water within cap) | P(land within quota) | P(land per capita in standard) "
        f"| P({t25} 2025 within limits; with obs. noise) | P({t35} 2035 within limits; with obs. noise) "
        f"| 2025 verdict | 2035 verdict "
        f"| water wanted / cap in force 2035 (median) | new land 2021–2025, km² (median / quota) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in zip(labels, rows):
        lines.append(
            f"| {label} | {_band(row, 2025)} | {_band(row, 2035)} "
            f"| {row[f'p_reach_{target_key(2025)}']:.3f} | {row[f'p_reach_{target_key(2035)}']:.3f} "
            f"| {row['p_water_within_cap']:.3f} | {row['p_land_within_quota']:.3f} "
            f"| {row['p_land_per_capita_in_standard']:.3f} "
            f"| {row[f'p_{target_key(2025)}_within_limits']:.3f} | {row[f'p_{target_key(2035)}_within_limits']:.3f} "
            f"| {_verdict_cell(row, 2025)} | {_verdict_cell(row, 2035)} "
            f"| {_ratio(row['water_demand_to_cap_2035_median'])} "
            f"| {row['new_land_2021_2025_median_km2']:.0f} / {row['land_quota_2021_2025_km2']:.0f} |")
    if any("urbanization_2035_vs_baseline_mean_pp" in row for row in rows):
        lines += ["", "**Paired difference from the baseline** (common random numbers), urbanization "
                  "2035 [pp]: mean [5 %, 95 %] of member-by-member differences.", "",
                  "| scenario | Δ 2035 vs baseline |", "|---|---|"]
        for label, row in zip(labels, rows):
            if "urbanization_2035_vs_baseline_mean_pp" in row:
                lines.append(f"| {label} | {row['urbanization_2035_vs_baseline_mean_pp']:+.2f} "
                             f"[{row['urbanization_2035_vs_baseline_p05_pp']:+.2f}, "
                             f"{row['urbanization_2035_vs_baseline_p95_pp']:+.2f}] |")
    if outcome_table:
        lines += outcomes_markdown(outcome_table, labels)
    lines += benchmarks_markdown(rows, labels, bench)
    lines += list(loop_lines)
    lines += [
        "",
        f"## Where the change in urbanization {period[0]}–{period[1]} comes from",
        "",
        "From the model's four accounting stocks (`urbanization_change_from_*`), exact under Euler "
        "integration: for every member the four parts add up to its change in urbanization (largest "
        "residual in the last column). Each part is the **mean over members**, so the parts add "
        "up exactly to the mean total change. Positive: the flow raised the urbanization rate.",
        "",
        "| scenario | rural→urban migration | reclassification | natural-increase differential "
        "| out-migration differential | sum of parts | total change | largest residual |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, row in zip(labels, decomposition):
        lines.append(
            f"| {label} | {row['migration']:+.3f} | {row['reclassification']:+.3f} "
            f"| {row['natural_increase']:+.3f} | {row['out_migration']:+.3f} "
            f"| {row['sum_of_parts']:+.3f} | {row['total_change']:+.3f} | {row['max_abs_residual']:.1e} |")
    lines += [
        "",
        "## Archives",
        "",
        "| scenario | archive | git commit | members | seed |",
        "|---|---|---|---|---|",
    ]
    for label, archive in zip(labels, archives):
        commit = (archive.manifest.get("git", {}).get("commit") or "unknown")[:12]
        dirty = " (dirty)" if archive.manifest.get("git", {}).get("dirty") else ""
        lines.append(f"| {label} | `{archive.path}` | {commit}{dirty} | {archive.members} | {archive.seed} |")
    lines.append("")
    return "\n".join(lines)


def default_output(paths: Sequence[Path]) -> Path:
    """``<multirun dir>/comparison`` for one multirun directory, else ``runs/comparisons/<time>``."""
    if len(paths) == 1 and not RunArchive(paths[0]).complete:
        return paths[0] / "comparison"
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return RUNS_DIR / "comparisons" / stamp


def compare(paths: Sequence[str | Path], out: str | Path | None = None, *, plots: bool = True,
            period: tuple = DEFAULT_PERIOD, loop_members: int = LOOP_MEMBERS,
            loops_path: str | Path = LOOPS_PATH) -> dict[str, Any]:
    """Compare the scenarios of ``paths`` and write the comparison archive into ``out``.

    Parameters
    ----------
    paths : sequence of path-like
        A multirun directory and/or run archive directories.
    out : path-like, optional
        Where the comparison archive goes (must not exist or be empty); default
        :func:`default_output`.
    plots : bool
        Write the PNG plots.
    period : tuple of int
        Period of the decomposition (year-ends).
    loop_members : int
        Members re-run per scenario for the loop knockouts (:mod:`analysis.loops`); 0 skips them.
    loops_path : path-like
        The loops declaration (``analysis/loops.yaml``).

    Returns
    -------
    dict
        ``{"out": Path, "rows": [...], "labels": [...], "decomposition": [...]}``.

    Raises
    ------
    ComparisonInputError, base.archive.ArchiveError
        For missing, incomplete or altered archives (nothing is written).
    """
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    archive_dirs = find_archives(paths)
    archives = [load_archive(path) for path in archive_dirs]
    models = sorted({a.model for a in archives})
    if len(models) > 1:
        raise ComparisonInputError(f"the archives come from different models ({', '.join(models)}); "
                                   f"compare runs of one model at a time")
    labels = row_labels(archives)
    plan = all(has_plan(archive) for archive in archives)
    out = Path(out) if out is not None else default_output(paths)
    if plan:
        baseline = None
        baselines = [a for a in archives if a.scenario == "baseline"]
        if len(baselines) == 1 and common_random_numbers(archives):
            baseline = baselines[0]
        rows = [scenario_indicators(archive, baseline) for archive in archives]
        decomposition = [decomposition_row(archive, period) for archive in archives]
        reference = baselines[0] if len(baselines) == 1 else None
        outcome_table = [outcome_rows(archive, reference if archive is not reference else None)
                         for archive in archives]
        bench = urbanization_benchmarks()
        loops = load_loops(loops_path) if loop_members > 0 else []
        knockouts, knockout_labels, skipped = [], [], []
        for archive, label in zip(archives, labels):
            if not loops:
                break
            try:
                knockouts.append(archive_knockout(archive, loops, loop_members))
                knockout_labels.append(label)
            except ComparisonInputError as error:  # e.g. a config this checkout no longer accepts
                skipped.append(f"{label}: {error}")
    else:
        rows, decomposition = [output_indicators(archive) for archive in archives], []
        outcome_table, bench, loops, knockouts, knockout_labels, skipped = [], None, [], [], [], []
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ComparisonInputError(f"{out} already exists; choose another output directory with --out DIR")
    markdown = (comparison_markdown(rows, labels, decomposition, archives, period, outcome_table, bench,
                                    loops_markdown(knockouts, knockout_labels, loops)
                                    + [f"Loop knockouts skipped for {note}" for note in skipped])
                if plan else outputs_markdown(rows, labels, archives))
    regional = [regional_row(archive) for archive in archives]  # models with leagues (analysis.regional)
    if any(row is not None for row in regional):
        head, sep, tail = markdown.partition("\n## Archives")
        markdown = head.rstrip("\n") + "\n" + "\n".join(regional_markdown(regional, labels)) + "\n" + sep + tail
    manifest = build_manifest(
        kind="comparison", seed=None, wall_time_s=time.perf_counter() - started,
        inputs={f"archive {i} ({label}) manifest": RunArchive(a.path).manifest_path
                for i, (label, a) in enumerate(zip(labels, archives))},
        extra={"archives": [describe(a) for a in archives],
               "common_random_numbers": common_random_numbers(archives),
               "decomposition_period": list(period) if plan else None,
               "probabilities": "target probabilities include the observation noise of the "
                                "urbanization rate (exact mixture evaluation); water and land do not"},
    )
    with staged_archive(out) as staging:
        (staging / "comparison.csv").write_text(to_csv(rows, labels))
        if plan:
            (staging / "decomposition.csv").write_text(to_csv(decomposition, labels))
            (staging / "outcomes.csv").write_text(to_csv([flat_outcomes(r) for r in outcome_table], labels))
        (staging / "comparison.md").write_text(markdown, encoding="utf-8")
        if any(row is not None for row in regional):
            (staging / "regional.csv").write_text(to_csv(regional_csv_rows(regional),
                                                         [lb for lb, r in zip(labels, regional) if r is not None]))
        if plots:
            if plan:
                write_comparison_plots(staging, archives, labels, decomposition, period)
                if knockouts:
                    plot_loops(knockouts, knockout_labels, loops, staging / "loops.png")
            else:
                write_output_plots(staging, archives, labels)
        finalize_manifest(staging, manifest)
    return {"out": out, "rows": rows, "labels": labels, "decomposition": decomposition,
            "outcomes": outcome_table, "benchmarks": bench, "knockouts": knockouts, "regional": regional,
            "markdown": markdown}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.compare",
        description="Compare scenario run archives (a multirun directory or archive directories).")
    parser.add_argument("paths", nargs="+", help="multirun directory and/or run archive directories")
    parser.add_argument("--out", help="output directory (default: <multirun dir>/comparison, "
                                      "or runs/comparisons/<date>_<time>)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--loop-members", type=int, default=LOOP_MEMBERS,
                        help=f"members re-run per scenario for the loop knockouts (default {LOOP_MEMBERS}; 0 skips them)")
    args = parser.parse_args(argv)
    if args.loop_members < 0:
        parser.error("--loop-members must be >= 0")
    try:
        result = compare(args.paths, args.out, plots=not args.no_plots, loop_members=args.loop_members)
    except (ComparisonInputError, ArchiveError, DecompositionError) as error:
        print(f"analysis.compare: error: {error}", file=sys.stderr)
        return 2
    markdown = result["markdown"]
    print(markdown.split("\n## Archives")[0].rstrip())
    print(f"\ncomparison archive: {result['out']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command("analysis.compare", lambda: main(strip_debug_flag(sys.argv[1:]))))
