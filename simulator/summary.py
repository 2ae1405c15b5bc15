"""Targets and limits of the plan, evaluated on a point run and on an ensemble (``summary.json``).

The same indicator functions serve single runs, ensembles (a ``sample`` dimension) and the
scenario comparison, so every number in a table can be recomputed from an archive.

``summary.json`` holds the outputs declared with a ``summary`` key (:mod:`model.outputs`) at the
report years, as province totals (sums over their subscripts), for any model; and the plan's
targets and limits when the model has the variables they need (:data:`PLAN_VARIABLES`); the regional
targets (``regional``, :mod:`simulator.regional`) when it has residents by league.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from model.outputs import Outputs, load_outputs

from .regional import regional_lines, regional_summary
from .results import province_total

#: Resident urbanization targets of the plan (ch.2 sec.3): about 69 % in 2025, about 72 % in 2035.
URBANIZATION_TARGETS = {2025: 69.0, 2035: 72.0}
#: The quota period of the plan's land target (new land 2021-2025 = land(2025) - land(2020)).
LAND_QUOTA_PERIOD = (2020, 2025)
#: Relative tolerance when comparing a quantity with a limit it is constrained to meet exactly.
LIMIT_TOLERANCE = 1e-9
#: 1 亿m³ (yi cubic metres, the unit of the plan's water figures) [m3].
M3_PER_YI_M3 = 1.0e8
#: Probabilities closer than this to 0 or 1 are printed as "< 0.01" / "> 0.99": a finite ensemble
#: cannot tell 0.995 from certainty.
PROBABILITY_PRINT_LIMIT = 0.01
#: Years reported in ``summary.json`` (those inside the run).
REPORT_YEARS = (2015, 2020, 2025, 2030, 2035)
#: What the plan's targets and limits are computed from: without all of them (another model,
#: e.g. a test model), the summary and the comparison give the declared outputs only.
PLAN_VARIABLES = ("urbanization_rate", "urban_water_demand", "water_cap", "urban_construction_land",
                  "total_urban_construction_land", "water_margin", "water_cap_binds", "land_quota_binds",
                  "effective_water_cap", "total_water_demand_before_cap",
                  "land_per_urban_resident", "new_land_quota_2021_2025", "m2_per_mu", "m2_per_km2",
                  "land_standard_minimum", "land_standard_maximum")


def has_plan_variables(dataset: xr.Dataset) -> bool:
    """Whether ``dataset`` holds every variable of :data:`PLAN_VARIABLES`."""
    return all(name in dataset for name in PLAN_VARIABLES)


def at_year(data: xr.DataArray, year: float) -> xr.DataArray:
    """Value at model time ``year`` (year-end value)."""
    times = data["time"].values
    index = np.flatnonzero(np.isclose(times, year))
    if index.size == 0:
        raise KeyError(f"year {year} is outside the simulated times {times[0]:g}-{times[-1]:g}")
    return data.isel(time=int(index[0]))


def constant(point: xr.Dataset, name: str) -> float:
    """A constant of the model from a point run (same value at every time)."""
    return float(np.asarray(point[name].values).reshape(-1)[0])


def km2_to_mu(point: xr.Dataset, km2: float) -> float:
    """An area in km2 expressed in mu (亩), with the model's own conversion constants."""
    return km2 * constant(point, "m2_per_km2") / constant(point, "m2_per_mu")


def land_quota_km2(point: xr.Dataset) -> float:
    """The 2021-2025 land quota [km2] of the run (``new_land_quota_2021_2025`` is in mu)."""
    return constant(point, "new_land_quota_2021_2025") * constant(point, "m2_per_mu") / constant(point, "m2_per_km2")


