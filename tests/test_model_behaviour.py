"""Structure-oriented behaviour tests (Sterman, *Business Dynamics* ch. 21; Barlas 1996).

Run with the PySD reference engine (about 1 s per run):

- mass balance: every population and land stock changes by TIME STEP x (inflows - outflows) of
  the previous step, with the flows read from the stock's INTEG equation;
- physical bounds: stocks of persons and land are never negative, rates stay in [0, 100] %;
- integration error: halving TIME STEP barely moves the 2035 urbanization rate;
- the decomposition of the urbanization change closes exactly;
- extreme conditions: each input pushed to an extreme value must give the response a modeller
  expects (Vensim "Reality Check" style). Parameters are passed to the engine directly, so values
  outside the documented ranges are allowed here.
"""
from __future__ import annotations

import numpy as np
import pytest

from model import MODEL_PATH
from model.units import normalize_name, parse_units

BALANCED_STOCKS = ("population", "urban construction land", "cumulative hukou settlement",
                   "registered absent rural", "registered absent urban")
"""Stocks whose Euler balance is checked (``population`` is the ageing chain [age, sex, residence])."""
DECOMPOSITION_STOCKS = (
    "urbanization_change_from_migration",
    "urbanization_change_from_reclassification",
    "urbanization_change_from_natural_increase",
    "urbanization_change_from_out_migration",
)
NON_NEGATIVE_UNITS = (parse_units("persons"), parse_units("km2"))
"""Stocks in these units count people or land and can never be negative."""

RATES_IN_PERCENT = ("urbanization_rate", "hukou_urbanization_rate")

ROUNDING = 1e-12
"""Relative floating-point rounding tolerated when a stock is emptied exactly (e.g. -1e-7 persons)."""

BALANCE_TOLERANCE = 1e-9
"""Largest Euler-balance residual allowed, relative to the largest value of the stock."""


# ------------------------------------------------------------------------------ helpers
def python_names(spec) -> dict[str, str]:
    """``{normalized Vensim name: Python name}`` of every variable of the model."""
    return {normalize_name(var.vensim_name): name for name, var in spec.variables.items()}


def stock_flows(spec, stock: str) -> tuple[list[str], list[str]]:
    """Inflows and outflows (Python names) of ``stock`` (Vensim name), read from its INTEG."""
    name = python_names(spec).get(normalize_name(stock))
    assert name is not None, f"'{stock}' is not a variable of {MODEL_PATH.name}"
    assert name in spec.stock_flows, f"'{stock}' is not a stock"
    terms = spec.stock_flows[name]
    assert terms, f"the INTEG rate of '{stock}' is not a sum of flow variables"
    return [flow for sign, flow in terms if sign > 0], [flow for sign, flow in terms if sign < 0]


def non_negative_stocks(spec) -> list[str]:
    """Python names of the stocks counting persons or land."""
    return [name for name, var in spec.variables.items()
            if var.kind == "stock" and parse_units(var.units) in NON_NEGATIVE_UNITS]


def run_every_step(engine, params=None, **control):
    """Run with ``saveper`` equal to ``time_step`` so that every Euler step is saved."""
    time_step = control.pop("time_step", engine.control()["time_step"])
    return engine.run(params, time_step=time_step, saveper=time_step, **control)


def at(result, year: float) -> int:
    """Index of the saved time ``year`` [Year]."""
    matches = np.flatnonzero(np.isclose(result.time, year, rtol=0, atol=1e-6))
    assert matches.size == 1, f"{year} is not a saved time"
    return int(matches[0])


def constant(result, name: str) -> float:
    """Value of a constant in a run (constant over time)."""
    values = result[name]
    assert np.all(values == values[0])
    return float(values[0])


