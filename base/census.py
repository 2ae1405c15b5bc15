"""The initial population by age x sex x residence from the 2010 and 2020 censuses (issue 10).

Read from ``data/inner_mongolia_census_ages_leagues_2010_2020.csv`` (age groups) and
``data/inner_mongolia_2010_2020.csv`` (totals by sex and residence). The data have **10-year age
groups for 2020, both sexes** (plus 10-14, 15-19, 60-64, 65-69 and 90+), **broad shares only for
2010**, the total sex ratio, and urban/rural totals; no age structure by sex or residence
(``data/README.md``). The method, step by step (each assumption in :mod:`base.demography` or here):

1. **Ungrouping (2020).** A monotone (PCHIP) interpolation of the cumulative count at the known group
   bounds (0, 10, 15, 20, 30, 40, 50, 60, 65, 70, 80, 90 and the assumed end of life, 105) gives the
   single years of age 0..89 and 90+ (the model's cells); every known group total is kept exactly.
   Census ages (completed years on 1 November) are used as the completed ages at the year-end.
2. **Sex.** The sex ratio by age is the stationary-population ratio ``srb * L_m(a) / L_f(a)`` of the
   schedules' life tables (e0 of the census year), times one factor (migration's sex selectivity)
   that reproduces the census totals by sex (2020) or the census sex ratio (2010).
3. **Residence** (rural; urban without local hukou; urban hukou). Urban non-hukou residents have the
   migrants' age profile (Rogers-Castro, :func:`base.demography.migration_profile`); of the rest, the
   rural odds rise with age by the factor ``exp(RURAL_AGE_TILT * (age - 40) / 10)`` (rural areas
   older after decades of out-migration of the young); one constant per split reproduces the census
   urban/rural totals and the hukou share. The hukou share is the latest hukou-basis figure up to the
   census year (40.86 % for 2010, 44.2 % of 2018 for 2020) applied to residents (the model's
   approximation: the official rate's denominator is the registered population).
4. **2010 by reverse survival.** The 2020 5-year groups aged 10+ are survived back ten years with
   the 2010-2020 mean life table (e0 of the mid-decade; 75+ as one group, split as in 2020) and raked to the 2010 census broad groups
   (0-14, 15-59, 60-64, 65+) and total, which absorbs the decade's net migration by broad age group.

5. **2015 by reverse survival** from 2020 (five years, by sex, e0 of mid-2018), scaled to the
   census-basis total of the end of 2015 (24,364,822: log-linear between the censuses, the main
   model's ``total population 2015``) and split by residence with the revised 2015 urbanization
   (62.09 %) and the 2015 hukou rate (44.16 %). ``python -m calibration.backcast`` compares it with
   the 2010 census run forward.

All counts are census counts as of 1 November [persons] (2015: year-end).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

from . import demography as demo
from .paths import DATA_PATH

CENSUS_AGES_PATH = DATA_PATH.parent / "inner_mongolia_census_ages_leagues_2010_2020.csv"
RESIDENCES = ("rural", "urban non hukou", "urban hukou")
REGION = "Inner Mongolia"
#: Assumed end of life for the ungrouping of the open group 90+ [Year].
LAST_AGE = 105.0
#: Assumption: log-odds rise of living in a rural area per 10 years of age (not urban-hukou) [Dmnl].
#: Rural areas are older (2020 census nationally: 65+ about 17.7 % rural vs 11.1 % urban, UNVERIFIED
#: recollection); 0.15 per decade gives a rural 65+ share a few points above the urban one.
#: Range 0 (no age difference) to 0.4.
RURAL_AGE_TILT = demo.Assumption(0.15, 0.0, 0.4, "Dmnl", "see the comment above")
#: Life expectancy at birth used for the sex split and the reverse survival [Year]: 2010 census 74.44
#: (confirmed); 2020 77.56 (UNVERIFIED, so the split only, which depends weakly on it).
CENSUS_E0 = {2010: 74.44, 2020: 77.56}
#: Census-basis population at the end of 2015 [persons]: log-linear interpolation between the 2010 and
#: 2020 censuses (the main model's ``total population 2015``, whose comment gives the derivation).
POPULATION_2015 = 24364822.0


class CensusDataError(ValueError):
    """A census figure the initial state needs is missing or inconsistent."""


@dataclass(frozen=True)
class AgeStructure:
    """Population by age group x sex x residence [persons].

    Attributes
    ----------
    year : int
        Census year (counts as of 1 November).
    counts : numpy.ndarray
        Shape ``(N_AGE, 2, 3)``: completed ages :data:`base.demography.AGE_LABELS` (0..89, 90+),
        sexes ``SEXES``, residences :data:`RESIDENCES`.
    """

    year: int
    counts: np.ndarray

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def share(self, lower: int, upper: int | None = None) -> float:
        """Share of the population aged ``lower`` to ``upper - 1`` (to the end if None) [Dmnl]."""
        ages = demo.AGE_LOWER
        mask = (ages >= lower) & (ages < (upper if upper is not None else 1000))
        return float(self.counts[mask].sum() / self.counts.sum())


def census_figures(year: int, paths: tuple[Path, ...] = (CENSUS_AGES_PATH, DATA_PATH)) -> dict[str, float]:
    """The province's figures of ``year`` from the data files, by variable name, in the file units."""
    figures: dict[str, float] = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["region"] == REGION and int(row["year"]) == year:
                    figures.setdefault(row["variable"], float(row["value"]))
    return figures


