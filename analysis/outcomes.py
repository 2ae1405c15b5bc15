"""The outcomes a planner compares, declared once as objects (as the EMA Workbench's outcomes).

Each :class:`Outcome` turns model trajectories into one number per ensemble member (or parameter
set): the resident urbanization rate, the official hukou rate and the absolute urban population
in 2025 and 2035, the water margin, new land against the quota and land per resident. The
variable names are those of ``model/inner_mongolia.outputs.yaml``; an outcome whose variables a
model (or an archive) lacks is *unavailable* there (:meth:`Outcome.available`), reported as such,
never a crash. The lever audit (:mod:`analysis.lever_audit`), the loop knockouts
(:mod:`analysis.loops`) and the paired differences of :mod:`analysis.compare` all use these
objects, so an outcome is defined in one place.

Trajectories come in a :class:`Trajectories`: ``time`` [Year] and, per variable, an array
``(n_time, n_members)`` (subscripted variables as their province total, the sum over their
subscripts). :func:`from_run` builds one from an engine result, :func:`from_ensemble` from an
archive's ``ensemble.nc`` (plus the constants of ``outputs.nc``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

#: Last year the plan's limits are judged on [Year].
HORIZON = 2035
#: The land quota period (new land 2021-2025 = land at year-end 2025 minus land at year-end 2020).
QUOTA_PERIOD = (2020, 2025)
#: m3 per 亿 m3.
M3_PER_YI = 1.0e8


class Trajectories:
    """Province-total trajectories of one or more members.

    Parameters
    ----------
    time : array-like
        Saved times [Year].
    values : mapping of str to ndarray
        Per variable, shape ``(n_time, n_members)`` [units of the variable]; constants may be
        given with any leading shape (their first element is used).
    """

    def __init__(self, time: Sequence[float], values: Mapping[str, np.ndarray]):
        self.time = np.asarray(time, dtype=float)
        self.values = dict(values)

    def has(self, *names: str) -> bool:
        """Whether every variable of ``names`` is present."""
        return all(name in self.values for name in names)

    def series(self, name: str) -> np.ndarray:
        """``(n_time, n_members)`` values of ``name``."""
        return np.asarray(self.values[name], dtype=float)

    def at(self, name: str, year: float) -> np.ndarray:
        """Values of ``name`` at year-end ``year``, one per member."""
        rows = np.flatnonzero(np.isclose(self.time, year))
        if rows.size == 0:
            raise ValueError(f"year {year:g} is not among the saved times "
                             f"({self.time[0]:g}-{self.time[-1]:g})")
        return self.series(name)[rows[0]]

    def per_member(self, name: str) -> np.ndarray:
        """A constant's value for each member: the first saved time of an ``(n_time, n_members)``
        array, or a single value (e.g. from ``outputs.nc``) for every member."""
        array = np.asarray(self.values[name], dtype=float)
        return array[0] if array.ndim == 2 else np.asarray(array.ravel()[0])


def _province_total(array: np.ndarray, n_time: int) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    return array.reshape(array.shape[0], array.shape[1], -1).sum(axis=2) if array.ndim > 2 else array


def from_run(result, constants: Mapping[str, float] | None = None) -> Trajectories:
    """Trajectories from an engine result (:class:`model.result.RunResult`).

    ``values[name]`` is ``(n_time, n_samples, *subscripts)``; subscripted variables are summed.
    """
    values = {name: _province_total(array, len(result.time)) for name, array in result.values.items()}
    for name, value in (constants or {}).items():
        values.setdefault(name, np.asarray(value, dtype=float))
    return Trajectories(result.time, values)


def from_ensemble(ensemble: xr.Dataset, point: xr.Dataset | None = None) -> Trajectories:
    """Trajectories from an archive's ``ensemble.nc`` (dims ``sample, time, ...``) and the
    constants of its ``outputs.nc`` (``point``)."""
    values = {}
    for name, data in ensemble.data_vars.items():
        if "time" not in data.dims or "sample" not in data.dims:
            continue
        other = [d for d in data.dims if d not in ("time", "sample")]
        total = data.sum(other) if other else data
        values[name] = np.asarray(total.transpose("time", "sample").values, dtype=float)
    if point is not None:
        for name, data in point.data_vars.items():
            values.setdefault(name, np.asarray(data.values, dtype=float))
    return Trajectories(ensemble["time"].values, values)


@dataclass(frozen=True)
class Way:
    """One way to compute an outcome: the variables it needs, the function, and what it measures."""

    variables: tuple[str, ...]
    compute: Callable[[Trajectories], np.ndarray]
    basis: str = ""


@dataclass(frozen=True)
class Outcome:
    """One outcome: a number per member computed from trajectories.

    Attributes
    ----------
    name : str
        Key in tables and CSV files.
    label : str
        Short English label (tables, plots).
    label_zh : str
        Chinese label.
    unit : str
        Unit of the value.
    ways : tuple of Way
        Ways to compute it, in order of preference: the first whose variables (names of
        ``model/inner_mongolia.outputs.yaml``) are all present is used, so a model that declares a
        better-defined output (e.g. ``water_margin``) is measured on it and an older archive still
        gets the older definition (:meth:`basis` says which).
    digits : int
        Decimals shown in tables.
    """

    name: str
    label: str
    label_zh: str
    unit: str
    ways: tuple[Way, ...]
    digits: int = 2

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables of the preferred way."""
        return self.ways[0].variables

    @property
    def change_unit(self) -> str:
        """Unit of a difference of the outcome (percentage points for a rate in %)."""
        return "pp" if self.unit == "%" else self.unit

    @property
    def resolution(self) -> float:
        """Effects smaller than this are "no effect" [unit]: half a unit of the last digit shown."""
        return 0.5 * 10.0 ** (-self.digits)

    def way(self, trajectories: Trajectories) -> Way | None:
        """The first way whose variables ``trajectories`` hold (None: unavailable)."""
        for way in self.ways:
            if trajectories.has(*way.variables):
                return way
        return None

    def available(self, trajectories: Trajectories) -> bool:
        """Whether ``trajectories`` hold the variables of some way to compute the outcome."""
        return self.way(trajectories) is not None

    def basis(self, trajectories: Trajectories) -> str:
        """What the outcome measures on ``trajectories`` (the basis of the way used)."""
        way = self.way(trajectories)
        return "" if way is None else way.basis

    def missing(self, names: Iterable[str]) -> list[str]:
        """The variables of the preferred way absent from ``names``."""
        present = set(names)
        return [v for v in self.variables if v not in present]

    def __call__(self, trajectories: Trajectories) -> np.ndarray:
        way = self.way(trajectories)
        if way is None:
            raise KeyError(f"outcome '{self.name}' needs {', '.join(self.variables)}")
        return np.asarray(way.compute(trajectories), dtype=float)


