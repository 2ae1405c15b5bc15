"""Comparison plots: one overlay per key output (median and 90 % band per scenario), and the
decomposition bar chart. Labels are in English and Chinese (English only without a CJK font).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from base.fonts import bilingual, subplots
from simulator.results import province_total
from simulator.summary import LAND_QUOTA_PERIOD, URBANIZATION_TARGETS, at_year, land_quota_km2

from .archives import LoadedArchive
from .decomposition import FLOW_LABELS
from .probability import predictive_quantiles

#: Quantiles drawn: the 90 % band and the median.
BAND = (0.05, 0.5, 0.95)


def _figure(cols: int = 1, width: float = 8.5, height: float = 6.5):

    fig, axes = subplots(1, cols, figsize=(width, height), squeeze=False)
    return fig, list(axes[0])


def _save(fig, path: Path, ncol: int = 3) -> Path:
    """Grid, integer years, one legend below the axes (collected from every axis), save, close."""
    handles, labels = [], []
    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    rows = int(np.ceil(len(labels) / ncol))
    height = fig.get_figheight()
    bottom = min(0.5, (0.25 * rows + 0.2) / height)
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(path, dpi=110)
    return path


def _colors(n: int) -> list:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def scenario_label(archive: LoadedArchive, label: str) -> str:
    """Legend entry: the row label, with the Chinese title when a CJK font is installed."""
    return bilingual(label, archive.title_zh) if archive.title_zh else label


def _bands(archive: LoadedArchive, values: np.ndarray, variable: str) -> np.ndarray:
    """Predictive 5/50/95 % over members (members on axis 0), with the variable's observation noise."""
    return predictive_quantiles(values, archive.observation_noise(variable), BAND, axis=0)


def _overlay(ax, time, archives, labels, series, colors, scale=1.0, band=True):
    for archive, label, color in zip(archives, labels, colors):
        values, variable = series(archive)
        low, mid, high = _bands(archive, values, variable) * scale
        if band:
            ax.fill_between(time, low, high, color=color, alpha=0.12, lw=0)
        ax.plot(time, mid, color=color, lw=1.8, label=scenario_label(archive, label))


def plot_urbanization(archives: Sequence[LoadedArchive], labels: Sequence[str], path: Path) -> Path:
    """Resident urbanization per scenario against the plan's targets."""
    fig, (ax,) = _figure()
    time = archives[0].ensemble["time"].values
    colors = _colors(len(archives))
    _overlay(ax, time, archives, labels,
             lambda a: (a.ensemble["urbanization_rate"].values, "urbanization_rate"), colors)
    for year, target in URBANIZATION_TARGETS.items():
        ax.plot([year], [target], marker="*", markersize=15, color="black", linestyle="none", zorder=6,
                label=bilingual("plan target", "规划目标") if year == min(URBANIZATION_TARGETS) else None)
        ax.annotate(f"{target:g} % ({year})", (year, target), textcoords="offset points",
                    xytext=(-8, 8), ha="right")
    ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    ax.set_ylabel(bilingual("resident urbanization rate (%)", "常住人口城镇化率（%）"))
    ax.set_title(bilingual("Urbanization by scenario: median and 90 % band",
                           "各情景城镇化率：中位数与90%区间"))
    return _save(fig, path)


def plot_population(archives: Sequence[LoadedArchive], labels: Sequence[str], path: Path) -> Path:
    """Total resident population per scenario."""
    fig, (ax,) = _figure()
    time = archives[0].ensemble["time"].values
    _overlay(ax, time, archives, labels,
             lambda a: (a.ensemble["total_population"].values, "total_population"),
             _colors(len(archives)), scale=1e-6)
    ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    ax.set_ylabel(bilingual("residents (million)", "常住人口（百万）"))
    ax.set_title(bilingual("Total population by scenario: median and 90 % band",
                           "各情景常住人口：中位数与90%区间"))
    return _save(fig, path)