def assert_physically_plausible(result, spec, label: str) -> None:
    """Every output finite, no negative persons or land, rates in [0, 100] %, hukou <= resident."""
    not_finite = sorted(name for name, values in result.values.items()
                        if not np.all(np.isfinite(values)))
    assert not not_finite, f"{label}: NaN or infinite values in {not_finite}"
    negative = {name: float(result[name].min()) for name in non_negative_stocks(spec)
                if result[name].min() < -ROUNDING * np.abs(result[name]).max()}
    assert not negative, f"{label}: negative stocks (minimum over the run) {negative}"
    # a share of fewer than one person is a ratio of rounding residues (e.g. 1e-9 rural persons
    # against 0.0096 in all, 100.00001 %): the rates are checked where anybody is left
    populated = np.asarray(result["total_population"]) >= 1.0
    for name in RATES_IN_PERCENT:
        rate = np.asarray(result[name])[populated]
        # (1e-9 relative: 35 persons left with -1e-9 rural ones give 100 x (1 + 3e-11))
        assert np.all((rate >= -1e-7) & (rate <= 100 * (1 + 1e-9))), (
            f"{label}: {name} leaves [0, 100] %: min {result[name].min():.6g}, "
            f"max {result[name].max():.6g}"
        )
    assert np.all(np.asarray(result["hukou_urbanization_rate"])[populated]
                  <= np.asarray(result["urbanization_rate"])[populated] + 1e-9), (
        f"{label}: hukou rate above resident rate")


@pytest.fixture(scope="module")
def baseline(pysd_engine):
    """The baseline run, every time step saved."""
    return run_every_step(pysd_engine)


# ------------------------------------------------------------------------------ balances
@pytest.mark.parametrize("stock", BALANCED_STOCKS)
def test_stock_changes_by_its_net_flow_each_step(baseline, spec, stock):
    inflows, outflows = stock_flows(spec, stock)
    name = python_names(spec)[normalize_name(stock)]
    dt = np.diff(baseline.time)
    assert np.allclose(dt, dt[0])
    net_flow = sum(baseline[f] for f in inflows) - sum(baseline[f] for f in outflows)
    change = np.diff(baseline[name], axis=0)
    expected = dt.reshape((-1,) + (1,) * (change.ndim - 1)) * net_flow[:-1]
    scale = np.abs(baseline[name]).max()
    residual = np.abs(change - expected).max()
    assert residual <= BALANCE_TOLERANCE * scale, (
        f"'{stock}' does not follow its flows {inflows} - {outflows}: residual {residual:.3g}"
    )
    assert np.abs(change).max() > 0, f"'{stock}' never changes: the balance test is vacuous"


def test_population_totals_add_up(baseline):
    rural = baseline["rural_population"]
    non_hukou = baseline["urban_non_hukou_population"]
    hukou = baseline["urban_hukou_population"]
    np.testing.assert_allclose(baseline["urban_population"], non_hukou + hukou, rtol=1e-12)
    np.testing.assert_allclose(baseline["total_population"], rural + non_hukou + hukou,
                               rtol=1e-12)


def test_moves_inside_the_region_conserve_every_cohort(baseline):
    """Migration, reclassification and settlement move people between residences: summed over the
    residences they are zero for every age, sex and time step, and each of them acts."""
    moves = baseline["internal_migration"]  # (time, age, sex, residence)
    scale = np.abs(moves).max()
    assert scale > 0
    np.testing.assert_allclose(moves.sum(axis=-1), 0, rtol=0, atol=1e-12 * scale * moves.shape[-1])
    for flow in ("rural_to_urban_migration", "reclassification", "hukou_settlement"):
        assert baseline[flow].max() > 0, flow


def test_ageing_is_an_exact_cohort_shift(pysd_engine):
    """Without births, deaths and migration, each cohort moves up one cell per year, unchanged."""
    run = pysd_engine.run({"tfr_2015": 0, "base_rural_to_urban_migration_rate": 0,
                           "base_out_migration_rate": 0, "base_settlement_rate": 0,
                           "rural_residents_per_converted_km2": 0, "e0_2015": 79, "e0_trend": 0,
                           "initial_registered_absent_rural": 0})
    population = run["population"]  # (time, age, sex, residence), yearly
    for years in (1, 5):
        # the cohort of cell c in 2015 is in cell c+k k years later, less the deaths of those years
        survived = population[years, years:-1] / population[0, :-1 - years]
        assert np.all(survived <= 1 + 1e-12) and np.all(survived[:50] > 0.95), years
    np.testing.assert_array_equal(population[1:, 0], 0)  # no births: the first cell empties


def test_baseline_is_physically_plausible(baseline, spec):
    assert_physically_plausible(baseline, spec, "baseline")