def indicators(ds: xr.Dataset, point: xr.Dataset) -> dict[str, xr.DataArray]:
    """Indicators of the targets and limits, per member if ``ds`` has a ``sample`` dimension.

    Parameters
    ----------
    ds : xarray.Dataset
        A point run or an ensemble (variables ``urbanization_rate``, ``water_margin``,
        ``urban_water_demand``, ``water_cap``, ``total_urban_construction_land``,
        ``land_per_urban_resident``).
    point : xarray.Dataset
        The point run, which supplies the constants (quota, land standard).

    Notes
    -----
    *Water within cap*: the water all sectors want (domestic, agriculture, industry, ecology)
    fits under the cap in force (``water_margin`` >= 0) in every year to 2035, i.e. the cap never
    binds. *Land within quota*: all new urban construction land 2021-2025 (cities and county
    seats, towns, development zones, infrastructure) <= the quota.
    """
    start, end = LAND_QUOTA_PERIOD
    land = ds["total_urban_construction_land"]
    new_land = at_year(land, end) - at_year(land, start)
    quota = land_quota_km2(point)
    low, high = constant(point, "land_standard_minimum"), constant(point, "land_standard_maximum")
    last_year = float(ds["time"].values[-1])
    land_pc_end = at_year(ds["land_per_urban_resident"], last_year)
    demand, cap = ds["urban_water_demand"], ds["water_cap"]
    horizon = ds["time"] <= max(URBANIZATION_TARGETS)
    within_cap = (ds["water_margin"] >= 0).where(horizon, True).all("time")
    result = {
        "new_land_2021_2025_km2": new_land,
        "land_within_quota": new_land <= quota * (1 + LIMIT_TOLERANCE),
        "land_per_capita_end": land_pc_end,
        "land_per_capita_in_standard": (land_pc_end >= low) & (land_pc_end <= high),
        "water_within_cap": within_cap,
        "max_water_stress": (demand / cap.where(cap > 0)).where(horizon).max("time"),
    }
    for year, target in URBANIZATION_TARGETS.items():
        rate = at_year(ds["urbanization_rate"], year)
        result[f"urbanization_{year}"] = rate
        result[f"reach_{target:g}_{year}"] = rate >= target
    return result


def binding_shares(ensemble: xr.Dataset, first_year: float = 2016) -> dict[str, Any]:
    """How often the water cap and the land quota bind in an ensemble.

    Parameters
    ----------
    ensemble : xarray.Dataset
        Members with ``water_cap_binds`` and ``land_quota_binds`` (1 when the limit binds) at
        the saved (year-end) times.
    first_year : float
        First year counted (2016: the model starts at the end of 2015).

    Returns
    -------
    dict
        ``water_cap`` and ``land_quota``: the share of members x years (``first_year``-2035)
        in which the limit binds, and that share by year.
    """
    horizon = (ensemble["time"] >= first_year) & (ensemble["time"] <= max(URBANIZATION_TARGETS))
    result = {}
    for key, name in (("water_cap", "water_cap_binds"), ("land_quota", "land_quota_binds")):
        flags = province_total(ensemble[name]).where(horizon, drop=True) > 0
        by_year = flags.mean("sample")
        result[key] = {"share_member_years": float(flags.mean()),
                       "share_by_year": {str(int(t)): float(v) for t, v in zip(by_year["time"].values, by_year.values)}}
    return result


def _water_summary(point: xr.Dataset) -> dict[str, Any]:
    margin = point["water_margin"]
    worst = int(np.argmin(margin.values))
    demand, cap = point["total_water_demand_before_cap"], point["effective_water_cap"]
    urban, urban_cap = point["urban_water_demand"], point["water_cap"]
    ratio = (urban / urban_cap.where(urban_cap > 0)).values
    return {
        "units": "m3/Year",
        "worst_year": int(point["time"].values[worst]),
        "worst_year_demand": float(demand.values[worst]),
        "worst_year_cap": float(cap.values[worst]),
        "smallest_margin": float(margin.values[worst]) * M3_PER_YI_M3,
        "smallest_margin_yi_m3": float(margin.values[worst]),
        "largest_urban_demand_to_allocation_ratio": float(np.nanmax(ratio)) if np.any(np.isfinite(ratio)) else None,
        "within_cap_every_year": bool(np.all(margin.values >= 0)),
        "years_over_cap": [int(t) for t, m in zip(point["time"].values, margin.values) if m < 0],
        "note": ("water_margin = the cap in force (after dry-year shortfalls) minus the water all sectors "
                 "want; negative = the cap binds and agriculture, industry and ecology are cut (domestic "
                 "use first, plan ch.8 sec.3)"),
    }