def plot_water(archives: Sequence[LoadedArchive], labels: Sequence[str], path: Path) -> Path:
    """The water all sectors want against each scenario's cap in force, and how often the cap binds."""
    fig, (left, right) = _figure(2, width=14, height=7.0)
    time = archives[0].ensemble["time"].values
    colors = _colors(len(archives))
    scale = 1e-8  # m3 -> 100 million m3 (亿m3)
    _overlay(left, time, archives, labels,
             lambda a: (a.ensemble["total_water_demand_before_cap"].values, "total_water_demand_before_cap"),
             colors, scale=scale)
    for archive, color in zip(archives, colors):
        cap = np.median(archive.ensemble["effective_water_cap"].values, axis=0) * scale
        left.plot(time, cap, color=color, lw=1.2, ls="--")
    left.plot([], [], color="grey", ls="--", label=bilingual("cap in force (median)", "用水总量控制指标（中位数）"))
    left.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    left.set_ylabel(bilingual("water (100 million m³ per year)", "水量（亿m³/年）"))
    left.set_title(bilingual("Water all sectors want (solid) and the cap in force (dashed)",
                             "各部门需水（实线）与用水总量控制指标（虚线）"))
    for archive, label, color in zip(archives, labels, colors):
        binds = np.asarray(archive.ensemble["water_cap_binds"].values, dtype=float) > 0
        right.plot(time, 100 * binds.mean(axis=0), color=color, lw=1.8, label=scenario_label(archive, label))
    right.set_ylim(-2, 102)
    right.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    right.set_ylabel(bilingual("members in which the cap binds (%)", "用水总量约束起作用的成员比例（%）"))
    right.set_title(bilingual("How often the water cap binds", "用水总量约束起作用的频率（以水定城）"))
    return _save(fig, path)


def plot_land(archives: Sequence[LoadedArchive], labels: Sequence[str], path: Path) -> Path:
    """New urban construction land since end-2020 against each quota, and land per resident."""
    fig, (left, right) = _figure(2, width=14, height=7.0)
    start, end = LAND_QUOTA_PERIOD
    time = archives[0].ensemble["time"].values
    mask = time >= start
    colors = _colors(len(archives))
    for archive, label, color in zip(archives, labels, colors):
        land = archive.ensemble["urban_construction_land"]
        new_land = (land - at_year(land, start)).values[:, mask]
        low, mid, high = _bands(archive, new_land, "urban_construction_land")
        left.fill_between(time[mask], low, high, color=color, alpha=0.12, lw=0)
        left.plot(time[mask], mid, color=color, lw=1.8, label=scenario_label(archive, label))
        left.hlines(land_quota_km2(archive.point), start, end, color=color, ls="--", lw=1.2)
    left.plot([], [], color="grey", ls="--", label=bilingual("quota 2021-2025", "2021-2025年新增指标"))
    left.axvspan(start, end, color="grey", alpha=0.05)
    left.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    left.set_ylabel(bilingual("new urban construction land since end-2020 (km²)", "2020年末以来新增城镇建设用地（km²）"))
    left.set_title(bilingual("New land against the quota", "新增建设用地与指标"))
    _overlay(right, time, archives, labels,
             lambda a: (a.ensemble["land_per_urban_resident"].values, "land_per_urban_resident"), colors)
    point = archives[0].point
    low_std = float(np.asarray(point["land_standard_minimum"].values).reshape(-1)[0])
    high_std = float(np.asarray(point["land_standard_maximum"].values).reshape(-1)[0])
    right.axhspan(low_std, high_std, color="tab:green", alpha=0.1,
                  label=bilingual(f"GB 50137-2011 ({low_std:g}-{high_std:g} m²)", "国家标准区间"))
    right.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    right.set_ylabel(bilingual("m² per urban resident", "人均城镇建设用地（m²）"))
    right.set_title(bilingual("Land per urban resident", "人均城镇建设用地"))
    return _save(fig, path)


