"""The vectorized ensemble engine agrees with PySD, variable by variable, over the whole horizon.

Agreement criterion: ``|vectorized - pysd| <= 1e-9 * max(|pysd|, 1e-300)`` for every stock,
flow, auxiliary and constant at every saved time (NaN where PySD has NaN). In practice the two
engines agree bit for bit, because the generated numpy code performs the same floating-point
operations in the same order as PySD's generated Python.

PySD runs cost ~1 s each, so each ensemble is run once with the vectorized engine and its
members are compared with separate PySD runs.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from model import MODEL_PATH
from model.pysd_engine import PySDEngine
from model.spec import load_spec
from model.vectorized import UnsupportedConstruct, VectorizedModel
from simulator.by_element import by_element

MODELS = Path(__file__).resolve().parent / "models"
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "scenario"
CALIBRATED_FILE = Path(__file__).resolve().parents[1] / "scenarios" / "calibrated" / "default.yaml"
RELATIVE_TOLERANCE = 1e-9
#: Random parameter sets compared with PySD. Each PySD run of the age x sex x residence model takes
#: about 20 s on one core (20 sets took 445 s of the suite), so the suite draws 8: with the 13
#: scenario files, the baseline and the override tests, every run of the suite compares about 25
#: PySD runs with the vectorized engine, element by element.
N_RANDOM = 8
SEED = 20240604


# ---------------------------------------------------------------------- helpers
def assert_agree(reference: np.ndarray, vectorized: np.ndarray, what: str) -> None:
    """Relative agreement to 1e-9 (absolute floor 1e-300), NaN where the reference is NaN."""
    reference = np.asarray(reference, dtype=float)
    vectorized = np.asarray(vectorized, dtype=float)
    assert reference.shape == vectorized.shape, (
        f"{what}: shape {vectorized.shape}, PySD {reference.shape}")
    nan = np.isnan(reference)
    assert np.array_equal(nan, np.isnan(vectorized)), f"{what}: NaN in different places"
    error = np.abs(vectorized[~nan] - reference[~nan])
    bound = RELATIVE_TOLERANCE * np.maximum(np.abs(reference[~nan]), 1e-300)
    worst = np.max(error / bound) if error.size else 0.0
    assert np.all(error <= bound), (
        f"{what}: differs from PySD by {worst * RELATIVE_TOLERANCE:.3g} relative")


def random_parameter_sets(parameters: dict, n_sets: int, seed: int, coords: dict | None = None) -> dict:
    """``n_sets`` values per parameter, uniform in its documented range (zero-width skipped); a
    subscripted parameter gets one value per set and element, shaped ``(n_sets, *subscripts)``
    (``coords``: the model's subscript elements), so no shape is ambiguous."""
    rng = np.random.default_rng(seed)
    coords = coords or {}
    return {
        name: rng.uniform(var.limits[0], var.limits[1],
                          size=(n_sets, *(len(coords[d]) for d in var.dims if d in coords)))
        for name, var in sorted(parameters.items())
        if var.limits[1] > var.limits[0]
    }


def member(params: dict, i: int) -> dict:
    """Parameters of ensemble member ``i`` (scalars stay, arrays give their row ``i``)."""
    out = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=float)
        out[name] = value[i] if value.ndim and value.shape[0] > 1 else value
    return out


def scenario_params(path: Path) -> dict:
    """The ``params:`` mapping of a scenario YAML file (``scenarios/scenario/*.yaml``)."""
    import yaml

    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    return dict(config.get("params") or {})


def compare_scenario_file(path: Path, engine: VectorizedModel, pysd_engine,
                          base_params: dict | None = None) -> None:
    """Run one scenario file's parameters with both engines and compare every variable.

    ``base_params`` (e.g. the calibrated parameters) are applied first, the scenario's on top,
    as ``sim.py`` resolves them.
    """
    params = {**(base_params or {}), **scenario_params(path)}
    for name, value in list(params.items()):
        if isinstance(value, dict):  # a parameter by league or group (simulator.by_element)
            params[name] = np.asarray(by_element(load_spec(MODEL_PATH), name, value))
    reference = pysd_engine.run(params)
    result = engine.run(params)
    np.testing.assert_array_equal(result.time, reference.time)
    for name, values in reference.values.items():
        assert_agree(values, result[name][:, 0], f"{path.name}: {name}")


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def vm():
    """The vectorized engine of the main model."""
    return VectorizedModel.from_mdl(MODEL_PATH)