def _need(figures: dict, name: str, year: int) -> float:
    if name not in figures:
        raise CensusDataError(f"census {year}: the figure {name!r} is missing from the data files; "
                              f"restore it in data/ (a copy of ../shared/data)")
    return figures[name]


def ungroup_2020(figures: dict[str, float] | None = None, bounds_out=None) -> np.ndarray:
    """The 2020 census population by age group to ``bounds_out[-1]``+ [persons] (default single years).

    Parameters
    ----------
    figures : dict, optional
        The 2020 figures (default: read from the data files).
    bounds_out : sequence of float, optional
        Lower bounds of the output groups, the last one open (default the model's cells 0, 1, ..., 90).
    """
    figures = census_figures(2020) if figures is None else figures
    groups = [(0, 10, "0_9"), (10, 15, "10_14"), (15, 20, "15_19"), (20, 30, "20_29"), (30, 40, "30_39"),
              (40, 50, "40_49"), (50, 60, "50_59"), (60, 65, "60_64"), (65, 70, "65_69"), (70, 80, "70_79"),
              (80, 90, "80_89"), (90, LAST_AGE, "90plus")]
    counts = [_need(figures, f"census_pop_age_{name}", 2020) * 1e4 for _, _, name in groups]
    knots = np.array([0.0] + [upper for _, upper, _ in groups])
    cumulative = np.concatenate(([0.0], np.cumsum(counts)))
    total = _need(figures, "census_population", 2020) * 1e4
    if abs(cumulative[-1] - total) > 1.0:
        raise CensusDataError(f"census 2020: the age groups sum to {cumulative[-1]:.0f}, not the total "
                              f"{total:.0f}; check the census_pop_age_* rows in data/")
    spline = PchipInterpolator(knots, cumulative)
    lower = demo.AGE_LOWER if bounds_out is None else np.asarray(bounds_out, dtype=float)
    at = np.append(spline(lower), cumulative[-1])
    return np.diff(at)


def _sex_split(by_age: np.ndarray, e0: float, male_total: float | None, sex_ratio: float | None
               ) -> np.ndarray:
    """Split ages into males and females: stationary ratio by age times one fitted factor."""
    male_e0, female_e0 = demo.e0_by_sex(e0)
    srb = demo.value("sex_ratio_at_birth")
    ratio = srb * demo.life_table(male_e0).person_years / demo.life_table(female_e0).person_years
    target_male = male_total if male_total is not None else by_age.sum() * sex_ratio / (1 + sex_ratio)

    def males(k):
        return (by_age * k * ratio / (1 + k * ratio)).sum() - target_male

    k = brentq(males, 1e-3, 1e3, xtol=1e-14)
    male = by_age * k * ratio / (1 + k * ratio)
    return np.stack([male, by_age - male], axis=1)


def _residence_split(by_age_sex: np.ndarray, rural_total: float, non_hukou_total: float) -> np.ndarray:
    """Split (age, sex) counts into (age, sex, residence) with the profiles of the module docstring."""
    by_age = by_age_sex.sum(axis=1)
    profile = demo.migration_profile(by_age)
    non_hukou_share = non_hukou_total * profile / (profile * by_age).sum()
    if np.any(non_hukou_share >= 1):
        raise CensusDataError("the urban non-hukou total exceeds an age group's population")
    tilt = np.exp(RURAL_AGE_TILT.value * (demo.cell_ages() - 40.0) / 10.0)
    rest = by_age * (1 - non_hukou_share)

    def rural(k):
        return (rest * k * tilt / (1 + k * tilt)).sum() - rural_total

    k = brentq(rural, 1e-6, 1e6, xtol=1e-14)
    rural_share = (1 - non_hukou_share) * k * tilt / (1 + k * tilt)
    shares = np.stack([rural_share, non_hukou_share, 1 - rural_share - non_hukou_share], axis=1)
    return by_age_sex[:, :, None] * shares[:, None, :]