def plot_decomposition(rows: Sequence[Mapping[str, float]], labels: Sequence[str], period: tuple,
                       path: Path) -> Path:
    """Stacked bars: mean contribution of each flow to the change in urbanization [pp]."""
    fig, (ax,) = _figure(width=9, height=0.5 * len(rows) + 3.0)
    y = np.arange(len(rows))[::-1]
    flows = list(FLOW_LABELS)
    colors = _colors(len(flows))
    positive, negative = np.zeros(len(rows)), np.zeros(len(rows))
    for flow, color in zip(flows, colors):
        values = np.array([row[flow] for row in rows])
        left = np.where(values >= 0, positive, negative)
        ax.barh(y, values, left=left, color=color, height=0.6, label=bilingual(*FLOW_LABELS[flow]))
        positive += np.where(values >= 0, values, 0)
        negative += np.where(values < 0, values, 0)
    totals = np.array([row["total_change"] for row in rows])
    ax.plot(totals, y, marker="D", color="black", linestyle="none",
            label=bilingual("total change (mean)", "总变化（均值）"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlabel(bilingual(f"change in urbanization {period[0]}-{period[1]} (pp, mean over members)",
                            f"{period[0]}-{period[1]}年城镇化率变化（百分点，成员均值）"))
    ax.set_title(bilingual("Where the change in urbanization comes from", "城镇化率变化的来源分解"))
    return _save(fig, path, ncol=2)


def plot_output(archives: Sequence[LoadedArchive], labels: Sequence[str], name: str, path: Path) -> Path:
    """Overlay of one declared output, province total (sum over its subscripts): median and 90 %
    band over members per scenario."""
    fig, (ax,) = _figure(height=5.5)
    time = archives[0].ensemble["time"].values
    _overlay(ax, time, archives, labels,
             lambda a: (province_total(a.ensemble[name]).transpose("sample", "time").values, name),
             _colors(len(archives)))
    english, chinese = archives[0].outputs.label(name)
    units = archives[0].ensemble[name].attrs.get("units", "")
    subscripts = [d for d in archives[0].ensemble[name].dims if d not in ("sample", "time")]
    total = f", sum over {' x '.join(subscripts)}" if subscripts else ""
    ax.set_ylabel(f"{english} ({units}{total})")
    ax.set_title(bilingual(f"{english}: median and 90 % band", f"{chinese}：中位数与90%区间" if chinese else ""))
    return _save(fig, path)


def write_output_plots(directory: Path, archives: Sequence[LoadedArchive], labels: Sequence[str]) -> list[Path]:
    """One overlay per output declared ``compare`` (for a model without the plan's variables)."""
    return [plot_output(archives, labels, name, directory / f"{name}.png")
            for name in archives[0].outputs.names("compare")]


def write_comparison_plots(directory: Path, archives: Sequence[LoadedArchive], labels: Sequence[str],
                           decomposition_rows: Sequence[Mapping[str, float]], period: tuple) -> list[Path]:
    """Write every comparison plot into ``directory``."""
    return [
        plot_urbanization(archives, labels, directory / "urbanization.png"),
        plot_population(archives, labels, directory / "population.png"),
        plot_water(archives, labels, directory / "water.png"),
        plot_land(archives, labels, directory / "land.png"),
        plot_decomposition(decomposition_rows, labels, period, directory / "decomposition.png"),
    ]


def plot_loops(results: Sequence, labels: Sequence[str], loops: Sequence, path: Path) -> Path:
    """Loop knockouts: per scenario, the difference with − without each loop in the urbanization
    rate (top row) and in urban residents (bottom row) over time, median and 90 % band over the
    members re-run (:mod:`analysis.loops`)."""
    names = [loop.name for loop in loops]
    loop_labels = {loop.name: bilingual(f"{loop.label} ({loop.polarity})", loop.label_zh) for loop in loops}
    colors = dict(zip(names, _colors(len(names))))
    cols = len(results)
    fig, axes = subplots(2, cols, figsize=(4.6 * cols + 1.0, 8.5), squeeze=False, sharex=True)
    rows = (("urbanization_rate", bilingual("Δ urbanization rate (pp)", "城镇化率差（百分点）")),
            ("urban_population", bilingual("Δ urban residents (10k)", "城镇常住人口差（万人）")))
    for column, (result, label) in enumerate(zip(results, labels)):
        for row, (variable, ylabel) in enumerate(rows):
            ax = axes[row][column]
            for name, series in result.differences.items():
                if variable not in series:
                    continue
                low, mid, high = np.percentile(series[variable], [5, 50, 95], axis=1)
                ax.fill_between(result.time, low, high, color=colors[name], alpha=0.12, lw=0)
                ax.plot(result.time, mid, color=colors[name], lw=1.6, label=loop_labels[name])
            ax.axhline(0, color="black", lw=0.8)
            if column == 0:
                ax.set_ylabel(ylabel)
            if row == 0:
                ax.set_title(label)
            else:
                ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
    fig.suptitle(bilingual("Loop knockouts: with the loop − without it (median, 90 % band)",
                           "反馈回路敲除实验：有回路−无回路（中位数与90%区间）"))
    return _save(fig, path, ncol=3)
