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

**Calibration targets.** :func:`league_targets` is the one table of league figures a calibration calls:
the censuses (through :func:`league_census`) and every league spot value up to 2020 of the two data
files, each read by the one loader of the statistics format, :func:`base.observations.load_observations`,
with its basis tag, evidence status and a ``consistent`` flag. Only the census rows (and the 2020 census
counts by sex of Baotou and Bayannur, Hohhot's floating population, the 2010 life expectancies of Baotou
and Tongliao) are on the censuses' basis; the 53 bulletin figures (2012-2019 residents, urban residents,
rates, births, deaths of Chifeng, Tongliao, Hohhot, Baotou, Xilingol and the 2017-2018 populations of
most leagues) are on the pre-census basis, which overstates residents (the 2018 league sum is 25.34
million against 24.05 million in the 2020 census) and needs an observation model of that bias; the
Chifeng hukou rates (2017-2019) are on the registration basis; ``hukou_population`` (Baotou 2012,
Xilingol 2015) is untagged registered population.

**Distances.** :func:`league_distances` gives the 12 x 12 great-circle distances between the league
seats from approximate seat coordinates declared in ``base/leagues.yaml`` (recalled, UNVERIFIED, about
±0.1°; used only for distances): Hohhot-Baotou about 160 km, Hulunbuir-Alxa about 1,600 km.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from .census import CENSUS_AGES_PATH, REGION, CensusDataError
from .errors import InputError
from .observations import load_observations
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


#: The note every use of the seat coordinates carries (they are not in the data).
SEAT_NOTE = "approximate seat coordinates (recalled, UNVERIFIED, about ±0.1°); used only for distances"
#: Mean Earth radius for great-circle distances [km] (IUGG mean radius R1 = 6371.0088 km).
EARTH_RADIUS_KM = 6371.0
#: A box around Inner Mongolia [degrees]: seats outside it are typing errors.
SEAT_BOX = {"lat": (37.0, 54.0), "lon": (97.0, 127.0)}
#: Basis tags (base.observations.parse_basis) of league figures that are on the censuses' basis, i.e.
#: directly comparable with the model's census-based state (the others need an observation model).
CONSISTENT_BASES = ("census-2010", "census-2020")


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
class Seat:
    """The seat of a league's government (盟市政府驻地).

    Attributes
    ----------
    name : str
        The seat (e.g. ``Hailar`` for Hulunbuir).
    lat, lon : float
        Latitude north and longitude east [degrees]: :data:`SEAT_NOTE`.
    """

    name: str
    lat: float
    lon: float


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
    seats : dict of str to Seat
        The seat of each league that declares one (approximate recalled coordinates, used only for
        :func:`league_distances`).
    """

    names: tuple
    zh: dict
    tiles: dict
    groups: dict
    partitions: tuple
    seats: dict = field(default_factory=dict)

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
    seats = {name: _seat(path, name, entry["seat"]) for name, entry in leagues.items() if "seat" in entry}
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
    return Leagues(names, {n: str(e.get("zh", "")) for n, e in leagues.items()}, tiles, groups, partitions,
                   seats)


def _seat(path: Path, league: str, entry) -> Seat:
    """A league's ``seat: {name, lat, lon}`` entry, checked against :data:`SEAT_BOX`."""
    try:
        seat = Seat(str(entry["name"]), float(entry["lat"]), float(entry["lon"]))
    except (KeyError, TypeError, ValueError):
        raise _fail(path, f"league '{league}': seat must be {{name: ..., lat: ..., lon: ...}} in degrees") from None
    for axis, (low, high) in SEAT_BOX.items():
        if not low <= getattr(seat, axis) <= high:
            raise _fail(path, f"league '{league}': seat {axis} {getattr(seat, axis)} is outside "
                              f"Inner Mongolia ({low}-{high} degrees); correct the coordinate")
    return seat


def league_distances(leagues: Leagues | None = None, destination: str = "destination") -> xr.DataArray:
    """Great-circle distances between the league seats [km], for a destination-choice or gravity form.

    The seats and their coordinates are declared in ``base/leagues.yaml``: Hohhot, Baotou, Ordos
    (Kangbashi), Ulanqab (Jining), Chifeng, Tongliao, Hulunbuir (Hailar), Hinggan (Ulanhot), Xilingol
    (Xilinhot), Bayannur (Linhe), Wuhai, Alxa (Bayanhot). The data files have no coordinates: these are
    **approximate seat coordinates (recalled, UNVERIFIED, about ±0.1°); used only for distances**. An
    error of 0.1° moves a distance by at most about 15 km (under 10 % of the shortest distance,
    Baotou-Ordos, about 115 km). The distance is the haversine great circle on a sphere of radius
    :data:`EARTH_RADIUS_KM`, not a road or rail distance (the cost of a move is an assumption of the
    migration form that uses it).

    Parameters
    ----------
    leagues : Leagues, optional
        The declaration (default :func:`load_leagues`); its order is the order of both dimensions.
    destination : str
        Name of the second dimension (the models' copy of the league range).

    Returns
    -------
    xarray.DataArray
        Dims ``(league, destination)``, symmetric with a zero diagonal [km]; ``attrs`` note the source.

    Raises
    ------
    LeagueFileError
        If a league declares no seat (one line naming it and the fix).
    """
    leagues = leagues or load_leagues()
    missing = [name for name in leagues.names if name not in leagues.seats]
    if missing:
        raise LeagueFileError(f"league distances: no seat for {', '.join(missing)}; add "
                              f"seat: {{name: ..., lat: ..., lon: ...}} to the league in base/leagues.yaml")
    lat = np.radians([leagues.seats[n].lat for n in leagues.names])
    lon = np.radians([leagues.seats[n].lon for n in leagues.names])
    half = (np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
            + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2)
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))
    km = 0.5 * (km + km.T)
    np.fill_diagonal(km, 0.0)
    return xr.DataArray(km, dims=(LEAGUE_DIM, destination),
                        coords={LEAGUE_DIM: list(leagues.names), destination: list(leagues.names)},
                        attrs={"units": "km", "note": f"great-circle distance between league seats; {SEAT_NOTE}",
                               "seats": "; ".join(f"{n}: {leagues.seats[n].name}" for n in leagues.names)})


