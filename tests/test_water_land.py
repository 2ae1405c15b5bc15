"""Water by sector under the dated cap and all new urban land under the quota (issue 11).

Structure and extreme-condition tests on the vectorized engine (its equality with PySD is tested in
tests/test_vectorized.py): the cap and the quota are respected whatever the parameters, domestic use
has the first claim, irrigation gives way before industry, the dated cap and the dry years fall in
the years they should, and every feedback created here has a strength that, at 0, removes it.
"""
from __future__ import annotations

import numpy as np
import pytest

from model.engines import make_engine

#: Parameters varied over their documented ranges in the randomised tests.
VARIED = ("total_water_use_2015", "industrial_water_use_2015", "ecological_water_use_2015",
          "irrigated_area_trend_to_2020", "irrigation_efficiency_gain", "industrial_output_growth",
          "industrial_water_intensity_trend", "ecological_water_trend", "maximum_irrigation_compression",
          "rural_domestic_water_per_resident", "development_zone_land_2015", "infrastructure_land_share",
          "city_share_of_urban_residents", "town_land_per_resident", "planned_land_per_urban_resident_2035",
          "settlement_linked_quota_share", "land_adjustment_time", "irrigated_area_trend_after_2020")
#: Members of the randomised ensembles.
MEMBERS = 64
#: Relative slack for comparisons of sums of floating-point terms of size ~1e10.
REL = 1e-9


@pytest.fixture(scope="module")
def engine():
    return make_engine("vectorized")


def every_step(engine, params, n=None):
    return engine.run(params, n_samples=n, time_step=0.25, saveper=0.25)


def random_params(spec, n: int, seed: int, **fixed) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for name in VARIED:
        low, high = spec.parameters[name].limits
        params[name] = rng.uniform(low, high, n)
    params.update(fixed)
    return params


def index(result, year: float) -> int:
    return int(np.flatnonzero(np.isclose(result.time, year, atol=1e-6))[0])


@pytest.mark.parametrize("cap", [1.4e10, 1.963e10])
def test_enforced_cap_is_respected_and_domestic_use_is_served_first(engine, spec, cap):
    run = every_step(engine, random_params(spec, MEMBERS, 11, regional_water_cap_2025=cap,
                                           water_cap_phase_in=0.0, water_cap_enforcement=1.0), MEMBERS)
    after = run.time > 2020.2
    use, limit = run["total_water_demand"][after], run["effective_water_cap"][after]
    domestic = run["domestic_water_demand"][after]
    assert np.all(use <= np.maximum(limit, domestic) * (1 + REL))
    supplied = (run["agricultural_water_use"] + run["industrial_water_use"] + run["ecological_water_use"]
                + run["urban_water_demand"] + run["rural_domestic_water_use"])
    np.testing.assert_allclose(supplied, run["total_water_demand"], rtol=REL)
    binds = run["water_cap_binds"][after] > 0
    if cap < 1.5e10:  # far below the 2015 use of every member (170e8 or more)
        assert binds.mean() > 0.9, "a cap far below demand binds in nearly every member-year"
    # irrigation gives way first: industry keeps all its water while irrigation is below its limit
    compression = run["irrigation_compression_share"]
    limit_share = run["maximum_irrigation_compression"]
    below = compression < limit_share * (1 - 1e-6)
    assert np.all(run["industrial_water_fulfilment"][below] == pytest.approx(1.0))
    assert np.all(run["water_margin"][after][binds] < 0)


def test_zero_cap_leaves_domestic_use_only(engine):
    run = every_step(engine, {"regional_water_cap_2025": 0.0, "water_red_line_2015_2020": 0.0})
    assert np.all(run["agricultural_water_use"] == 0) and np.all(run["industrial_water_use"] == 0)
    np.testing.assert_allclose(run["total_water_demand"], run["domestic_water_demand"], rtol=REL)
    assert np.all(run["industrial_water_fulfilment"] == 0)
    assert np.all(run["urban_job_effect_on_attractiveness"] == 0)


def test_unenforced_cap_lets_every_sector_have_its_demand(engine):
    run = every_step(engine, {"regional_water_cap_2025": 1.0e10, "water_cap_phase_in": 0.0,
                              "water_cap_enforcement": 0.0})
    np.testing.assert_allclose(run["total_water_demand"], run["total_water_demand_before_cap"], rtol=REL)
    assert np.all(run["industrial_water_fulfilment"] == 1)
    assert np.all(run["water_cap_binds"][run.time > 2020.2] == 1)