@pytest.fixture(scope="module")
def functions_model():
    return VectorizedModel.from_mdl(MODELS / "functions.mdl"), PySDEngine(MODELS / "functions.mdl")


@pytest.fixture(scope="module")
def leagues_model():
    # the reference engine runs subscripted models itself (model.pysd_engine)
    return VectorizedModel.from_mdl(MODELS / "leagues.mdl"), PySDEngine(MODELS / "leagues.mdl")


# ---------------------------------------------------------------------- main model
def test_baseline_matches_pysd(vm, pysd_engine):
    reference = pysd_engine.run()
    result = vm.run()
    np.testing.assert_array_equal(result.time, reference.time)
    assert set(result.values) == set(reference.values)
    for name, values in reference.values.items():
        assert result[name].shape == (len(reference.time), 1) + values.shape[1:]  # (time, sample, *subscripts)
        assert_agree(values, result[name][:, 0], name)


@pytest.fixture(scope="module")
def random_ensemble(vm, spec):
    """:data:`N_RANDOM` random parameter sets and their run, the whole ensemble in one vectorized call."""
    params = random_parameter_sets(spec.parameters, N_RANDOM, SEED, spec.coords)
    return params, vm.run(params)


def test_random_parameter_sets_cover_the_model(random_ensemble):
    params, result = random_ensemble
    assert len(params) >= 40, "expected most of the model's parameters to have a range"
    assert result["total_population"].shape == (len(result.time), N_RANDOM)


@pytest.mark.parametrize("i", range(N_RANDOM))
def test_random_parameter_sets_match_pysd_in_one_call(random_ensemble, pysd_engine, i):
    params, result = random_ensemble
    reference = pysd_engine.run(member(params, i))
    np.testing.assert_array_equal(result.time, reference.time)
    for name, values in reference.values.items():
        assert_agree(values, result[name][:, i], f"member {i}: {name}")


def test_scenario_like_overrides_match_pysd(vm, pysd_engine):
    # policy levers moved together, as a scenario file would
    levers = {
        "county_town_investment": 1.0,
        "new_land_quota_2021_2025": 300000.0,
        "domestic_water_saving_2025": 0.15,
        "leakage_reduction_achievement": 0.5,
        "leakage_target": 0.07,
        "water_cap_growth_after_2025": -0.01,
        "student_and_talent_settlement": 50000.0,
        "cluster_hukou_transfer_year": 2022.0,
        "residence_permit_universal_year": 2020.0,
    }
    reference = pysd_engine.run(levers)
    result = vm.run(levers)
    for name, values in reference.values.items():
        assert_agree(values, result[name][:, 0], name)


def test_overriding_an_equation_matches_pysd(vm, pysd_engine):
    # PySD replaces an overridden auxiliary by the constant; so does the vectorized engine
    params = {"relative_urban_attractiveness": 1.2, "initial_rural_population": 9.0e6}
    reference = pysd_engine.run(params)
    result = vm.run(params)
    for name, values in reference.values.items():
        assert_agree(values, result[name][:, 0], name)


def test_there_are_scenario_files():
    assert sorted(SCENARIO_DIR.glob("*.yaml")), f"no scenario files in {SCENARIO_DIR}"


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda path: path.stem)
def test_scenario_files_match_pysd(vm, pysd_engine, path):
    calibrated = CALIBRATED_FILE if CALIBRATED_FILE.is_file() else None
    base = scenario_params(calibrated) if calibrated else {}
    compare_scenario_file(path, vm, pysd_engine, base)


def test_scenario_helper_reads_params(tmp_path, vm):
    path = tmp_path / "lever.yaml"
    path.write_text("name: lever\nparams:\n  county_town_investment: 1\n  leakage_target: 0.07\n")
    assert scenario_params(path) == {"county_town_investment": 1, "leakage_target": 0.07}
    result = vm.run(scenario_params(path), return_columns=["county_town_investment"])
    assert np.all(result["county_town_investment"] == 1.0)


