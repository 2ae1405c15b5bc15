"""The lever explorer's server side: controls from the registry, checks, round trip to sim.py.

The browser test is tests/test_explorer_browser.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from analysis.levers import LEVERS, read_scenario_file
from explorer.backend import DEFAULT_SAMPLES, Backend, SettingError
from explorer.outputs import PANELS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend():
    return Backend(max_samples=5000)


def run_sim(overrides: list[str], run_dir: Path, searchpath: Path | None = None) -> dict:
    """Run the real ``sim.py``; return its summary.json."""
    extra = [f"hydra.searchpath=[file://{searchpath}]"] if searchpath else []
    done = subprocess.run([sys.executable, "sim.py", *overrides, "plots=false", f"hydra.run.dir={run_dir}", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((run_dir / "summary.json").read_text())


def test_controls_follow_the_lever_registry(backend, spec):
    assert [c.name for c in backend.controls] == [lever.name for lever in LEVERS]
    for control in backend.controls:
        var = spec.parameters[control.name]
        assert (control.low, control.high) == tuple(var.limits) and control.units == var.units
        assert control.low <= control.default <= control.high
        assert control.meaning_zh and control.group_zh, f"{control.name}: Chinese meaning missing in analysis.levers"
        assert control.plan in control.tooltip and control.meaning_zh in control.tooltip
        assert control.step > 0 and (control.high - control.low) / control.step <= 10_000


def test_presets_are_the_scenario_files(backend):
    names = {p.name for p in backend.presets()}
    assert names == {path.stem for path in (ROOT / "scenarios" / "scenario").glob("*.yaml")}
    values = backend.preset_values("faster_settlement")
    assert values["student_and_talent_settlement"] == 20000


@pytest.mark.parametrize("levers, samples, message", [
    ({"leakage_target": 0.5}, 100, "outside its documented range"),
    ({"leakage_target": "abc"}, 100, "must be a number in [0.05, 0.2]"),
    ({"leakage_target": float("nan")}, 100, "must be a number"),
    ({"leakage_targt": 0.1}, 100, "Did you mean: leakage_target"),
    ({"base_settlement_rate": 0.02}, 100, "not a lever"),
    ({}, 10**7, "is refused: the explorer runs at most 5,000"),
    ({}, "12.5", "ensemble.samples must be a whole number"),
    ({}, 3, "too small"),
])
def test_bad_input_is_refused_with_the_checks_of_sim_py(backend, levers, samples, message):
    with pytest.raises(SettingError) as error:
        backend.setting("baseline", levers, samples)
    assert message in str(error.value)


def test_a_page_starts_at_the_explorer_ensemble_size_and_a_bad_one_is_refused(backend):
    assert backend.setting("baseline", {}, None).samples == DEFAULT_SAMPLES
    assert Backend(max_samples=5000, default_samples="300").default_samples == 300
    with pytest.raises(SettingError, match="too small"):
        Backend(default_samples=3)


def test_unknown_preset_and_malformed_setting_are_refused(backend):
    with pytest.raises(SettingError, match="unknown preset 'nope'"):
        backend.setting("nope", {}, 100)
    with pytest.raises(SettingError, match="JSON object"):
        backend.setting_from_json(["baseline"])


def test_panels_name_model_outputs(backend):
    outcome = backend.evaluate(backend.setting("baseline", {}, 50))
    for panel in PANELS:
        present = [s.variable for s in panel.series if s.variable in outcome.bands]
        assert present, f"panel {panel.key} shows nothing"
    assert {"reach_69_2025", "reach_72_2035", "p_water_within_cap"} <= set(outcome.probabilities())


def test_save_as_scenario_then_sim_py_reproduces_the_explorer(backend, tmp_path):
    """Round trip: explorer setting -> scenario file -> python sim.py scenario=<name> -> same numbers."""
    setting = backend.setting("faster_settlement", {"leakage_target": 0.15, "new_land_quota_2021_2025": 500000}, 300)
    outcome = backend.evaluate(setting)
    path = backend.save_scenario(setting, "explorer_round_trip", "Round trip", "往返测试",
                                 directory=tmp_path / "scenario")
    scenario = read_scenario_file(path)
    assert scenario.params["leakage_target"] == 0.15 and scenario.params["student_and_talent_settlement"] == 20000
    assert "ch.8 sec.3" in scenario.comment and "ch.2 sec.3" in scenario.comment
    message = backend.save_message(path, setting)
    assert "python sim.py scenario=explorer_round_trip ensemble.samples=300" in message
    assert "analysis.levers --write" not in message  # saved outside the project's scenarios
    in_project = backend.config_dir / "scenario" / "explorer_round_trip.yaml"
    assert "python -m analysis.levers --write" in backend.save_message(in_project, setting)
    with pytest.raises(SettingError, match="already exists"):
        backend.save_scenario(setting, "explorer_round_trip", directory=tmp_path / "scenario")
    with pytest.raises(SettingError, match="refused"):
        backend.save_scenario(setting, "../evil", directory=tmp_path / "scenario")
    summary = run_sim(["scenario=explorer_round_trip", f"ensemble.samples={setting.samples}"],
                      tmp_path / "run", searchpath=tmp_path)
    assert outcome.probabilities() == {
        **{f"reach_{e['target_pct']:g}_{y}": e["probability"] for y, e in summary["targets"].items()},
        **{k: v for k, v in summary["ensemble"].items() if k.startswith("p_")}}
    for year, entry in summary["targets"].items():
        np.testing.assert_allclose(outcome.summary["targets"][year]["band_90_pct"], entry["band_90_pct"], rtol=1e-12)
    with xr.open_dataset(tmp_path / "run" / "outputs.nc") as point:
        for q, row in zip(("p05", "p50", "p95"), outcome.bands["urbanization_rate"]):
            np.testing.assert_allclose(row, point[f"urbanization_rate_{q}"].values, rtol=1e-12)
    # the command the page shows gives the same numbers too
    direct = run_sim(setting.overrides(), tmp_path / "run_direct")
    assert direct["targets"] == summary["targets"] and direct["ensemble"] == summary["ensemble"]


def test_export_run_writes_a_normal_verifiable_archive(backend, tmp_path):
    from base.archive import verify_archive

    setting = backend.setting("baseline", {"county_town_investment": 0.5}, 50)
    archive = backend.export_run(setting, runs_dir=tmp_path)
    verify_archive(archive)
    summary = json.loads((archive / "summary.json").read_text())
    assert summary["ensemble"]["p_water_within_cap"] == backend.evaluate(setting).probabilities()["p_water_within_cap"]
    assert "params.county_town_investment=0.5" in (archive / "README.md").read_text()