def test_caps_apply_from_the_year_they_were_set_and_dry_years_fall_where_they_should(engine):
    run = every_step(engine, {"water_cap_phase_in": 0.0, "dry_year_shortfall": 0.1,
                              "dry_sequence_start": 2021, "dry_spell_length": 1, "dry_cycle_length": 4})
    cap = run["regional_water_cap"][:, 0]
    red_line, cap_2025 = run["water_red_line_2015_2020"][0, 0], run["regional_water_cap_2025"][0, 0]
    assert np.all(cap[run.time <= 2020 + 1e-6] == red_line)
    assert np.all(cap[run.time > 2020.2] == cap_2025)
    factor = run["water_availability_factor"][:, 0]
    for year in range(2016, 2036):
        expected = 0.9 if year in (2022, 2026, 2030, 2034) else 1.0
        assert factor[index(run, year)] == pytest.approx(expected), year
    phased = every_step(engine, {"water_cap_phase_in": 1.0})
    middle = phased["regional_water_cap"][index(phased, 2023), 0]
    assert cap_2025 < middle < red_line
    assert phased["regional_water_cap"][index(phased, 2025), 0] == pytest.approx(cap_2025)


@pytest.mark.parametrize("quota", [0.0, 2.0e6])
def test_land_quota_is_respected_on_all_new_land(engine, spec, quota):
    outside = 0.0 if quota == 0 else 500.0  # no backlog from 2016-2020 when the quota is huge
    params = random_params(spec, MEMBERS, 12, new_land_quota_2021_2025=quota, land_quota_enforcement=1.0,
                           annual_land_quota_2016_2020=outside,
                           annual_land_quota_after_2025=outside)
    params["industrial_output_growth"] = np.full(MEMBERS, 0.08)  # a strong development-zone demand
    run = every_step(engine, params, MEMBERS)
    in_period = (run.time >= 2020 - 1e-6) & (run.time < 2025 - 1e-6)
    conversion, allowed = run["urban_land_conversion"][in_period], run["annual_land_quota"][in_period]
    assert np.all(conversion <= allowed * (1 + REL) + 1e-12)
    parts = (run["city_land_conversion"] + run["town_land_conversion"]
             + run["development_zone_land_conversion"] + run["infrastructure_land_conversion"])
    np.testing.assert_allclose(parts, run["urban_land_conversion"], rtol=1e-9, atol=1e-9)
    total = run["total_urban_construction_land"]
    new_land = total[index(run, 2025)] - total[index(run, 2020)]
    if quota == 0:
        assert np.all(new_land == 0)
    else:  # a huge quota never binds: every kind of land gets all it wants
        assert np.all(run["land_demand_fulfilment"][in_period] == 1)
        assert np.all(run["land_quota_binds"][in_period] == 0)


def test_settlement_linked_quota_follows_settlement_within_its_bounds(engine):
    base = every_step(engine, {"settlement_linked_quota_share": 0.0})
    linked = every_step(engine, {"settlement_linked_quota_share": 0.5})
    settled = linked["hukou_settlement"][:, 0]
    for year in (2021, 2023, 2024):
        i = index(linked, year)
        ratio = min(settled[i] / 60000.0, linked["maximum_settlement_quota_multiplier"][i, 0])
        assert linked["annual_land_quota"][i, 0] == pytest.approx(
            base["annual_land_quota"][i, 0] * (0.5 + 0.5 * ratio), rel=1e-9)
    outside = linked.time > 2025.2
    np.testing.assert_array_equal(linked["annual_land_quota"][outside], base["annual_land_quota"][outside])


@pytest.mark.parametrize("strength, effect", [("water_jobs_elasticity", "urban_job_effect_on_attractiveness"),
                                              ("irrigation_push_elasticity",
                                               "irrigation_compression_effect_on_attractiveness")])
def test_each_water_feedback_has_a_strength_that_removes_it(engine, strength, effect):
    tight = {"regional_water_cap_2025": 1.5e10, "water_cap_phase_in": 0.0, "maximum_irrigation_compression": 0.05}
    on = every_step(engine, tight)
    off = every_step(engine, {**tight, strength: 0.0})
    after = on.time > 2020.2
    assert np.all(on[effect][after] != 1), "the tight cap must make the effect act"
    assert np.all(off[effect] == 1)
    assert on["urbanization_rate"][-1, 0] != pytest.approx(off["urbanization_rate"][-1, 0], abs=1e-6)