def test_euler_converges_at_first_order_on_the_main_model(vm):
    """Every stock at dt 1/4 and 1/8 against dt 1/1024: halving dt halves the error (first order;
    0.35-0.65 allows the second-order remainder), and at dt 1/4 the error stays within 3 % of the
    stock's largest value (measured: 1.6 % for the largest age cell, 0.05 % for the total
    population, 0.1 pp on the rate). RK4 is no reference for this model: its intermediate stages
    smear the once-a-year cohort shift."""
    # The decomposition stocks (urbanization change from ...) use TIME STEP in their rates
    # (an exact attribution for Euler), so they are left out of this check.
    stocks = [name for name, var in vm.variables.items()
              if var.kind == "stock" and not name.startswith("urbanization_change")]
    assert len(stocks) >= 5
    quarter = vm.run(time_step=1 / 4, return_columns=stocks)
    eighth = vm.run(time_step=1 / 8, return_columns=stocks)
    converged = vm.run(time_step=1 / 1024, return_columns=stocks)
    np.testing.assert_array_equal(quarter.time, converged.time)
    ratios = {}
    for name in stocks:
        scale = np.max(np.abs(converged[name]))
        error_quarter = np.max(np.abs(quarter[name] - converged[name]))
        error_eighth = np.max(np.abs(eighth[name] - converged[name]))
        assert error_quarter <= 0.03 * scale, name
        if error_quarter > 1e-9 * scale:   # stocks that move with dt at all
            ratios[name] = error_eighth / error_quarter
    assert "population" in ratios
    assert all(0.35 < r < 0.65 for r in ratios.values()), ratios


# ---------------------------------------------------------------------- small test models
def test_functions_model_matches_pysd(functions_model):
    from model.spec import load_spec

    engine, reference_engine = functions_model
    columns = [n for n, v in engine.variables.items() if v.kind in ("stock", "auxiliary",
                                                                    "constant")]
    params = random_parameter_sets(load_spec(MODELS / "functions.mdl").parameters, 4, SEED)
    assert len(params) >= 15
    baseline = engine.run(return_columns=columns)
    ensemble = engine.run(params, return_columns=columns)
    cases = [({}, baseline, 0)] + [(member(params, i), ensemble, i) for i in range(4)]
    for i, (member_params, result, column) in enumerate(cases):
        run = reference_engine.run(member_params, return_columns=columns)
        times, reference = run.time, run.values
        np.testing.assert_array_equal(result.time, times)
        for name in columns:
            assert_agree(reference[name], result[name][:, column], f"case {i}: {name}")


@pytest.mark.parametrize("time_step, saveper, final_time", [(1 / 12, 0.5, 2007.5),
                                                            (0.3, 0.9, 2010)])
def test_odd_time_grids_match_pysd(functions_model, time_step, saveper, final_time):
    # saved times that are not multiples of the time step are skipped, as in PySD
    engine, reference_engine = functions_model
    columns = ["level", "inflow", "smoothed_level_3", "delayed_inflow_3", "time_only"]
    control = dict(time_step=time_step, saveper=saveper, final_time=final_time)
    run = reference_engine.run({}, return_columns=columns, **control)
    times, reference = run.time, run.values
    result = engine.run(return_columns=columns, **control)
    np.testing.assert_array_equal(result.time, times)
    for name in columns:
        assert_agree(reference[name], result[name][:, 0], name)


