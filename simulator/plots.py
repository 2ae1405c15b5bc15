"""Plots of a run archive, labelled in English and Chinese (Chinese dropped if no CJK font).

Each function takes the point run, optional bands/ensemble and the observed history, and writes
one PNG. History markers distinguish the census basis (filled) from the pre-census bulletin basis
(hollow), because the 2011-2019 bulletins are not comparable with the 2020 census. The population
pyramids are drawn by :mod:`simulator.pyramid`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import xarray as xr
from matplotlib.ticker import MaxNLocator

from base.fonts import bilingual, subplots
from model.outputs import Outputs, load_outputs

from .league_plots import write_league_plots
from .pyramid import has_pyramid_stock, plot_pyramids
from .results import province_total
from .summary import (LAND_QUOTA_PERIOD, URBANIZATION_TARGETS, at_year, binding_shares, has_plan_variables,
                      land_quota_km2)

#: Observed series used in plots: name -> list of (year, value, basis) in model units.
History = Mapping[str, list]

CENSUS_STYLE = dict(marker="o", color="black", linestyle="none", markersize=6, zorder=5)
BULLETIN_STYLE = dict(marker="o", markerfacecolor="white", color="grey", linestyle="none",
                      markersize=5, zorder=4)
HUKOU_STYLE = dict(marker="s", color="tab:purple", linestyle="none", markersize=5, zorder=5)
#: What the births-and-deaths plot needs (the population core, issue 10), and the years it shows.
VITAL_VARIABLES = ("total_births", "total_deaths", "natural_increase", "crude_birth_rate", "crude_death_rate")
VITAL_YEARS = (2015, 2035)
#: Years of the population pyramids (year-end).
PYRAMID_YEARS = (2020, 2035)
#: File names of the population core's plots in a run archive.
PYRAMIDS = "pyramids.png"
BIRTHS_DEATHS = "births_deaths.png"
#: What each plot of a run archive shows (for its README; other plots are small multiples or the league pictures).
PLOT_CONTENTS = {
    "urbanization.png": "resident and hukou urbanization against history and the plan's targets",
    "population.png": "the population by residence and the total against history",
    "land.png": "new urban construction land against the 2021-2025 quota; land per resident",
    "water.png": "the water all sectors want against the cap; how often the cap and the land quota bind",
    PYRAMIDS: "population pyramids by residence (rural; urban without / with local hukou), end of 2020 and 2035",
    BIRTHS_DEATHS: "births, deaths and natural increase, crude birth and death rates 2015-2035 against the bulletins",
}
#: An output with more elements than this gets no small-multiple plot: its panels would be too small
#: to read (population_by_age_and_sex has 91 x 2; the pyramids show it).
MAX_SMALL_MULTIPLES = 48


def _figure(rows: int = 1, cols: int = 1, width: float = 8.0, height: float = 4.8):

    fig, axes = subplots(rows, cols, figsize=(width, height), squeeze=False)
    return fig, axes


def _save(fig, path: Path, nbins: int | str = "auto") -> Path:
    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _label(ax, ylabel: str, title: str, legend: str) -> None:
    """Axis labels, title, grid and legend shared by every plot (x: year-end)."""
    ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend)


def _history_points(ax, history: History, name: str, scale: float = 1.0, label_suffix: str = "") -> None:
    points = history.get(name, [])
    census = [(y, v * scale) for y, v, basis in points if basis != "pre-census"]
    bulletin = [(y, v * scale) for y, v, basis in points if basis == "pre-census"]
    if census:
        ax.plot(*zip(*census), label=bilingual("observed, census basis", "观测值（普查口径）") + label_suffix,
                **CENSUS_STYLE)
    if bulletin:
        ax.plot(*zip(*bulletin), label=bilingual("bulletins, pre-census basis", "公报（普查前口径）") + label_suffix,
                **BULLETIN_STYLE)


def plot_urbanization(point: xr.Dataset, bands: Mapping[str, np.ndarray] | None, history: History,
                      path: Path) -> Path:
    """Resident and hukou urbanization, simulated against history and the plan's targets."""
    fig, axes = _figure()
    ax = axes[0, 0]
    time = point["time"].values
    if bands and "urbanization_rate_p05" in bands:
        ax.fill_between(time, bands["urbanization_rate_p05"], bands["urbanization_rate_p95"],
                        color="tab:blue", alpha=0.2,
                        label=bilingual("90 % prediction band", "90% 预测区间"))
    ax.plot(time, point["urbanization_rate"].values, color="tab:blue", lw=2,
            label=bilingual("resident urbanization, simulated", "常住人口城镇化率（模拟）"))
    ax.plot(time, point["hukou_urbanization_rate"].values, color="tab:purple", lw=1.5, ls="--",
            label=bilingual("hukou urbanization, simulated", "户籍人口城镇化率（模拟）"))
    _history_points(ax, history, "urbanization_rate")
    hukou = history.get("hukou_urbanization_rate", [])
    if hukou:
        ax.plot([y for y, _, _ in hukou], [v for _, v, _ in hukou],
                label=bilingual("hukou urbanization, observed", "户籍人口城镇化率（观测）"), **HUKOU_STYLE)
    for year, target in URBANIZATION_TARGETS.items():
        if year <= time[-1]:
            ax.plot([year], [target], marker="*", markersize=14, color="tab:red", linestyle="none",
                    zorder=6, label=bilingual("plan target", "规划目标") if year == min(URBANIZATION_TARGETS) else None)
            ax.annotate(f"{target:g} % ({year})", (year, target), textcoords="offset points",
                        xytext=(-10, 10), ha="right", color="tab:red")
    _label(ax, bilingual("urbanization rate (%)", "城镇化率（%）"),
           bilingual("Urbanization, Inner Mongolia", "内蒙古城镇化率"), legend="upper left")
    return _save(fig, path)