def _statistics(paths: tuple) -> list:
    """The statistics files, each through the one loader :func:`base.observations.load_observations`."""
    return [load_observations(path, complete_series={}) for path in paths]


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
    for frame in _statistics(paths):
        for row in frame[(frame["year"] == year) & frame["variable"].isin(list(CENSUS_VARIABLES))].to_dict("records"):
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


#: What each basis of a league figure means for a calibration (league_targets' ``use`` column).
BASIS_USE = {
    "census-2010": "census count (1 Nov 2010): a direct target",
    "census-2020": "census count (1 Nov 2020): a direct target",
    "hukou": "registration basis: compare with the model's official hukou quantities, not with residents",
    "pre-census": "2011-2019 bulletin basis, biased against the censuses: only with an observation model "
                  "of the bias (data/README.md, the census break)",
    "untagged": "no basis tag in the file (registered population): registration basis, not residents",
    "geography": "administrative area: static, not a population target",
    "urban-construction": "built-up area of a county-level city: not a league total",
}


def league_targets(years: tuple | None = None, consistent_only: bool = False, leagues: Leagues | None = None,
                   paths: tuple = (DATA_PATH, CENSUS_AGES_PATH)) -> pd.DataFrame:
    """Every league figure up to 2020 that a calibration can use, flagged by basis (one table).

    The league censuses (2010 and 2020: population, urban, rural, age shares, sex ratio, household size)
    come from :func:`league_census` (``kind`` ``census``); every other league figure of the data files
    (``kind`` ``spot``: bulletin populations and rates, hukou rates, census counts by sex of Baotou and
    Bayannur, Hohhot's floating population, league life expectancies of 2010, areas) comes from the
    same loader, :func:`base.observations.load_observations`, the one reader of the statistics format.
    ``census_urbanization_rate_pct`` is left out (it is urban / population of the census rows).

    Parameters
    ----------
    years : tuple of int, optional
        Keep only these years (default every year up to 2020).
    consistent_only : bool
        Keep only figures on the censuses' basis (:data:`CONSISTENT_BASES`).
    leagues : Leagues, optional
        The declaration (default :func:`load_leagues`).
    paths : tuple of path-like
        The data files.

    Returns
    -------
    pandas.DataFrame
        Columns ``year``, ``league``, ``variable`` (league-dataset name for census figures, the data
        file's name otherwise), ``value`` [``unit``, model units], ``kind`` (census | spot), ``basis``
        (normalised tag), ``consistent`` (bool: on the censuses' basis), ``use`` (what the basis means,
        :data:`BASIS_USE`), ``status`` (confirmed / derived / UNVERIFIED), ``data_variable``,
        ``source_title``, ``source_url``.
    """
    leagues = leagues or load_leagues()
    records = []
    for year in CENSUS_YEARS:
        census = league_census(year, leagues, paths=paths)
        for name in census.data_vars:
            attrs = census[name].attrs
            basis = f"census-{year}"
            for league, value in zip(leagues.names, census[name].values):
                records.append({"year": year, "league": league, "variable": name, "value": float(value),
                                "unit": attrs["units"], "kind": "census", "basis": basis, "status": "confirmed",
                                "data_variable": attrs["data_variable"], "source_title": attrs["source_title"],
                                "source_url": attrs["source_url"]})
    skip = set(CENSUS_VARIABLES) | {"census_urbanization_rate_pct"}
    seen = set()
    for frame in _statistics(paths):
        spot = frame[frame["region"].isin(list(leagues.names)) & ~frame["variable"].isin(list(skip))
                     & (frame["year"] <= 2020)]
        for row in spot.to_dict("records"):
            key = (row["year"], row["region"], row["variable"])
            if key in seen:
                continue
            seen.add(key)
            records.append({"year": int(row["year"]), "league": row["region"], "variable": row["variable"],
                            "value": float(row["value_model"]), "unit": row["unit_model"], "kind": "spot",
                            "basis": row["basis"], "status": row["status"], "data_variable": row["variable"],
                            "source_title": row["source_title"], "source_url": row["source_url"]})
    table = pd.DataFrame(records)
    table["consistent"] = table["basis"].isin(CONSISTENT_BASES)
    table["use"] = table["basis"].map(lambda b: BASIS_USE.get(b, "see the note of the row in data/"))
    if years is not None:
        table = table[table["year"].isin(list(years))]
    if consistent_only:
        table = table[table["consistent"]]
    columns = ["year", "league", "variable", "value", "unit", "kind", "basis", "consistent", "use", "status",
               "data_variable", "source_title", "source_url"]
    return table[columns].sort_values(["kind", "year", "league", "variable"], kind="stable").reset_index(drop=True)