def test_leagues_model_matches_pysd(leagues_model):
    engine, reference_engine = leagues_model
    columns = [n for n, v in engine.variables.items() if v.kind in ("stock", "auxiliary",
                                                                    "constant")]
    assert engine.variables["population"].dims == ("league",)
    assert engine.variables["east_minus_cluster"].shape == (4, 4)
    spec = load_spec(MODELS / "leagues.mdl")  # the spec knows the same dimensions as the engine
    assert {n: v.dims for n, v in spec.variables.items() if v.dims} == \
        {n: v.dims for n, v in engine.variables.items() if v.dims}
    assert all(spec.coords[d] == c for v in engine.variables.values() for d, c in v.coords.items())
    rng = np.random.default_rng(SEED)
    n_sets = 2
    params = {
        "birth_rate": rng.uniform(0.006, 0.012, size=(n_sets, 12)),  # (n_samples, *dims)
        "fertility_trend": rng.uniform(-0.03, 0.01, size=n_sets),
        "other_out_rate": rng.uniform(0.0, 0.02, size=n_sets),
    }
    baseline = engine.run(return_columns=columns)
    ensemble = engine.run(params, return_columns=columns)
    cases = [({}, baseline, 0)] + [(member(params, i), ensemble, i) for i in range(n_sets)]
    for i, (member_params, result, column) in enumerate(cases):
        run = reference_engine.run(member_params, return_columns=columns)
        times, reference = run.time, run.values
        assert run.dims == result.dims and run.coords == result.coords  # one result type, same dims
        np.testing.assert_array_equal(result.time, times)
        for name in columns:
            expected_shape = (len(times), ) + engine.variables[name].shape
            assert result[name][:, column].shape == expected_shape, name
            assert_agree(reference[name], result[name][:, column], f"case {i}: {name}")


def test_rk4_error_shrinks_as_dt_to_the_fourth():
    engine = VectorizedModel.from_mdl(MODELS / "decay.mdl")
    errors = []
    for dt in (0.5, 0.25, 0.125):
        result = engine.run(time_step=dt, method="rk4")
        errors.append(np.max(np.abs(result["amount"] - result["exact_amount"])))
    for coarse, fine in zip(errors, errors[1:]):
        assert 12 < coarse / fine < 24  # 2**4 = 16
    fine_euler = engine.run(time_step=1 / 4096)
    rk4 = engine.run(method="rk4")
    assert np.max(np.abs(rk4["amount"] - fine_euler["amount"])) < 1e-4
    euler = engine.run()
    assert np.max(np.abs(euler["amount"] - euler["exact_amount"])) > 100 * errors[0]


def test_engine_follows_edits_of_the_mdl(tmp_path):
    # Euler with dt = 0.5 multiplies the amount by (1 - rate*dt) per step, two steps a year
    path = tmp_path / "edited.mdl"
    shutil.copyfile(MODELS / "decay.mdl", path)
    before = VectorizedModel.from_mdl(path).run()
    np.testing.assert_allclose(before["amount"][:, 0], 0.75 ** (2 * np.arange(11)), rtol=1e-12)
    path.write_text(path.read_text().replace("-decay rate*amount", "-2*decay rate*amount"))
    after = VectorizedModel.from_mdl(path).run()
    np.testing.assert_allclose(after["amount"][:, 0], 0.5 ** (2 * np.arange(11)), rtol=1e-12)


# ---------------------------------------------------------------------- unsupported constructs
UNSUPPORTED = {
    "DELAY FIXED": "y = DELAY FIXED(x, 2, 0)",
    "DELAY N": "y = DELAY N(x, 2, 0, 4)",
    "SAMPLE IF TRUE": "y = SAMPLE IF TRUE(Time > 3, x, 0)",
    "TREND": "y = TREND(x, 2, 0)",
    "RANDOM UNIFORM": "y = RANDOM UNIFORM(0, 1, 7)",
    "ACTIVE INITIAL": "y = ACTIVE INITIAL(x, 1)",
    # PySD keeps this smooth in an integer array and truncates its first input: refused
    "SMOOTHI/SMOOTH3I with an integer initial value": "y = SMOOTHI(x, 2, 1)",
}