def test_halving_the_time_step_barely_moves_the_2035_urbanization_rate(pysd_engine):
    time_step = pysd_engine.control()["time_step"]
    final_time = pysd_engine.control()["final_time"]
    columns = ["urbanization_rate"]
    coarse = pysd_engine.run(time_step=time_step, saveper=1, return_columns=columns)
    fine = pysd_engine.run(time_step=time_step / 2, saveper=1, return_columns=columns)
    difference = (fine["urbanization_rate"][at(fine, final_time)]
                  - coarse["urbanization_rate"][at(coarse, final_time)])
    assert abs(difference) < 0.05, f"integration error {difference:.4f} pp at dt {time_step}"


def test_decomposition_of_the_urbanization_change_closes(baseline):
    explained = sum(baseline[name] for name in DECOMPOSITION_STOCKS)
    change = baseline["urbanization_rate"] - baseline["urbanization_rate"][0]
    np.testing.assert_allclose(explained, change, rtol=0, atol=1e-9)
    assert np.abs(change).max() > 1, "the urbanization rate barely moves: the test is vacuous"


# ------------------------------------------------------------------------------ extreme conditions
def test_no_migration_leaves_only_the_other_components_of_urbanization(pysd_engine, spec, baseline):
    """With migration off, the migration component of the exact decomposition is zero and the rest
    of the change comes from reclassification, the natural-increase differential (an older rural
    population: more deaths, fewer births than in towns) and the out-migration differential.

    A threshold on the remaining rise (e.g. a quarter of the baseline rise) would be arbitrary: the
    aged countryside legitimately urbanizes the population without any move. What must hold is
    that the migration component vanishes, the components add up to the change, the rise is smaller
    than the baseline's by at least the baseline's migration component less what the other
    components gain from the larger rural pool, and that natural increase pushes the rate up.
    """
    run = run_every_step(pysd_engine, {"base_rural_to_urban_migration_rate": 0})
    assert_physically_plausible(run, spec, "no migration")
    assert np.all(run["rural_to_urban_migration"] == 0)
    assert np.all(run["urbanization_change_from_migration"] == 0)
    parts = {name: run[name][-1] for name in DECOMPOSITION_STOCKS}
    rise = run["urbanization_rate"][-1] - run["urbanization_rate"][0]
    np.testing.assert_allclose(sum(parts.values()), rise, rtol=0, atol=1e-9)
    baseline_rise = baseline["urbanization_rate"][-1] - baseline["urbanization_rate"][0]
    baseline_migration = baseline["urbanization_change_from_migration"][-1]
    assert baseline_migration > 0.5 * baseline_rise, "migration is the main component in the baseline"
    assert rise < baseline_rise - 0.5 * baseline_migration
    assert parts["urbanization_change_from_natural_increase"] > 0  # the aged countryside


def test_no_settlement_freezes_hukou_gains(pysd_engine, spec, baseline):
    run = run_every_step(pysd_engine, {"base_settlement_rate": 0, "student_and_talent_settlement": 0,
                                       "reclassification_registration_share": 0})
    assert_physically_plausible(run, spec, "no settlement")
    assert np.all(run["hukou_settlement"] == 0)
    assert np.all(run["cumulative_hukou_settlement"] == 0)
    hukou = run["urban_hukou_population"]
    # Without settlement the hukou population moves only by births, deaths and out-migration.
    dt = np.diff(run.time)
    natural_and_out = (run["hukou_births"] - run["hukou_deaths"] - run["hukou_out_migration"])
    np.testing.assert_allclose(np.diff(hukou), dt * natural_and_out[:-1], rtol=0,
                               atol=BALANCE_TOLERANCE * hukou.max())
    assert hukou.max() <= hukou[0] * 1.01
    rise = run["hukou_urbanization_rate"][-1] - run["hukou_urbanization_rate"][0]
    baseline_rise = (baseline["hukou_urbanization_rate"][-1]
                     - baseline["hukou_urbanization_rate"][0])
    assert rise < 0.2 * baseline_rise


