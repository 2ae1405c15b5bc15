"""Process noise and model-form alternatives of the ensemble (simulator/bands.py, .Process noise)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from base.paths import DATA_PATH, REPO_ROOT
from model.engines import PySDEnsemble
from simulator.bands import SHOCKS, BandsConfig, ar1, draw_bands, noise_years
from simulator.validation import SettingsError

BANDS_FILE = REPO_ROOT / "scenarios" / "bands" / "default.yaml"
COLUMNS = ["urbanization_rate", "total_population", "rural_population", "urban_hukou_population",
           "total_out_migration", "migration_noise_factor"]
NEUTRAL = {"migration_response_form": 0.0, "lookup_shape_strength": 1.0,
           "migration_trend_after_2020": 0.0, "out_migration_trend_break_factor": 1.0}


@pytest.fixture(scope="module")
def config() -> BandsConfig:
    return BandsConfig.from_config(yaml.safe_load(BANDS_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def vm():
    from model import MODEL_PATH
    from model.vectorized import VectorizedModel

    return VectorizedModel.from_mdl(MODEL_PATH)


def test_engines_agree_with_shocks_and_every_model_form(vm, spec, pysd_engine, config):
    """Non-zero shocks in every year and each form: PySD and the vectorized engine within 1e-9."""
    drawn = draw_bands(config.with_first_year(2016), spec, 3, np.random.SeedSequence(5))
    drawn.update({"migration_response_form": np.array([0.0, 1.0, 1.0]),
                  "lookup_shape_strength": np.array([1.0, 0.5, 1.5]),
                  "migration_trend_after_2020": np.array([0.0, 0.02, -0.02]),
                  "out_migration_trend_break_factor": np.array([1.0, 0.0, 2.0]),
                  "out_migration_trend": 0.02})
    assert all(np.any(drawn[name] != 0) for name in SHOCKS)
    fast = vm.run(params=drawn, n_samples=3, return_columns=COLUMNS)
    slow = PySDEnsemble(engine=pysd_engine).run(params=drawn, n_samples=3, return_columns=COLUMNS)
    for name in COLUMNS:
        reference = slow.values[name]
        np.testing.assert_allclose(fast.values[name], reference, rtol=1e-9, atol=0, err_msg=name)
    # the forms and the shocks move the run (else the test above proves nothing)
    rates = fast.values["urbanization_rate"][-1]
    assert np.ptp(rates) > 0.1


def test_neutral_values_reproduce_the_run_without_them(vm, spec):
    """Zero shocks and the neutral forms give today's run bit for bit."""
    n_years = len(spec.coords["noise year"])
    neutral = {**NEUTRAL, **{name: np.zeros((2, n_years)) for name in SHOCKS}}
    plain = vm.run(params={"base_out_migration_rate": np.array([0.005, 0.007])}, n_samples=2, return_columns=COLUMNS)
    explicit = vm.run(params={"base_out_migration_rate": np.array([0.005, 0.007]), **neutral}, n_samples=2,
                      return_columns=COLUMNS)
    for name in COLUMNS:
        np.testing.assert_array_equal(explicit.values[name], plain.values[name], err_msg=name)
    assert draw_bands(BandsConfig(), spec, 10, np.random.SeedSequence(1)) == {}


def test_each_years_shock_acts_on_that_years_flows_only(vm, spec):
    """migration shock[y2021] = 0.3 multiplies the migration rate by exp(0.3) between 2020 and 2021."""
    years = noise_years(spec)
    shock = np.zeros(years.size)
    shock[years == 2021] = 0.3
    run = vm.run(params={"migration_shock": shock}, n_samples=1, saveper=0.25, final_time=2023,
                 return_columns=["migration_noise_factor"])
    factor = run.values["migration_noise_factor"][:, 0]
    inside = (run.time >= 2020 - 1e-9) & (run.time < 2021 - 1e-9)
    np.testing.assert_allclose(factor[inside], np.exp(0.3), rtol=1e-12)
    np.testing.assert_array_equal(factor[~inside], 1.0)


def test_drawn_shocks_have_the_configured_sd_and_autocorrelation(spec, config):
    """4,000 members: the sd of each year's shocks is within 5 % of sigma (the sampling sd of an sd
    estimate is sigma/sqrt(2N) = 1.1 %, so 5 % is 4.5 of them) and shocks before first_year are 0."""
    n = 4000
    drawn = draw_bands(config, spec, n, np.random.SeedSequence(11))
    years = noise_years(spec)
    for name in SHOCKS:
        sigma, _ = config.noise[name]
        values = drawn[name]
        assert np.all(values[:, years < config.first_year] == 0)
        sd = values[:, years >= config.first_year].std(axis=0, ddof=1)
        np.testing.assert_allclose(sd, sigma, rtol=0.05, err_msg=name)
    # AR(1): stationary sd and lag-1 autocorrelation (sd of r about (1 - phi^2)/sqrt(N) = 0.01)
    series = ar1(n, 15, 0.1, 0.6, np.random.default_rng(3))
    np.testing.assert_allclose(series.std(axis=0, ddof=1), 0.1, rtol=0.05)
    r1 = np.mean([np.corrcoef(series[:, j], series[:, j + 1])[0, 1] for j in range(14)])
    assert abs(r1 - 0.6) < 0.03
    # forms: the logistic share and the break probability within 4 binomial sd
    for share, expected in ((np.mean(drawn["migration_response_form"]), config.form_weights[1]),
                            (np.mean(drawn["migration_trend_after_2020"] != 0), config.break_probability)):
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    low, high = config.lookup_strength
    assert low <= drawn["lookup_shape_strength"].min() and drawn["lookup_shape_strength"].max() <= high


def test_the_same_seed_gives_the_same_draws_and_fixed_parameters_stay_fixed(spec, config):
    seed = np.random.SeedSequence(20211122).spawn(3)[2]
    first = draw_bands(config, spec, 50, seed)
    again = draw_bands(config, spec, 50, seed)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
    fixed = draw_bands(config, spec, 50, seed, fixed={"lookup_shape_strength", "fertility_shock"})
    assert "lookup_shape_strength" not in fixed and "fertility_shock" not in fixed
    np.testing.assert_array_equal(fixed["mortality_shock"], first["mortality_shock"])  # streams unchanged


def test_the_configured_process_noise_is_the_estimate_from_the_record(config):
    """scenarios/bands/default.yaml holds what calibration.process_noise estimates (4 decimals)."""
    from calibration.process_noise import estimate

    estimates = estimate(pd.read_csv(DATA_PATH))
    assert set(estimates) == set(config.noise) == set(SHOCKS)
    for name, value in estimates.items():
        sigma, phi = config.noise[name]
        assert sigma == pytest.approx(value.sigma, abs=6e-5), name
        assert phi == pytest.approx(value.phi, abs=6e-4), name
        assert 0.005 < value.sigma < 0.5  # a relative yearly variation, not a level


def test_a_bad_bands_section_is_refused_with_the_key():
    with pytest.raises(SettingsError, match="process_noise.migraton_shock"):
        BandsConfig.from_config({"enabled": True, "process_noise": {"migraton_shock": {"sigma": 0.1}}})
    with pytest.raises(SettingsError, match="weights"):
        BandsConfig.from_config({"enabled": True, "model_form": {"migration_response_form_weights": [0.7, 0.7]}})
