"""Policy levers and scenario files: registry against the .mdl, README tables, scenario deltas.

tests/test_sim.py already composes every scenario x calibrated config and checks that the named
parameters exist and lie in their ranges; this file checks what that cannot see (a misspelt key is
silently ignored by Hydra, a scenario changing more than it says, a lever the model ignores).
"""
from __future__ import annotations

import functools
from pathlib import Path

from collections.abc import Mapping

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException

from analysis.levers import (LEVERS, PLAN_TEXT_PATH, ScenarioFileError, check_levers, first_citation,
                             lever_names, lever_table, levers_marked_in_mdl, plan_sections,
                             read_scenario_file, readme_drift, scenario_files)
from simulator.config import resolve_parameters
from base.paramfile import uncertainty_from_config
from simulator.ensemble import draw_members
from simulator.run import prepare, simulate
from model.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "scenarios"
SCENARIOS = sorted(path.stem for path in (CONFIG_DIR / "scenario").glob("*.yaml"))


def compose_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


# --------------------------------------------------------------------------- levers
def test_lever_registry_matches_the_mdl(spec):
    assert check_levers(spec) == []
    assert len(LEVERS) >= 16
    # the documented exceptions (marked_in_mdl=False) are exactly the levers the .mdl does not mark
    assert set(lever_names()) - levers_marked_in_mdl(spec) == {l.name for l in LEVERS if not l.marked_in_mdl}


def test_lever_registry_check_catches_drift(spec):
    """A lever renamed in the registry, or a new 'Lever:' in the .mdl, is reported."""
    import dataclasses

    import analysis.levers as levers

    renamed = tuple(dataclasses.replace(lever, name="county_town_investmnt")
                    if lever.name == "county_town_investment" else lever for lever in LEVERS)
    original = levers.LEVERS
    try:
        levers.LEVERS = renamed
        problems = check_levers(spec)
    finally:
        levers.LEVERS = original
    assert any("county_town_investmnt" in p and "not a parameter" in p for p in problems)
    assert any("'county_town_investment' is marked 'Lever'" in p for p in problems)


def test_lever_table_shows_the_mdl_values(spec):
    table = lever_table(spec)
    row = next(line for line in table.splitlines() if line.startswith("| `new_land_quota_2021_2025`"))
    var = spec.parameters["new_land_quota_2021_2025"]
    assert f"| {var.units} |" in row and "[0, 2000000]" in row and f"| {int(var.value)} |" in row
    assert len(table.splitlines()) == len(LEVERS) + 2


def test_readme_lever_and_scenario_tables_are_up_to_date(spec):
    assert readme_drift(spec=spec) == [], "run: python -m analysis.levers --write"


#: Where a lever acts only when a limit binds, the context that makes it bind.
BINDING_CONTEXT = {
    "land_quota_enforcement": {"new_land_quota_2021_2025": 0.0, "annual_land_quota_after_2025": 0.0},
    "water_cap_enforcement": {"regional_water_cap_2025": 1.5e10},
}


def test_every_lever_moves_the_model(spec):
    """Each lever, moved from the low to the high end of its range, changes some model output."""
    from model.outputs import load_outputs
    from model.vectorized import VectorizedModel

    names = lever_names()
    n = 2 * len(names)
    context_names = {k for context in BINDING_CONTEXT.values() for k in context}
    params = {name: np.full(n, spec.parameters[name].value) for name in set(names) | context_names}
    for i, name in enumerate(names):
        params[name][2 * i], params[name][2 * i + 1] = spec.parameters[name].limits
        for other, value in BINDING_CONTEXT.get(name, {}).items():
            params[other][2 * i: 2 * i + 2] = value
    result = VectorizedModel.from_mdl().run(params, n_samples=n, return_columns=list(load_outputs().names("ensemble")))
    for i, name in enumerate(names):
        moved = [v for v, values in result.values.items()
                 if not np.allclose(values[:, 2 * i], values[:, 2 * i + 1], rtol=1e-9, atol=0)]
        assert moved, f"lever {name} changes no output over its documented range"


