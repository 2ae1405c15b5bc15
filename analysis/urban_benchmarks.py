"""Benchmarks for the 2025 and 2035 urbanization rate that no SD choice can flatter (issue 10 item 5).

Two statistical projections from the census-consistent urbanization record up to 2020 only:

- **URGD** (the UN urban-rural growth-difference method, as in the UN World Urbanization
  Prospects and UN Manual VIII): the growth difference ``d = d/dt ln(U/R)``, measured over the last
  intercensal period, is held constant, so ``ln(PU / (100 - PU))`` is linear in time. WUP also lets
  ``d`` converge towards a world norm over 25 years; that norm (a cross-country regression) is not
  in the data folder, so the constant-difference form is used, which is what WUP does when the
  norm is not applied. With ``PU`` the urban share [%]:
  ``PU(t) = 100 / (1 + exp(-(s_1 + d (t - t_1))))``, ``s_i = ln(PU_i / (100 - PU_i))``,
  ``d = (s_1 - s_0) / (t_1 - t_0)``.
- **Damped logistic**: a logistic with its own saturation level ``K`` below 100 %,
  ``PU(t) = K / (1 + exp(-r (t - t_m)))``, fitted to the three census-consistent anchors (exactly
  determined: three parameters, three points; the deceleration 2010-2015-2020 fixes ``K``).

**Data and basis** (``data/inner_mongolia_2010_2020.csv``, see ``data/README.md`` on the census
break): the 2011-2019 bulletins understate urbanization (pre-census basis), so only the
census-consistent figures are used: the 2010 census (55.53 %, 1 November 2010), the plan's revised
2015 figure (62.09 %, year-end) and the 2020 census / post-census year-end figure (67.48 %). Census
dates are placed at 1 November (model time ``year - 61/365``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import brentq

from base.observations import CENSUS_BEFORE_YEAR_END, load_observations, value_of

#: The census-consistent anchors: (variable in the data file, year, offset of the date from year-end [Year]).
ANCHORS = (("urbanization_rate_pct", 2010, -CENSUS_BEFORE_YEAR_END),
           ("urbanization_rate_pct_revised", 2015, 0.0),
           ("urbanization_rate_pct", 2020, 0.0))
#: Years projected [Year-end].
PROJECTION_YEARS = (2025, 2035)


@dataclass(frozen=True)
class Record:
    """The urbanization record used: times [Year, model time] and rates [%]."""

    times: tuple[float, ...]
    rates: tuple[float, ...]
    basis: str = ("2010 census (1 Nov), the plan's revised 2015 figure (year-end), "
                  "2020 census-consistent year-end; data/inner_mongolia_2010_2020.csv")


def census_record(path=None) -> Record:
    """The census-consistent anchors from the data file (no figure after 2020)."""
    frame = load_observations(path) if path is not None else load_observations()
    times, rates = [], []
    for variable, year, offset in ANCHORS:
        if year > 2020:
            raise ValueError("benchmarks use data up to 2020 only")
        rates.append(value_of(frame, variable, year, model_units=False))
        times.append(year + offset)
    return Record(tuple(times), tuple(rates))


def _logit(rate, level=100.0):
    rate = np.asarray(rate, dtype=float)
    return np.log(rate / (level - rate))


def urgd(times: Sequence[float], rates: Sequence[float], years: Sequence[float]) -> np.ndarray:
    """UN urban-rural growth-difference projection [%] from the first and last observation.

    Parameters
    ----------
    times : sequence of float
        Observation times [Year]; the first and the last span the intercensal period.
    rates : sequence of float
        Urban share at those times [%], strictly between 0 and 100.
    years : sequence of float
        Times to project [Year].
    """
    t = np.asarray(times, dtype=float)
    p = np.asarray(rates, dtype=float)
    if np.any((p <= 0) | (p >= 100)):
        raise ValueError("urban shares must lie strictly between 0 and 100 %")
    d = (_logit(p[-1]) - _logit(p[0])) / (t[-1] - t[0])
    s = _logit(p[-1]) + d * (np.asarray(years, dtype=float) - t[-1])
    return 100.0 / (1.0 + np.exp(-s))


def urgd_rate(times: Sequence[float], rates: Sequence[float]) -> float:
    """The urban-rural growth difference ``d`` [1/Year]."""
    t, p = np.asarray(times, dtype=float), np.asarray(rates, dtype=float)
    return float((_logit(p[-1]) - _logit(p[0])) / (t[-1] - t[0]))


def damped_logistic(times: Sequence[float], rates: Sequence[float]) -> tuple[float, float, float]:
    """Saturation level ``K`` [%], rate ``r`` [1/Year] and midpoint ``t_m`` [Year] through three points.

    ``logit_K(p) = ln(p / (K - p))`` is linear in time for the logistic, so ``K`` solves
    ``(logit_K(p1) - logit_K(p0)) / (t1 - t0) = (logit_K(p2) - logit_K(p1)) / (t2 - t1)``; a root
    below 100 % exists when the rise decelerates faster than a logistic towards 100 % would.

    Raises
    ------
    ValueError
        If the points do not give a saturation level in (max rate, 100] %.
    """
    t = np.asarray(times, dtype=float)
    p = np.asarray(rates, dtype=float)
    if t.size != 3:
        raise ValueError("the damped logistic is fitted to exactly three points")

    def mismatch(level):
        s = _logit(p, level)
        return (s[1] - s[0]) / (t[1] - t[0]) - (s[2] - s[1]) / (t[2] - t[1])

    low, high = p.max() * (1 + 1e-9), 100.0
    if np.sign(mismatch(low)) == np.sign(mismatch(high)):
        raise ValueError(f"the record {list(p)} does not decelerate like a logistic below 100 %")
    level = brentq(mismatch, low, high, xtol=1e-10)
    s = _logit(p, level)
    r = (s[2] - s[0]) / (t[2] - t[0])
    midpoint = t[2] - s[2] / r
    return float(level), float(r), float(midpoint)


def logistic(level: float, r: float, midpoint: float, years: Sequence[float]) -> np.ndarray:
    """``level / (1 + exp(-r (t - midpoint)))`` [%]."""
    return level / (1.0 + np.exp(-r * (np.asarray(years, dtype=float) - midpoint)))


def benchmarks(record: Record | None = None, years: Sequence[int] = PROJECTION_YEARS) -> dict:
    """Both benchmarks at ``years``.

    Returns
    -------
    dict
        ``{"urgd": {year: %}, "damped_logistic": {year: %}, "urgd_per_year": d,
        "logistic": {"level", "rate", "midpoint"}, "record": Record}``.
    """
    record = record if record is not None else census_record()
    level, r, midpoint = damped_logistic(record.times, record.rates)
    projected_u = urgd(record.times, record.rates, years)
    projected_l = logistic(level, r, midpoint, years)
    return {"urgd": {int(y): float(v) for y, v in zip(years, projected_u)},
            "damped_logistic": {int(y): float(v) for y, v in zip(years, projected_l)},
            "urgd_per_year": urgd_rate(record.times, record.rates),
            "logistic": {"level": level, "rate": r, "midpoint": midpoint},
            "record": record}
