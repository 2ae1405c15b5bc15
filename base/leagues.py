"""The 12 leagues, their groupings and their census figures (issue 12): one owner of ``base/leagues.yaml``.

``base/leagues.yaml`` declares the leagues (pinyin names as in ``data/`` and the models' ``league``
subscript, Chinese names, a schematic tile-grid position) and the groupings of the plan: the
Hohhot-Baotou-Ordos-Ulanqab cluster (ch.3 sec.1), the poles Chifeng and Tongliao (ch.3 sec.2), the
plan's city classes (ch.2 sec.5), and the conventions the plan names without listing members (east /
central / west, the Yellow River basin), each marked as an assumption with its reason.

>>> leagues = load_leagues()
>>> leagues.members("cluster")
('Hohhot', 'Baotou', 'Ordos', 'Ulanqab')
>>> leagues.members("Alxa")
('Alxa',)

:func:`league_census` returns the 2010 and 2020 census figures by league (population, urban, rural,
age shares, sex ratio, household size) on a ``league`` dimension with their source and basis, ready to
be calibration targets. All counts are census counts as of 1 November [persons]; the 2010 league
figures are boundary-adjusted to the 2020 units by the dataset's authors (``data/README.md``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from .census import CENSUS_AGES_PATH, REGION, CensusDataError
from .errors import InputError
from .paths import DATA_PATH

#: The declaration of the leagues and their groupings.
LEAGUES_PATH = Path(__file__).with_name("leagues.yaml")
#: The subscript (dimension) name of the leagues in a model.
LEAGUE_DIM = "league"
#: Census figures by league: variable in data/ -> (name on the league dataset, scale to model units, units).
CENSUS_VARIABLES = {
    "census_population": ("population", 1e4, "persons"),
    "census_urban_population": ("urban_population", 1e4, "persons"),
    "census_rural_population": ("rural_population", 1e4, "persons"),
    "census_share_age_0_14_pct": ("share_age_0_14", 1.0, "%"),
    "census_share_age_15_59_pct": ("share_age_15_59", 1.0, "%"),
    "census_share_age_60plus_pct": ("share_age_60plus", 1.0, "%"),
    "census_share_age_65plus_pct": ("share_age_65plus", 1.0, "%"),
    "census_sex_ratio": ("sex_ratio", 1.0, "males per 100 females"),
    "census_household_size": ("household_size", 1.0, "persons per family household"),
}
CENSUS_YEARS = (2010, 2020)
#: Persons by which league counts may differ from the province's census count (the league figures are
#: given to the person in 10k-person units with four decimals; the province to 0.01 10k).
COUNT_TOLERANCE = 100.0


class LeagueNameError(InputError):
    """A league or group name that is not declared in ``base/leagues.yaml``."""


class LeagueFileError(InputError):
    """``base/leagues.yaml`` is malformed (a member that is no league, overlapping partitions...)."""


@dataclass(frozen=True)
class Group:
    """A named set of leagues.

    Attributes
    ----------
    name, zh : str
        Name (``cluster``) and Chinese name.
    members : tuple of str
        League names, in the order of the declaration.
    source : str
        Plan chapter or the convention it rests on.
    assumption : bool
        True when the plan does not list the members (a convention, see ``note``).
    note : str
        What the group stands for where it differs from the plan's wording.
    """

    name: str
    zh: str
    members: tuple
    source: str
    assumption: bool
    note: str = ""


@dataclass(frozen=True)
class Leagues:
    """The declared leagues and groups (:func:`load_leagues`).

    Attributes
    ----------
    names : tuple of str
        The 12 leagues, west to east as declared.
    zh : dict of str to str
        Chinese names.
    tiles : dict of str to tuple of int
        ``(column, row)`` of each league on the schematic tile grid (row 0 = north).
    groups : dict of str to Group
        The groupings by name.
    partitions : tuple of tuple of str
        Groups that are disjoint and cover every league.
    """

    names: tuple
    zh: dict
    tiles: dict
    groups: dict
    partitions: tuple

    def valid_names(self) -> str:
        """The names a lever or a target may use, for error messages."""
        return f"leagues {', '.join(self.names)}; groups {', '.join(self.groups)}"

    def members(self, name: str) -> tuple:
        """The leagues of ``name`` (a league or a group).

        Raises
        ------
        LeagueNameError
            One line naming ``name`` and the valid names.
        """
        if name in self.groups:
            return self.groups[name].members
        if name in self.names:
            return (name,)
        raise LeagueNameError(f"'{name}' is not a league or a group of base/leagues.yaml; "
                              f"valid names: {self.valid_names()}")

    def mask(self, name: str, coords) -> np.ndarray:
        """Boolean mask over the league coordinates ``coords`` of a model for ``name``."""
        members = set(self.members(name))
        return np.array([str(c) in members for c in coords], dtype=bool)


def _fail(path: Path, message: str) -> LeagueFileError:
    return LeagueFileError(f"{path}: {message}")


@lru_cache(maxsize=4)
def load_leagues(path: str | Path = LEAGUES_PATH) -> Leagues:
    """Read and check the leagues declaration.

    Raises
    ------
    LeagueFileError
        For an unknown key, a group member that is no league, a duplicate, or a partition whose groups
        overlap or leave a league out (one line naming it).
    """
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    unknown = set(raw) - {"leagues", "groups", "partitions"}
    if unknown:
        raise _fail(path, f"unknown key(s) {sorted(unknown)}; the keys are leagues, groups, partitions")
    leagues = raw.get("leagues") or {}
    names = tuple(leagues)
    tiles = {name: tuple(int(v) for v in entry["tile"]) for name, entry in leagues.items()}
    if len(set(tiles.values())) != len(tiles):
        raise _fail(path, "two leagues share a tile; give each its own [column, row]")
    groups = {}
    for name, entry in (raw.get("groups") or {}).items():
        extra = set(entry) - {"zh", "members", "source", "assumption", "note"}
        if extra:
            raise _fail(path, f"group '{name}': unknown key(s) {sorted(extra)}")
        members = tuple(entry.get("members") or ())
        bad = [m for m in members if m not in leagues]
        if bad or not members or len(set(members)) != len(members):
            problem = f"'{bad[0]}' is not a league" if bad else "members are empty or repeated"
            raise _fail(path, f"group '{name}': {problem}; leagues: {', '.join(names)}")
        if name in leagues:
            raise _fail(path, f"group '{name}' has the name of a league; rename it")
        if not isinstance(entry.get("assumption"), bool) or not entry.get("source"):
            raise _fail(path, f"group '{name}' needs a source and assumption: true/false")
        groups[name] = Group(name, str(entry.get("zh", "")), members, str(entry["source"]),
                             entry["assumption"], " ".join(str(entry.get("note", "")).split()))
    partitions = tuple(tuple(p) for p in raw.get("partitions") or ())
    for partition in partitions:
        missing = [g for g in partition if g not in groups]
        if missing:
            raise _fail(path, f"partition {list(partition)}: '{missing[0]}' is not a group")
        members = [m for g in partition for m in groups[g].members]
        if len(members) != len(set(members)) or set(members) != set(names):
            raise _fail(path, f"partition {list(partition)}: the groups must be disjoint and cover the "
                              f"{len(names)} leagues")
    return Leagues(names, {n: str(e.get("zh", "")) for n, e in leagues.items()}, tiles, groups, partitions)


def _basis(note: str) -> str:
    """The basis tag of a data row's note (``[census-2020]``), see ``data/README.md``."""
    return note[note.index("["):note.index("]") + 1] if "[" in note and "]" in note else ""