@pytest.mark.skipif(not PLAN_TEXT_PATH.is_file(), reason=f"plan text not found at {PLAN_TEXT_PATH} "
                    "(set IMSIM_PLAN_TEXT); the citation check needs it")
def test_lever_citations_quote_the_cited_plan_section():
    sections = plan_sections(PLAN_TEXT_PATH.read_text(encoding="utf-8"))
    assert (2, 3) in sections and "64万亩" in sections[(2, 3)]
    for lever in LEVERS:
        section = first_citation(lever.plan)
        assert lever.plan_quote in sections.get(section, ""), (lever.name, section)
    # and the quote is not found in an unrelated section (the check is not vacuous)
    assert LEVERS[0].plan_quote not in sections[(8, 3)]


# --------------------------------------------------------------------------- scenario files
def test_scenario_files_are_well_formed():
    files = scenario_files()
    assert [s.name for s in files][0] == "baseline" and len(files) == len(SCENARIOS) == 14
    for scenario in files:
        assert scenario.title and scenario.title_zh
        assert scenario.plan_citations, scenario.name
        assert len(scenario.params) <= 12, f"{scenario.name}: a scenario is a small delta file"


@pytest.mark.parametrize("text, message", [
    ("name: typo\ntitle: T\ntitle_zh: T\nparmas: {leakage_target: 0.1}\n# plan ch.8 sec.3\n",
     "unknown key(s) parmas"),
    ("# plan ch.8 sec.3\nname: other\ntitle: T\ntitle_zh: T\nparams: {}\n", "must equal the file name"),
    ("name: typo\ntitle: T\ntitle_zh: T\nparams: {}\n", "must cite the plan"),
    ("# plan ch.8 sec.3\nname: typo\ntitle: T\nparams: {}\n", "missing key(s) title_zh"),
    ("# plan ch.8 sec.3\nname: typo\ntitle: T\ntitle_zh: T\nparams: [1, 2]\n", "params must be a mapping"),
])
def test_a_malformed_scenario_file_is_an_error(tmp_path, text, message):
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_scenario_file(path)


def test_a_misspelt_params_key_would_pass_hydra_silently(tmp_path, spec):
    """Why the key check above exists: Hydra composes a scenario whose 'params' is misspelt, and
    the run would silently be the baseline."""
    import shutil

    config_dir = tmp_path / "scenarios"
    shutil.copytree(CONFIG_DIR, config_dir)
    (config_dir / "scenario" / "typo.yaml").write_text(
        "# plan ch.8 sec.3\nname: typo\ntitle: T\ntitle_zh: T\nparmas: {leakage_target: 0.1}\n")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["scenario=typo", "calibrated=none"])
    assert resolve_parameters(cfg, spec).values == {}
    with pytest.raises(ScenarioFileError, match="parmas"):
        scenario_files(config_dir / "scenario")


def test_an_unknown_scenario_name_is_refused_naming_the_options():
    with pytest.raises(MissingConfigException) as error:
        compose_config("scenario=strict_watr")
    assert "strict_watr" in str(error.value) and "strict_water" in str(error.value)


@pytest.fixture(scope="module")
def baseline_without_calibration():
    return compose_config("scenario=baseline", "calibrated=none")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_scenario_changes_only_the_parameters_it_names(scenario, spec, baseline_without_calibration):
    """Resolved parameters against the baseline's (on the .mdl values: calibrated=none keeps the
    composition fast; the calibrated layer is the same for every scenario)."""
    baseline_cfg = baseline_without_calibration
    cfg = compose_config(f"scenario={scenario}", "calibrated=none")
    named = dict(cfg.scenario.params or {})
    baseline = {**spec.defaults(), **resolve_parameters(baseline_cfg, spec).values}
    resolved = {**spec.defaults(), **resolve_parameters(cfg, spec).values}
    assert set(resolved) == set(baseline)
    changed = {name for name in resolved if resolved[name] != baseline[name]}
    assert changed <= set(named), f"{scenario} changes parameters it does not name: {changed - set(named)}"
    by_league = {name for name, value in named.items() if isinstance(value, Mapping)}  # simulator.by_element
    for name, value in named.items():
        if name in by_league:
            assert np.asarray(resolved[name]).size > 1 and not np.all(np.asarray(resolved[name]) == baseline[name])
            continue
        assert resolved[name] == float(value)
    assert changed == by_league | {name for name, value in named.items()
                                   if name not in by_league and float(value) != baseline[name]}
    if scenario != "baseline":
        assert changed, f"{scenario} changes nothing"