def plot_population(point: xr.Dataset, bands: Mapping[str, np.ndarray] | None, history: History,
                    path: Path) -> Path:
    """The three population stocks and the total against history."""
    fig, axes = _figure()
    ax = axes[0, 0]
    time = point["time"].values
    million = 1e-6
    stocks = [
        ("rural_population", bilingual("rural residents", "农村常住人口"), "tab:green"),
        ("urban_non_hukou_population", bilingual("urban, no local hukou", "城镇非户籍人口"), "tab:orange"),
        ("urban_hukou_population", bilingual("urban, local hukou", "城镇户籍人口"), "tab:blue"),
    ]
    ax.stackplot(time, *[province_total(point[name]).values * million for name, _, _ in stocks],
                 labels=[label for _, label, _ in stocks], colors=[c for _, _, c in stocks], alpha=0.6)
    ax.plot(time, province_total(point["total_population"]).values * million, color="black", lw=1.5,
            label=bilingual("total, simulated", "总人口（模拟）"))
    if bands and "total_population_p05" in bands:
        ax.fill_between(time, bands["total_population_p05"] * million, bands["total_population_p95"] * million,
                        color="black", alpha=0.15, label=bilingual("90 % band, total", "总人口 90% 区间"))
    _history_points(ax, history, "total_population", scale=million)
    _label(ax, bilingual("residents (million)", "常住人口（百万）"),
           bilingual("Population stocks", "人口存量"), legend="lower left")
    return _save(fig, path)


