"""The population chain (tests/models/population_chain.mdl): single years of age x sex x residence
with an exact cohort shift, births from ASFR x TFR, deaths from a life table anchored on e0,
Rogers-Castro migration and registered-population accounting.

Checked here: the schedule tables are those of base/demography.py and base/census.py; PySD and the
vectorized engine agree; the population balance is exact; no stock goes negative under extreme
rates; the cohort shift has no dispersion; a plain Leslie projection with the same rates agrees
within the Euler error of the chain's within-year flows (first order in the time step).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from base import census, demography as demo, schedule_tables
from calibration import backcast
from calibration.leslie import BENCHMARK_RATE, benchmark_parameters, leslie_projection
from model.pysd_engine import PySDEngine
from model.vectorized import VectorizedModel
from simulator import pyramid
from test_vectorized import assert_agree

MODEL = Path(__file__).parent / "models" / "population_chain.mdl"
SEED = 20261202
BENCHMARK = benchmark_parameters()


@pytest.fixture(scope="module")
def engine():
    return VectorizedModel.from_mdl(MODEL)


def test_schedule_tables_are_those_of_the_python_schedules():
    assert schedule_tables.check_model(MODEL), (
        "tests/models/population_chain.mdl is out of date: run "
        "python -m base.schedule_tables tests/models/population_chain.mdl")


def test_pysd_and_vectorized_agree(engine):
    reference = PySDEngine(MODEL)  # the reference engine runs subscripted models
    columns = [n for n, v in engine.variables.items() if v.kind in ("stock", "auxiliary", "constant")]
    rng = np.random.default_rng(SEED)
    params = {"tfr_2015": rng.uniform(0.9, 1.8), "e0_trend": rng.uniform(0.0, 0.5),
              "out_migration_rate": rng.uniform(0.0, 0.03, size=3),
              "rural_to_urban_migration_rate": rng.uniform(0.0, 0.08),
              "hukou_transfer_time": rng.uniform(3, 30)}
    for case in (params,):  # one PySD run (~10 s); the defaults are the other tests' case
        run = reference.run(case, return_columns=columns, final_time=2030)
        times, expected = run.time, run.values
        result = engine.run(case, return_columns=columns, final_time=2030)
        np.testing.assert_array_equal(result.time, times)
        for name in columns:
            assert_agree(expected[name], result[name][:, 0], name)


def _every_step(engine, params=None, final_time=2030.0, **control):
    dt = control.pop("time_step", 0.25)
    names = ["population", "births_by_age", "ageing_in", "ageing_out", "deaths", "internal_migration",
             "out_migration", "total_population", "total_births", "total_deaths", "total_out_migration",
             "registered_absent_rural", "registered_absent_urban", "rural_hukou_out_migration",
             "urban_hukou_out_migration", "absent_rural_transfers", "absent_urban_transfers"]
    result = engine.run(params or {}, return_columns=names, final_time=final_time, time_step=dt,
                        saveper=dt)
    return dt, {name: result[name][:, 0] for name in names}


def test_population_balance_is_exact(engine):
    dt, r = _every_step(engine)
    scale = r["total_population"].max()
    change = np.diff(r["total_population"].ravel())
    flows = dt * (r["total_births"] - r["total_deaths"] - r["total_out_migration"]).ravel()[:-1]
    np.testing.assert_allclose(change, flows, rtol=0, atol=1e-10 * scale)
    # the cohort shift and the moves inside the region conserve people
    np.testing.assert_allclose(r["ageing_in"].sum(axis=(1, 2, 3)), r["ageing_out"].sum(axis=(1, 2, 3)),
                               rtol=0, atol=1e-10 * scale / dt)
    np.testing.assert_allclose(r["internal_migration"].sum(axis=(1, 2, 3)), 0.0, atol=1e-10 * scale)
    # every cell changes by its flows
    cell_flows = (r["births_by_age"] + r["ageing_in"] - r["ageing_out"] - r["deaths"]
                  + r["internal_migration"] - r["out_migration"])
    np.testing.assert_allclose(np.diff(r["population"], axis=0), dt * cell_flows[:-1], rtol=0,
                               atol=1e-10 * scale)
    # births arrive in the first cell only
    assert np.all(r["births_by_age"][:, 1:] == 0)
    # the registered-but-absent stocks change by their flows
    for stock, inflow, outflow in (("rural", "rural_hukou_out_migration", "absent_rural_transfers"),
                                   ("urban", "urban_hukou_out_migration", "absent_urban_transfers")):
        np.testing.assert_allclose(np.diff(r[f"registered_absent_{stock}"].ravel()),
                                   dt * (r[inflow] - r[outflow]).ravel()[:-1], rtol=1e-12)


def test_cohort_shift_has_no_dispersion(engine):
    """One cohort, no births: after k years every survivor is exactly k cells higher."""
    initial = np.zeros((demo.N_AGE, 2, 3))
    initial[30, 1, 2] = 1e6
    params = {"initial_population": initial, "tfr_2015": 0.0, "out_migration_rate": np.zeros(3),
              "rural_to_urban_migration_rate": 0.0, "settlement_rate": 0.0, "reclassification_rate": 0.0}
    result = engine.run(params, return_columns=["population"], final_time=2035)
    population = result["population"][:, 0]
    for k in range(16):
        cells = population[k].sum(axis=(1, 2))
        assert cells[30 + k] > 0.9e6
        assert np.all(np.delete(cells, 30 + k) == 0), f"year {k}: people outside cell {30 + k}"


def test_no_negative_stocks_under_extreme_rates(engine):
    params = {"out_migration_rate": np.full(3, 5.0), "rural_to_urban_migration_rate": 5.0,
              "settlement_rate": 5.0, "reclassification_rate": 5.0, "e0_2015": 60.0, "e0_trend": 0.0,
              "tfr_2015": 0.0}
    names = ["population", "registered_absent_rural", "registered_absent_urban", "outflow_limit"]
    result = engine.run(params, return_columns=names, time_step=0.25)
    for name in names[:3]:
        assert np.all(result[name] >= 0), name
    assert result["outflow_limit"].min() < 1  # the limit acted
    assert np.isfinite(result["population"]).all()


def test_registered_accounting_without_absent_people(engine):
    """No out-migration, nobody absent, every non-hukou resident local: the registered population is
    the resident one and the official hukou rate equals the resident hukou share."""
    params = {"out_migration_rate": np.zeros(3), "initial_registered_absent_rural": 0.0,
              "initial_registered_absent_urban": 0.0, "local_origin_share": 1.0}
    result = engine.run(params, return_columns=["registered_population", "total_population",
                                                 "official_hukou_urbanization_rate",
                                                 "resident_hukou_share"])
    np.testing.assert_allclose(result["registered_population"], result["total_population"], rtol=1e-12)
    np.testing.assert_allclose(result["official_hukou_urbanization_rate"], result["resident_hukou_share"],
                               rtol=1e-12)


def test_out_migrants_keep_their_hukou_so_the_official_rate_differs(engine):
    result = engine.run({}, return_columns=["registered_population", "total_population",
                                             "official_hukou_urbanization_rate", "resident_hukou_share"])
    assert np.all(result["registered_population"][1:] > result["total_population"][1:])
    assert not np.allclose(result["official_hukou_urbanization_rate"], result["resident_hukou_share"])


# ------------------------------------------------------------------------------ Leslie benchmark
def test_leslie_benchmark(engine):
    """The chain is the Leslie projection plus the Euler error of its within-year flows.

    Euler's step multiplies a cell by ``1 - H dt`` instead of ``exp(-H dt)``: over a year the
    survivors are off by about ``H**2 dt / 2`` (relative), so after Y years a count is off by about
    ``sum over the years of (sum(P H**2) / 2 / P) * dt`` -- the tolerance, computed from the rates
    (over all cells for the total; over the cells 65+ for their count, so the 65+ share is off by at
    most ``share * (both relative bounds)``). The error is first order: halving dt halves it
    (Richardson ratio 2 within 10 %).
    """
    defaults = engine.parameters
    years = 15
    leslie = leslie_projection(defaults, years, BENCHMARK_RATE)
    errors = {}
    for dt in (0.25, 0.125):
        result = engine.run(BENCHMARK, return_columns=["total_population", "share_65_plus"],
                            final_time=2020 + years, time_step=dt)
        total = result["total_population"][:, 0].ravel()
        errors[dt] = (np.abs(total / leslie["total"] - 1), np.abs(result["share_65_plus"][:, 0].ravel()
                                                                   - leslie["share_65"]))
        bound = np.cumsum(leslie["euler"]) * dt
        bound_old = np.cumsum(leslie["euler_old"]) * dt
        assert np.all(errors[dt][0][1:] <= bound), (dt, errors[dt][0][1:], bound)
        share_bound = leslie["share_65"][1:] * (bound + bound_old)
        assert np.all(errors[dt][1][1:] <= share_bound), (dt, errors[dt][1][1:], share_bound)
    for k in (0, 1):
        ratio = errors[0.25][k][-1] / errors[0.125][k][-1]
        assert 1.8 < ratio < 2.2, ("first-order convergence", k, ratio)


def test_backcast_from_2010_reproduces_its_fitted_targets(engine):
    """calibration.backcast fits three parameters to three targets; the 2020 age shares are left free
    (they are reported by python -m calibration.backcast, not asserted: a target, not a test)."""
    result = backcast.run_backcast(engine)
    model, census_2020 = result.targets["population_2020"]
    np.testing.assert_allclose(model, census_2020, rtol=1e-8)
    births = [result.crude_birth_rate[year] for year in range(2015, 2020)]
    np.testing.assert_allclose(np.mean(births), np.mean([7.72, 9.03, 9.47, 8.35, 8.23]), rtol=1e-6)
    np.testing.assert_allclose(result.crude_birth_rate[2011], 8.9, rtol=1e-6)
    assert 0.9 <= result.tfr_2015 <= 1.8  # inside the documented range of tfr 2015
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
