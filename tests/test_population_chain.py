"""The population chain of the main model (model/inner_mongolia.mdl): single years of age x sex x
residence with an exact cohort shift, births from ASFR x TFR, deaths from a life table anchored on e0.

Checked here (the balances, the moves inside the region, the extreme conditions and the registered
accounting are checked on the same model by tests/test_model_behaviour.py, PySD against the
vectorized engine by tests/test_vectorized.py): the schedule tables are those of base/demography.py
and base/census.py; the cohort shift has no dispersion; a plain Leslie projection with the same
rates agrees within the Euler error of the chain's within-year flows (first order in the time step);
a run from 2010 keeps the calendar dates; the back-cast from the 2010 census reproduces its fitted
targets; the pyramid figure.
"""
from __future__ import annotations

import numpy as np
import pytest

from base import census, demography as demo, schedule_tables
from calibration import backcast
from calibration.leslie import START, benchmark_parameters, leslie_projection
from model import MODEL_PATH
from model.vectorized import VectorizedModel
from simulator import pyramid

#: No flow but deaths: no births, no migration of any kind (the moves inside the region included).
DEATHS_ONLY = {"tfr_2015": 0.0, "base_out_migration_rate": 0.0, "base_rural_to_urban_migration_rate": 0.0,
               "base_settlement_rate": 0.0, "student_and_talent_settlement": 0.0,
               "rural_residents_per_converted_km2": 0.0}


@pytest.fixture(scope="module")
def engine():
    return VectorizedModel.from_mdl(MODEL_PATH)


def test_schedule_tables_are_those_of_the_python_schedules():
    assert schedule_tables.check_model(MODEL_PATH), (
        "model/inner_mongolia.mdl's .Schedules group is out of date: run "
        "python -m base.schedule_tables model/inner_mongolia.mdl")


def test_cohort_shift_has_no_dispersion(engine):
    """One cohort and only deaths: after k years every survivor is exactly k cells higher, and every
    other cell holds exactly nobody (a first-order 5-year chain would have spread it:
    python -m benchmarks.population_chain)."""
    initial = np.zeros((demo.N_AGE, 2, 3))
    initial[30, 1, 2] = 1e6
    result = engine.run({**DEATHS_ONLY, "initial_population": initial}, return_columns=["population"])
    population = result["population"][:, 0]
    for k in range(population.shape[0]):
        cells = population[k].sum(axis=(1, 2))
        assert cells[30 + k] > 0.9e6
        assert np.all(np.delete(cells, 30 + k) == 0), f"year {k}: people outside cell {30 + k}"


# ------------------------------------------------------------------------------ Leslie benchmark
def test_leslie_benchmark(engine):
    """With residence-free rates the chain is the Leslie projection plus the Euler error of its
    within-year flows, 2015-2035.

    Tolerance, computed from the rates by calibration.leslie.leslie_projection: Euler's step
    multiplies a cell by ``1 - h dt`` instead of ``exp(-h dt)``, so over a year the survivors are off
    by about ``h**2 dt / 2`` (relative); it sums the births at the start of each step (a left Riemann
    sum, off by ``dt / 2`` x the variation of the birth rate over the year, plus ``dt**2 / 12`` x the
    variation of its slope: the two-child pulse bends it sharply in 2016) and exposes them from the
    step's end (``dt / 2`` x the infant hazard). After Y years a count is off by at most the sum of
    these terms over the years -- over all cells for the total (0.17 % in 2035 at dt 0.25, where the
    error is 0.06 %; 0.031 % in 2016, where it is 0.028 %, the pulse's year); over the cells 65+ for
    their count, so the 65+ share is off by at most ``share * (both relative bounds)`` (0.20 pp in
    2035 against 0.055 pp). A wrong rate, a lost cohort or a misplaced year would exceed it: one
    year of deaths is about 0.7 % of the total. The error is first order: halving dt halves it
    (Richardson ratio 2 within 10 %; measured 2.04 for the total, 1.98 for the share), so nothing
    but the time step separates the two.
    """
    years = 20
    leslie = leslie_projection({**engine.parameters, **benchmark_parameters()}, years)
    errors = {}
    for dt in (0.25, 0.125):
        result = engine.run(benchmark_parameters(), return_columns=["total_population", "share_65_plus"],
                            final_time=START + years, time_step=dt)
        total = result["total_population"][:, 0].ravel()
        share = result["share_65_plus"][:, 0].ravel() / 100
        errors[dt] = (np.abs(total / leslie["total"] - 1), np.abs(share - leslie["share_65"]))
        bound = (np.cumsum(leslie["euler"] + leslie["euler_births"]) * dt
                 + np.cumsum(leslie["euler_births_2"]) * dt ** 2)
        bound_old = np.cumsum(leslie["euler_old"]) * dt
        assert np.all(errors[dt][0][1:] <= bound), (dt, errors[dt][0][1:], bound)
        share_bound = leslie["share_65"][1:] * (bound + bound_old)
        assert np.all(errors[dt][1][1:] <= share_bound), (dt, errors[dt][1][1:], share_bound)
    for k in (0, 1):
        ratio = errors[0.25][k][-1] / errors[0.125][k][-1]
        assert 1.8 < ratio < 2.2, ("first-order convergence", k, ratio)


