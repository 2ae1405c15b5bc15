"""The observations: load and validate the statistics file ``data/inner_mongolia_2010_2020.csv``
(one loader for calibration and plots), and the province history the plots show.

The file is long format, one figure per row::

    year,region,variable,value,unit,source_url,source_title,note

The ``note`` starts with a *basis tag* in brackets (``[pre-census basis: ...]``, ``[census-2020]``,
``[post-census basis]``, ``[hukou basis]``...), then the evidence status (confirmed / derived /
UNVERIFIED) and a confidence. :func:`load_observations` checks the file and returns a tidy
:class:`pandas.DataFrame` with the basis tag parsed and an ``unverified`` flag; any problem raises
:class:`DataFileError` naming the file, the line, the column and the fix.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd

from .paths import DATA_PATH

REQUIRED_COLUMNS = ("year", "region", "variable", "value", "unit", "source_url", "source_title", "note")

#: Units the file may use, with the factor that converts a value to the model's units.
#: Source: data/README.md (population in 10k persons, rates in permille or %, water in 100 million m3,
#: area in km2). ``persons`` and ``km2`` are accepted for completeness.
UNIT_FACTORS = {
    "10k persons": (1.0e4, "persons"),
    "persons": (1.0, "persons"),
    "%": (1.0, "%"),
    "permille": (1.0e-3, "1/Year"),
    "100 million m3": (1.0e8, "m3/Year"),
    "m3/person": (1.0, "m3/person"),
    "km2": (1.0, "km2"),
    # units of the census age-structure and league file (data/inner_mongolia_census_ages_leagues_2010_2020.csv)
    "10k households": (1.0e4, "households"),
    "years": (1.0, "Year"),
    "births per woman": (1.0, "births per woman"),
    "males per 100 females": (1.0, "males per 100 females"),
    "male births per 100 female": (1.0, "male births per 100 female"),
    "persons per family household": (1.0, "persons per family household"),
    "persons per 100k": (1.0, "persons per 100k"),
}

#: Normalised basis tags (the text in brackets at the start of ``note``, without " basis").
BASIS_TAGS = {
    "pre-census": "pre-census",
    "census-2010": "census-2010",
    "census-2020": "census-2020",
    "post-census": "post-census",
    "revised post-census": "revised-post-census",
    "hukou": "hukou",
    "infrastructure": "infrastructure",
}

#: Plausible range of a value by unit (rates in [0, 100], counts and volumes positive). Variables
#: that are differences (natural growth, natural increase) may be negative.
VALUE_RANGES = {
    "%": (0.0, 100.0), "permille": (0.0, 100.0), "10k persons": (0.0, math.inf),
    "persons": (0.0, math.inf), "100 million m3": (0.0, math.inf), "m3/person": (0.0, math.inf),
    "km2": (0.0, math.inf), "10k households": (0.0, math.inf), "years": (0.0, 120.0),
    "births per woman": (0.0, 10.0), "males per 100 females": (0.0, math.inf),
    "male births per 100 female": (0.0, math.inf), "persons per family household": (0.0, math.inf),
    "persons per 100k": (0.0, 1.0e5),
}
SIGNED_VARIABLES = re.compile(r"natural_growth|natural_increase|net_|change")
#: Years the file covers; nothing after 2020 is used (the calibration window ends there).
YEAR_RANGE = (1949, 2020)
#: Series the calibration needs for every year 2010-2020 (region Inner Mongolia).
COMPLETE_SERIES = {"urbanization_rate_pct": (2010, 2020), "resident_population": (2010, 2020)}

_TAG_PATTERN = re.compile(r"^\s*\[([^\]]*)\]")


class DataFileError(ValueError):
    """A statistics file that cannot be used as it is (the message names the line and the fix)."""


def parse_basis(note: str) -> str:
    """Return the normalised basis tag of a ``note``.

    Parameters
    ----------
    note : str
        The ``note`` field, e.g. ``"[pre-census basis: original bulletin series ...] confirmed; high"``.

    Returns
    -------
    str
        ``pre-census``, ``census-2010``, ``census-2020``, ``post-census``, ``revised-post-census``,
        ``hukou``, ``infrastructure``, or ``untagged`` when the note has no bracketed tag.
    """
    match = _TAG_PATTERN.match(note or "")
    if not match:
        return "untagged"
    head = re.split(r"[:,]", match.group(1))[0].strip().lower()
    head = re.sub(r"\s+basis$", "", head).strip()
    return BASIS_TAGS.get(head, head.replace(" ", "-"))


def parse_status(note: str) -> str:
    """Return the evidence status of a ``note``: ``confirmed``, ``derived``, ``UNVERIFIED`` or ``unstated``."""
    text = _TAG_PATTERN.sub("", note or "")
    if "UNVERIFIED" in (note or ""):
        return "UNVERIFIED"
    for status in ("derived", "confirmed"):
        if re.search(rf"\b{status}\b", text, flags=re.IGNORECASE):
            return status
    return "unstated"


def _fail(path: Path, line: int | None, column: str | None, problem: str, fix: str) -> DataFileError:
    where = f"{path}" + (f", line {line}" if line is not None else "") + (
        f", column '{column}'" if column else "")
    return DataFileError(f"{where}: {problem}. Fix: {fix}")


def load_observations(path: str | Path = DATA_PATH, complete_series: dict | None = None) -> pd.DataFrame:
    """Read, check and tidy the statistics file.

    Parameters
    ----------
    path : path-like
        The CSV file (default: ``data/inner_mongolia_2010_2020.csv`` at the repository top; the census
        age-structure and league file has the same format and is read with ``complete_series={}``).
    complete_series : dict, optional
        Series that must have a figure for every year, ``{variable: (first, last)}`` for the region
        Inner Mongolia (default :data:`COMPLETE_SERIES`, what the calibration needs).

    Returns
    -------
    pandas.DataFrame
        One row per figure with columns ``year`` (int), ``region``, ``variable``, ``value`` (float, in
        the file's unit), ``unit``, ``value_model`` (float, in ``unit_model``), ``unit_model``,
        ``basis`` (normalised tag), ``status`` (confirmed / derived / UNVERIFIED / unstated),
        ``unverified`` (bool), ``source_url``, ``source_title``, ``note`` and ``line`` (line number in
        the file, the header being line 1).

    Raises
    ------
    DataFileError
        If the file is missing or empty, a column is missing, a year or value is not a number, a
        (year, region, variable) key is repeated, or a unit is unknown. The message names the file,
        the line, the column and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, None, None, "the file does not exist",
                    "pass the path of the statistics CSV (data/inner_mongolia_2010_2020.csv)")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        if not header:
            raise _fail(path, 1, None, "the file is empty (no header line)",
                        f"restore the header {','.join(REQUIRED_COLUMNS)}")
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise _fail(path, 1, missing[0],
                        f"missing column(s) {missing} in the header {header}",
                        f"add the column(s); the header must contain {','.join(REQUIRED_COLUMNS)}")
        rows = []
        seen: dict[tuple, int] = {}
        for raw in reader:
            line = reader.line_num  # last physical line of this record
            rows.append(_check_row(path, line, raw, seen))
    if not rows:
        raise _fail(path, 2, None, "the file has a header but no data rows", "restore the data rows")
    frame = pd.DataFrame(rows)
    for variable, (first, last) in (COMPLETE_SERIES if complete_series is None else complete_series).items():
        years = set(frame.loc[(frame["variable"] == variable) & (frame["region"] == "Inner Mongolia"), "year"])
        missing = [year for year in range(first, last + 1) if year not in years]
        if missing:
            raise _fail(path, None, None, f"the series {variable} (Inner Mongolia) has no figure for "
                        f"{', '.join(map(str, missing))}",
                        f"restore the rows: the calibration needs every year {first}-{last}")
    return frame.sort_values(["region", "variable", "year"], kind="stable").reset_index(drop=True)


