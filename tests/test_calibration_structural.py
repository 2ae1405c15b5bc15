"""Structural (prior) uncertainty: the sampler's building blocks, the posterior on model-generated
data, per-set structural values in the objective, and the parameter file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from base.paramfile import load_uncertainty

from calibration.config import load_config
from base.observations import load_observations
from model.engines import make_engine
from calibration.fit import batched_levenberg_marquardt
from calibration.objective import make_problem
from calibration.observation import Observations, build_observations
from calibration.structural import (StructuralPrior, effective_sample_size, find_data_free,
                                    ks_distance_uniform, log_weights_to_weights, smc_profile_posterior,
                                    systematic_resample)

ROOT = Path(__file__).resolve().parents[1]
PARAMETER_FILE = ROOT / "scenarios" / "calibrated" / "default.yaml"

# Synthetic problem: the fitted parameters of the calibration at known values, three structural
# parameters: one the birth rates inform (catch-up time, truth away from the .mdl value 1 and from
# the prior centre 1.75), one with a negligible effect on the fitted figures (2015 domestic water
# per urban resident: it only moves urban water use within the total), one with none (county-town gain:
# it multiplies a lever that is 0 until 2020).
STRUCTURAL = ("two_child_catch_up_time", "domestic_water_per_urban_resident_2015", "county_town_attractiveness_gain")
TRUE_STRUCTURAL = {"two_child_catch_up_time": 1.6, "domestic_water_per_urban_resident_2015": 100.0,
                   "county_town_attractiveness_gain": 0.15}
TRUTH = {"base_rural_to_urban_migration_rate": 0.029, "base_settlement_rate": 0.0085,
         "base_out_migration_rate": 0.0045, "tfr_2015": 1.1, "tfr_trend": 0.01,
         "two_child_catch_up_peak": 0.25, "reporting_bias_population": 0.006, "reporting_bias_urbanization": 0.33,
         "reporting_bias_deaths": 0.2}
SIGMA = {"urbanization_rate": 0.05, "total_population": 10_000.0, "crude_birth_rate": 0.15,
         "crude_death_rate": 0.15, "hukou_urbanization_rate": 0.5, "settled_since_2015": 28_868.0,
         "total_water_use": 9.5}


# ----------------------------------------------------------------------------------- building blocks
def test_effective_sample_size_of_known_weights():
    assert effective_sample_size([1, 1, 1, 1]) == pytest.approx(4.0)
    assert effective_sample_size([0.25, 0.25, 0.25, 0.25]) == pytest.approx(4.0)
    assert effective_sample_size([1, 0, 0, 0]) == pytest.approx(1.0)
    assert effective_sample_size([0.5, 0.25, 0.25]) == pytest.approx(1 / (0.25 + 2 * 0.0625))  # 8/3
    assert effective_sample_size([3, 1]) == pytest.approx(16 / 10)
    # from log-weights without overflow
    assert effective_sample_size(log_weights_to_weights(np.array([-1000.0, -1000.0]))) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        effective_sample_size([0, 0])
    with pytest.raises(ValueError):
        effective_sample_size([1, -1])


def test_ks_distance_and_resampling():
    assert ks_distance_uniform(np.array([0.5])) == pytest.approx(0.5)
    grid = (np.arange(100) + 0.5) / 100
    assert ks_distance_uniform(grid) == pytest.approx(0.005)
    # weights put everything on the smallest point: distance 1 - 0.1
    assert ks_distance_uniform(np.array([0.1, 0.9]), np.array([1.0, 0.0])) == pytest.approx(0.9)
    rng = np.random.default_rng(0)
    assert set(systematic_resample(np.array([0.0, 1.0, 0.0]), rng)) == {1}
    counts = np.bincount(systematic_resample(np.array([0.25, 0.75, 0.0, 0.0]), rng), minlength=4)
    assert counts.tolist() == [1, 3, 0, 0]


def test_structural_prior_refuses_levers_and_duplicates(spec):
    prior = StructuralPrior.from_spec(spec, ["migration_saturation_exponent"])
    assert prior.lower.tolist() == [0.0] and prior.upper.tolist() == [3.0]
    assert prior.mdl.tolist() == [spec.parameters["migration_saturation_exponent"].value]
    with pytest.raises(ValueError, match="lever"):
        StructuralPrior.from_spec(spec, ["county_town_investment"])
    with pytest.raises(ValueError, match="twice"):
        StructuralPrior.from_spec(spec, ["income_gap_trend", "income_gap_trend"])


# ----------------------------------------------------------------------------------- per-set values
@pytest.fixture(scope="module")
def engine():
    return make_engine("vectorized")


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def frame():
    return load_observations()


def test_per_set_structural_values_match_fixed_values(engine, spec, cfg, frame):
    """Predictions with one structural row per set equal those of problems with the values fixed."""
    observations = build_observations(frame, "bias", series=list(cfg.observation.series), start_rates=True)
    varying = make_problem(engine, observations, list(cfg.parameters), spec, SIGMA, varying=STRUCTURAL)
    x = np.full((2, varying.n_params), 0.4)
    u = np.array([[0.7, 90.0, 0.0], [2.5, 130.0, 0.5]])
    together = varying.predict(x, u)
    for k in range(2):
        fixed = make_problem(engine, observations, list(cfg.parameters), spec, SIGMA,
                             fixed=dict(zip(STRUCTURAL, u[k])))
        np.testing.assert_allclose(together[k], fixed.predict(x[k:k + 1])[0], rtol=1e-12)
    # without u the .mdl values apply; LM refits with u held fixed keep u and match one-set fits
    np.testing.assert_allclose(varying.predict(x[:1])[0],
                               make_problem(engine, observations, list(cfg.parameters), spec, SIGMA).predict(x[:1])[0])
    data = np.vstack([together[0], together[0]])
    sol, cost = batched_levenberg_marquardt(varying, np.full((2, varying.n_params), 0.5), data, u=u)
    single, single_cost = batched_levenberg_marquardt(varying, np.full((1, varying.n_params), 0.5), data[1:], u=u[1:])
    np.testing.assert_allclose(sol[1], single[0], atol=1e-10)
    assert cost[0] < 1e-8  # the data came from set 0's structural values
    with pytest.raises(ValueError, match="both fitted and structural"):
        make_problem(engine, observations, list(cfg.parameters), spec, SIGMA, varying=["base_settlement_rate"])


# ----------------------------------------------------------------------------------- the sampler
@pytest.fixture(scope="module")
def synthetic_posterior(engine, spec, cfg, frame):
    """The structural posterior on data generated by the model at known values (plus seeded noise)."""
    observations = build_observations(frame, "bias", series=list(cfg.observation.series), start_rates=True)
    # tfr_trend is held at its truth: fitted too, the five birth rates trade a longer two-child pulse
    # against a rising TFR and pin neither sharply (the real calibration: catch-up time 90 % [0.60,
    # 1.82] of [0.5, 3]). This tests the sampler, so it needs a structural parameter the data pin.
    fitted = [name for name in cfg.parameters if name != "tfr_trend"]
    problem = make_problem(engine, observations, fitted, spec, SIGMA, varying=STRUCTURAL,
                           fixed={"tfr_trend": TRUTH["tfr_trend"]})
    truth = problem.to_unit(np.array([TRUTH[n] for n in problem.names]))
    u_true = np.array([[TRUE_STRUCTURAL[n] for n in STRUCTURAL]])
    clean = problem.predict(truth[None, :], u_true)[0]
    values = clean + problem.sigma * np.random.default_rng(3).standard_normal(clean.size)
    table = observations.table.copy()
    table["value"] = values
    problem.observations = Observations(table=table, approach="bias", nuisance=observations.nuisance)
    prior = StructuralPrior.from_spec(spec, STRUCTURAL)
    # start from the fit at the .mdl values of the structural parameters, as the pipeline does
    x_start, _ = batched_levenberg_marquardt(problem, truth[None, :], values[None, :], max_iter=60)
    return problem, prior, smc_profile_posterior(problem, x_start[0], prior, n_particles=400, moves=4, seed=11,
                                                 min_ess=50)


def test_sampler_concentrates_an_informed_parameter_near_its_true_value(synthetic_posterior):
    problem, prior, posterior = synthetic_posterior
    j = prior.names.index("two_child_catch_up_time")
    sample = posterior.u[:, j]
    prior_sd = (prior.upper[j] - prior.lower[j]) / np.sqrt(12)
    assert abs(np.median(sample) - TRUE_STRUCTURAL["two_child_catch_up_time"]) < 0.25
    assert np.percentile(sample, 5) < TRUE_STRUCTURAL["two_child_catch_up_time"] < np.percentile(sample, 95)
    assert sample.std() < 0.5 * prior_sd
    table = posterior.summary(min_ks=0.2).set_index("parameter")
    assert table.loc["two_child_catch_up_time", "informed"]
    assert table.loc["two_child_catch_up_time", "point_estimate"] == pytest.approx(np.median(sample))
    assert posterior.steps[-1].beta == 1.0 and posterior.final_ess > 50


def test_sampler_keeps_an_uninformed_parameter_at_its_prior(synthetic_posterior):
    problem, prior, posterior = synthetic_posterior
    table = posterior.summary(min_ks=0.2).set_index("parameter")
    water = table.loc["domestic_water_per_urban_resident_2015"]
    assert not water["data_free"]  # it does move the water figures a little: the sampler has to handle it
    assert water["ks_distance"] < 0.12
    assert abs(water["mean_shift"]) < 0.2 and 0.85 < water["sd_ratio"] < 1.15
    assert not water["informed"] and water["point_estimate"] == pytest.approx(100.0)  # the .mdl value
    gain = table.loc["county_town_attractiveness_gain"]
    assert gain["data_free"] and gain["ks_distance"] < 0.01
    assert np.all((posterior.u >= prior.lower) & (posterior.u <= prior.upper))


def test_data_free_detection(engine, spec, cfg, frame, synthetic_posterior):
    problem, prior, posterior = synthetic_posterior
    free = find_data_free(problem, posterior.x[0], prior, np.random.default_rng(0))
    assert free.tolist() == [False, False, True]


# ----------------------------------------------------------------------------------- parameter file
def test_parameter_file_carries_the_structural_posterior(spec, cfg):
    content = yaml.safe_load(PARAMETER_FILE.read_text(encoding="utf-8"))
    names = content["uncertainty"]["parameters"]
    structural = list(cfg.uncertainty.structural.parameters)
    assert names[-len(structural):] == structural
    draws = load_uncertainty(PARAMETER_FILE).draws
    prior = StructuralPrior.from_spec(spec, structural)
    block = draws[:, -len(structural):]
    assert np.all((block >= prior.lower) & (block <= prior.upper))
    # the structural columns vary (sim.py's ensemble varies them), a data-free one over its whole range
    assert np.all(block.std(axis=0) > 0)
    j = structural.index("county_town_attractiveness_gain")
    assert ks_distance_uniform(prior.to_unit(block)[:, j]) < 0.1
    # point estimates: the .mdl value when the posterior is close to the prior (the comment says which)
    text = PARAMETER_FILE.read_text(encoding="utf-8")
    for name in structural:
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{name}:"))
        if ".mdl value" in line:
            assert content["params"][name] == pytest.approx(spec.parameters[name].value)
        else:
            assert "posterior median" in line
    assert "SMC posterior" in content["uncertainty"]["method"]
