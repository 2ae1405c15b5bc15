"""The parametric schedules (base/demography.py) and the census initial state (base/census.py)."""
from __future__ import annotations

import numpy as np
import pytest

from base import census, demography as demo


def test_every_assumption_is_marked_and_inside_its_range():
    for name, assumption in demo.ASSUMPTIONS.items():
        assert assumption.low <= assumption.value <= assumption.high, name
        assert assumption.why.startswith("Assumption"), name
    with pytest.raises(ValueError, match="outside its range"):
        demo.Assumption(2.0, 0.0, 1.0, "Dmnl", "Assumption: bad")


@pytest.mark.parametrize("tfr", [0.8, 1.3, 2.1])
def test_fertility_sums_to_the_tfr_and_stays_in_the_fertile_ages(tfr):
    rates = demo.asfr(tfr)
    np.testing.assert_allclose(rates.sum(), tfr, rtol=1e-9)  # one year per cell
    assert np.all(rates[:15] == 0) and np.all(rates[51:] == 0)
    assert np.all(rates >= 0)
    mean_age = (demo.AGE_LOWER * rates).sum() / rates.sum()
    assert 26 < mean_age < 30  # Hadwiger location 27.5


@pytest.mark.parametrize("e0", [60.0, 74.44, 77.56, 85.0])
def test_life_table_reproduces_its_anchor(e0):
    table = demo.life_table(e0)
    np.testing.assert_allclose(table.person_years.sum(), e0, rtol=1e-12)
    assert np.all(np.diff(table.survivors[:-1]) < 0)
    assert np.all(np.diff(table.hazard[10:]) > 0)  # senescent part rises with age from age 10
    np.testing.assert_allclose(table.hazard, table.level * demo.reference_hazard(), rtol=1e-14)


def test_mortality_level_falls_as_life_expectancy_rises():
    levels = [demo.life_table(e0).level for e0 in (70.0, 75.0, 80.0, 85.0)]
    assert all(a > b for a, b in zip(levels, levels[1:]))


def test_life_expectancy_outside_the_schedule_is_refused():
    with pytest.raises(ValueError, match="outside 40-95"):
        demo.life_table(30.0)


def test_e0_by_sex_keeps_the_birth_weighted_mean():
    male, female = demo.e0_by_sex(76.0, gap=5.0, srb=1.1)
    assert female - male == pytest.approx(5.0)
    assert (1.1 * male + female) / 2.1 == pytest.approx(76.0)


def test_migration_profile_peaks_at_young_adult_ages_with_mean_one():
    weights = np.linspace(1.0, 2.0, demo.N_AGE)
    profile = demo.migration_profile(weights)
    np.testing.assert_allclose((profile * weights).sum() / weights.sum(), 1.0, rtol=1e-12)
    assert 20 <= int(np.argmax(profile)) <= 27


@pytest.fixture(scope="module")
def state_2020():
    return census.census_2020()


def test_2020_state_keeps_every_census_figure(state_2020):
    figures = census.census_figures(2020)
    counts = state_2020.counts
    by_age = counts.sum(axis=(1, 2))
    assert np.all(counts >= 0)
    np.testing.assert_allclose(counts.sum(), figures["census_population"] * 1e4, rtol=1e-12)
    np.testing.assert_allclose(counts[:, 0].sum(), figures["census_male_population"] * 1e4, rtol=1e-12)
    np.testing.assert_allclose(counts[:, :, 0].sum(), figures["census_rural_population"] * 1e4, rtol=1e-12)
    hukou = census.census_figures(2018)["hukou_urbanization_rate_pct"] / 100
    np.testing.assert_allclose(counts[:, :, 2].sum() / counts.sum(), hukou, rtol=1e-12)
    for lower, upper, name in [(0, 10, "0_9"), (10, 15, "10_14"), (15, 20, "15_19"), (20, 30, "20_29"),
                               (50, 60, "50_59"), (60, 65, "60_64"), (65, 70, "65_69"), (80, 90, "80_89")]:
        np.testing.assert_allclose(by_age[lower:upper].sum(), figures[f"census_pop_age_{name}"] * 1e4,
                                   rtol=1e-9, err_msg=name)
    np.testing.assert_allclose(by_age[90], figures["census_pop_age_90plus"] * 1e4, rtol=1e-9)
    np.testing.assert_allclose(state_2020.share(65), figures["census_share_age_65plus_pct"] / 100, atol=5e-5)


def test_residence_age_profiles_follow_the_stated_assumptions(state_2020):
    counts = state_2020.counts
    old = [counts[65:, :, k].sum() / counts[:, :, k].sum() for k in range(3)]
    rural, non_hukou, hukou = old
    assert rural > hukou > non_hukou  # rural older; migrants young (Rogers-Castro)


def test_2010_state_keeps_the_census_broad_groups():
    figures = census.census_figures(2010)
    state = census.census_2010()
    assert np.all(state.counts >= 0)
    np.testing.assert_allclose(state.total, figures["census_population"] * 1e4, rtol=1e-12)
    for lower, upper, name in [(0, 15, "0_14"), (15, 60, "15_59"), (60, None, "60plus"), (65, None, "65plus")]:
        np.testing.assert_allclose(state.share(lower, upper), figures[f"census_share_age_{name}_pct"] / 100,
                                   rtol=1e-9, err_msg=name)
    males, females = state.counts[:, 0].sum(), state.counts[:, 1].sum()
    np.testing.assert_allclose(100 * males / females, figures["census_sex_ratio"], rtol=1e-9)
    np.testing.assert_allclose(state.counts[:, :, 1:].sum(), figures["census_urban_population"] * 1e4,
                               rtol=1e-12)


def test_missing_census_figure_is_named(monkeypatch):
    figures = census.census_figures(2020)
    del figures["census_pop_age_20_29"]
    with pytest.raises(census.CensusDataError, match="census_pop_age_20_29"):
        census.ungroup_2020(figures)


def test_2015_state_by_reverse_survival_keeps_the_2015_totals():
    state = census.census_2015()
    figures = census.census_figures(2015)
    assert np.all(state.counts >= 0)
    np.testing.assert_allclose(state.total, census.POPULATION_2015, rtol=1e-12)
    np.testing.assert_allclose(state.counts[:, :, 1:].sum() / state.total,
                               figures["urbanization_rate_pct_revised"] / 100, rtol=1e-12)
    np.testing.assert_allclose(state.counts[:, :, 2].sum() / state.total,
                               figures["hukou_urbanization_rate_pct"] / 100, rtol=1e-12)
    assert 0.0756 < state.share(65) < 0.1305  # between the 2010 and 2020 censuses
