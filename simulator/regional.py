"""Regional targets of the plan, computed whenever the run's model has a ``league`` dimension (issue 12).

The plan's spatial targets are declared here as data (:data:`REGIONAL_TARGETS`, with their chapter),
next to the national ones of :mod:`simulator.summary`; the groupings come from ``base/leagues.yaml``
(:mod:`base.leagues`). :func:`regional_summary` gives, for a point run and/or an ensemble:

- each target's value in its year: point run, ensemble median and 90 % band, and the probability of
  reaching it (share of members at or above the target);
- league populations and urbanization rates in 2025 and 2035 with their bands, and the residents and
  urban residents of every group of ``base/leagues.yaml``;
- which leagues shrink over 2020-2035 (change, band and probability of a decline), most first;
- with an origin-destination flow between leagues, the largest flows and the net over all leagues
  (zero when nobody is lost).

The probabilities are over parameter uncertainty (and process noise when the run has it); the
league figures carry no observation noise yet. The model variables read are :data:`URBAN` and
:data:`POPULATION` (by league) and :data:`OD_FLOW`; a model without them gets what it has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from base.leagues import LEAGUE_DIM, Leagues, load_leagues

#: Urban residents by league [persons].
URBAN = "urban_population"
#: Residents by league [persons] (a model may call them ``total_population`` with a league dim).
POPULATION = ("population", "total_population")
#: Migration between leagues, origin x destination [persons/Year].
OD_FLOW = "inter_league_migration"
#: Variables of the main model by league and the names the regional figures read them under
#: (:func:`league_view`): the main model's ``urban population`` and ``population`` are the province's.
ALIASES = {"urban_population_by_league": URBAN, "population_by_league": "population"}
#: Further league figures reported when the model has them: variable -> key in ``leagues`` [units in the key].
EXTRA_BY_LEAGUE = {"land_per_urban_resident_by_league": "land_per_urban_resident_m2",
                   "domestic_water_demand_by_league": "domestic_water_demand_m3_per_year"}
#: Upper end of the GB 50137-2011 land per urban resident [m2/person] (the .mdl's land standard maximum).
LAND_STANDARD_MAX = 115.0
#: Years of the league figures.
LEAGUE_YEARS = (2025, 2035)
#: Period over which a league shrinks or grows (clipped to the run).
CHANGE_PERIOD = (2020, 2035)
#: Number of origin-destination flows listed.
TOP_FLOWS = 5


@dataclass(frozen=True)
class RegionalTarget:
    """A spatial target of the plan.

    Attributes
    ----------
    key : str
        Name in ``summary.json`` and the comparison.
    label : str
        What it is, for a reader.
    groups : tuple of str
        Groups or leagues of ``base/leagues.yaml`` whose urban residents are counted.
    measure : str
        ``"urban_population"`` [persons] or ``"urban_share"`` (of the region's urban residents) [%].
    year : int
        Year-end of the target.
    target : float
        The plan's figure (reached at or above it).
    units : str
        ``persons`` or ``%``.
    source : str
        Plan chapter and the quoted phrase.
    note : str
        How the model's quantity differs from the plan's wording.
    """

    key: str
    label: str
    groups: tuple
    measure: str
    year: int
    target: float
    units: str
    source: str
    note: str = ""


REGIONAL_TARGETS = (
    RegionalTarget(
        key="cluster_urban_population_2025", label="urban residents of the Hohhot-Baotou-Ordos-Ulanqab cluster",
        groups=("cluster",), measure="urban_population", year=2025, target=8.0e6, units="persons",
        source="plan ch.3 sec.1: 到2025年，呼包鄂乌城市群城镇常住人口达到800万人左右 (about 8 million)",
        note="the four whole leagues; the 2020 census gives 7.75 million"),
    RegionalTarget(
        key="cluster_poles_urban_share_2025", label="share of the region's urban residents in the cluster, Chifeng "
        "and Tongliao", groups=("cluster", "poles"), measure="urban_share", year=2025, target=60.0, units="%",
        source="plan ch.8 sec.1: 呼包鄂乌城市群、赤峰通辽区域性中心城市等重点开发区域...到2025年以上区域城镇人口"
               "占全区的比重将达到60%左右 (about 60 %)",
        note="computed on the six whole leagues, a wider area than the plan's (the cluster and the central "
             "cities of Chifeng and Tongliao): on whole leagues the 2020 census already gives 69.8 %"),
)


def league_view(ds: xr.Dataset | None) -> xr.Dataset | None:
    """``ds`` with the main model's league variables under the names read here (:data:`ALIASES`).

    A variable of the same name without a league dim (the province's urban residents, the age chain)
    is left out of the view; ``ds`` itself is not changed.
    """
    if ds is None:
        return None
    renames = {source: target for source, target in ALIASES.items() if source in ds and LEAGUE_DIM in ds[source].dims}
    if not renames:
        return ds
    return ds.drop_vars([t for t in renames.values() if t in ds]).rename(renames)


def population_variable(ds: xr.Dataset) -> str | None:
    """The residents-by-league variable of ``ds`` (first of :data:`POPULATION` with a league dim)."""
    for name in POPULATION:
        if name in ds and LEAGUE_DIM in ds[name].dims:
            return name
    return None


def has_leagues(ds: xr.Dataset | None) -> bool:
    """Whether ``ds`` has residents by league (the regional figures need them)."""
    ds = league_view(ds)
    return ds is not None and population_variable(ds) is not None


def _at(data: xr.DataArray, year: float) -> xr.DataArray:
    index = np.flatnonzero(np.isclose(data["time"].values, year))
    return data.isel(time=int(index[0]))


def _in_run(ds: xr.Dataset, year: float) -> bool:
    return bool(np.any(np.isclose(ds["time"].values, year)))


def target_value(ds: xr.Dataset, target: RegionalTarget, leagues: Leagues) -> xr.DataArray:
    """The target's quantity in its year (per member when ``ds`` has a ``sample`` dim)."""
    urban = _at(ds[URBAN], target.year)
    mask = np.zeros(urban.sizes[LEAGUE_DIM], dtype=bool)
    for group in target.groups:
        mask |= leagues.mask(group, urban[LEAGUE_DIM].values)
    selected = urban.isel({LEAGUE_DIM: np.flatnonzero(mask)}).sum(LEAGUE_DIM)
    if target.measure == "urban_share":
        return 100.0 * selected / urban.sum(LEAGUE_DIM)
    return selected


def _stats(point: xr.DataArray | None, members: xr.DataArray | None) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if point is not None:
        entry["point"] = float(point)
    if members is not None:
        values = np.asarray(members.values, dtype=float)
        entry["median"] = float(np.median(values))
        entry["band_90"] = [float(np.percentile(values, 5)), float(np.percentile(values, 95))]
    return entry


def _sources(point: xr.Dataset | None, ensemble: xr.Dataset | None, names: tuple) -> tuple:
    """``point`` and ``ensemble`` where they hold every variable of ``names`` (else None)."""
    def ok(ds):
        return ds if ds is not None and all(n in ds and LEAGUE_DIM in ds[n].dims for n in names) else None
    return ok(point), ok(ensemble)


def regional_summary(point: xr.Dataset | None, ensemble: xr.Dataset | None = None,
                     leagues: Leagues | None = None) -> dict[str, Any] | None:
    """The regional figures of a run (``summary.json``'s ``regional``); None without residents by league.

    Parameters
    ----------
    point : xarray.Dataset or None
        The point run (dims ``time``, ``league``...).
    ensemble : xarray.Dataset, optional
        The members (dims ``sample``, ``time``, ``league``...).
    leagues : base.leagues.Leagues, optional
        The groupings (default ``base/leagues.yaml``).
    """
    point, ensemble = league_view(point), league_view(ensemble)
    reference = point if has_leagues(point) else ensemble if has_leagues(ensemble) else None
    if reference is None:
        return None
    leagues = leagues or load_leagues()
    pop_name = population_variable(reference)
    coords = [str(c) for c in reference[pop_name][LEAGUE_DIM].values]
    unknown = [c for c in coords if c not in leagues.names]
    times = reference["time"].values
    result: dict[str, Any] = {
        "dimension": LEAGUE_DIM, "groupings": "base/leagues.yaml",
        "probabilities": "share of the ensemble members reaching the target (parameter uncertainty and process "
                         "noise when the run has them; no observation noise for league figures yet)",
    }
    if unknown:  # another model's league names: no groups, no targets
        result["note"] = f"league names {unknown} are not in base/leagues.yaml: no groups or targets"
        return result
    with_urban = _sources(point, ensemble, (URBAN,))
    targets = {}
    for target in REGIONAL_TARGETS:
        if all(ds is None for ds in with_urban) or not _in_run(reference, target.year):
            continue
        p, e = (target_value(ds, target, leagues) if ds is not None else None for ds in with_urban)
        entry = {"label": target.label, "year": target.year, "target": target.target, "units": target.units,
                 "source": target.source, "note": target.note, **_stats(p, e)}
        if p is not None:
            entry["reached_by_point_run"] = bool(float(p) >= target.target)
        if e is not None:
            entry["probability"] = float(np.mean(np.asarray(e.values) >= target.target))
        targets[target.key] = entry
    if targets:
        result["targets"] = targets
    elif all(ds is None for ds in with_urban):
        result["targets_note"] = f"the regional targets need '{URBAN}' by league"
    pops = _sources(point, ensemble, (pop_name,))
    by_league: dict[str, Any] = {name: {} for name in coords}
    for year in [y for y in LEAGUE_YEARS if _in_run(reference, y)]:
        p_pop, e_pop = (_at(ds[pop_name], year) if ds is not None else None for ds in pops)
        p_rate, e_rate = (100.0 * _at(ds[URBAN], year) / _at(ds[pop_name], year) if ds is not None else None
                          for ds in _sources(point, ensemble, (URBAN, pop_name)))
        for k, name in enumerate(coords):
            entry = by_league[name].setdefault("population_persons", {})
            entry[str(year)] = _stats(*(v.isel({LEAGUE_DIM: k}) if v is not None else None for v in (p_pop, e_pop)))
            if p_rate is not None or e_rate is not None:
                entry = by_league[name].setdefault("urbanization_rate_pct", {})
                entry[str(year)] = _stats(*(v.isel({LEAGUE_DIM: k}) if v is not None else None
                                            for v in (p_rate, e_rate)))
    for name, key in EXTRA_BY_LEAGUE.items():
        sources = _sources(point, ensemble, (name,))
        if all(ds is None for ds in sources):
            continue
        for year in [y for y in LEAGUE_YEARS if _in_run(reference, y)]:
            values = [_at(ds[name], year) if ds is not None else None for ds in sources]
            for k, league in enumerate(coords):
                by_league[league].setdefault(key, {})[str(year)] = _stats(
                    *(v.isel({LEAGUE_DIM: k}) if v is not None else None for v in values))
    by_group: dict[str, Any] = {}
    for group in leagues.groups:
        for year in [y for y in LEAGUE_YEARS if _in_run(reference, y)]:
            for name, key in ((pop_name, "population_persons"), (URBAN, "urban_population_persons")):
                sources = _sources(point, ensemble, (name,))
                if all(ds is None for ds in sources):
                    continue
                totals = [_at(ds[name], year).isel({LEAGUE_DIM: np.flatnonzero(leagues.mask(group, coords))})
                          .sum(LEAGUE_DIM) if ds is not None else None for ds in sources]
                by_group.setdefault(group, {}).setdefault(key, {})[str(year)] = _stats(*totals)
    if by_group:
        result["groups"] = by_group
    start = CHANGE_PERIOD[0] if _in_run(reference, CHANGE_PERIOD[0]) else float(times[0])
    end = CHANGE_PERIOD[1] if _in_run(reference, CHANGE_PERIOD[1]) else float(times[-1])
    changes = [(100.0 * (_at(ds[pop_name], end) / _at(ds[pop_name], start) - 1) if ds is not None else None)
               for ds in pops]
    persons = [(_at(ds[pop_name], end) - _at(ds[pop_name], start) if ds is not None else None) for ds in pops]
    change: dict[str, Any] = {}
    for k, name in enumerate(coords):
        entry = {f"{key}_pct": value for key, value in
                 _stats(*(c.isel({LEAGUE_DIM: k}) if c is not None else None for c in changes)).items()}
        if persons[0] is not None:
            entry["point_persons"] = float(persons[0].isel({LEAGUE_DIM: k}))
        if changes[1] is not None:
            entry["p_shrink"] = float(np.mean(changes[1].isel({LEAGUE_DIM: k}).values < 0))
        change[name] = entry
    central = "median_pct" if changes[1] is not None else "point_pct"
    shrinking = sorted((name for name in coords if change[name][central] < 0), key=lambda n: change[n][central])
    result["leagues"] = by_league
    result["change"] = {"period": [int(start), int(end)], "by_league": change, "shrinking": shrinking,
                        "ranked_by": central}
    if point is not None and OD_FLOW in point and point[OD_FLOW].ndim == 3:
        flows = point[OD_FLOW].isel(time=-1)
        origin, destination = flows.dims
        order = np.argsort(flows.values, axis=None)[::-1][:TOP_FLOWS]
        result["migration_between_leagues"] = {
            "year": float(point["time"].values[-1]), "units": "persons/Year",
            "largest_flows": [{"from": str(flows[origin].values[i]), "to": str(flows[destination].values[j]),
                               "persons_per_year": float(flows.values[i, j])}
                              for i, j in zip(*np.unravel_index(order, flows.shape))],
            "total_persons_per_year": float(flows.sum()),
        }
    return result


def regional_lines(regional: dict[str, Any]) -> list[str]:
    """The regional figures as a planner reads them (lines ``sim.py`` prints)."""
    lines = []
    for target in regional.get("targets", {}).values():
        unit = "%" if target["units"] == "%" else " million"
        scale = 1.0 if target["units"] == "%" else 1e-6
        text = f"  {target['label']} {target['year']}: target about {target['target'] * scale:g}{unit}"
        if "point" in target:
            text += f", point run {target['point'] * scale:.2f}{unit}"
        if "median" in target:
            low, high = target["band_90"]
            text += (f", median {target['median'] * scale:.2f}{unit}, 90 % band [{low * scale:.2f}, "
                     f"{high * scale:.2f}]{unit}, P(reach) {target['probability']:.3f}")
        lines.append(text)
    change = regional.get("change")
    if change:
        shrinking = change["shrinking"]
        ranked = change["ranked_by"]
        period = "-".join(str(y) for y in change["period"])
        lines.append(f"  leagues shrinking {period} ({len(shrinking)} of {len(change['by_league'])}): " + (
            ", ".join(f"{name} {change['by_league'][name][ranked]:+.1f} %" for name in shrinking) or "none"))
    leagues = regional.get("leagues", {})
    above = []
    for name, entry in leagues.items():
        land = entry.get("land_per_urban_resident_m2", {}).get(str(LEAGUE_YEARS[-1]))
        if land:
            value = land.get("median", land.get("point"))
            if value > LAND_STANDARD_MAX:
                above.append(f"{name} {value:.0f}")
    if any("land_per_urban_resident_m2" in entry for entry in leagues.values()):
        lines.append(f"  leagues above {LAND_STANDARD_MAX:g} m2 of land per urban resident in {LEAGUE_YEARS[-1]} "
                     f"(GB 50137-2011; median, else point run): " + (", ".join(above) or "none"))
    return lines
