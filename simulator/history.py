"""Observed history for plots, in model units, tagged with its statistical basis.

Only the province-level series that the plots show are extracted here; the data file and its
validation belong to :mod:`calibration.data`.
"""
from __future__ import annotations

from pathlib import Path

from .archive import REPO_ROOT

DATA_PATH = REPO_ROOT / "data" / "inner_mongolia_2010_2020.csv"
TEN_THOUSAND = 1e4  # the data file counts persons in 10k persons (万人)


def _basis(note: str) -> str:
    note = note.lower()
    if "pre-census" in note:
        return "pre-census"
    if "hukou" in note:
        return "hukou"
    if "census-2010" in note or "census-2020" in note:
        return "census"
    return "post-census"


def load_history(path: str | Path = DATA_PATH) -> dict[str, list[tuple[int, float, str]]]:
    """Province-level history for plots: ``{series: [(year, value, basis), ...]}``.

    Series: ``urbanization_rate`` [%] (bulletins, censuses, the revised 2015 rate),
    ``hukou_urbanization_rate`` [%], ``total_population`` [persons] (bulletins; censuses are
    plotted at the year they were taken). Returns empty series if the data file is absent.
    """
    from calibration.data import load_data

    path = Path(path)
    if not path.is_file():
        return {}
    frame = load_data(path)
    frame = frame[frame["region"] == "Inner Mongolia"]
    wanted = {
        "urbanization_rate_pct": ("urbanization_rate", 1.0),
        "urbanization_rate_pct_revised": ("urbanization_rate", 1.0),
        "hukou_urbanization_rate_pct": ("hukou_urbanization_rate", 1.0),
        "resident_population": ("total_population", TEN_THOUSAND),
        "census_population": ("total_population", TEN_THOUSAND),
    }
    history: dict[str, list[tuple[int, float, str]]] = {}
    for row in frame.itertuples(index=False):
        if row.variable not in wanted:
            continue
        series, scale = wanted[row.variable]
        basis = "census" if row.variable.endswith("_revised") else _basis(str(row.note))
        if series == "hukou_urbanization_rate":
            basis = "hukou"
        history.setdefault(series, []).append((int(row.year), float(row.value) * scale, basis))
    for points in history.values():
        points.sort()
    return history