def plot_land(point: xr.Dataset, ensemble: xr.Dataset | None, path: Path) -> Path:
    """All new urban construction land against the 2021-2025 quota, and land per resident."""
    fig, axes = _figure(1, 2, width=11)
    start, end = LAND_QUOTA_PERIOD
    time = point["time"].values
    land = point["total_urban_construction_land"]
    new_land = land - at_year(land, start)
    quota = land_quota_km2(point)
    ax = axes[0, 0]
    mask = time >= start
    if ensemble is not None:
        members = ensemble["total_urban_construction_land"] - at_year(ensemble["total_urban_construction_land"], start)
        low, high = (np.percentile(members.values, q, axis=0) for q in (5, 95))
        ax.fill_between(time[mask], low[mask], high[mask], color="tab:brown", alpha=0.2,
                        label=bilingual("90 % band", "90% 区间"))
    ax.plot(time[mask], new_land.values[mask], color="tab:brown", lw=2,
            label=bilingual("new land since end-2020 (all kinds), simulated", "2020年末以来新增建设用地（全部，模拟）"))
    ax.hlines(quota, start, end, color="tab:red", ls="--",
              label=bilingual(f"quota 2021-2025 ({quota:.1f} km²)", "2021-2025年新增指标"))
    ax.axvspan(start, end, color="tab:red", alpha=0.05)
    ax.set_ylim(bottom=0, top=max(quota, float(np.nanmax(new_land.values[mask]))) * 1.25 + 1)
    _label(ax, bilingual("new urban construction land (km²)", "新增城镇建设用地（km²）"),
           bilingual("Land against quota", "建设用地与指标"), legend="center right")
    ax = axes[0, 1]
    low_std = float(point["land_standard_minimum"].values[0])
    high_std = float(point["land_standard_maximum"].values[0])
    ax.axhspan(low_std, high_std, color="tab:green", alpha=0.12,
               label=bilingual(f"GB 50137-2011 band ({low_std:g}-{high_std:g} m²)", "国家标准区间"))
    ax.plot(time, point["land_per_urban_resident"].values, color="tab:brown", lw=2,
            label=bilingual("land per resident, cities and county seats", "人均城镇建设用地（城市和县城）"))
    _label(ax, bilingual("m² per resident", "人均（m²）"),
           bilingual("Land per resident (GB 50137, without development zones)", "人均城镇建设用地（不含开发区）"),
           legend="lower left")
    return _save(fig, path)


def plot_water(point: xr.Dataset, ensemble: xr.Dataset | None, path: Path) -> Path:
    """The water all sectors want against the cap in force, and how often the limits bind."""
    fig, axes = _figure(1, 2, width=11)
    ax = axes[0, 0]
    time = point["time"].values
    scale = 1e-8  # m3 -> 亿 m3 (100 million m3)
    if ensemble is not None:
        low, high = (np.percentile(ensemble["total_water_demand_before_cap"].values, q, axis=0) * scale
                     for q in (5, 95))
        ax.fill_between(time, low, high, color="tab:blue", alpha=0.2, label=bilingual("90 % band", "90% 区间"))
    ax.plot(time, point["total_water_demand_before_cap"].values * scale, color="tab:blue", lw=2,
            label=bilingual("water all sectors want", "各部门需水"))
    ax.plot(time, point["effective_water_cap"].values * scale, color="tab:red", lw=2, ls="--",
            label=bilingual("cap in force", "用水总量控制指标"))
    _label(ax, bilingual("water (100 million m³ per year)", "水量（亿m³/年）"),
           bilingual("Water against the dated cap", "用水与用水总量控制"), legend="lower left")
    ax = axes[0, 1]
    # Without an ensemble the point run is one member: its share is 0 or 100 % in each year.
    flags = ["water_cap_binds", "land_quota_binds"]
    members = ensemble if ensemble is not None else point[flags].expand_dims(sample=[0])
    binding = binding_shares(members)
    suffix = ("", "") if ensemble is not None else (" (point run)", "（点估计）")
    for key, color, en, zh in (("water_cap", "tab:blue", "water cap", "用水总量"),
                               ("land_quota", "tab:brown", "land quota", "用地指标")):
        years = [int(y) for y in binding[key]["share_by_year"]]
        ax.plot(years, [100 * v for v in binding[key]["share_by_year"].values()], color=color, lw=2,
                marker="o", label=bilingual(f"{en} binds{suffix[0]}", f"{zh}约束起作用{suffix[1]}"))
    ax.set_ylim(-2, 102)
    _label(ax, bilingual("members in which the limit binds (%)", "约束起作用的成员比例（%）"),
           bilingual("How often the limits bind", "约束起作用的频率"), legend="upper left")
    return _save(fig, path)


def _members_band(ax, time, ensemble: xr.Dataset | None, name: str, scale: float, colour: str,
                  mask: np.ndarray, first: bool) -> None:
    """Median and 90 % band of the members of ``name`` (nothing when the ensemble does not keep it)."""
    if ensemble is None or name not in ensemble:
        return
    values = province_total(ensemble[name]).transpose("sample", "time").values * scale
    low, median, high = np.percentile(values, [5, 50, 95], axis=0)
    ax.fill_between(time[mask], low[mask], high[mask], color=colour, alpha=0.18,
                    label=bilingual("90 % band of the members", "成员 90% 区间") if first else None)
    ax.plot(time[mask], median[mask], color=colour, lw=1, ls="--",
            label=bilingual("median of the members", "成员中位数") if first else None)