def _at(variable: str, year: int, scale: float = 1.0) -> Way:
    return Way((variable,), lambda t: t.at(variable, year) * scale)


def _horizon(t: Trajectories) -> np.ndarray:
    return (t.time > QUOTA_PERIOD[0]) & (t.time <= HORIZON)


def _new_land(variable: str) -> Callable[[Trajectories], np.ndarray]:
    start, end = QUOTA_PERIOD
    return lambda t: t.at(variable, end) - t.at(variable, start)


def _quota_km2(t: Trajectories) -> np.ndarray:
    return t.per_member("new_land_quota_2021_2025") * t.per_member("m2_per_mu") / t.per_member("m2_per_km2")


_QUOTA = ("new_land_quota_2021_2025", "m2_per_mu", "m2_per_km2")
_WATER_MARGIN = (
    Way(("water_margin",), lambda t: t.series("water_margin")[_horizon(t)].min(axis=0),
        "the cap in force minus the water all sectors want (`water_margin`)"),
    Way(("water_cap", "urban_water_demand"),
        lambda t: (t.series("water_cap") - t.series("urban_water_demand"))[_horizon(t)].min(axis=0) / M3_PER_YI,
        "the urban allocation under the cap minus urban demand (`water_cap` - `urban_water_demand`)"),
)
_NEW_LAND = (
    Way(("total_urban_construction_land",), _new_land("total_urban_construction_land"),
        "all urban construction land (`total_urban_construction_land`)"),
    Way(("urban_construction_land",), _new_land("urban_construction_land"),
        "urban construction land (`urban_construction_land`)"),
)

#: The outcomes, in table order.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("urbanization_2025", "urbanization 2025", "2025年常住人口城镇化率", "%",
            (_at("urbanization_rate", 2025),)),
    Outcome("urbanization_2035", "urbanization 2035", "2035年常住人口城镇化率", "%",
            (_at("urbanization_rate", 2035),)),
    Outcome("official_hukou_2035", "official hukou rate 2035", "2035年户籍人口城镇化率", "%",
            (_at("official_hukou_urbanization_rate", 2035),)),
    Outcome("urban_population_2025", "urban residents 2025", "2025年城镇常住人口", "10k persons",
            (_at("urban_population", 2025, 1e-4),), digits=1),
    Outcome("urban_population_2035", "urban residents 2035", "2035年城镇常住人口", "10k persons",
            (_at("urban_population", 2035, 1e-4),), digits=1),
    Outcome("urban_growth_2021_2025", "urban residents added 2021-2025", "2021–2025年城镇常住人口增量",
            "10k persons", (Way(("urban_population",), lambda t: _new_land("urban_population")(t) * 1e-4),),
            digits=1),
    Outcome("water_margin_min", "smallest water margin 2021-2035", "2021–2035年最小用水余量", "亿 m3/yr",
            _WATER_MARGIN),
    Outcome("new_land_2021_2025", "new urban land 2021-2025", "2021–2025年新增城镇建设用地", "km2",
            _NEW_LAND, digits=1),
    Outcome("land_quota_margin", "land quota minus new land 2021-2025", "2021–2025年新增建设用地指标余量", "km2",
            tuple(Way(w.variables + _QUOTA, (lambda f: lambda t: _quota_km2(t) - f(t))(w.compute), w.basis)
                  for w in _NEW_LAND), digits=1),
    Outcome("land_per_resident_2035", "land per urban resident 2035", "2035年人均城镇建设用地", "m2/person",
            (_at("land_per_urban_resident", 2035),), digits=1),
)


def outcome(name: str) -> Outcome:
    """The outcome called ``name``."""
    for item in OUTCOMES:
        if item.name == name:
            return item
    raise KeyError(f"unknown outcome '{name}'; known: {', '.join(o.name for o in OUTCOMES)}")


def needed_variables(outcomes: Iterable[Outcome], available: Iterable[str]) -> list[str]:
    """The variables of every way of ``outcomes`` that exist in ``available`` (an engine's return columns)."""
    present = set(available)
    return list(dict.fromkeys(v for o in outcomes for w in o.ways for v in w.variables if v in present))


def evaluate(outcomes: Iterable[Outcome], trajectories: Trajectories) -> dict[str, np.ndarray | None]:
    """``{outcome name: values per member}``; None for an outcome the trajectories cannot give."""
    return {o.name: (o(trajectories) if o.available(trajectories) else None) for o in outcomes}
