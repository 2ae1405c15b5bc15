"""Observed history for plots, in model units, tagged with its statistical basis.

Only the province-level series that the plots show are extracted here; the data file and its
validation belong to :mod:`calibration.data`.
"""
from __future__ import annotations

from pathlib import Path

from .archive import REPO_ROOT

DATA_PATH = REPO_ROOT / "data" / "inner_mongolia_2010_2020.csv"


CENSUS_BEFORE_YEAR_END = 61 / 365  # [Year] from the census date (1 November) to the year-end


def _plot_basis(basis: str) -> str:
    """Plots distinguish only the pre-census bulletins from census-consistent figures."""
    return "pre-census" if basis == "pre-census" else ("hukou" if basis == "hukou" else "census")


def load_history(path: str | Path = DATA_PATH) -> dict[str, list[tuple[float, float, str]]]:
    """Province-level history for plots: ``{series: [(year, value, basis), ...]}`` in model units.

    Series: ``urbanization_rate`` [%] (bulletins, censuses, the revised 2015 rate),
    ``hukou_urbanization_rate`` [%], ``total_population`` [persons] (bulletins; the censuses of
    1 November are plotted at their year). Returns no series if the data file is absent.
    """
    from calibration.data import load_observations

    path = Path(path)
    if not path.is_file():
        return {}
    frame = load_observations(path)
    frame = frame[frame["region"] == "Inner Mongolia"]
    wanted = {
        "urbanization_rate_pct": "urbanization_rate",
        "urbanization_rate_pct_revised": "urbanization_rate",
        "hukou_urbanization_rate_pct": "hukou_urbanization_rate",
        "resident_population": "total_population",
        "census_population": "total_population",
    }
    history: dict[str, list[tuple[float, float, str]]] = {}
    for row in frame[frame["variable"].isin(list(wanted))].itertuples(index=False):
        # model time Y is the end of year Y; a census counts residents on 1 November of its year
        when = row.year - CENSUS_BEFORE_YEAR_END if row.variable.startswith("census_") else row.year
        history.setdefault(wanted[row.variable], []).append(
            (float(when), float(row.value_model), _plot_basis(str(row.basis))))
    for points in history.values():
        points.sort()
    return history
