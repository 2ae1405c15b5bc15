"""Parametric demographic schedules for the population core (issue 10): fertility, mortality,
migration age profile and sex ratio at birth, by single year of age 0, 1, ..., 89 and 90+.

**Ages and cells.** The chain (``population`` in ``model/inner_mongolia.mdl``) shifts every cohort by
one cell at each year-end (an exact cohort shift, no dispersion). During year Y, cell ``c`` holds the cohort
that completes age ``c`` at the end of Y (born in Y - c); its members' exact age runs over (c-1, c+1),
mean ``c``. The last cell holds everyone who is 90 or older at the year-end. At a year-end the cells
are the completed ages of a census. The schedules below are therefore evaluated per cell
(a Lexis parallelogram), which makes the chain and a Leslie projection use identical rates.

The data folder has no age-specific fertility, no deaths by age and no life table for Inner Mongolia
(``data/README.md``, "Not found"), so every schedule here is a standard parametric form whose shape
parameters are **assumptions** (each in :data:`ASSUMPTIONS` with a range and the reason), scaled to
the totals that are known:

* **Fertility**: the Hadwiger (1940) density of the age at childbearing, scaled by the total
  fertility rate (TFR); cell ``c`` gets the density's integral over exact ages (c - 1/2, c + 1/2).
  ``sum(asfr(tfr)) == tfr`` exactly.
* **Mortality**: a Siler hazard (infant + Makeham + Gompertz terms) at the cell's mean age, times one
  proportional level solved so that the life expectancy at birth equals a given e0 (e0 is the anchor,
  so the e0 trend is the model parameter). :func:`life_table` is the exact life table of the cells'
  constant hazards (births spread evenly over the year).
* **Migration**: the Rogers-Castro (1981) model schedule (childhood, labour-force peak, constant),
  as an age profile of rates.
* **Sex ratio at birth**: male share of births ``srb / (1 + srb)``.

Units: ages and life expectancies in [Year]; hazards and rates in [1/Year]; TFR in [Dmnl] (births
per woman). Everything is numpy; no global state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

#: Cells: completed ages 0..89 at the year-end, and the open cell 90+.
N_AGE = 91
AGE_LOWER = np.arange(N_AGE)
AGE_LABELS = tuple(str(a) for a in AGE_LOWER[:-1]) + (f"{AGE_LOWER[-1]}+",)
SEXES = ("male", "female")
#: Assumed mean exact age of the open cell 90+ during a year [Year] (for its hazard and migration).
OPEN_CELL_MEAN_AGE = 92.5
#: Step of the fine age grid the schedules are integrated on [Year].
FINE_STEP = 0.001


@dataclass(frozen=True)
class Assumption:
    """An assumed parameter: value, plausible range (both in the parameter's unit) and why."""

    value: float
    low: float
    high: float
    unit: str
    why: str

    def __post_init__(self):
        if not self.low <= self.value <= self.high:
            raise ValueError(f"assumption {self.value} outside its range [{self.low}, {self.high}]")


#: Every assumed schedule parameter. Ranges are the plausible span of each parameter for a low-fertility,
#: high-life-expectancy Chinese province in 2010-2035; none of them is in ../shared/data.
ASSUMPTIONS: dict[str, Assumption] = {
    # Hadwiger fertility: f(x) = b/c (c/x)^1.5 exp(-b^2 (c/x + x/c - 2)) / sqrt(pi)
    "hadwiger_c": Assumption(
        27.5, 26.0, 31.0, "Year",
        "Assumption: Hadwiger location (close to the mean age at childbearing). Chinese mean age at "
        "childbearing was about 27-29 in 2010-2020 (UNVERIFIED, literature recollection); range 26-31."),
    "hadwiger_b": Assumption(
        3.6, 2.5, 5.0, "Dmnl",
        "Assumption: Hadwiger shape; 3.6 gives a standard deviation of the age at childbearing of about "
        "5 years (the concentrated pattern of low-fertility East Asia); range 2.5 (sd ~7) to 5 (sd ~4)."),
    # Siler hazard mu(x) = a1 exp(-b1 x) + a2 + a3 exp(b3 x); the level is solved from e0
    "siler_a1": Assumption(
        0.022, 0.010, 0.080, "1/Year",
        "Assumption: infant hazard at birth relative to the rest of the schedule before the e0 scaling; "
        "with the other shape values it gives a probability of dying before age 1 of 12.6 per 1000 at "
        "e0 74.44 (China 2010 about 13 per 1000, UNVERIFIED recollection); range 0.01-0.08."),
    "siler_b1": Assumption(
        1.6, 0.8, 3.0, "1/Year",
        "Assumption: decline of the infant hazard with age (most child deaths in the first year); "
        "range 0.8-3."),
    "siler_a2": Assumption(
        0.0004, 0.0, 0.0015, "1/Year",
        "Assumption: age-independent (Makeham) hazard, accidents; range 0-0.0015."),
    "siler_a3": Assumption(
        0.00004, 0.00001, 0.0002, "1/Year",
        "Assumption: Gompertz hazard at age 0 before the e0 scaling (the level is then set by e0); "
        "range 1e-5 to 2e-4."),
    "siler_b3": Assumption(
        0.092, 0.075, 0.110, "1/Year",
        "Assumption: Gompertz rate of ageing (mortality doubles about every 7.5 years); human populations "
        "0.075-0.11 (Gavrilov and Gavrilova, literature recollection)."),
    "e0_sex_gap": Assumption(
        5.2, 4.0, 7.0, "Year",
        "Assumption: female minus male life expectancy at birth. The 2010 values by sex, 77.27 and 72.04 "
        "(data/, UNVERIFIED), give 5.2; China 4-7 years in 2010-2020."),
    # Rogers-Castro migration m(x) = a1 exp(-alpha1 x) + a2 exp(-alpha2 (x-mu2) - exp(-lambda2 (x-mu2))) + c
    "rc_a1": Assumption(0.020, 0.005, 0.040, "1/Year",
                        "Assumption: childhood component (children move with their parents); Rogers-Castro "
                        "standard schedule 0.02, range 0.005-0.04."),
    "rc_alpha1": Assumption(0.10, 0.05, 0.20, "1/Year",
                            "Assumption: decline of the childhood component; standard 0.1, range 0.05-0.2."),
    "rc_a2": Assumption(0.060, 0.030, 0.100, "1/Year",
                        "Assumption: labour-force peak height; standard 0.06, range 0.03-0.1."),
    "rc_mu2": Assumption(22.0, 18.0, 27.0, "Year",
                         "Assumption: age of the labour-force peak (school leaving, first jobs); range 18-27."),
    "rc_alpha2": Assumption(0.10, 0.06, 0.20, "1/Year",
                            "Assumption: decline after the peak; standard 0.1, range 0.06-0.2."),
    "rc_lambda2": Assumption(0.40, 0.20, 0.80, "1/Year",
                             "Assumption: rise before the peak; standard 0.4, range 0.2-0.8."),
    "rc_c": Assumption(0.003, 0.0, 0.010, "1/Year",
                       "Assumption: age-independent migration level; standard 0.003, range 0-0.01."),
    "sex_ratio_at_birth": Assumption(
        1.10, 1.05, 1.12, "Dmnl",
        "Assumption for 2015-2035: male births per female birth. 1.05 is the biological norm; the 2010 "
        "census gave 1.1196 (data/, confirmed) and the ratio has been falling since; range 1.05-1.12."),
}


def value(name: str) -> float:
    """The central value of the assumption ``name`` (see :data:`ASSUMPTIONS`)."""
    return ASSUMPTIONS[name].value


def cell_ages() -> np.ndarray:
    """Mean exact age of each cell during a year [Year]: c for c >= 1 (0..89), the open cell's assumed mean."""
    ages = AGE_LOWER.astype(float)
    ages[-1] = OPEN_CELL_MEAN_AGE
    return ages


# ---------------------------------------------------------------------------------------------
# Fertility
# ---------------------------------------------------------------------------------------------
FERTILE_AGES = (15.0, 50.0)


def _hadwiger_raw(x: np.ndarray, b: float, c: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    inside = (x >= FERTILE_AGES[0]) & (x < FERTILE_AGES[1])
    safe = np.where(inside, x, c)
    f = b / c * (c / safe) ** 1.5 * np.exp(-b * b * (c / safe + safe / c - 2.0)) / np.sqrt(np.pi)
    return np.where(inside, f, 0.0)


def hadwiger_density(x: np.ndarray, b: float | None = None, c: float | None = None) -> np.ndarray:
    """Hadwiger density of the age at childbearing, normalised to 1 over the fertile ages 15-50.

    Parameters
    ----------
    x : numpy.ndarray
        Exact ages [Year].
    b, c : float, optional
        Shape [Dmnl] and location [Year]; default the central assumptions ``hadwiger_b``, ``hadwiger_c``.

    Returns
    -------
    numpy.ndarray
        Density [1/Year], 0 outside 15-50.
    """
    b = value("hadwiger_b") if b is None else b
    c = value("hadwiger_c") if c is None else c
    grid = np.arange(FERTILE_AGES[0] + FINE_STEP / 2, FERTILE_AGES[1], FINE_STEP)
    return _hadwiger_raw(x, b, c) / (_hadwiger_raw(grid, b, c).sum() * FINE_STEP)


def asfr(tfr: float, b: float | None = None, c: float | None = None) -> np.ndarray:
    """Fertility rate of each cell [births/(woman*Year)]: ``tfr`` x the density over (c - 1/2, c + 1/2).

    ``asfr(tfr).sum() == tfr`` (up to rounding): one year per cell.
    """
    per = int(round(1.0 / FINE_STEP))
    grid = (np.arange(per * N_AGE) + 0.5) * FINE_STEP - 0.5
    density = hadwiger_density(grid, b, c).reshape(N_AGE, per).sum(axis=1) * FINE_STEP
    return tfr * density


def male_share_at_birth(srb: float | None = None) -> float:
    """Share of births that are boys [Dmnl] for a sex ratio at birth ``srb`` [male per female birth]."""
    srb = value("sex_ratio_at_birth") if srb is None else srb
    return srb / (1.0 + srb)


# ---------------------------------------------------------------------------------------------
# Mortality
# ---------------------------------------------------------------------------------------------
def siler_hazard(x: np.ndarray) -> np.ndarray:
    """Siler hazard at exact ages ``x`` [1/Year] (central shape assumptions, level 1)."""
    x = np.asarray(x, dtype=float)
    return (value("siler_a1") * np.exp(-value("siler_b1") * x) + value("siler_a2")
            + value("siler_a3") * np.exp(value("siler_b3") * x))


def reference_hazard() -> np.ndarray:
    """Hazard of each cell at level 1 [1/Year].

    Cells 1..89 and 90+: the Siler hazard at the cell's mean age. Cell 0 (births of the year, exact
    age 0 to 1 at the year-end): the Siler hazard averaged over the birth triangle, whose exposure
    density in exact age is ``2 (1 - x)`` on (0, 1).
    """
    hazard = siler_hazard(cell_ages())
    x = (np.arange(int(round(1 / FINE_STEP))) + 0.5) * FINE_STEP
    hazard[0] = (siler_hazard(x) * 2.0 * (1.0 - x)).sum() * FINE_STEP
    return hazard


def senescent_hazard() -> np.ndarray:
    """The Gompertz part ``a3 exp(b3 x)`` of :func:`reference_hazard` at the cells' mean ages [1/Year].

    The model changes the Gompertz slope by scaling this part of each cell's hazard (``gompertz slope
    change`` in model/inner_mongolia.mdl); cell 0 uses its mean age too (the part is negligible there).
    """
    return value("siler_a3") * np.exp(value("siler_b3") * cell_ages())


@dataclass(frozen=True)
class LifeTable:
    """The exact life table of the cells' constant hazards.

    Attributes
    ----------
    e0 : float
        Life expectancy at birth [Year].
    level : float
        Proportional hazard level that gives ``e0`` [Dmnl].
    hazard : numpy.ndarray
        Hazard of each cell [1/Year] (``level * reference_hazard()``).
    survivors : numpy.ndarray
        Survivors of a year's births at the year-end when they have completed age c (cell c), per birth
        [Dmnl]; the open cell: survivors entering it.
    person_years : numpy.ndarray
        Person-years lived in each cell per birth [Year]; they sum to ``e0``.
    """

    e0: float
    level: float
    hazard: np.ndarray
    survivors: np.ndarray
    person_years: np.ndarray


def _table(level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hazard = level * reference_hazard()
    h0 = hazard[0]
    survivors = np.empty(N_AGE)
    person_years = np.empty(N_AGE)
    # births spread evenly over the year: exposure to the year-end u ~ U(0, 1)
    survivors[0] = -np.expm1(-h0) / h0
    person_years[0] = (1.0 - survivors[0]) / h0
    for c in range(1, N_AGE - 1):
        survivors[c] = survivors[c - 1] * np.exp(-hazard[c])
        person_years[c] = survivors[c - 1] * -np.expm1(-hazard[c]) / hazard[c]
    survivors[-1] = survivors[-2]
    person_years[-1] = survivors[-2] / hazard[-1]
    return hazard, survivors, person_years


def life_expectancy(level: float) -> float:
    """Life expectancy at birth [Year] of the cells' hazards at a proportional ``level`` [Dmnl]."""
    return float(_table(level)[2].sum())


def life_table(e0: float) -> LifeTable:
    """The life table whose life expectancy at birth is ``e0`` [Year].

    Raises
    ------
    ValueError
        If ``e0`` is outside 40-95 years (the schedule's shape is not meant for it).
    """
    if not 40.0 <= e0 <= 95.0:
        raise ValueError(f"life expectancy {e0} outside 40-95 years: the Siler shape is not meant for it")
    level = brentq(lambda k: life_expectancy(k) - e0, 1e-4, 1e3, xtol=1e-15, rtol=1e-15)
    hazard, survivors, person_years = _table(level)
    return LifeTable(float(e0), float(level), hazard, survivors, person_years)


def e0_by_sex(e0_total: float, gap: float | None = None, srb: float | None = None) -> tuple[float, float]:
    """Male and female life expectancy [Year] for a both-sexes ``e0_total`` and a female-male ``gap``.

    The both-sexes survivorship is the birth-weighted mean of the two (weights ``srb : 1``), so
    ``e0_total = (srb * e0_m + e0_f) / (1 + srb)`` exactly.
    """
    gap = value("e0_sex_gap") if gap is None else gap
    srb = value("sex_ratio_at_birth") if srb is None else srb
    male = e0_total - gap / (1.0 + srb)
    return male, male + gap


# ---------------------------------------------------------------------------------------------
# Migration
# ---------------------------------------------------------------------------------------------
def rogers_castro(x: np.ndarray) -> np.ndarray:
    """Rogers-Castro model migration schedule at exact ages ``x`` [1/Year] (central assumptions)."""
    x = np.asarray(x, dtype=float)
    u = x - value("rc_mu2")
    return (value("rc_a1") * np.exp(-value("rc_alpha1") * x)
            + value("rc_a2") * np.exp(-value("rc_alpha2") * u - np.exp(-value("rc_lambda2") * u))
            + value("rc_c"))


def migration_profile(population: np.ndarray | None = None) -> np.ndarray:
    """Relative migration propensity of each cell [Dmnl].

    The Rogers-Castro schedule at the cells' mean ages, normalised so that its mean weighted by
    ``population`` (per cell, any unit) is 1; without a population, the plain mean is 1. A total rate
    ``r`` then becomes ``r * profile`` by age.
    """
    means = rogers_castro(cell_ages())
    weights = np.ones(N_AGE) if population is None else np.asarray(population, dtype=float)
    return means * weights.sum() / (means * weights).sum()
