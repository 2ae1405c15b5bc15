"""A subscripted model runs through the whole house with no code of its own.

``sim.py model.mdl=tests/models/leagues.mdl`` (12 leagues, a league x residence variable) writes an
archive whose ``outputs.nc`` and ``ensemble.nc`` carry the model's dimensions and coordinates, one
small-multiple plot per subscripted output declared in ``tests/models/leagues.outputs.yaml``, and
a summary whose figures are sums over the subscripts; ``simulator.reproduce`` re-makes it and
``analysis.compare`` compares it. The only model-specific input is that YAML file (and the
test's parameter draws).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from base.archive import RunArchive
from model.outputs import OutputsError, load_outputs
from model.spec import load_spec
from simulator import league_plots

ROOT = Path(__file__).resolve().parents[1]
LEAGUES = "tests/models/leagues.mdl"
SAMPLES = 12


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def leagues_archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leagues")
    draws = tmp / "draws.csv"  # parameter draws inside the documented ranges of the .mdl
    draws.write_text("fertility_trend,other_out_rate\n-0.01,0.006\n-0.02,0.012\n0.0,0.002\n-0.025,0.018\n")
    target = tmp / "run"
    completed = run("sim.py", f"model.mdl={LEAGUES}", "calibrated=none",
                    "calibrated.uncertainty={method: test draws, parameters: [fertility_trend, other_out_rate], "
                    f"draws_file: {draws}, observation_noise: {{}}}}",
                    f"ensemble.samples={SAMPLES}", f"hydra.run.dir={target}")
    assert completed.returncode == 0, completed.stderr
    return target


def test_archive_carries_the_model_dimensions(leagues_archive):
    spec = load_spec(ROOT / LEAGUES)
    archive = RunArchive(leagues_archive)
    archive.verify()
    point = archive.open_dataset(RunArchive.OUTPUTS)
    ensemble = archive.open_dataset(RunArchive.ENSEMBLE)
    for name in ("population", "population_by_residence", "east_minus_cluster", "total_population"):
        assert point[name].dims == ("time",) + spec.variables[name].dims
    for dim in ("league", "residence", "east", "cluster"):
        assert tuple(point[dim].values) == spec.coords[dim]
    assert ensemble["population"].dims == ("sample", "time", "league")
    assert ensemble["population_by_residence"].dims == ("sample", "time", "league", "residence")
    assert ensemble.sizes["sample"] == SAMPLES
    # the members differ (the draws vary) and the .mdl's own SUM equals the sum over the dimension
    assert float(ensemble["population"].isel(time=-1).std("sample").max()) > 0
    np.testing.assert_allclose(ensemble["population"].sum("league"), ensemble["total_population"], rtol=1e-12)


def test_one_small_multiple_plot_per_subscripted_output(leagues_archive):
    outputs = load_outputs(ROOT / LEAGUES)
    subscripted = [name for name in outputs if load_spec(ROOT / LEAGUES).variables[name].dims]
    assert subscripted == ["population", "population_by_residence", "births"]
    plots = sorted(path.name for path in Path(leagues_archive).glob("*.png"))
    # and none of the plan's plots; the league pictures, as the model has population by league (no OD flow)
    assert plots == sorted([f"{name}.png" for name in subscripted] + [league_plots.MULTIPLES, league_plots.MAP])


def test_summary_is_the_sum_over_the_subscripts(leagues_archive):
    archive = RunArchive(leagues_archive)
    summary = archive.read_summary()
    point = archive.open_dataset(RunArchive.OUTPUTS, ["population"])
    for year, value in summary["population_persons"].items():
        expected = float(point["population"].sel(time=float(year)).sum("league"))
        assert value == pytest.approx(expected, rel=1e-12)
    assert "targets" not in summary  # the model has none of the plan's variables


def test_reproduce_and_compare(leagues_archive, tmp_path):
    completed = run("-m", "simulator.reproduce", str(leagues_archive), "--rtol", "1e-12")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = tmp_path / "comparison"
    completed = run("-m", "analysis.compare", str(leagues_archive), "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    with open(out / "comparison.csv", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    ensemble = RunArchive(leagues_archive).open_dataset(RunArchive.ENSEMBLE)
    last = ensemble["population_by_residence"].isel(time=-1).sum(["league", "residence"]).values
    assert float(row["population_by_residence_2035_median"]) == pytest.approx(float(np.median(last)), rel=1e-12)
    assert {p.name for p in out.glob("*.png")} == {"population.png", "population_by_residence.png",
                                                    "total_population.png"}


def test_a_bad_model_path_is_one_line(tmp_path):
    completed = run("sim.py", "model.mdl=tests/models/no_such.mdl", f"hydra.run.dir={tmp_path / 'x'}")
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0 and "model.mdl = tests/models/no_such.mdl" in completed.stderr
    assert not (tmp_path / "x").exists()


def test_the_declaration_is_checked_against_the_model(tmp_path):
    mdl = tmp_path / "leagues.mdl"
    mdl.write_text((ROOT / LEAGUES).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "leagues.outputs.yaml").write_text("outputs:\n  population: {units: people, ensemble: true}\n")
    with pytest.raises(OutputsError, match="units 'people' but the .mdl says 'persons'"):
        load_outputs(mdl, load_spec(mdl))
    (tmp_path / "leagues.outputs.yaml").write_text("outputs:\n  populaton: {ensemble: true}\n")
    with pytest.raises(OutputsError, match="'populaton' is not a variable"):
        load_outputs(mdl, load_spec(mdl))
    (tmp_path / "leagues.outputs.yaml").write_text("outputs:\n  population: {ensmble: true}\n")
    with pytest.raises(OutputsError, match="unknown key"):
        load_outputs(mdl)


def test_the_project_declaration_fits_its_model():
    spec = load_spec()
    outputs = load_outputs(spec.mdl_path, spec)  # raises if a name or a unit differs from the .mdl
    assert set(outputs.names("compare")) <= set(outputs.names("ensemble"))
    assert set(outputs.names("band")) <= set(outputs.names("ensemble"))
    assert all(spec.variables[name].kind == "constant" for name in outputs.names("constant"))
