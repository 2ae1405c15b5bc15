"""The observation model: which figures the calibration compares with which model quantity, and how.

The 2011-2019 bulletins overstate the population and understate urbanization; the 2020 census
re-based both (data/README.md, "The census break"). The model runs on the census basis. Two
observation models are implemented; ``calibration/README.md`` explains the choice.

``bias`` (primary) -- the bulletin series are fitted through a reporting bias that grows linearly
from zero at the 2010 census (1 Nov 2010) until the re-basing, and is zero on the census basis:

    bulletin population(Y)   = P(Y) * (1 + beta  * tau(Y))
    bulletin urbanization(Y) = u(Y) -      gamma * tau(Y)
    tau(Y) = (Y + 1) - (2010 + 10/12)   [Year]; model time Y is the end of year Y (= Y + 1 in calendar time)

with beta [1/Year] and gamma [%/Year] estimated with the model parameters (nuisance parameters).

``anchors`` -- only census-consistent figures: year-end 2020 (post-census) population and
urbanization. The 2015 state (revised urbanization 62.09 %, census-interpolated population) is the
model's initial value in both approaches.

Both approaches also use figures that do not depend on the population basis:

- crude birth and death rates 2016-2019 [permille]: the bulletin rate is a sample-survey ratio;
  the bulletin *counts* are that rate times the overstated bulletin mean population, so they carry
  no information beyond the rate and the population series (using both would count it twice).
  The model rate is the year's births (deaths) over the mean of the year-start and year-end
  population, as the bulletins define it.
- hukou urbanization 2018 (44.2 %) against ``official_hukou_urbanization_rate`` (urban-hukou
  registered people over the registered population, the official definition; the 2015 value is the
  initial state).
- the bulletin death rates through a death reporting bias in both approaches: bulletin = model x
  (1 - ``reporting_bias_deaths``) (the surveys miss deaths: the age chain with e0 anchored on the
  census gives 6.8-7.6 per mille in 2015-2019 (calibration report) against the bulletins' 5.3-6.0).
- about 300,000 settled in 2016-2020 (plan) against cumulative_hukou_settlement(2020) - (2015).

- total water use 2015-2020 [100 million m3/Year] against ``total_water_demand``: these figures are
  UNVERIFIED (recalled, not seen in a published text; data/README.md) and are used as *weak
  evidence*: with a fixed, wide noise (``noise.fixed.total_water_use`` in scenarios/calibrate.yaml),
  never an estimated one. They are the only figures that act on the water assumptions
  (``total_water_use_2015`` and the sector drivers of 2016-2020: irrigated area, irrigation efficiency,
  industrial output and water intensity, ecological water). The 2015 figure is used too: the
  model's 2015 total water use is an uncertain parameter, not a known initial state.

Optionally (``start_rates``) the 2015 bulletin birth and death rates are compared with the model's
crude rates at the start (year-end 2015), which the ``.mdl`` equates with the 2015 rates
(``tfr_2015``; the death rate follows from e0 and the age structure): the 2015 figure is then one more noisy survey
figure of the series instead of an exact value.

Not used: the other UNVERIFIED rows (population 2012-2013 lie before the model start) and figures
before 2015.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

APPROACHES = ("bias", "anchors")
CENSUS_2010 = 2010.0 + 10.0 / 12.0  # 1 Nov 2010 [Year, calendar]
MODEL_START = 2015  # year-end 2015 [Year, model time]

BIRTH_FLOWS = ("rural_births", "non_hukou_births", "hukou_births")
DEATH_FLOWS = ("rural_deaths", "non_hukou_deaths", "hukou_deaths")
RETURN_COLUMNS = ("total_population", "urbanization_rate", "hukou_urbanization_rate",
                  "cumulative_hukou_settlement", *BIRTH_FLOWS, *DEATH_FLOWS, "total_water_demand")


@dataclass(frozen=True)
class SeriesSpec:
    """One observed series and its model counterpart.

    Attributes
    ----------
    name : str
        Series name (also the name used for noise and statistics).
    data_variable : str
        ``variable`` in the statistics file.
    unit : str
        Unit of the series in the calibration (model units, or permille for rates).
    kind : str
        ``level`` (model variable at year-end), ``crude_rate`` (annual flow over the mean population,
        in permille) or ``increment`` (change of a stock since the model start).
    model_variables : tuple of str
        Model variables the prediction is computed from.
    bias : str
        Reporting bias applied to pre-census figures: ``population``, ``urbanization`` or ``none``.
    scale : float
        Factor from the file's model-unit value (``value_model``) to the series unit (1e3 turns a
        rate in 1/Year into permille).
    weak_evidence : bool
        The series consists of UNVERIFIED figures used deliberately as weak evidence (fixed wide
        noise); UNVERIFIED rows of other series are never used.
    observe_start : bool
        The figure of the start year (2015) is informative: the model's 2015 value depends on an
        uncertain parameter (e.g. total water use 2015), not on a known initial state.
    """

    name: str
    data_variable: str
    unit: str
    kind: str
    model_variables: tuple
    bias: str = "none"
    scale: float = 1.0
    weak_evidence: bool = False
    observe_start: bool = False


SERIES = {
    "urbanization_rate": SeriesSpec("urbanization_rate", "urbanization_rate_pct", "%", "level",
                                    ("urbanization_rate",), bias="urbanization"),
    "total_population": SeriesSpec("total_population", "resident_population", "persons", "level",
                                   ("total_population",), bias="population"),
    "crude_birth_rate": SeriesSpec("crude_birth_rate", "birth_rate_permille", "permille", "crude_rate",
                                   BIRTH_FLOWS, scale=1.0e3),
    "crude_death_rate": SeriesSpec("crude_death_rate", "death_rate_permille", "permille", "crude_rate",
                                   DEATH_FLOWS, bias="deaths", scale=1.0e3),
    "hukou_urbanization_rate": SeriesSpec("hukou_urbanization_rate", "hukou_urbanization_rate_pct", "%",
                                          "level", ("official_hukou_urbanization_rate",)),
    "settled_since_2015": SeriesSpec("settled_since_2015", "settled_migrants_cumulative_2016_2020",
                                     "persons", "increment", ("cumulative_hukou_settlement",)),
    "total_water_use": SeriesSpec("total_water_use", "total_water_use", "1e8 m3/Year", "level",
                                  ("total_water_demand",), scale=1.0e-8, weak_evidence=True,
                                  observe_start=True),
}

#: Nuisance parameters of the ``bias`` approach: name -> (lower, upper, unit, description).
#: Ranges are assumptions wide enough to contain the bias implied by 2015 (bulletin 25.11 million and
#: 60.30 % against the census-basis 24.36 million and revised 62.09 %: beta ~ 0.006/yr, gamma ~ 0.35 pp/yr).
NUISANCE = {
    "reporting_bias_population": (-0.01, 0.03, "1/Year",
                                  "relative overstatement of the bulletin population per year since the 2010 census"),
    "reporting_bias_urbanization": (-0.5, 1.5, "%/Year",
                                    "understatement of the bulletin urbanization rate per year since the 2010 census"),
    # The chain with e0 anchored on the census gives crude death rates of 6.8-7.6 permille in 2015-2019
    # against the bulletins' 5.3-6.0: the sample-survey death rates miss deaths (death under-registration
    # is documented for China's surveys; the 2010 census e0 74.44 is confirmed). Range 0-40 % missed.
    "reporting_bias_deaths": (0.0, 0.4, "Dmnl",
                              "share of deaths the bulletin death rates miss (bulletin = model x (1 - share))"),
}


def tau(year) -> np.ndarray:
    """Years from the 2010 census (1 Nov 2010) to the end of ``year`` [Year]."""
    return np.asarray(year, dtype=float) + 1.0 - CENSUS_2010


@dataclass
class Observations:
    """The figures a calibration fits, in a fixed order, with how to predict each from a run.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per observation: ``series``, ``year``, ``value`` (series unit), ``basis``,
        ``biased`` (bool: a pre-census figure seen through the reporting bias), ``line`` (line in the
        data file), ``status``.
    approach : str
        ``bias`` or ``anchors``.
    nuisance : tuple of str
        Names of the nuisance parameters the predictions depend on (empty for ``anchors``).
    """

    table: pd.DataFrame
    approach: str
    nuisance: tuple = field(default_factory=tuple)

    @property
    def values(self) -> np.ndarray:
        return self.table["value"].to_numpy(dtype=float)

    @property
    def series_names(self) -> list[str]:
        return list(dict.fromkeys(self.table["series"]))

    @property
    def final_year(self) -> int:
        return int(self.table["year"].max())

    @property
    def return_columns(self) -> list[str]:
        """Model variables the predictions need (``total_population`` always: rates divide by it)."""
        names = ["total_population"]
        for series in self.series_names:
            names += [v for v in SERIES[series].model_variables if v not in names]
        return names

    def index_of(self, series: str) -> np.ndarray:
        return np.flatnonzero(self.table["series"].to_numpy() == series)

    def predict(self, run_values: Mapping[str, np.ndarray], time: np.ndarray,
                nuisance: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Model predictions of every observation.

        Parameters
        ----------
        run_values : mapping of str to numpy.ndarray
            Trajectories shaped ``(n_time, n_samples)`` saved at every time step from the model
            start (``saveper = time_step``).
        time : numpy.ndarray
            Saved times [Year], shape ``(n_time,)``.
        nuisance : mapping of str to numpy.ndarray, optional
            Nuisance parameter values, each shaped ``(n_samples,)`` (required for ``bias``).

        Returns
        -------
        numpy.ndarray
            Predictions shaped ``(n_samples, n_obs)``, in the series units.
        """
        time = np.asarray(time, dtype=float)
        dt = float(time[1] - time[0])
        n_samples = np.shape(next(iter(run_values.values())))[1]
        out = np.empty((n_samples, len(self.table)))
        index: dict[float, int] = {}

        def at(year: float) -> int:
            if year not in index:
                hits = np.flatnonzero(np.abs(time - year) < 1e-6 * max(dt, 1.0))
                if hits.size != 1:
                    raise ValueError(f"time {year} was not saved; run with saveper = time_step from "
                                     f"{MODEL_START} to at least {self.final_year}")
                index[year] = int(hits[0])
            return index[year]

        flows: dict[str, np.ndarray] = {}

        def flow_of(spec: SeriesSpec) -> np.ndarray:
            if spec.name not in flows:
                flows[spec.name] = sum(run_values[name] for name in spec.model_variables)
            return flows[spec.name]

        population = run_values["total_population"]
        rows = zip(self.table["series"].tolist(), self.table["year"].tolist(), self.table["biased"].tolist())
        for k, (series, year, biased) in enumerate(rows):
            spec = SERIES[series]
            if spec.kind == "level":
                value = spec.scale * run_values[spec.model_variables[0]][at(year)]
            elif spec.kind == "increment":
                stock = run_values[spec.model_variables[0]]
                value = spec.scale * (stock[at(year)] - stock[at(MODEL_START)])
            elif spec.kind == "crude_rate" and year <= MODEL_START:
                # the 2015 figure against the crude rate at the start (the .mdl's "2015 rate")
                i = at(MODEL_START)
                value = spec.scale * flow_of(spec)[i] / population[i]
            elif spec.kind == "crude_rate":
                start, end = at(year - 1), at(year)
                annual = flow_of(spec)[start:end].sum(axis=0) * dt  # Euler steps in (year-1, year]
                mean_population = 0.5 * (population[start] + population[end])
                value = spec.scale * annual / mean_population
            else:  # pragma: no cover - guarded by SERIES
                raise ValueError(f"unknown series kind {spec.kind}")
            if biased:
                if spec.bias == "population":
                    value = value * (1.0 + np.asarray(nuisance["reporting_bias_population"]) * tau(year))
                elif spec.bias == "urbanization":
                    value = value - np.asarray(nuisance["reporting_bias_urbanization"]) * tau(year)
                elif spec.bias == "deaths":
                    value = value * (1.0 - np.asarray(nuisance["reporting_bias_deaths"]))
            out[:, k] = value
        return out

    def debias(self, series: str, years, values, nuisance: Mapping[str, float]) -> np.ndarray:
        """Census-consistent values of bulletin figures, given the reporting bias [series unit]."""
        values = np.asarray(values, dtype=float)
        spec = SERIES[series]
        if spec.bias == "population":
            return values / (1.0 + nuisance["reporting_bias_population"] * tau(years))
        if spec.bias == "urbanization":
            return values + nuisance["reporting_bias_urbanization"] * tau(years)
        if spec.bias == "deaths":
            return values / (1.0 - nuisance["reporting_bias_deaths"])
        return values