def census_2020() -> AgeStructure:
    """The 2020 census (1 November) by 5-year group x sex x residence [persons]."""
    figures = census_figures(2020)
    by_age = ungroup_2020(figures)
    male = _need(figures, "census_male_population", 2020) * 1e4
    by_age_sex = _sex_split(by_age, CENSUS_E0[2020], male, None)
    total = by_age.sum()
    rural = _need(figures, "census_rural_population", 2020) * 1e4
    hukou = census_figures(2018)["hukou_urbanization_rate_pct"] / 100 * total
    urban = total - rural
    return AgeStructure(2020, _residence_split(by_age_sex, rural, urban - hukou))


def reverse_survive_2010() -> np.ndarray:
    """The 2010 population by single year of age (0..89, 90+), both sexes, before raking [persons].

    The 2010 age ``c`` (0..79) is the 2020 age ``c + 10`` divided by its ten-year survival
    ``exp(-(h[c+1] + ... + h[c+10]))`` under the cells' hazards at the mid-decade e0. The 2010 ages
    80..89 and 90+ all end in the 2020 open cell 90+: they are one group, shaped like the 2020 ages
    80..89, 90+ (assumption: the same shape of the oldest ages ten years apart), scaled so that its
    survivors are the 2020 90+.
    """
    by_age_2020 = ungroup_2020(census_figures(2020))
    hazard = demo.life_table(0.5 * (CENSUS_E0[2010] + CENSUS_E0[2020])).hazard
    n = demo.N_AGE
    survival = np.empty(n)
    for c in range(n):
        cells = np.minimum(np.arange(c + 1, c + 11), n - 1)
        survival[c] = np.exp(-hazard[cells].sum())
    young = by_age_2020[10:n - 1] / survival[:n - 11]
    shape = by_age_2020[n - 11:]
    scale = by_age_2020[-1] / (shape * survival[n - 11:]).sum()
    return np.concatenate((young, shape * scale))


def census_2010() -> AgeStructure:
    """The 2010 census (1 November) by 5-year group x sex x residence [persons] (module docstring, step 4)."""
    figures = census_figures(2010)
    total = _need(figures, "census_population", 2010) * 1e4
    shares = {name: _need(figures, f"census_share_age_{name}_pct", 2010) / 100
              for name in ("0_14", "15_59", "60plus", "65plus")}
    targets = {(0, 15): shares["0_14"], (15, 60): shares["15_59"],
               (60, 65): shares["60plus"] - shares["65plus"], (65, 1000): shares["65plus"]}
    if abs(sum(targets.values()) - 1) > 1e-3:
        raise CensusDataError(f"census 2010: the broad age shares sum to {sum(targets.values()):.4f}, not 1")
    by_age = reverse_survive_2010()
    raked = by_age.copy()
    for (lower, upper), share in targets.items():
        mask = (demo.AGE_LOWER >= lower) & (demo.AGE_LOWER < upper)
        raked[mask] *= share / sum(targets.values()) * total / by_age[mask].sum()
    sex_ratio = _need(figures, "census_sex_ratio", 2010) / 100
    by_age_sex = _sex_split(raked, CENSUS_E0[2010], None, sex_ratio)
    urban = _need(figures, "census_urban_population", 2010) * 1e4
    hukou = _need(figures, "hukou_urbanization_rate_pct", 2010) / 100 * total
    return AgeStructure(2010, _residence_split(by_age_sex, total - urban, urban - hukou))


def census_2015() -> AgeStructure:
    """The end of 2015 by single year x sex x residence [persons] (module docstring, step 5)."""
    later = census_2020().counts.sum(axis=2)  # (age, sex), 2020
    n = demo.N_AGE
    e0 = CENSUS_E0[2010] + 0.75 * (CENSUS_E0[2020] - CENSUS_E0[2010])  # mid-2018
    by_sex = []
    for j, sex_e0 in enumerate(demo.e0_by_sex(e0)):
        hazard = demo.life_table(sex_e0).hazard
        survival = np.array([np.exp(-hazard[np.minimum(np.arange(c + 1, c + 6), n - 1)].sum())
                             for c in range(n)])
        young = later[5:n - 1, j] / survival[:n - 6]
        shape = later[n - 6:, j]
        scale = later[-1, j] / (shape * survival[n - 6:]).sum()
        by_sex.append(np.concatenate((young, shape * scale)))
    by_age_sex = np.stack(by_sex, axis=1)
    by_age_sex *= POPULATION_2015 / by_age_sex.sum()
    figures = census_figures(2015)
    urban = _need(figures, "urbanization_rate_pct_revised", 2015) / 100 * POPULATION_2015
    hukou = _need(figures, "hukou_urbanization_rate_pct", 2015) / 100 * POPULATION_2015
    return AgeStructure(2015, _residence_split(by_age_sex, POPULATION_2015 - urban, urban - hukou))