def league_census(year: int, leagues: Leagues | None = None,
                  paths: tuple = (DATA_PATH, CENSUS_AGES_PATH)) -> xr.Dataset:
    """The census figures of ``year`` (2010 or 2020) by league, on the ``league`` dimension.

    Parameters
    ----------
    year : int
        Census year (counts as of 1 November).
    leagues : Leagues, optional
        The declaration (default :func:`load_leagues`); its order is the order of the dimension.
    paths : tuple of path-like
        The data files (default the two files of ``data/``).

    Returns
    -------
    xarray.Dataset
        Variables of :data:`CENSUS_VARIABLES` (``population``, ``urban_population``, ``rural_population``
        [persons]; age shares [%]; sex ratio; household size), each with attributes ``units``,
        ``data_variable``, ``basis`` (the note's tag), ``source_title`` and ``source_url``; the province's
        census figure of each variable as ``province`` when the data have it.

    Raises
    ------
    base.census.CensusDataError
        If a league figure is missing, urban + rural differs from the population, or the leagues do not
        sum to the province's census count.
    """
    leagues = leagues or load_leagues()
    if year not in CENSUS_YEARS:
        raise CensusDataError(f"league census: no census in {year}; the censuses are {CENSUS_YEARS}")
    rows: dict = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if int(row["year"]) == year and row["variable"] in CENSUS_VARIABLES:
                    rows.setdefault((row["region"], row["variable"]), row)
    data = {}
    for variable, (name, scale, units) in CENSUS_VARIABLES.items():
        missing = [league for league in leagues.names if (league, variable) not in rows]
        if missing:
            raise CensusDataError(f"census {year}: {variable} is missing for {', '.join(missing)} in data/; "
                                  f"restore it from ../shared/data")
        found = [rows[(league, variable)] for league in leagues.names]
        province = rows.get((REGION, variable))
        data[name] = xr.DataArray(
            np.array([float(r["value"]) * scale for r in found]), dims=(LEAGUE_DIM,),
            attrs={"units": units, "data_variable": variable,
                   "basis": "; ".join(sorted({_basis(r["note"]) for r in found})),
                   "source_title": "; ".join(sorted({r["source_title"] for r in found})),
                   "source_url": " ".join(sorted({r["source_url"] for r in found})),
                   "province": float(province["value"]) * scale if province else np.nan})
    dataset = xr.Dataset(data, coords={LEAGUE_DIM: list(leagues.names)},
                         attrs={"year": year, "time_point": f"{year}-11-01 (census)",
                                "note": "2010 league figures boundary-adjusted to 2020 units by the dataset authors"
                                if year == 2010 else ""})
    gap = np.abs(dataset["urban_population"] + dataset["rural_population"] - dataset["population"])
    if float(gap.max()) > COUNT_TOLERANCE:
        raise CensusDataError(f"census {year}: urban + rural differs from the population by "
                              f"{float(gap.max()):.0f} persons in {str(gap.idxmax(LEAGUE_DIM).values)}")
    for name in ("population", "urban_population", "rural_population"):
        province = dataset[name].attrs["province"]
        if np.isfinite(province) and abs(float(dataset[name].sum()) - province) > COUNT_TOLERANCE:
            raise CensusDataError(f"census {year}: the leagues' {name} sums to {float(dataset[name].sum()):.0f}, "
                                  f"not the province's {province:.0f}; check the league rows of data/")
    return dataset