def build_observations(frame: pd.DataFrame, approach: str = "bias", *, first_year: int = MODEL_START,
                       last_year: int = 2020, series: tuple | list | None = None,
                       start_rates: bool = False) -> Observations:
    """Select the figures to fit from the tidy statistics table.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`base.observations.load_observations`.
    approach : str
        ``bias`` (bulletin series through the reporting bias, plus the census basis) or ``anchors``
        (census-consistent figures only).
    first_year, last_year : int
        Window of the figures [Year] (year-end figures; the model starts at the end of ``first_year``).
    series : sequence of str, optional
        Series to use (default: all of :data:`SERIES`).
    start_rates : bool
        Compare the ``first_year`` birth and death rates with the model's rates at the start (the
        ``.mdl``'s 2015 rates) instead of leaving them out.

    Returns
    -------
    Observations
    """
    if approach not in APPROACHES:
        raise ValueError(f"unknown observation approach {approach!r}; choose one of {APPROACHES}")
    names = list(series) if series is not None else list(SERIES)
    unknown = [name for name in names if name not in SERIES]
    if unknown:
        raise ValueError(f"unknown series {unknown}; choose from {list(SERIES)}")
    rows = []
    for name in names:
        spec = SERIES[name]
        data = frame[(frame["variable"] == spec.data_variable) & (frame["region"] == "Inner Mongolia")]
        for item in data.sort_values("year").itertuples(index=False):
            year = int(item.year)
            if year > last_year or year < first_year:
                continue
            if item.unverified and not spec.weak_evidence:
                continue  # memory-only figures are used only as declared weak evidence (module docstring)
            if spec.kind == "crude_rate" and (year < first_year or (year == first_year and not start_rates)):
                continue  # the flows of year Y run from Y-1 to Y; the model starts at the end of first_year
            if spec.kind == "level" and year == first_year and spec.bias == "none" and not spec.observe_start:
                continue  # the initial state itself (e.g. hukou 44.16 % in 2015) carries no information
            if spec.kind == "increment" and year <= first_year:
                continue
            pre_census = item.basis == "pre-census"
            if pre_census and spec.bias in ("population", "urbanization") and approach == "anchors":
                continue
            # every bulletin death rate misses deaths (the survey's under-count, not the census break)
            biased = bool((pre_census and spec.bias in ("population", "urbanization")) or spec.bias == "deaths")
            rows.append({
                "series": name, "year": year,
                "value": float(item.value_model) * spec.scale,
                "unit": spec.unit, "basis": item.basis, "status": item.status,
                "biased": biased, "line": int(item.line),
            })
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(f"no observations in {first_year}-{last_year} for series {names}")
    nuisance = tuple(name for name, bias in (("reporting_bias_population", "population"),
                                             ("reporting_bias_urbanization", "urbanization"),
                                             ("reporting_bias_deaths", "deaths"))
                     if any(SERIES[s].bias == bias for s in table.loc[table["biased"], "series"]))
    return Observations(table=table.reset_index(drop=True), approach=approach, nuisance=nuisance)