def test_zero_water_cap_stops_migration_and_pushes_people_out(pysd_engine, spec, baseline):
    run = run_every_step(pysd_engine, {"regional_water_cap_2025": 0, "water_red_line_2015_2020": 0})
    assert_physically_plausible(run, spec, "zero water cap")
    assert np.all(run["water_cap"] == 0)
    assert np.all(run["water_stress_ratio"] == constant(run, "maximum_water_stress"))
    assert np.all(run["rural_to_urban_migration"] == 0)
    assert np.all(run["total_out_migration"] > baseline["total_out_migration"])
    assert run["total_population"][-1] < baseline["total_population"][-1]


def test_huge_out_migration_empties_the_region_without_going_negative(pysd_engine, spec):
    run = run_every_step(pysd_engine, {"base_out_migration_rate": 5.0})
    assert_physically_plausible(run, spec, "huge out-migration")
    total = run["total_population"]
    assert np.all(np.diff(total) < 0), "population must fall at every step"
    assert total[-1] < 0.01 * total[0]


def test_zero_land_quota_with_full_enforcement_freezes_land_in_the_plan_period(pysd_engine, spec):
    # a planned land per resident above the 2015 level keeps a land demand throughout, so the
    # freeze is the quota's doing and land must grow again after 2025
    run = run_every_step(pysd_engine, {"new_land_quota_2021_2025": 0,
                                       "land_quota_enforcement": 1,
                                       "planned_land_per_urban_resident_2035": 130})
    assert_physically_plausible(run, spec, "zero land quota")
    start = constant(run, "plan_period_start")
    end = constant(run, "plan_period_end")
    flows_in_period = (run.time >= start - 1e-9) & (run.time < end - 1e-9)
    assert flows_in_period.sum() > 0
    assert np.all(run["urban_land_conversion"][flows_in_period] == 0)
    assert np.all(run["reclassification"][flows_in_period] == 0)
    land = run["urban_construction_land"]
    assert np.all(land[at(run, start):at(run, end) + 1] == land[at(run, start)])
    assert land[-1] > land[at(run, end)], "land must grow again once the quota period is over"


@pytest.mark.parametrize("enforcement", [0, 1])
def test_land_quota_binds_only_when_enforced(pysd_engine, spec, enforcement):
    """A loose land standard (300 m2 per resident) demands more land than the quota allows."""
    run = run_every_step(pysd_engine, {"land_quota_enforcement": enforcement,
                                       "planned_land_per_urban_resident_2035": 300})
    assert_physically_plausible(run, spec, f"loose land standard, enforcement {enforcement}")
    start = constant(run, "plan_period_start")
    end = constant(run, "plan_period_end")
    quota = (constant(run, "new_land_quota_2021_2025") * constant(run, "m2_per_mu")
             / constant(run, "m2_per_km2"))
    land = run["urban_construction_land"]
    new_land = land[at(run, end)] - land[at(run, start)]
    if enforcement == 0:
        assert new_land > quota
    else:
        assert new_land <= quota * (1 + 1e-9)


def test_zero_fertility_leaves_only_deaths_and_out_migration(pysd_engine, spec):
    run = run_every_step(pysd_engine, {"tfr_2015": 0})
    assert_physically_plausible(run, spec, "zero fertility")
    for flow in ("rural_births", "non_hukou_births", "hukou_births"):
        assert np.all(run[flow] == 0), flow
    total = run["total_population"]
    dt = np.diff(run.time)
    np.testing.assert_allclose(np.diff(total), -dt * (run["total_deaths"] + run["total_out_migration"])[:-1],
                               rtol=0, atol=BALANCE_TOLERANCE * total.max())
    assert np.all(np.diff(total) < 0)
    # the cohorts born from 2016 on never exist: the first cell is empty after the first year
    young = run["population_by_age"][:, 0]
    assert np.all(young[run.time >= 2016 - 1e-9] == 0)


def test_instant_settlement_empties_the_non_hukou_pool(pysd_engine, spec, baseline):
    run = run_every_step(pysd_engine, {"base_settlement_rate": 100})
    assert_physically_plausible(run, spec, "instant settlement")
    # Settlement is capped at the pool / minimum outflow time, so the initial pool decays at
    # least as fast as exp(-t / minimum outflow time): after five of those times it is < 1 %.
    settle_time = constant(run, "minimum_outflow_time")
    later = run.time >= run.time[0] + 5 * settle_time
    non_hukou = run["urban_non_hukou_population"]
    assert np.all(non_hukou[later] < 0.1 * baseline["urban_non_hukou_population"][later])
    assert np.all(run["urbanization_gap"][later] < 0.1 * baseline["urbanization_gap"][later])
    assert np.all(run["hukou_settlement"]
                  <= non_hukou / constant(run, "minimum_outflow_time") * (1 + 1e-12))