def _check_row(path: Path, line: int, raw: dict, seen: dict) -> dict:
    if None in raw or any(raw.get(name) is None for name in REQUIRED_COLUMNS):
        raise _fail(path, line, None, "the row has a different number of fields than the header",
                    "quote fields that contain commas and give every column a value")
    year_text = raw["year"].strip()
    try:
        year = int(year_text)
    except ValueError:
        raise _fail(path, line, "year", f"year {year_text!r} is not an integer",
                    "write the calendar year as an integer, e.g. 2015") from None
    value_text = raw["value"].strip()
    try:
        value = float(value_text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _fail(path, line, "value", f"value {value_text!r} is not a finite number",
                    "write a plain decimal number (no units, thousands separators or text; "
                    "put comments in the note column)")
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise _fail(path, line, "year", f"year {year} is outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}",
                    "the statistics end in 2020 (nothing later is used); correct the year")
    unit = raw["unit"].strip()
    if unit not in UNIT_FACTORS:
        raise _fail(path, line, "unit", f"unknown unit {unit!r}",
                    f"use one of {sorted(UNIT_FACTORS)} (or add the unit and its conversion to "
                    f"base.observations.UNIT_FACTORS)")
    region, variable = raw["region"].strip(), raw["variable"].strip()
    for column, text in (("region", region), ("variable", variable)):
        if not text:
            raise _fail(path, line, column, f"empty {column}", f"give the {column} of the figure")
    low, high = VALUE_RANGES.get(unit, (-math.inf, math.inf))
    if SIGNED_VARIABLES.search(variable):
        low = -high if math.isfinite(high) else -math.inf
    if not (low <= value <= high) or (low == 0.0 and not math.isfinite(high) and value <= 0):
        valid = (f"in [{low:g}, {high:g}] {unit}" if math.isfinite(high)
                 else f"a positive number of {unit}")
        raise _fail(path, line, "value", f"{variable} = {value_text} {unit} is impossible: it must be {valid}",
                    "check the figure and its unit against the source")
    key = (year, region, variable)
    if key in seen:
        raise _fail(path, line, "variable",
                    f"duplicate key (year={year}, region={region!r}, variable={variable!r}), "
                    f"already on line {seen[key]}",
                    "keep one row per (year, region, variable): delete or rename one of the two")
    seen[key] = line
    note = raw["note"].strip()
    factor, unit_model = UNIT_FACTORS[unit]
    status = parse_status(note)
    return {
        "year": year, "region": region, "variable": variable, "value": value, "unit": unit,
        "value_model": value * factor, "unit_model": unit_model, "basis": parse_basis(note),
        "status": status, "unverified": status == "UNVERIFIED",
        "source_url": raw["source_url"].strip(), "source_title": raw["source_title"].strip(),
        "note": note, "line": line,
    }


def series(frame: pd.DataFrame, variable: str, region: str = "Inner Mongolia") -> pd.DataFrame:
    """Rows of one variable and region, sorted by year (empty frame if absent)."""
    rows = frame[(frame["variable"] == variable) & (frame["region"] == region)]
    return rows.sort_values("year").reset_index(drop=True)


def value_of(frame: pd.DataFrame, variable: str, year: int, region: str = "Inner Mongolia",
             model_units: bool = True) -> float:
    """The single value of ``variable`` in ``year``; :class:`DataFileError` if it is not in the file."""
    rows = frame[(frame["variable"] == variable) & (frame["region"] == region) & (frame["year"] == year)]
    if len(rows) != 1:
        raise DataFileError(
            f"the statistics file has no row year={year}, region={region!r}, variable={variable!r}; "
            f"the calibration needs it: restore the row or change the calibration config")
    return float(rows["value_model" if model_units else "value"].iloc[0])


# --------------------------------------------------------------------------- history for plots
CENSUS_BEFORE_YEAR_END = 61 / 365  # [Year] from the census date (1 November) to the year-end
#: An annual figure (births, deaths, their crude rates) covers model time (Y - 1, Y]: it is plotted
#: at mid-year, Y - 0.5, against the model's flows (rates at each instant) [Year].
ANNUAL_BEFORE_YEAR_END = 0.5
#: 1/Year -> permille/Year, the units of the .mdl's crude birth and death rates.
PERMILLE_PER_UNIT = 1.0e3
#: Data variable -> (plot series, factor from the file's model units to the .mdl variable's units,
#: whether the figure is annual).
HISTORY_SERIES = {
    "urbanization_rate_pct": ("urbanization_rate", 1.0, False),
    "urbanization_rate_pct_revised": ("urbanization_rate", 1.0, False),
    "hukou_urbanization_rate_pct": ("hukou_urbanization_rate", 1.0, False),
    "resident_population": ("total_population", 1.0, False),
    "census_population": ("total_population", 1.0, False),
    "births": ("total_births", 1.0, True),
    "deaths": ("total_deaths", 1.0, True),
    "birth_rate_permille": ("crude_birth_rate", PERMILLE_PER_UNIT, True),
    "death_rate_permille": ("crude_death_rate", PERMILLE_PER_UNIT, True),
}


def _plot_basis(basis: str) -> str:
    """Plots distinguish only the pre-census bulletins from census-consistent figures."""
    return "pre-census" if basis == "pre-census" else ("hukou" if basis == "hukou" else "census")


def load_history(path: str | Path = DATA_PATH) -> dict[str, list[tuple[float, float, str]]]:
    """Province-level history for plots: ``{series: [(time, value, basis), ...]}`` in model units.

    Series (:data:`HISTORY_SERIES`): ``urbanization_rate`` [%] (bulletins, censuses, the revised
    2015 rate), ``hukou_urbanization_rate`` [%], ``total_population`` [persons] (bulletins; the
    censuses of 1 November are plotted at their date, model time ``year - 61/365``), and the
    bulletins' ``total_births`` and ``total_deaths`` [persons/Year] and ``crude_birth_rate`` and
    ``crude_death_rate`` [permille/Year], annual figures plotted at mid-year (``year - 0.5``).
    Returns no series if the data file is absent.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    frame = load_observations(path)
    frame = frame[frame["region"] == "Inner Mongolia"]
    history: dict[str, list[tuple[float, float, str]]] = {}
    for row in frame[frame["variable"].isin(list(HISTORY_SERIES))].itertuples(index=False):
        series, factor, annual = HISTORY_SERIES[row.variable]
        # model time Y is the end of year Y; a census counts residents on 1 November of its year
        when = row.year - CENSUS_BEFORE_YEAR_END if row.variable.startswith("census_") else row.year
        when = when - ANNUAL_BEFORE_YEAR_END if annual else when
        history.setdefault(series, []).append(
            (float(when), float(row.value_model) * factor, _plot_basis(str(row.basis))))
    for points in history.values():
        points.sort()
    return history