def test_benchmark_totals_do_not_depend_on_the_urbanization_flows(engine):
    """The benchmark's premise: with its residence-free rates, moving people between residences
    leaves the totals by age and sex unchanged (to rounding), while urbanization moves by points."""
    names = ["population_by_age_and_sex", "urbanization_rate"]
    calm = engine.run({**benchmark_parameters(), "base_rural_to_urban_migration_rate": 0.0,
                       "rural_residents_per_converted_km2": 0.0}, return_columns=names)
    busy = engine.run({**benchmark_parameters(), "base_rural_to_urban_migration_rate": 0.08},
                      return_columns=names)
    assert busy["urbanization_rate"][-1, 0] > calm["urbanization_rate"][-1, 0] + 10
    np.testing.assert_allclose(busy["population_by_age_and_sex"], calm["population_by_age_and_sex"],
                               rtol=1e-9, atol=1e-6)


# ------------------------------------------------------------------------------ back-cast
def test_a_run_from_2010_keeps_the_calendar_dates(engine):
    """VectorizedModel.run(initial_time=2010): Time is the calendar year, so the two-child pulse
    still starts after 2015 and the trends are 1 in 2015 (nothing is shifted)."""
    run = engine.run(return_columns=["two_child_policy_effect", "tfr_trend_effect", "life_expectancy"],
                     initial_time=2010, final_time=2020)
    np.testing.assert_array_equal(run.time, np.arange(2010, 2021))
    effect = run["two_child_policy_effect"][:, 0]
    assert np.all(effect[:6] == 1) and np.all(effect[6:] > 1)
    np.testing.assert_allclose(run["tfr_trend_effect"][5, 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(run["life_expectancy"][5, 0], engine.parameters["e0_2015"], rtol=1e-12)
    with pytest.raises(ValueError, match="initial_time 2040 is not before final_time"):
        engine.run(initial_time=2040)


def test_backcast_from_2010_reproduces_its_fitted_targets(engine):
    """calibration.backcast fits three parameters to three targets; the 2020 urbanization and age
    shares are left free (reported by python -m calibration.backcast, not asserted: targets, not
    tests)."""
    result = backcast.run_backcast(engine)
    model, census_2020 = result.targets["population_2020"]
    np.testing.assert_allclose(model, census_2020, rtol=1e-8)
    births = [result.crude_birth_rate[year] for year in range(2015, 2020)]
    np.testing.assert_allclose(np.mean(births), np.mean([7.72, 9.03, 9.47, 8.35, 8.23]), rtol=1e-6)
    np.testing.assert_allclose(result.crude_birth_rate[2011], 8.9, rtol=1e-6)
    assert 0.9 <= result.tfr_2015 <= 1.8  # inside the documented range of tfr 2015
    # the run starts from the 2010 census
    np.testing.assert_allclose(result.population[2010], census.census_2010().total, rtol=1e-12)
    np.testing.assert_allclose(result.urbanization[2010], 55.53, atol=0.01)
    assert all(0 < share < 1 for share in result.share_65.values())


def test_pyramid_figure_draws_every_group_sex_and_residence():
    counts = census.census_2020().counts
    fig = pyramid.pyramid_figure({"a": counts, "b": counts})
    for ax in fig.axes:
        assert len(ax.patches) == 19 * 2 * 3
    grouped, labels = pyramid.five_year_groups(counts)
    np.testing.assert_allclose(grouped.sum(), counts.sum(), rtol=1e-12)
    assert labels[-1] == "90+"
    with pytest.raises(ValueError, match="expected"):
        pyramid.pyramid_figure({"bad": counts[:10]})


def _life_expectancy(hazard: np.ndarray) -> float:
    """e0 [Year] of constant hazards by cell (births spread over the year, the open cell last),
    written here from the definition, not taken from base.demography."""
    survivors = -np.expm1(-hazard[0]) / hazard[0]
    years = (1 - survivors) / hazard[0]
    for h in hazard[1:-1]:
        years += survivors * -np.expm1(-h) / h
        survivors *= np.exp(-h)
    return float(years + survivors / hazard[-1])


def test_gompertz_pivot_keeps_life_expectancy_close_to_its_anchor(engine):
    """The .mdl's claim for 'gompertz pivot age': with the pivot at 75 (near the mean age at death) a
    change of the Gompertz slope over its whole range moves e0 by under 2 years; a pivot at 40 would
    move it by more than 3 (measured: 1.9 and 1.0 years for men and women at 75; 5.1 and 7.1 at 40)."""
    def shift(slope, pivot):
        run = engine.run({"gompertz_slope_change": slope, "gompertz_pivot_age": pivot},
                         return_columns=["death_rate", "life_expectancy_by_sex"], final_time=2016)
        return max(abs(_life_expectancy(run["death_rate"][0, 0, :, j]) - run["life_expectancy_by_sex"][0, 0, j])
                   for j in range(2))

    low, high = -0.015, 0.015  # the documented range of gompertz slope change
    # the anchor: at the central slope e0 is the input (to the mortality level lookup's linear
    # interpolation on a 0.25-year grid: 0.0003 years)
    assert shift(0.0, 75) < 0.01
    assert max(shift(low, 75), shift(high, 75)) < 2.0
    assert max(shift(low, 40), shift(high, 40)) > 3.0