@functools.lru_cache(maxsize=None)
def calibrated_config(scenario: str):
    """The composed config with the calibrated draws (slow to compose: cached)."""
    return compose_config(f"scenario={scenario}")


@pytest.mark.parametrize("scenario", ["demographic_pessimism"])
def test_members_share_draws_across_scenarios_except_what_the_scenario_fixes(scenario, spec):
    """Common random numbers: member i has the same calibrated draw in every scenario."""
    from omegaconf import OmegaConf

    members = {}
    for name in ("baseline", scenario):
        cfg = calibrated_config(name)
        uncertainty = uncertainty_from_config(OmegaConf.to_container(cfg.calibrated.uncertainty), spec)
        rng = np.random.default_rng(np.random.SeedSequence(int(cfg.ensemble.seed)).spawn(2)[0])
        members[name] = draw_members(resolve_parameters(cfg, spec), uncertainty, 200, rng)
    named = set(calibrated_config(scenario).scenario.params)
    for name, values in members["baseline"].items():
        if name in named:
            continue
        np.testing.assert_array_equal(members[scenario][name], values, err_msg=name)
    varied = [n for n in named if np.ndim(members["baseline"].get(n)) == 1]
    assert scenario != "demographic_pessimism" or varied, "the scenario must fix calibrated parameters"
    for name in varied:
        assert np.ndim(members[scenario][name]) == 0


# --------------------------------------------------------------------------- history is not a lever
#: Scenarios that still set calibrated parameters of 2015-2020, with the reason. A scenario is a
#: policy of the plan (issued 2021) or a future; it must leave the calibrated history alone.
REWRITES_HISTORY: dict[str, str] = {}  # scenario -> reason (an xfail); none left


@functools.lru_cache(maxsize=None)
def _history_run(scenario: str):
    cfg = compose_config(f"scenario={scenario}", "ensemble.samples=60", "plots=false")
    return simulate(prepare(cfg, load_spec()))


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "baseline"])
def test_a_scenario_leaves_the_calibrated_history_alone(scenario):
    """A policy figure applies from the year it was set: every scenario's members (common random
    numbers) are the baseline's in 2015-2020, in every output kept per member, and the scenario
    changes something after 2020. Time convention: a stock at model time 2020 is the 2020 year-end;
    a flow or auxiliary at model time 2020 is computed for the step that starts there, which belongs
    to 2021, so flows are compared up to 2019 and stocks up to 2020."""
    if scenario in REWRITES_HISTORY:
        pytest.xfail(REWRITES_HISTORY[scenario])
    spec = load_spec()
    base, run = _history_run("baseline").ensemble, _history_run(scenario).ensemble
    compared = stocks = 0
    for name, values in base.data_vars.items():
        if "time" not in values.dims or name not in run:
            continue
        kind = spec.variables[name].kind if name in spec.variables else "auxiliary"
        last = 2020 if kind == "stock" else 2019
        history = {"time": slice(None, last)}
        np.testing.assert_allclose(run[name].sel(history).values, values.sel(history).values, rtol=1e-9,
                                   atol=1e-9, err_msg=f"{scenario}: {name} ({kind}) to {last}")
        compared += 1
        stocks += kind == "stock"
    assert compared >= 20 and stocks >= 3
    future = {"time": slice(2021, 2035)}
    assert any(not np.allclose(run[n].sel(future).values, base[n].sel(future).values, rtol=1e-9, atol=0)
               for n in base.data_vars if "time" in base[n].dims and n in run), f"{scenario} changes nothing"