@pytest.mark.parametrize("construct", sorted(UNSUPPORTED))
def test_unsupported_construct_names_construct_and_variable(tmp_path, construct):
    path = tmp_path / "unsupported.mdl"
    path.write_text(
        "{UTF-8}\nx = Time ~~|\n" + UNSUPPORTED[construct] + " ~~|\n"
        "FINAL TIME = 10 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 1 ~~|\nTIME STEP = 1 ~~|\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UnsupportedConstruct) as error:
            VectorizedModel.from_mdl(path)
    message = str(error.value)
    assert construct in message and "'y'" in message and "engine=pysd" in message


# ---------------------------------------------------------------------- interface
def test_variables_are_those_of_the_spec(vm, spec):
    assert list(vm.variables) == list(spec.variables)
    for name, var in vm.variables.items():
        if var.kind == "constant" and spec.variables[name].kind == "auxiliary":
            # a table of numbers by subscript (fertility shape[age] = 0, 0, ...): the engine folds it
            # into a constant array, the spec keeps it an auxiliary (it is no parameter)
            assert spec.variables[name].subscripts, name
            continue
        assert var.kind == spec.variables[name].kind, name
        assert var.vensim_name == spec.variables[name].vensim_name


def test_interface_shapes_and_broadcasting(vm):
    one = vm.run({"tfr_trend": -0.02}, return_columns=["total_population"])
    many = vm.run({"tfr_trend": [-0.02, 0.0, 0.01], "base_settlement_rate": 0.02},
                  return_columns=["total_population", "tfr_trend"])
    assert many["total_population"].shape == (21, 3)
    np.testing.assert_array_equal(many["tfr_trend"][:, 1], 0.0)
    reference = vm.run({"tfr_trend": -0.02, "base_settlement_rate": 0.02},
                       return_columns=["total_population"])
    np.testing.assert_array_equal(many["total_population"][:, :1], reference["total_population"])
    assert not np.array_equal(one["total_population"], reference["total_population"])
    broadcast = vm.run(n_samples=4, return_columns=["total_population"])
    assert broadcast["total_population"].shape == (21, 4)
    assert np.all(broadcast["total_population"] == broadcast["total_population"][:, :1])
    with pytest.raises(ValueError, match="n_samples=5"):
        vm.run({"tfr_trend": [0.0, 0.01]}, n_samples=5)


def test_interface_subscripted_parameters(leagues_model):
    engine, _ = leagues_model
    per_element = np.linspace(0.006, 0.012, 12)
    shared = engine.run({"birth_rate": per_element}, n_samples=2, return_columns=["births"])
    per_sample = engine.run({"birth_rate": np.vstack([per_element, per_element])},
                            return_columns=["births"])
    assert shared["births"].shape == (7, 2, 12)
    np.testing.assert_array_equal(shared["births"], per_sample["births"])
    with pytest.raises(ValueError, match="shape"):
        engine.run({"birth_rate": np.zeros((2, 3))})


def test_interface_errors(vm):
    with pytest.raises(KeyError, match="fertility_trnd"):
        vm.run({"fertility_trnd": 0.0})
    with pytest.raises(KeyError, match="no_such_column"):
        vm.run(return_columns=["no_such_column"])
    with pytest.raises(ValueError, match="stock"):
        vm.run({"population": 1.0})
    with pytest.raises(ValueError, match="final_time="):
        vm.run({"time_step": 1.0})
    with pytest.raises(ValueError, match="rk4"):
        vm.run(method="heun")


def test_runs_are_deterministic_and_independent(vm):
    assert VectorizedModel.from_mdl(MODEL_PATH) is vm
    first = vm.run(return_columns=["urbanization_rate"])
    vm.run({"base_rural_to_urban_migration_rate": 0.07}, final_time=2020, time_step=0.5)
    again = vm.run(return_columns=["urbanization_rate"])
    np.testing.assert_array_equal(first["urbanization_rate"], again["urbanization_rate"])
    short = vm.run(final_time=2020, return_columns=["urbanization_rate"])
    np.testing.assert_array_equal(short.time, np.arange(2015, 2021))
    np.testing.assert_array_equal(short["urbanization_rate"], first["urbanization_rate"][:6])


def test_chunked_runs_equal_one_call_to_the_last_bit(leagues_model, monkeypatch):
    """Large subscripted ensembles run in chunks of samples (engine.CHUNK_ELEMENTS): the members are
    independent, so chunks must give exactly the numbers of one call."""
    import model.vectorized.engine as engine_module

    engine, _ = leagues_model
    rng = np.random.default_rng(SEED)
    params = {"birth_rate": rng.uniform(0.006, 0.012, size=(7, 12)), "fertility_trend": -0.01}
    whole = engine.run(params)
    monkeypatch.setattr(engine_module, "CHUNK_ELEMENTS", 48)  # 2 members per call (24 cells max)
    assert engine.chunk_rows(7) < 7
    chunked = engine.run(params)
    for name in whole.values:
        np.testing.assert_array_equal(chunked[name], whole[name], err_msg=name)