def _bulletin_points(ax, history: History, name: str, scale: float, colour: str, label: str,
                     first_time: float) -> None:
    """The bulletins' annual figures of ``name`` (hollow markers in the series' colour)."""
    points = [(t, v * scale) for t, v, _ in history.get(name, []) if t >= first_time]
    if points:
        ax.plot(*zip(*points), marker="o", markerfacecolor="white", color=colour, linestyle="none",
                markersize=6, zorder=5, label=label)


def plot_births_deaths(point: xr.Dataset, ensemble: xr.Dataset | None, history: History,
                       path: Path) -> Path:
    """Births, deaths and natural increase (counts) and the crude birth and death rates, 2015-2035,
    against the bulletins (their annual figures at mid-year, :func:`base.observations.load_history`).

    The point run is solid; the members' median (dashed) and 90 % band are drawn where the ensemble
    keeps the variable. The bulletin counts are survey rates times the overstated pre-census
    population; the bulletin death rates miss deaths (the ``.mdl``'s crude death rate: the calibration
    fits the share missed, ``reporting_bias_deaths`` of :mod:`calibration.observation`).
    """
    fig, axes = _figure(1, 2, width=12, height=5.2)
    time = point["time"].values
    start, end = VITAL_YEARS
    mask = (time >= start) & (time <= end)
    first_time = start - 1.0  # the bulletin figure of the start year lies at its mid-year
    tenk = 1e-4  # persons -> 10k persons
    ax = axes[0, 0]
    counts = (("total_births", "tab:blue", ("births", "出生")), ("total_deaths", "tab:red", ("deaths", "死亡")),
              ("natural_increase", "tab:green", ("natural increase", "自然增长")))
    for k, (name, colour, (en, zh)) in enumerate(counts):
        _members_band(ax, time, ensemble, name, tenk, colour, mask, first=k == 0)
        ax.plot(time[mask], province_total(point[name]).values[mask] * tenk, color=colour, lw=2,
                label=bilingual(f"{en}, simulated (point run)", f"{zh}（模拟，点估计）"))
        _bulletin_points(ax, history, name, tenk, colour,
                         bilingual(f"{en}, bulletins (pre-census basis)", f"{zh}（公报，普查前口径）"), first_time)
    ax.axhline(0, color="black", lw=0.6)
    _label(ax, bilingual("persons per year (10k)", "人/年（万人）"),
           bilingual("Births, deaths and natural increase", "出生、死亡和自然增长人口"), legend="center right")
    ax = axes[0, 1]
    rates = (("crude_birth_rate", "tab:blue", ("birth rate", "出生率")),
             ("crude_death_rate", "tab:red", ("death rate", "死亡率")))
    for k, (name, colour, (en, zh)) in enumerate(rates):
        _members_band(ax, time, ensemble, name, 1.0, colour, mask, first=k == 0)
        ax.plot(time[mask], point[name].values[mask], color=colour, lw=2,
                label=bilingual(f"{en}, simulated (point run)", f"{zh}（模拟，点估计）"))
        _bulletin_points(ax, history, name, 1.0, colour, bilingual(f"{en}, bulletins", f"{zh}（公报）"), first_time)
    ax.text(0.02, 0.03, bilingual("The bulletins under-count deaths: the calibration fits the share\n"
                                  "they miss (bulletin death rate = model x (1 - share missed)).",
                                  "公报低估死亡人数：校准估计其漏报比例。"),
            transform=ax.transAxes, fontsize=7, va="bottom", ha="left",
            bbox=dict(boxstyle="round", facecolor="white", edgecolor="grey", alpha=0.9))
    _label(ax, bilingual("per 1000 residents and year (‰)", "每千常住人口每年（‰）"),
           bilingual("Crude birth and death rates", "人口出生率和死亡率"), legend="upper left")
    for ax in axes[0]:
        ax.set_xlim(first_time, end + 0.5)
    fig.text(0.5, 0.005, bilingual("bulletin figures are annual, plotted at mid-year; the model's are rates "
                                   "at each year-end", "公报为年度数，标于年中；模拟值为各年末的瞬时值"),
             ha="center", fontsize=7, color="dimgrey")
    return _save(fig, path)