def _land_summary(point: xr.Dataset) -> dict[str, Any]:
    start, end = LAND_QUOTA_PERIOD
    land = point["total_urban_construction_land"]
    new_land = float(at_year(land, end) - at_year(land, start))
    quota = land_quota_km2(point)
    low, high = constant(point, "land_standard_minimum"), constant(point, "land_standard_maximum")
    per_capita = point["land_per_urban_resident"]
    outside = [int(t) for t, v in zip(point["time"].values, per_capita.values) if not low <= v <= high]
    return {
        "new_land_2021_2025_km2": new_land,
        "quota_2021_2025_km2": quota,
        "new_land_2021_2025_mu": km2_to_mu(point, new_land),
        "quota_2021_2025_mu": constant(point, "new_land_quota_2021_2025"),
        "share_of_quota_used": new_land / quota if quota > 0 else None,
        "within_quota": bool(new_land <= quota * (1 + LIMIT_TOLERANCE)),
        "land_per_urban_resident_m2": {str(int(y)): float(at_year(per_capita, y))
                                       for y in (2015, 2020, 2025, 2035) if y <= point["time"].values[-1]},
        "standard_m2_per_person": [low, high],
        "standard_source": "GB 50137-2011, climate zones I, II, VI, VII",
        "within_standard_at_end": bool(low <= float(per_capita.values[-1]) <= high),
        "years_outside_standard": outside,
    }


def probability(flags: xr.DataArray) -> float:
    """Share of members for which ``flags`` is true."""
    return float(np.mean(np.asarray(flags.values, dtype=bool)))


def summarize(point: xr.Dataset, ensemble: xr.Dataset | None = None,
              predictive_rates: dict[int, np.ndarray] | None = None,
              info: dict[str, Any] | None = None, outputs: Outputs | None = None) -> dict[str, Any]:
    """Build ``summary.json``.

    Parameters
    ----------
    point : xarray.Dataset
        The point run (calibrated point estimates).
    ensemble : xarray.Dataset, optional
        Members with dimensions ``(sample, time)``.
    predictive_rates : dict of int to ndarray, optional
        Urbanization rate of each member in the target years plus observation noise [%]; the
        probabilities of reaching the targets are computed from these.
    info : dict, optional
        Scenario and run information to include.
    outputs : model.outputs.Outputs, optional
        The model's declared outputs (default: those of the project's model).
    """
    outputs = outputs if outputs is not None else load_outputs()
    times = point["time"].values
    years = [y for y in REPORT_YEARS if times[0] <= y <= times[-1]]
    summary: dict[str, Any] = dict(info or {})
    for name in outputs.names("summary"):
        if name in point:
            total = province_total(point[name])
            summary[outputs[name].summary] = {str(y): float(at_year(total, y)) for y in years}
    regional = regional_summary(point, ensemble)  # a model with a league dimension (simulator.regional)
    if regional is not None:
        summary["regional"] = regional
    if not has_plan_variables(point):
        return summary
    rate = point["urbanization_rate"]
    targets = {}
    for year, target in URBANIZATION_TARGETS.items():
        if year > point["time"].values[-1]:
            continue
        entry = {"target_pct": target, "source": "plan ch.2 sec.3 (about 69 % in 2025, about 72 % in 2035)",
                 "point_estimate_pct": float(at_year(rate, year)),
                 "reached_by_point_estimate": bool(at_year(rate, year) >= target)}
        if ensemble is not None:
            member_rates = at_year(ensemble["urbanization_rate"], year).values
            entry["ensemble_median_pct"] = float(np.median(member_rates))
            entry["probability_parameters_only"] = float(np.mean(member_rates >= target))
            entry["band_90_pct_parameters_only"] = [float(np.percentile(member_rates, 5)),
                                                    float(np.percentile(member_rates, 95))]
        if predictive_rates is not None and year in predictive_rates:
            observed = predictive_rates[year]
            entry["probability"] = float(np.mean(observed >= target))
            entry["median_pct"] = float(np.median(observed))  # same draws as the band and P
            entry["band_90_pct"] = [float(np.percentile(observed, 5)), float(np.percentile(observed, 95))]
        targets[str(year)] = entry
    summary["targets"] = targets
    summary["water"] = _water_summary(point)
    summary["land"] = _land_summary(point)
    if ensemble is not None:
        flags = indicators(ensemble, point)
        summary["ensemble"] = {
            "members": int(ensemble.sizes["sample"]),
            "p_water_within_cap": probability(flags["water_within_cap"]),
            "p_land_within_quota": probability(flags["land_within_quota"]),
            "p_land_per_capita_in_standard": probability(flags["land_per_capita_in_standard"]),
            "limits_binding": binding_shares(ensemble),
        }
    return summary


