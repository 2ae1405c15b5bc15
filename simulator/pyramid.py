"""Population pyramids by residence (issue 10): 5-year groups, males left, females right, each bar
stacked by residence (rural; urban non-hukou; urban hukou). Labels in English and Chinese.

:func:`pyramid_figure` draws counts shaped ``(N_AGE, 2, 3)`` (``python -m calibration.backcast
--plot``); :func:`plot_pyramids` draws a run's ``population[age, sex, residence]`` at given years
into its archive (:func:`simulator.plots.write_plots`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from base import demography as demo
from base.fonts import bilingual, subplots

RESIDENCE_LABELS = (("rural", "乡村"), ("urban, no local hukou", "城镇非户籍"), ("urban hukou", "城镇户籍"))
COLOURS = ("#8c6d31", "#6baed6", "#2171b5")
#: The stock a run's pyramids are drawn from, and the subscript elements of the .mdl in the order of
#: the counts (:data:`RESIDENCE_LABELS` for residence; ages a0..a90 as :data:`base.demography.N_AGE` cells).
STOCK = "population"
SEX_ELEMENTS = ("male", "female")
RESIDENCE_ELEMENTS = ("rural", "nonhukou", "hukou")
AGE_ELEMENTS = tuple(f"a{age}" for age in range(demo.N_AGE))


def five_year_groups(counts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Cells (0..89, 90+) x sex x residence summed into 5-year groups 0-4 ... 85-89 and 90+."""
    closed = counts[:90].reshape(18, 5, *counts.shape[1:]).sum(axis=1)
    grouped = np.concatenate((closed, counts[90:91]), axis=0)
    labels = [f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"]
    return grouped, labels


def pyramid_figure(panels: dict[str, np.ndarray]) -> Figure:
    """One pyramid per panel (title -> counts shaped ``(N_AGE, 2, 3)`` [persons]), in 10k persons.

    The panels share their x range (the widest group of any panel), so they compare at a glance.
    """
    fig, axes = subplots(1, len(panels), figsize=(5.0 * len(panels), 6.0), squeeze=False, sharey=True)
    limit = 0.0
    for ax, (title, counts) in zip(axes[0], panels.items()):
        if counts.shape != (demo.N_AGE, 2, 3):
            raise ValueError(f"pyramid '{title}': counts shaped {counts.shape}, expected {(demo.N_AGE, 2, 3)}")
        grouped, labels = five_year_groups(counts / 1e4)
        y = np.arange(len(labels))
        for sex, sign in ((0, -1.0), (1, 1.0)):
            left = np.zeros(len(labels))
            for k, ((english, chinese), colour) in enumerate(zip(RESIDENCE_LABELS, COLOURS)):
                width = sign * grouped[:, sex, k]
                ax.barh(y, width, left=left, color=colour, height=0.9,
                        label=bilingual(english, chinese) if sex == 0 else None)
                left = left + width
        limit = max(limit, np.abs(grouped.sum(axis=2)).max() * 1.1)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_yticks(y, labels)
        ax.set_title(title)
        ax.set_xlabel(bilingual("males | females, 10k persons", "男 | 女，万人"))
    for ax in axes[0]:
        ax.set_xlim(-limit, limit)
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def has_pyramid_stock(point: xr.Dataset) -> bool:
    """Whether ``point`` holds :data:`STOCK` by age, sex and residence with the elements drawn here."""
    if STOCK not in point or point[STOCK].dims != ("time", "age", "sex", "residence"):
        return False
    coords = {dim: tuple(str(e) for e in point[dim].values) for dim in ("age", "sex", "residence")}
    return (set(coords["age"]) == set(AGE_ELEMENTS) and set(coords["sex"]) == set(SEX_ELEMENTS)
            and set(coords["residence"]) == set(RESIDENCE_ELEMENTS))


def pyramid_counts(point: xr.Dataset, year: float) -> np.ndarray:
    """``population[age, sex, residence]`` at model time ``year``, shaped ``(N_AGE, 2, 3)`` [persons],
    in the order :func:`pyramid_figure` draws (ages a0..a90; male, female; rural, nonhukou, hukou)."""
    times = point["time"].values
    index = np.flatnonzero(np.isclose(times, year))
    if index.size == 0:
        raise KeyError(f"year {year} is outside the simulated times {times[0]:g}-{times[-1]:g}")
    data = point[STOCK].isel(time=int(index[0]))
    ordered = data.sel(age=list(AGE_ELEMENTS), sex=list(SEX_ELEMENTS), residence=list(RESIDENCE_ELEMENTS))
    return np.asarray(ordered.transpose("age", "sex", "residence").values, dtype=float)


def plot_pyramids(point: xr.Dataset, years: Sequence[float], path: Path) -> Path:
    """The point run's pyramids by residence at ``years`` (year-end; those inside the run), one PNG."""
    times = point["time"].values
    panels = {bilingual(f"end of {year:g}, simulated (point run)", f"{year:g}年末（模拟，点估计）"):
              pyramid_counts(point, year) for year in years if times[0] <= year <= times[-1]}
    if not panels:
        raise ValueError(f"no pyramid year of {list(years)} lies in the run ({times[0]:g}-{times[-1]:g}); "
                         f"pass years inside it")
    fig = pyramid_figure(panels)
    fig.suptitle(bilingual("Residents by age, sex and residence", "分年龄、性别和居住地常住人口"), y=1.0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
