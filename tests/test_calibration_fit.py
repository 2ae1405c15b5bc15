"""The fit: identifiability on model-generated data, the batched solver, the parameter file.

The identifiability and coverage tests fit the *fitted* parameters with the structural parameters
held at the .mdl values that generated the data (``structural=False``); the structural posterior
has its own tests (tests/test_calibration_structural.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from calibration.config import load_config
from base.observations import load_observations
from model.engines import make_engine
from calibration.fit import batched_levenberg_marquardt, local_fit
from calibration.objective import make_problem
from calibration.observation import Observations, build_observations
from calibration.pipeline import calibrate
from base.paramfile import load_uncertainty

ROOT = Path(__file__).resolve().parents[1]
PARAMETER_FILE = ROOT / "scenarios" / "calibrated" / "default.yaml"

# Known parameters for the synthetic data: inside the documented ranges, away from the .mdl values.
# (The structural parameters, e.g. out_migration_trend, e0_trend, two_child_catch_up_time, are held
# at their .mdl values here.)
TRUTH = {
    "base_rural_to_urban_migration_rate": 0.032,
    "base_settlement_rate": 0.011,
    "base_out_migration_rate": 0.0065,
    "tfr_2015": 1.15,
    "tfr_trend": 0.01,
    "two_child_catch_up_peak": 0.30,
    "reporting_bias_population": 0.006,
    "reporting_bias_urbanization": 0.30,
    "reporting_bias_deaths": 0.15,
}
# Noise of the synthetic figures: about the size estimated on the real data (calibration report);
# the water figures get their fixed weak-evidence noise (scenarios/calibrate.yaml).
SIGMA = {"urbanization_rate": 0.05, "total_population": 10_000.0, "crude_birth_rate": 0.3,
         "crude_death_rate": 0.15, "hukou_urbanization_rate": 0.5, "settled_since_2015": 28_868.0,
         "total_water_use": 9.5}


@pytest.fixture(scope="module")
def engine():
    return make_engine("vectorized")


@pytest.fixture(scope="module")
def cfg():
    return load_config(["fit.starts=3"])


@pytest.fixture(scope="module")
def frame():
    return load_observations()


def synthetic_observations(engine, spec, cfg, frame, noise_seed: int | None) -> tuple[Observations, np.ndarray]:
    observations = build_observations(frame, "bias", series=list(cfg.observation.series),
                                      start_rates=bool(cfg.observation.start_rates))
    problem = make_problem(engine, observations, list(cfg.parameters), spec, SIGMA)
    theta = np.array([TRUTH[name] for name in problem.names])
    clean = problem.predict(problem.to_unit(theta)[None, :])[0]
    values = clean.copy()
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        values = clean + problem.sigma * rng.standard_normal(clean.size)
    table = observations.table.copy()
    table["value"] = values
    return Observations(table=table, approach="bias", nuisance=observations.nuisance), theta


def test_exact_model_data_give_back_the_parameters(engine, spec, cfg, frame):
    synthetic, theta = synthetic_observations(engine, spec, cfg, frame, noise_seed=None)
    outcome = calibrate(cfg, engine, spec, frame, approach="bias", last_year=2020, n_draws=0,
                        observations=synthetic, structural=False)
    span = outcome.problem.upper - outcome.problem.lower
    np.testing.assert_allclose(outcome.theta_hat, theta, atol=2e-3 * span.max(), rtol=0)
    identified = ["base_rural_to_urban_migration_rate", "base_settlement_rate", "base_out_migration_rate",
                  "tfr_2015", "tfr_trend", "two_child_catch_up_peak",
                  "reporting_bias_population", "reporting_bias_urbanization", "reporting_bias_deaths"]
    for name in identified:
        j = outcome.problem.names.index(name)
        assert outcome.theta_hat[j] == pytest.approx(theta[j], rel=1e-3), name


def test_noisy_model_data_are_covered_by_the_reported_intervals(engine, spec, cfg, frame):
    """Ten data sets from the model with known parameters plus noise: the 90 % intervals must cover
    the truth about 90 % of the time (80 intervals; at p = 0.9 fewer than 80 % covered has probability
    < 0.5 %), each parameter in most data sets, and the identified parameters must be flagged so."""
    covered, flags = [], []
    for seed in range(10):
        synthetic, _ = synthetic_observations(engine, spec, cfg, frame, noise_seed=seed)
        outcome = calibrate(cfg, engine, spec, frame, approach="bias", last_year=2020, n_draws=150,
                            n_starts=1, observations=synthetic, structural=False)
        summary = outcome.summary.set_index("parameter")
        covered.append({n: bool(summary.loc[n, "lower"] <= TRUTH[n] <= summary.loc[n, "upper"])
                        for n in outcome.problem.names})
        flags.append(summary["identified"].to_dict())
        if seed == 0:  # the noise estimated from the residuals is of the size used to make the data
            for name in ("urbanization_rate", "total_population"):
                assert 0.2 * SIGMA[name] < outcome.noise.sigma[name] < 3 * SIGMA[name]
    table = pd.DataFrame(covered)
    assert table.to_numpy().mean() >= 0.80, table.mean().to_dict()
    assert (table.sum() >= 6).all(), table.sum().to_dict()
    identified = pd.DataFrame(flags).mean()
    # the data pin the migration and settlement rates, the 2015 TFR and the reporting biases
    for name in ("base_rural_to_urban_migration_rate", "base_settlement_rate", "reporting_bias_urbanization",
                 "reporting_bias_population", "reporting_bias_deaths", "tfr_2015"):
        assert identified[name] == 1.0, name


def test_batched_solver_agrees_with_scipy(engine, spec, cfg, frame):
    synthetic, theta = synthetic_observations(engine, spec, cfg, frame, noise_seed=7)
    problem = make_problem(engine, synthetic, list(cfg.parameters), spec, SIGMA)
    x0 = np.clip(problem.to_unit(theta) + 0.03, 0, 1)
    reference = local_fit(problem, x0)
    x, cost = batched_levenberg_marquardt(problem, np.vstack([x0, x0]), np.vstack([synthetic.values] * 2))
    assert cost[0] == pytest.approx(reference.cost, rel=1e-6)
    assert cost[1] == cost[0]


# ----------------------------------------------------------------------------------- parameter file
def test_parameter_file_is_valid_for_the_model(spec):
    text = PARAMETER_FILE.read_text(encoding="utf-8")
    first, second = text.splitlines()[:2]
    assert first == "# @package calibrated"
    assert second.startswith("# Generated by `python -m calibration` (") and "Do not edit by hand" in second
    content = yaml.safe_load(text)
    params = content["params"]
    assert params, "the calibrated parameter file is the empty placeholder: run python -m calibration"
    assert spec.validate(params) == pytest.approx(params)
    uncertainty = load_uncertainty(PARAMETER_FILE)
    assert list(uncertainty.parameters) == list(params)
    assert uncertainty.draws.shape[0] >= 200 and uncertainty.draws.shape[1] == len(params)
    # the structural parameters of the config are in the file (varied by sim.py's ensemble), levers are not
    cfg = load_config()
    assert list(params) == list(cfg.parameters) + list(cfg.uncertainty.structural.parameters)
    assert not any(spec.parameters[n].description.startswith("Lever") for n in params)
    for j, name in enumerate(uncertainty.parameters):
        low, high = spec.parameters[name].limits
        assert low <= uncertainty.draws[:, j].min() and uncertainty.draws[:, j].max() <= high, name
    assert set(uncertainty.observation_noise) == {"urbanization_rate", "total_population"}
    assert all(v > 0 for v in uncertainty.observation_noise.values())


def test_the_baseline_loads_the_calibrated_parameters(spec):
    config_dir = ROOT / "scenarios"
    if not (config_dir / "config.yaml").is_file():
        pytest.skip("scenarios/config.yaml (the simulation config) does not exist yet")
    from hydra import compose, initialize_config_dir

    from simulator.config import resolve_parameters

    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name="config")
    expected = yaml.safe_load(PARAMETER_FILE.read_text(encoding="utf-8"))["params"]
    assert OmegaConf.to_container(cfg.calibrated.params) == pytest.approx(expected)
    resolved = resolve_parameters(cfg, spec)
    for name, value in expected.items():
        assert resolved.values[name] == pytest.approx(value)
        assert resolved.sources[name] == "calibrated"
    assert load_uncertainty(cfg.calibrated).draws.shape == load_uncertainty(PARAMETER_FILE).draws.shape


def test_pysd_engine_gives_the_same_predictions(engine, spec, cfg, frame, pysd_engine):
    """The reference path (engine=pysd) and the vectorized engine predict the same figures."""
    from model.engines import PySDEnsemble

    observations = build_observations(frame, "bias", series=list(cfg.observation.series),
                                      start_rates=bool(cfg.observation.start_rates))
    reference = PySDEnsemble(engine=pysd_engine)
    fast = make_problem(engine, observations, list(cfg.parameters), spec, SIGMA)
    slow = make_problem(reference, observations, list(cfg.parameters), spec, SIGMA)
    x = np.vstack([fast.to_unit(np.array([TRUTH[n] for n in fast.names])), np.full(fast.n_params, 0.3)])
    np.testing.assert_allclose(slow.predict(x), fast.predict(x), rtol=1e-10)