def format_probability(p: float) -> str:
    """A probability for a reader: three decimals, or "> 0.99" / "< 0.01" near certainty."""
    if p > 1 - PROBABILITY_PRINT_LIMIT:
        return f"> {1 - PROBABILITY_PRINT_LIMIT:.2f}"
    if p < PROBABILITY_PRINT_LIMIT:
        return f"< {PROBABILITY_PRINT_LIMIT:.2f}"
    return f"{p:.3f}"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as a planner reads it (the lines ``sim.py`` prints)."""
    if "targets" not in summary:  # a model without the plan's variables: its declared outputs
        lines = [f"scenario {summary['scenario']}: {summary.get('ensemble_members', 0)} ensemble members"]
        for key, values in summary.items():
            if isinstance(values, dict) and values and all(str(k).isdigit() for k in values):
                lines.append(f"  {key}: " + ", ".join(f"{year} {value:,.6g}" for year, value in values.items()))
        return lines + regional_lines(summary.get("regional", {}))
    rates = summary["urbanization_rate_pct"]
    members = summary.get("ensemble", {}).get("members", 0)
    lines = [f"scenario {summary['scenario']}: urbanization (point run) "
             + ", ".join(f"{year} {value:.2f} %" for year, value in rates.items()
                         if year in ("2020", "2025", "2035"))]
    for year, target in summary["targets"].items():
        text = f"  {target['target_pct']:g} % in {year}: point run {target['point_estimate_pct']:.2f} %"
        if "median_pct" in target:  # median, band and P of the same predictive draws
            text += f", median {target['median_pct']:.2f} %"
        elif "ensemble_median_pct" in target:
            text += f", ensemble median {target['ensemble_median_pct']:.2f} %"
        if "band_90_pct" in target:
            low, high = target["band_90_pct"]
            text += f", 90 % band [{low:.2f}, {high:.2f}] %"
        if target.get("probability") is not None:
            text += f", P(reach) {format_probability(target['probability'])}"
        lines.append(text)
    water, land = summary["water"], summary["land"]
    margin = water["smallest_margin_yi_m3"]
    side = "demand within cap by" if margin >= 0 else "demand over cap by"
    text = f"  water (point run): {side} {abs(margin):.2f} 亿m³ in the tightest year {water['worst_year']}"
    if "ensemble" in summary:
        text += f"; P(water cap never binds, every year to 2035) {format_probability(summary['ensemble']['p_water_within_cap'])}"
        binding = summary["ensemble"].get("limits_binding")
        if binding:
            text += (f"; cap binds in {100 * binding['water_cap']['share_member_years']:.1f} % of member-years, "
                     f"land quota in {100 * binding['land_quota']['share_member_years']:.1f} %")
    lines.append(text)
    new_km2, quota_km2 = land["new_land_2021_2025_km2"], land["quota_2021_2025_km2"]
    new_mu, quota_mu = land["new_land_2021_2025_mu"], land["quota_2021_2025_mu"]
    text = (f"  new urban land 2021-2025 (point run): {new_mu:,.0f} mu ({new_km2:.1f} km²) "
            f"of the {quota_mu:,.0f} mu ({quota_km2:.1f} km²) quota")
    if "ensemble" in summary:
        text += f"; P(within quota) {format_probability(summary['ensemble']['p_land_within_quota'])}"
    lines.append(text)
    low, high = land["standard_m2_per_person"]
    per_capita = land["land_per_urban_resident_m2"]
    end_year = max(per_capita, key=int) if per_capita else None
    text = "  land per urban resident (point run): "
    text += f"{per_capita[end_year]:.1f} m² in {end_year}" if end_year else "n/a"
    text += f", standard {low:g}-{high:g} m²"
    if "ensemble" in summary:
        text += (f"; P(within the standard at the end) "
                 f"{format_probability(summary['ensemble']['p_land_per_capita_in_standard'])}")
    lines.append(text)
    if members:
        lines.append(f"  ensemble: {members} members over the calibrated parameter uncertainty"
                     + (", process noise and model form" if summary.get("bands", "").startswith("process") else "")
                     + " (median, 90 % band and P(reach) add the observation noise).")
        lines.append("  the point run uses the calibrated point estimates; it differs from the ensemble "
                     "median because the model is nonlinear and the parameters vary jointly.")
    else:
        lines.append("  point run only (no ensemble): no probabilities; run with ensemble.samples > 0 for them.")
    return lines + regional_lines(summary.get("regional", {}))
