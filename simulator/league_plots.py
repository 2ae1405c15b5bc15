"""League pictures of a run archive, written when the model has residents by league (issue 12).

- ``league_multiples.png``: one panel per league, laid out on the tile grid of ``base/leagues.yaml``
  (roughly west -> east), residents (and urban residents when the model has them): point run and the
  90 % band of the members;
- ``league_map.png``: the tile-grid map of the 12 leagues coloured by the change of residents over
  2020-2035 (clipped to the run) and, with urban residents, by the urbanization rate at the end. The
  map is **schematic** (with the censuses' change 2010-2020 as a first panel for comparison): one square per league, placed along the region's south-west to north-east
  arc (no boundaries are shipped and there is no internet to fetch them);
- ``league_migration.png``: with an origin-destination flow between leagues, the largest flows of
  the last year as arrows between the tiles, over the net migration between leagues of each league.

matplotlib only (through :func:`base.fonts.subplots`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from base.fonts import bilingual, subplots
from base.census import CensusDataError
from base.leagues import CENSUS_YEARS, LEAGUE_DIM, Leagues, league_census, load_leagues

from .regional import CHANGE_PERIOD, OD_FLOW, URBAN, league_view, population_variable

MULTIPLES = "league_multiples.png"
MAP = "league_map.png"
MIGRATION = "league_migration.png"
#: Flows drawn on the migration picture.
FLOWS_DRAWN = 15


def _at(data: xr.DataArray, year: float) -> xr.DataArray:
    index = np.flatnonzero(np.isclose(data["time"].values, year))
    return data.isel(time=int(index[0]) if index.size else -1)


def _grid(leagues: Leagues) -> tuple[int, int]:
    cols = max(c for c, _ in leagues.tiles.values()) + 1
    rows = max(r for _, r in leagues.tiles.values()) + 1
    return cols, rows


def plot_multiples(point: xr.Dataset, ensemble: xr.Dataset | None, path: Path, leagues: Leagues) -> Path:
    """Residents (and urban residents) by league, one panel per league on the tile grid."""
    pop = population_variable(point)
    names = [(pop, "tab:blue", ("residents", "常住人口"))]
    if URBAN in point and LEAGUE_DIM in point[URBAN].dims:
        names.append((URBAN, "tab:orange", ("urban residents", "城镇常住人口")))
    cols, rows = _grid(leagues)
    fig, axes = subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows + 0.7), squeeze=False)
    used = set()
    time = point["time"].values
    for league in point[pop][LEAGUE_DIM].values:
        col, row = leagues.tiles[str(league)]
        ax = axes[row, col]
        used.add((row, col))
        for name, color, label in names:
            if ensemble is not None and name in ensemble:
                members = ensemble[name].sel({LEAGUE_DIM: league}).values / 1e4
                ax.fill_between(time, np.percentile(members, 5, axis=0), np.percentile(members, 95, axis=0),
                                color=color, alpha=0.2, lw=0)
            ax.plot(time, point[name].sel({LEAGUE_DIM: league}).values / 1e4, color=color, lw=1.4,
                    label=bilingual(*label))
        ax.set_title(bilingual(str(league), leagues.zh.get(str(league), "")), fontsize=8)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.grid(alpha=0.3)
    for row in range(rows):
        for col in range(cols):
            if (row, col) not in used:
                axes[row, col].set_visible(False)
    first = axes[leagues.tiles[str(point[pop][LEAGUE_DIM].values[0])][1],
                 leagues.tiles[str(point[pop][LEAGUE_DIM].values[0])][0]]
    first.legend(fontsize=6, loc="best")
    fig.suptitle(bilingual("Residents by league [10k persons], point run and 90 % band; panels placed west to east "
                           "(schematic)", "各盟市常住人口（万人），由西向东排列（示意）"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _tiles(ax, leagues: Leagues, values: dict, norm, cmap: str, fmt: str) -> None:
    colormap = colormaps[cmap]
    for league, (col, row) in leagues.tiles.items():
        value = values.get(league)
        color = colormap(norm(value)) if value is not None and np.isfinite(value) else "lightgrey"
        ax.add_patch(Rectangle((col, -row), 0.94, 0.94, facecolor=color, edgecolor="black", lw=0.6))
        text = league if value is None else f"{league}\n{fmt.format(value)}"
        dark = value is not None and np.isfinite(value) and sum(colormap(norm(value))[:3]) < 1.3
        ax.text(col + 0.47, -row + 0.47, text, ha="center", va="center", fontsize=7,
                color="white" if dark else "black")
    cols, rows = _grid(leagues)
    ax.set_xlim(-0.1, cols + 0.05)
    ax.set_ylim(-rows + 0.85, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")


def census_change(leagues: Leagues) -> dict[str, float] | None:
    """Observed change of residents 2010-2020 by league [%] (the two censuses), None if the data lack it."""
    try:
        first, last = league_census(CENSUS_YEARS[0], leagues), league_census(CENSUS_YEARS[1], leagues)
    except CensusDataError:
        return None
    change = 100.0 * (last["population"] / first["population"] - 1)
    return {str(k): float(v) for k, v in zip(change[LEAGUE_DIM].values, change.values)}


def plot_map(point: xr.Dataset, path: Path, leagues: Leagues, observed: dict[str, float] | None = None) -> Path:
    """Tile-grid map coloured by the change of residents and, with urban residents, the rate at the end;
    with ``observed``, a first panel of the censuses' change 2010-2020 for comparison."""
    pop = population_variable(point)
    times = point["time"].values
    start = CHANGE_PERIOD[0] if np.any(np.isclose(times, CHANGE_PERIOD[0])) else times[0]
    end = CHANGE_PERIOD[1] if np.any(np.isclose(times, CHANGE_PERIOD[1])) else times[-1]
    change = 100.0 * (_at(point[pop], end) / _at(point[pop], start) - 1)
    panels = [({str(k): float(v) for k, v in zip(change[LEAGUE_DIM].values, change.values)}, "RdBu",
               bilingual(f"change of residents {start:g}-{end:g} [%]", "常住人口变化（%）"), "{:+.1f} %")]
    if URBAN in point and LEAGUE_DIM in point[URBAN].dims:
        rate = 100.0 * _at(point[URBAN], end) / _at(point[pop], end)
        panels.append(({str(k): float(v) for k, v in zip(rate[LEAGUE_DIM].values, rate.values)}, "viridis",
                       bilingual(f"urbanization rate {end:g} [%]", "城镇化率（%）"), "{:.1f} %"))
    if observed is not None:
        panels.insert(0, (observed, "RdBu", bilingual("observed change 2010-2020, censuses [%]",
                                                      "普查常住人口变化2010-2020（%）"), "{:+.1f} %"))
    cols, rows = _grid(leagues)
    fig, axes = subplots(1, len(panels), figsize=(1.35 * cols * len(panels) + 0.6, 1.35 * rows + 1.2),
                         squeeze=False)
    for ax, (values, cmap, title, fmt) in zip(axes[0], panels):
        finite = np.array([v for v in values.values() if np.isfinite(v)])
        if cmap == "RdBu":
            bound = max(float(np.max(np.abs(finite))), 1e-9)
            norm = TwoSlopeNorm(0.0, -bound, bound)
        else:
            norm = Normalize(float(finite.min()), float(finite.max()) + 1e-9)
        _tiles(ax, leagues, values, norm, cmap, fmt)
        ax.set_title(title, fontsize=9)
    fig.suptitle(bilingual("Schematic tile map of the 12 leagues (west to east; not boundaries), point run",
                           "12盟市示意方格图（由西向东，非行政边界）"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_migration(point: xr.Dataset, path: Path, leagues: Leagues) -> Path:
    """The largest origin-destination flows of the last year as arrows between the tiles."""
    flows = point[OD_FLOW].isel(time=-1)
    origin, destination = flows.dims
    out = flows.sum(destination).values
    into = flows.sum(origin).values
    net = {str(k): float(i - o) for k, i, o in zip(flows[origin].values, into, out)}
    cols, rows = _grid(leagues)
    fig, axes = subplots(1, 1, figsize=(1.5 * cols + 0.8, 1.5 * rows + 1.2), squeeze=False)
    ax = axes[0, 0]
    bound = max(max(abs(v) for v in net.values()), 1e-9)
    _tiles(ax, leagues, net, TwoSlopeNorm(0.0, -bound, bound), "RdBu", "{:+,.0f}/yr")
    order = np.argsort(flows.values, axis=None)[::-1][:FLOWS_DRAWN]
    largest = float(flows.values.max()) or 1.0
    for i, j in zip(*np.unravel_index(order, flows.shape)):
        a = leagues.tiles[str(flows[origin].values[i])]
        b = leagues.tiles[str(flows[destination].values[j])]
        ax.add_patch(FancyArrowPatch((a[0] + 0.47, -a[1] + 0.47), (b[0] + 0.47, -b[1] + 0.47),
                                     arrowstyle="-|>", mutation_scale=8, connectionstyle="arc3,rad=0.2",
                                     lw=0.5 + 3.0 * float(flows.values[i, j]) / largest, color="black", alpha=0.6))
    ax.set_title(bilingual(f"Migration between leagues {point['time'].values[-1]:g}: the {FLOWS_DRAWN} largest flows "
                           f"(width: persons/year, largest {largest:,.0f}); colour: net arrivals",
                           "盟市间迁移（示意）"), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_league_plots(directory: Path, point: xr.Dataset, ensemble: xr.Dataset | None,
                       leagues: Leagues | None = None) -> list[Path]:
    """The league pictures of a run whose model has residents by league with declared names (else none)."""
    point, ensemble = league_view(point), league_view(ensemble)
    pop = population_variable(point)
    leagues = leagues or load_leagues()
    if pop is None or any(str(c) not in leagues.tiles for c in point[pop][LEAGUE_DIM].values):
        return []
    paths = [plot_multiples(point, ensemble, directory / MULTIPLES, leagues),
             plot_map(point, directory / MAP, leagues, census_change(leagues))]
    if OD_FLOW in point and point[OD_FLOW].ndim == 3:
        paths.append(plot_migration(point, directory / MIGRATION, leagues))
    return paths
