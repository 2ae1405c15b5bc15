"""The initial state of the 12 leagues by age x sex x residence (issue 12): the province's census state
(:mod:`base.census`) shared out among the leagues by their census figures.

:func:`league_state` returns, for 2010, 2015 and 2020, the counts ``[league, age, sex, residence]`` on the
axes of :class:`base.census.AgeStructure` (completed ages 0..89, 90+; male, female; rural, urban non
hukou, urban hukou) [persons].

Method (iterative proportional fitting, IPF / raking)
------------------------------------------------------
1. **Margins** of each league from :func:`base.leagues.league_census`: residents, urban and rural
   residents, the broad age groups 0-14, 15-59, 60-64 (= 60+ minus 65+) and 65+ (shares x residents),
   and males and females (from the sex ratio).
2. **Consistent margins.** The league figures are rounded (counts to the person, shares to 0.01 pp,
   sex ratios to 0.01) and do not sum exactly to the province state. Urban and rural residents are
   scaled, each, to the province's totals: in 2020 they sum exactly; in **2010 the leagues sum to
   24,706,295 against the census's 24,706,321** (all 26 persons in the rural residents, since the
   province's urban count is the sum of the leagues'): the 26 persons are shared out among the leagues'
   rural residents in proportion (at most 6 persons a league, 2.4 per million). The league x age-group
   and league x sex tables are then raked (2-D IPF, closest in the Kullback-Leibler sense) to the
   league residents (rows) and the province's group and sex totals of :mod:`base.census` (columns).
3. **Non-hukou residents by league.** The data have no league figure of urban residents without
   local hukou except a hukou-basis rate for Chifeng (2017-2019). As for the province
   (:func:`base.census.census_2020`), the latest league hukou-basis rate of the five years up to the
   year is applied to the league's residents (Chifeng 2020: 30.98 % of 2019, so 41.7 % of its urban
   residents are non-hukou against 34.5 % in the province). **Assumption:** every other league has the
   same non-hukou share of its urban residents, what the province's non-hukou residents leave
   (2010: 26.4 %, 2015: 28.9 %, 2020: 33.4 %); range by league [15 %, 60 %]: the upper end is Hohhot's
   2020 floating population (165.18万 = 60.6 % of its urban residents, an upper bound since it includes
   people registered in other towns of the region), the lower end a judgement for a league whose towns
   draw few migrants (no figure). The ``non_hukou_share`` argument sets any league's share.
4. **Seed and fit.** The seed is the province state times each league's share of residents (so every
   league starts with the province's age x sex x residence pattern). IPF then fits in turn the
   province state [age, sex, residence], the league x residence totals, the league x age-group totals
   and the league x sex totals until every margin is within :data:`TOLERANCE` (relative), and ends on
   the province state, which the sum over leagues therefore equals to float rounding. What IPF keeps
   from the seed (the minimum-information solution) are the **assumptions**: within a broad age group a
   league's single years follow the province's; a league's age x residence and age x sex odds ratios are
   the province's (rural residents older, migrants young, more men in the working ages); a league's
   surplus of men (Ordos 115.65, Alxa 113.56 in 2020) is spread over all ages by one odds factor, not
   concentrated among working-age migrants (no league figure by age and sex).
5. **2015** (end of year, no league census). League residents, urban and rural residents are
   log-linear between the league censuses at the fraction the province's 2015 total uses
   (:data:`base.census.POPULATION_2015`, fraction 0.5163 of 2010-2020), the broad age shares and sex
   ratios linear at that fraction; then step 2 makes them consistent with :func:`base.census.census_2015`
   (its urbanization is the revised 62.09 %, so the leagues' urban residents are raked up by the gap
   between log-linear urban counts and that rate). The 2015 "misfit" is against these interpolated
   margins, not data. Bulletin league figures of 2015 (Chifeng 47.06 %, Xilingol 68.53 %, 104.26万) are
   on the pre-census basis and are not used (:func:`base.leagues.league_targets` flags them).

Measured misfit (``league_state(year).misfit``, ``python -m base.league_state``): in 2020 residents,
urban and rural residents of every league equal the census to 1e-4 persons, the broad age shares within
0.006 pp and the sex ratios within 0.001; in 2010 residents and rural residents are up to 6 persons
above the census (Chifeng 6.0, the 26 persons of step 2), urban exact, the age shares within 0.02 pp
and the sex ratios within 0.02 (the rounding of the data). 2015 against its interpolated margins:
residents up to 7,400 persons (Chifeng, 0.2 %: the leagues' log-linear paths sum to 0.1 % more than
the province's), urban residents up to 50,000 (Hohhot: raked up to the revised 62.09 %), the broad
age shares up to 1.3 pp (Ulanqab 65+: the province's 2015 ages come from reverse survival, the
leagues' shares are linear between the censuses) and the sex ratios up to 1.3. The four-way fit
converges in 12 iterations; a year takes 0.2-0.25 s including the province state of
:mod:`base.census` (``time python -m base.league_state``: 2.4 s for the three years and the start-up).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from . import demography as demo
from .census import RESIDENCES, POPULATION_2015, CensusDataError, census_2010, census_2015, census_2020
from .leagues import LEAGUE_DIM, Leagues, league_census, league_targets, load_leagues

#: Years with a league state (the censuses and the model's start year).
STATE_YEARS = (2010, 2015, 2020)
#: Broad age groups of the league censuses: name -> (lower, upper) [Year of age].
AGE_GROUPS = {"0_14": (0, 15), "15_59": (15, 60), "60_64": (60, 65), "65plus": (65, 1000)}
#: Relative tolerance of every margin at the end of the fit [Dmnl].
TOLERANCE = 1e-10
MAX_ITERATIONS = 5000
#: Assumption: range of the non-hukou share of a league's urban residents [Dmnl] (module docstring, step 3).
NON_HUKOU_SHARE_RANGE = (0.15, 0.60)
#: Years before the state year in which a league's hukou-basis rate is still used (step 3) [Year].
HUKOU_RATE_AGE = 5


class LeagueStateError(CensusDataError):
    """A league state that cannot be built (bad year, share, or inconsistent data)."""


@dataclass(frozen=True)
class LeagueState:
    """The league state of one year.

    Attributes
    ----------
    year : int
        2010 or 2020 (census, 1 November) or 2015 (year-end).
    leagues : tuple of str
        League order of the first axis (``base/leagues.yaml``).
    counts : numpy.ndarray
        ``(league, age, sex, residence)`` [persons].
    misfit : pandas.DataFrame
        One row per league: fitted minus target residents, urban, rural [persons], age shares [pp],
        sex ratio [males per 100 females], and the non-hukou share used [Dmnl].
    iterations : int
        IPF iterations.
    seconds : float
        Time of the fit, with the province state [s].
    """

    year: int
    leagues: tuple
    counts: np.ndarray
    misfit: pd.DataFrame
    iterations: int
    seconds: float

    def to_dataarray(self) -> xr.DataArray:
        """The counts on named dims ``league, age, sex, residence`` [persons]."""
        return xr.DataArray(self.counts, dims=(LEAGUE_DIM, "age", "sex", "residence"),
                            coords={LEAGUE_DIM: list(self.leagues), "age": list(demo.AGE_LABELS),
                                    "sex": list(demo.SEXES), "residence": list(RESIDENCES)},
                            attrs={"units": "persons", "year": self.year})


def _rake2(seed: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """2-D IPF of ``seed`` to row and column totals (which must have the same sum)."""
    table = seed.astype(float).copy()
    for _ in range(MAX_ITERATIONS):
        table *= (rows / table.sum(axis=1))[:, None]
        table *= (columns / table.sum(axis=0))[None, :]
        if np.max(np.abs(table.sum(axis=1) / rows - 1)) < TOLERANCE:
            return table
    raise LeagueStateError("league state: the 2-D raking did not converge; check the league figures in data/")


def _group_masks() -> dict:
    ages = demo.AGE_LOWER
    return {name: (ages >= lower) & (ages < upper) for name, (lower, upper) in AGE_GROUPS.items()}


def _census_margins(year: int, leagues: Leagues) -> dict:
    """League figures of a census year: residents, urban, rural [persons]; group shares, male share."""
    census = league_census(year, leagues)
    shares = np.stack([census["share_age_0_14"], census["share_age_15_59"],
                       census["share_age_60plus"] - census["share_age_65plus"], census["share_age_65plus"]],
                      axis=1) / 100
    ratio = census["sex_ratio"].values
    return {"population": census["population"].values, "urban": census["urban_population"].values,
            "rural": census["rural_population"].values, "age_shares": shares,
            "sex_ratio": ratio}


def _interpolated_margins(leagues: Leagues) -> dict:
    """League figures of the end of 2015 (module docstring, step 5)."""
    first, last = _census_margins(2010, leagues), _census_margins(2020, leagues)
    p10, p20 = first["population"].sum(), last["population"].sum()
    fraction = np.log(POPULATION_2015 / p10) / np.log(p20 / p10)
    loglin = {k: first[k] * (last[k] / first[k]) ** fraction for k in ("population", "urban", "rural")}
    linear = {k: first[k] + fraction * (last[k] - first[k]) for k in ("age_shares", "sex_ratio")}
    return {**loglin, **linear, "fraction": fraction}


def _hukou_rates(year: int, leagues: Leagues) -> dict:
    """The latest hukou-basis league rate of the five years up to ``year`` [Dmnl], by league."""
    table = league_targets(leagues=leagues)
    rows = table[(table["variable"] == "hukou_urbanization_rate_pct") & (table["basis"] == "hukou")
                 & (table["year"] <= year) & (table["year"] > year - HUKOU_RATE_AGE)]
    return {league: float(group.sort_values("year")["value"].iloc[-1]) / 100
            for league, group in rows.groupby("league")}


def _province(year: int) -> np.ndarray:
    if year not in STATE_YEARS:
        raise LeagueStateError(f"league state: no state for {year}; use one of {', '.join(map(str, STATE_YEARS))} "
                               f"(the censuses and the model's start year)")
    counts = {2010: census_2010, 2015: census_2015, 2020: census_2020}[year]().counts
    if counts.shape[0] != demo.N_AGE or counts.shape[1:] != (len(demo.SEXES), len(RESIDENCES)):
        raise LeagueStateError(f"league state: the province state has shape {counts.shape}, not "
                               f"({demo.N_AGE}, {len(demo.SEXES)}, {len(RESIDENCES)}); update base/league_state.py "
                               f"to the axes of base/census.py")
    return counts


def league_state(year: int, leagues: Leagues | None = None, non_hukou_share: dict | None = None) -> LeagueState:
    """The state of the leagues in ``year`` by age x sex x residence [persons] (module docstring).

    Parameters
    ----------
    year : int
        2010, 2015 or 2020.
    leagues : Leagues, optional
        The declaration (default :func:`base.leagues.load_leagues`).
    non_hukou_share : dict of str to float, optional
        Share of a league's urban residents without local hukou [Dmnl], in
        :data:`NON_HUKOU_SHARE_RANGE`, for any league (overrides the data); the others share what the
        province's non-hukou residents leave.

    Returns
    -------
    LeagueState

    Raises
    ------
    LeagueStateError
        For a year without a state, a share outside its range, or a league name that is not declared
        (one line naming the fix).
    """
    started = time.perf_counter()
    leagues = leagues or load_leagues()
    province = _province(year)
    margins = _interpolated_margins(leagues) if year == 2015 else _census_margins(year, leagues)
    masks = _group_masks()
    n_league = len(leagues.names)

    # step 2: residence totals consistent with the province
    rural_total, urban_total = province[:, :, 0].sum(), province[:, :, 1:].sum()
    if year == 2015:
        both = _rake2(np.stack([margins["rural"], margins["urban"]], axis=1), margins["population"] *
                      (rural_total + urban_total) / margins["population"].sum(), np.array([rural_total, urban_total]))
        rural, urban = both[:, 0], both[:, 1]
    else:
        rural = margins["rural"] * rural_total / margins["rural"].sum()
        urban = margins["urban"] * urban_total / margins["urban"].sum()
    population = rural + urban

    # step 3: non-hukou residents
    given = dict(_hukou_rates(year, leagues))
    shares = {league: 1 - rate * population[leagues.names.index(league)] / urban[leagues.names.index(league)]
              for league, rate in given.items()}
    for name, share in (non_hukou_share or {}).items():
        if name not in leagues.names:
            raise LeagueStateError(f"league state: '{name}' is not a league; leagues: {', '.join(leagues.names)}")
        low, high = NON_HUKOU_SHARE_RANGE
        if not low <= float(share) <= high:
            raise LeagueStateError(f"league state: non-hukou share {share} of {name} is outside its range "
                                   f"[{low}, {high}]; give a share in that range")
        shares[name] = float(share)
    non_hukou_total = province[:, :, 1].sum()
    known = np.array([name in shares for name in leagues.names])
    share = np.array([shares.get(name, np.nan) for name in leagues.names])
    rest = (non_hukou_total - np.nansum(share * urban)) / urban[~known].sum()
    if not 0 < rest < 1:
        raise LeagueStateError(f"league state {year}: the other leagues' non-hukou share would be {rest:.3f}; "
                               f"give non-hukou shares that leave the province's total room")
    share[~known] = rest
    non_hukou = share * urban
    residence = np.stack([rural, non_hukou, urban - non_hukou], axis=1)

    # step 2: age groups and sexes consistent with the province
    group_totals = np.array([province[mask].sum() for mask in masks.values()])
    age_seed = margins["age_shares"] / margins["age_shares"].sum(axis=1, keepdims=True) * population[:, None]
    by_group = _rake2(age_seed, population, group_totals)
    male = margins["sex_ratio"] / (100 + margins["sex_ratio"])
    by_sex = _rake2(np.stack([male, 1 - male], axis=1) * population[:, None], population,
                    province.sum(axis=(0, 2)))

    # step 4: the four-way fit
    table = population[:, None, None, None] / population.sum() * province[None]
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):
        table *= (residence / table.sum(axis=(1, 2)))[:, None, None, :]
        for k, mask in enumerate(masks.values()):
            table[:, mask] *= (by_group[:, k] / table[:, mask].sum(axis=(1, 2, 3)))[:, None, None, None]
        table *= (by_sex / table.sum(axis=(1, 3)))[:, None, :, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            table *= np.where(province > 0, province / table.sum(axis=0), 0.0)[None]
        gaps = [table.sum(axis=(1, 2)) / residence - 1, table.sum(axis=(1, 3)) / by_sex - 1,
                np.stack([table[:, m].sum(axis=(1, 2, 3)) for m in masks.values()], axis=1) / by_group - 1]
        if max(float(np.max(np.abs(g))) for g in gaps) < TOLERANCE:
            break
    else:
        raise LeagueStateError(f"league state {year}: the fit did not converge in {MAX_ITERATIONS} iterations")

    # misfit against the league figures (for 2015: the interpolated margins)
    fitted_pop = table.sum(axis=(1, 2, 3))
    fitted_shares = np.stack([table[:, m].sum(axis=(1, 2, 3)) for m in masks.values()], axis=1) / fitted_pop[:, None]
    target_shares = margins["age_shares"]
    fitted_ratio = 100 * table[:, :, 0].sum(axis=(1, 2)) / table[:, :, 1].sum(axis=(1, 2))
    misfit = pd.DataFrame({
        "league": list(leagues.names),
        "population": fitted_pop - margins["population"],
        "urban": table[:, :, :, 1:].sum(axis=(1, 2, 3)) - margins["urban"],
        "rural": table[:, :, :, 0].sum(axis=(1, 2)) - margins["rural"],
        **{f"share_{name}_pp": 100 * (fitted_shares[:, k] - target_shares[:, k])
           for k, name in enumerate(AGE_GROUPS)},
        "share_60plus_pp": 100 * (fitted_shares[:, 2:].sum(axis=1) - target_shares[:, 2:].sum(axis=1)),
        "sex_ratio": fitted_ratio - margins["sex_ratio"],
        "non_hukou_share": share,
    })
    assert n_league == table.shape[0]
    return LeagueState(year, tuple(leagues.names), table, misfit, iterations, time.perf_counter() - started)


def main(argv: list | None = None) -> int:
    """Print the misfit of every year's league state (``python -m base.league_state``)."""
    pd.set_option("display.width", 200)
    for year in STATE_YEARS:
        state = league_state(year)
        print(f"{year}: {state.iterations} iterations, {state.seconds:.2f} s; "
              f"sum over leagues - province: {np.max(np.abs(state.counts.sum(axis=0) - _province(year))):.2e} persons")
        print(state.misfit.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