def plot_small_multiples(point: xr.Dataset, ensemble: xr.Dataset | None, name: str,
                         label: tuple[str, str], path: Path) -> Path:
    """One panel per subscript element of output ``name`` (every combination for two or more
    subscripts): the point run, and the 90 % band of the members when the ensemble keeps it."""
    data = point[name]
    subscripts = [d for d in data.dims if d != "time"]
    stacked = data.stack(element=subscripts).transpose("time", "element")
    members = None
    if ensemble is not None and name in ensemble:
        members = ensemble[name].stack(element=subscripts).transpose("sample", "time", "element")
    n = stacked.sizes["element"]
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = _figure(rows, cols, width=3.0 * cols, height=2.2 * rows + 0.6)
    time = point["time"].values
    units = data.attrs.get("units", "")
    for k in range(rows * cols):
        ax = axes[k // cols, k % cols]
        if k >= n:
            ax.set_visible(False)
            continue
        element = stacked["element"].values[k]
        title = " / ".join(str(e) for e in (element if isinstance(element, tuple) else (element,)))
        if members is not None:
            values = members.isel(element=k).values
            ax.fill_between(time, np.percentile(values, 5, axis=0), np.percentile(values, 95, axis=0),
                            color="tab:blue", alpha=0.2, label=bilingual("90 % band", "90% 区间"))
        ax.plot(time, stacked.isel(element=k).values, color="tab:blue", lw=1.5,
                label=bilingual("point run", "点估计"))
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(bilingual(f"{label[0]} ({units}) by {' x '.join(subscripts)}",
                           f"{label[1]}（{units}）" if label[1] else ""))
    return _save(fig, path, nbins=4)


def plot_contents(name: str) -> str:
    """What the archive plot ``name`` shows (a line of the archive's README)."""
    if name in PLOT_CONTENTS:
        return PLOT_CONTENTS[name]
    if name.startswith("league_"):
        return "league pictures (residents by league)"
    return f"small multiples of {name.removesuffix('.png')} by subscript element (point run, 90 % band of the members)"


def small_multiple_panels(data: xr.DataArray) -> int:
    """Panels of the small-multiple plot of ``data``: its elements (0 for a scalar variable)."""
    subscripts = [d for d in data.dims if d not in ("sample", "time")]
    return int(np.prod([data.sizes[d] for d in subscripts])) if subscripts else 0


def write_plots(directory: Path, point: xr.Dataset, bands: Mapping[str, np.ndarray] | None,
                ensemble: xr.Dataset | None, history: History, outputs: Outputs | None = None) -> list[Path]:
    """Write the plots of a run archive into ``directory``.

    The plan's four plots (urbanization, population, land, water) when the model has their
    variables; the population pyramids by residence at :data:`PYRAMID_YEARS` (:data:`PYRAMIDS`) when it
    has ``population[age, sex, residence]``; births, deaths and natural increase against the bulletins
    (:data:`BIRTHS_DEATHS`) when it has :data:`VITAL_VARIABLES`; one small-multiple plot
    ``<output>.png`` per declared output that has subscripts (at most :data:`MAX_SMALL_MULTIPLES`
    elements); and the league pictures when the model has residents by league
    (:mod:`simulator.league_plots`).
    """
    outputs = outputs if outputs is not None else load_outputs()
    paths = []
    if has_plan_variables(point):
        paths += [
            plot_urbanization(point, bands, history, directory / "urbanization.png"),
            plot_population(point, bands, history, directory / "population.png"),
            plot_land(point, ensemble, directory / "land.png"),
            plot_water(point, ensemble, directory / "water.png"),
        ]
    if has_pyramid_stock(point):
        paths.append(plot_pyramids(point, PYRAMID_YEARS, directory / PYRAMIDS))
    if all(name in point for name in VITAL_VARIABLES):
        paths.append(plot_births_deaths(point, ensemble, history, directory / BIRTHS_DEATHS))
    for name in outputs:
        if name in point and 0 < small_multiple_panels(point[name]) <= MAX_SMALL_MULTIPLES:
            paths.append(plot_small_multiples(point, ensemble, name, outputs.label(name),
                                              directory / f"{name}.png"))
    return paths + write_league_plots(directory, point, ensemble)  # a model with leagues (simulator.league_plots)
