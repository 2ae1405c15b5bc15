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
        Unit of the value (after ``compute``'s scaling).
    variables : tuple of str
        Model variables (names of ``model/inner_mongolia.outputs.yaml``) it needs.
    compute : callable
        ``compute(trajectories) -> ndarray`` (one value per member).
    digits : int
        Decimals shown in tables.
    resolution : float
        Effects smaller than this are "no effect" [unit]: half a unit of the last digit shown.
    """

    name: str
    label: str
    label_zh: str
    unit: str
    variables: tuple[str, ...]
    compute: Callable[[Trajectories], np.ndarray]
    digits: int = 2

    @property
    def change_unit(self) -> str:
        """Unit of a difference of the outcome (percentage points for a rate in %)."""
        return "pp" if self.unit == "%" else self.unit

    @property
    def resolution(self) -> float:
        return 0.5 * 10.0 ** (-self.digits)

    def available(self, trajectories: Trajectories) -> bool:
        """Whether ``trajectories`` hold every variable the outcome needs."""
        return trajectories.has(*self.variables)

    def missing(self, names: Iterable[str]) -> list[str]:
        """The outcome's variables absent from ``names``."""
        present = set(names)
        return [v for v in self.variables if v not in present]

    def __call__(self, trajectories: Trajectories) -> np.ndarray:
        return np.asarray(self.compute(trajectories), dtype=float)


def _at(variable: str, year: int, scale: float = 1.0) -> Callable[[Trajectories], np.ndarray]:
    return lambda t: t.at(variable, year) * scale


def _water_margin(t: Trajectories) -> np.ndarray:
    """Smallest margin of the urban allocation over urban demand, 2021-2035 [亿 m3/yr]."""
    horizon = (t.time > QUOTA_PERIOD[0]) & (t.time <= HORIZON)
    margin = t.series("water_cap") - t.series("urban_water_demand")
    return margin[horizon].min(axis=0) / M3_PER_YI


def _new_land(t: Trajectories) -> np.ndarray:
    """New urban construction land 2021-2025 [km2]."""
    start, end = QUOTA_PERIOD
    return t.at("urban_construction_land", end) - t.at("urban_construction_land", start)


def _quota_margin(t: Trajectories) -> np.ndarray:
    """The 2021-2025 land quota minus new urban construction land 2021-2025 [km2]."""
    quota = t.per_member("new_land_quota_2021_2025") * t.per_member("m2_per_mu") / t.per_member("m2_per_km2")
    return quota - _new_land(t)


#: The outcomes, in table order.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("urbanization_2025", "urbanization 2025", "2025年常住人口城镇化率", "%",
            ("urbanization_rate",), _at("urbanization_rate", 2025)),
    Outcome("urbanization_2035", "urbanization 2035", "2035年常住人口城镇化率", "%",
            ("urbanization_rate",), _at("urbanization_rate", 2035)),
    Outcome("official_hukou_2035", "official hukou rate 2035", "2035年户籍人口城镇化率", "%",
            ("official_hukou_urbanization_rate",), _at("official_hukou_urbanization_rate", 2035)),
    Outcome("urban_population_2025", "urban residents 2025", "2025年城镇常住人口", "10k persons",
            ("urban_population",), _at("urban_population", 2025, 1e-4), digits=1),
    Outcome("urban_population_2035", "urban residents 2035", "2035年城镇常住人口", "10k persons",
            ("urban_population",), _at("urban_population", 2035, 1e-4), digits=1),
    Outcome("urban_growth_2021_2025", "urban residents added 2021-2025", "2021–2025年城镇常住人口增量",
            "10k persons", ("urban_population",),
            lambda t: (t.at("urban_population", 2025) - t.at("urban_population", 2020)) * 1e-4, digits=1),
    Outcome("water_margin_min", "smallest water margin 2021-2035", "2021–2035年最小城镇供水余量",
            "亿 m3/yr", ("water_cap", "urban_water_demand"), _water_margin),
    Outcome("new_land_2021_2025", "new urban land 2021-2025", "2021–2025年新增城镇建设用地", "km2",
            ("urban_construction_land",), _new_land, digits=1),
    Outcome("land_quota_margin", "land quota minus new land 2021-2025", "2021–2025年新增建设用地指标余量",
            "km2", ("urban_construction_land", "new_land_quota_2021_2025", "m2_per_mu", "m2_per_km2"),
            _quota_margin, digits=1),
    Outcome("land_per_resident_2035", "land per urban resident 2035", "2035年人均城镇建设用地",
            "m2/person", ("land_per_urban_resident",), _at("land_per_urban_resident", 2035), digits=1),
)


def outcome(name: str) -> Outcome:
    """The outcome called ``name``."""
    for item in OUTCOMES:
        if item.name == name:
            return item
    raise KeyError(f"unknown outcome '{name}'; known: {', '.join(o.name for o in OUTCOMES)}")


def needed_variables(outcomes: Iterable[Outcome], available: Iterable[str]) -> list[str]:
    """The variables of ``outcomes`` that exist in ``available`` (for an engine's return columns)."""
    present = set(available)
    return list(dict.fromkeys(v for o in outcomes for v in o.variables if v in present))


def evaluate(outcomes: Iterable[Outcome], trajectories: Trajectories) -> dict[str, np.ndarray | None]:
    """``{outcome name: values per member}``; None for an outcome the trajectories cannot give."""
    return {o.name: (o(trajectories) if o.available(trajectories) else None) for o in outcomes}