def test_huge_migration_rate_empties_the_countryside_without_going_negative(pysd_engine, spec):
    run = run_every_step(pysd_engine, {"base_rural_to_urban_migration_rate": 10})
    assert_physically_plausible(run, spec, "huge migration rate")
    assert run["urbanization_rate"][-1] > 95


def test_county_town_investment_raises_urbanization_monotonically(pysd_engine, spec, baseline):
    runs = {0.0: baseline}
    for level in (0.5, 1.0):
        runs[level] = run_every_step(pysd_engine, {"county_town_investment": level})
        assert_physically_plausible(runs[level], spec, f"county town investment {level}")
    start = constant(baseline, "plan_period_start")
    before = baseline.time <= start + 1e-9
    rates = [runs[level]["urbanization_rate"] for level in (0.0, 0.5, 1.0)]
    for lower, higher in zip(rates, rates[1:]):
        np.testing.assert_array_equal(lower[before], higher[before])
        assert np.all(higher >= lower - 1e-9)
        assert higher[-1] > lower[-1]


def test_doubled_leakage_target_raises_water_demand_after_the_plan_start(pysd_engine, spec,
                                                                         baseline):
    leakage = 2 * spec.variables["leakage_target"].value
    run = run_every_step(pysd_engine, {"leakage_target": leakage})
    assert_physically_plausible(run, spec, "doubled leakage target")
    start = constant(run, "plan_period_start")
    before = run.time <= start + 1e-9
    np.testing.assert_array_equal(run["urban_water_demand"][before],
                                  baseline["urban_water_demand"][before])
    assert np.all(run["urban_water_demand"][~before] > baseline["urban_water_demand"][~before])
    assert np.all(run["water_stress_ratio"][~before] > baseline["water_stress_ratio"][~before])


def test_outflow_limits_hold_at_the_largest_documented_time_step(pysd_engine, spec):
    """'minimum outflow time' promises non-negative stocks for any time step up to its value."""
    time_step = spec.variables["minimum_outflow_time"].value
    run = run_every_step(pysd_engine, {"base_out_migration_rate": 5.0}, time_step=time_step)
    assert_physically_plausible(run, spec, f"huge out-migration at TIME STEP {time_step}")


# ------------------------------------------------------------------------------ registration
def test_registered_population_without_absent_people_is_the_resident_one(pysd_engine):
    """No out-migration, nobody absent, every non-hukou resident from the region's villages: the
    registered population is the resident one and the official hukou rate is the approximation."""
    run = pysd_engine.run({"base_out_migration_rate": 0, "initial_registered_absent_rural": 0,
                           "initial_registered_absent_urban": 0, "local_origin_share": 1})
    np.testing.assert_allclose(run["registered_population"], run["total_population"], rtol=1e-12)
    np.testing.assert_allclose(run["official_hukou_urbanization_rate"], run["hukou_urbanization_rate"],
                               rtol=1e-12)


def test_out_migrants_stay_registered_until_they_transfer(pysd_engine, baseline):
    assert np.all(baseline["registered_population"] > baseline["total_population"])
    slow = pysd_engine.run({"hukou_transfer_time": 30})
    fast = pysd_engine.run({"hukou_transfer_time": 3})
    assert np.all(slow["registered_absent_rural"][1:] > fast["registered_absent_rural"][1:])


def test_reclassification_that_changes_registration_raises_only_the_hukou_rates(pysd_engine, baseline):
    run = pysd_engine.run({"reclassification_registration_share": 1})
    # the urban population moves only through the age composition of the flows (the Rogers-Castro
    # weights are normalised per residence): well below 0.1 %, while the hukou rates move by points
    np.testing.assert_allclose(run["urban_population"], baseline["urban_population"][::4], rtol=1e-3)
    assert run["hukou_urbanization_rate"][-1] > baseline["hukou_urbanization_rate"][-1]
    assert run["official_hukou_urbanization_rate"][-1] > baseline["official_hukou_urbanization_rate"][-1]
