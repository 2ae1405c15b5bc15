"""sim.py: configuration checks, the run archive, atomic writing and the summary."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
import pytest
import xarray as xr
from hydra import compose, initialize_config_dir

from model.spec import ParameterError
from base import signals
from base.archive import ArchiveError, staged_archive, verify_archive
from simulator.config import preprocess_overrides, resolve_parameters
from simulator.plots import BIRTHS_DEATHS, PYRAMIDS
from simulator.run import run_job
from simulator.summary import at_year
from simulator.league_uncertainty import LeagueUncertainty

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "scenarios"
REQUIRED_OUTPUTS = {
    "total_population": "persons", "urban_population": "persons", "rural_population": "persons",
    "urban_hukou_population": "persons", "urbanization_rate": "%", "hukou_urbanization_rate": "%",
    "urban_construction_land": "km2", "urban_water_demand": "m3/Year", "water_cap": "m3/Year",
}


def compose_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def run_sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(ROOT / "sim.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# --------------------------------------------------------------------------- configuration
SCENARIOS = sorted(path.stem for path in (CONFIG_DIR / "scenario").glob("*.yaml"))
CALIBRATED = sorted(path.stem for path in (CONFIG_DIR / "calibrated").glob("*.yaml"))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("calibrated", CALIBRATED)
def test_every_config_composes_and_names_only_model_parameters(scenario, calibrated, spec):
    cfg = compose_config(f"scenario={scenario}", f"calibrated={calibrated}")
    resolved = resolve_parameters(cfg, spec)
    assert cfg.scenario.name == scenario, "a scenario file's name must match its file name"
    for name, value in resolved.values.items():
        low, high = spec.parameters[name].limits
        values = np.asarray(value, dtype=float)  # a parameter set by league or group is an array
        assert np.all((low <= values) & (values <= high)), name


@pytest.mark.parametrize("league_fit", sorted(path.stem for path in (CONFIG_DIR / "league_fit").glob("*.yaml")))
def test_every_league_fit_config_composes(league_fit, spec):
    cfg = compose_config(f"league_fit={league_fit}")
    node = OmegaConf.to_container(cfg.league_fit, resolve=True)
    uncertainty = LeagueUncertainty.from_config(node)
    assert uncertainty.enabled == (league_fit != "none")
    drawn = uncertainty.draw(spec, 3, np.random.SeedSequence(0))
    assert drawn if league_fit != "none" else not drawn
    assert all(name in spec.variables and spec.variables[name].kind == "constant" for name in drawn)


def test_parameter_layers_resolve_in_order(spec):
    cfg = compose_config("calibrated=none", "++params.base_settlement_rate=0.03")
    resolved = resolve_parameters(cfg, spec)
    assert resolved.values == {"base_settlement_rate": 0.03}
    assert resolved.sources == {"base_settlement_rate": "command line"}
    assert resolved.fixed_by_user() == {"base_settlement_rate"}


def test_a_typo_in_a_scenario_file_is_an_error(spec):
    cfg = compose_config("calibrated=none")
    cfg.scenario.params = {"base_setlement_rate": 0.02}
    with pytest.raises(ParameterError, match=r"\[scenario\] unknown parameter 'base_setlement_rate'.*base_settlement_rate"):
        resolve_parameters(cfg, spec)


def test_command_line_parameter_checks(spec):
    assert preprocess_overrides(["params.base_settlement_rate=0.02", "scenario=baseline"], spec) == [
        "++params.base_settlement_rate=0.02", "scenario=baseline"]
    assert preprocess_overrides(["params.base_settlement_rate=0.01,0.02"], spec) == [
        "++params.base_settlement_rate=0.01,0.02"]
    with pytest.raises(ParameterError, match="outside its documented range"):
        preprocess_overrides(["params.base_settlement_rate=0.01,0.5"], spec)
    with pytest.raises(ParameterError, match="not a parameter"):
        preprocess_overrides(["params.urbanization_rate=70"], spec)


@pytest.mark.parametrize("override, message", [
    ("params.base_migration_rate=0.02", "unknown parameter 'base_migration_rate'. Did you mean: "),
    ("params.base_settlement_rate=0.5", "outside its documented range: it must be a number in [0, 0.1] 1/Year"),
    ("params.base_settlement_rate=fast", "must be a number in [0, 0.1] 1/Year, got 'fast'"),
    ("run.time_step=2", "run.time_step = 2 must be in (0, 1]"),
    ("ensemble.samples=-5", "ensemble.samples must be a whole number >= 0"),
])
def test_bad_input_exits_nonzero_and_writes_nothing(tmp_path, override, message):
    target = tmp_path / "archive"
    completed = run_sim(override, f"hydra.run.dir={target}")
    assert completed.returncode != 0
    assert message in completed.stderr
    assert not target.exists(), "a refused run must not leave its directory behind"


# --------------------------------------------------------------------------- the archive
@pytest.fixture(scope="module")
def point_archive(tmp_path_factory):
    """One complete run with the PySD reference engine (point run only: no ensemble)."""
    target = tmp_path_factory.mktemp("runs") / "baseline"
    target.mkdir()  # as Hydra does before the job starts
    cfg = compose_config("engine=pysd", "calibrated=none", "ensemble.samples=0")
    summary = run_job(cfg, target, overrides=["engine=pysd"], progress=False)
    return target, summary


def test_archive_holds_everything_listed(point_archive):
    archive, _ = point_archive
    for name in ("outputs.nc", "summary.json", "config.yaml", "manifest.json", "README.md",
                 "urbanization.png", "population.png", "land.png", "water.png", PYRAMIDS, BIRTHS_DEATHS):
        assert (archive / name).is_file(), name
    manifest = verify_archive(archive)
    assert manifest["git"]["commit"] is None or len(manifest["git"]["commit"]) == 40
    assert isinstance(manifest["git"]["dirty"], (bool, type(None)))
    assert manifest["inputs"]["model"]["path"] == "model/inner_mongolia.mdl"
    assert len(manifest["inputs"]["model"]["sha256"]) == 64
    assert "scenario/baseline.yaml" in manifest["config_files"]
    assert manifest["packages"]["pysd"] and manifest["seed"] == 20211122
    assert manifest["wall_time_s"] > 0 and manifest["overrides"] == ["engine=pysd"]
    assert set(manifest["files"]) >= {"outputs.nc", "summary.json", "config.yaml"}


def test_outputs_have_units_descriptions_and_read_back_equal(point_archive, pysd_engine, spec):
    archive, _ = point_archive
    with xr.open_dataset(archive / "outputs.nc") as outputs:
        assert outputs["time"].values[0] == 2015 and outputs["time"].values[-1] == 2035
        for name, units in REQUIRED_OUTPUTS.items():
            assert outputs[name].attrs["units"] == units
            assert outputs[name].attrs["description"]
        model_variables = {n for n, v in spec.variables.items() if v.kind in ("stock", "auxiliary", "constant")}
        assert model_variables <= set(outputs.data_vars)
        fresh = pysd_engine.run(return_columns=list(REQUIRED_OUTPUTS))
        for name in REQUIRED_OUTPUTS:
            np.testing.assert_array_equal(outputs[name].values, fresh[name])


def test_summary_matches_the_outputs(point_archive):
    archive, summary = point_archive
    assert json.loads((archive / "summary.json").read_text()) == json.loads(json.dumps(summary))
    with xr.open_dataset(archive / "outputs.nc") as outputs:
        for year in ("2020", "2025", "2035"):
            assert summary["urbanization_rate_pct"][year] == pytest.approx(
                float(at_year(outputs["urbanization_rate"], int(year))), rel=1e-12)
        assert summary["targets"]["2025"]["reached_by_point_estimate"] == bool(
            at_year(outputs["urbanization_rate"], 2025) >= 69)
        land = outputs["total_urban_construction_land"]
        new_land = float(at_year(land, 2025) - at_year(land, 2020))
        assert summary["land"]["new_land_2021_2025_km2"] == pytest.approx(new_land, rel=1e-12)
        assert summary["land"]["quota_2021_2025_km2"] == pytest.approx(640000 * 666.667 / 1e6)
        margin = (outputs["effective_water_cap"].values - outputs["total_water_demand_before_cap"].values) / 1e8
        assert summary["water"]["smallest_margin_yi_m3"] == pytest.approx(margin.min(), rel=1e-9)
        assert summary["water"]["worst_year"] == int(outputs["time"].values[np.argmin(margin)])


def test_altered_archive_is_detected(point_archive, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(point_archive[0], copy)
    with open(copy / "summary.json", "a") as handle:
        handle.write(" ")
    with pytest.raises(ArchiveError, match="summary.json differs from the manifest"):
        verify_archive(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ArchiveError, match="did not finish"):
        verify_archive(copy)


def test_failed_run_leaves_no_directory(tmp_path, monkeypatch):
    import simulator.run

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(simulator.run, "write_plots", broken)
    target = tmp_path / "failing"
    target.mkdir()
    cfg = compose_config("engine=pysd", "calibrated=none", "ensemble.samples=0")
    with pytest.raises(RuntimeError, match="disk full"):
        run_job(cfg, target, progress=False)
    assert list(tmp_path.iterdir()) == [], "neither the run directory nor a staging directory may remain"


def test_killed_run_never_looks_complete(tmp_path):
    target = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from base.archive import staged_archive
        with staged_archive({str(target)!r}) as staging:
            (staging / "outputs.nc").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert completed.returncode == -signal.SIGKILL
    assert not target.exists() or not any(target.iterdir())
    with pytest.raises(ArchiveError):
        verify_archive(target)


@pytest.mark.parametrize("moment", ["staging created", "just before the rename"])
def test_a_signal_at_any_moment_of_the_staging_leaves_no_partial(tmp_path, monkeypatch, moment):
    """What the signal handler does (run the registered clean-ups), done at the two edges of the
    staging: right after its directory is made, and right before it is renamed. The first moment
    left a .partial behind when the clean-up was registered after the mkdir (seen in CI under load)."""
    target = tmp_path / "run"
    real_mkdir, real_rename = Path.mkdir, os.rename

    def mkdir(self, *args, **kwargs):
        real_mkdir(self, *args, **kwargs)
        if moment == "staging created" and ".partial-" in self.name:
            signals.run_cleanups()

    def rename(source, destination):
        if moment == "just before the rename":
            signals.run_cleanups()
        real_rename(source, destination)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError):  # the staging directory is gone: its rename fails, as it would not run
        with staged_archive(target) as staging:
            (staging / "outputs.nc").write_text("half")
    assert list(tmp_path.iterdir()) == []


def test_staged_archive_refuses_to_overwrite(tmp_path):
    target = tmp_path / "full"
    target.mkdir()
    (target / "outputs.nc").write_text("earlier run")
    with pytest.raises(ArchiveError, match="not empty"):
        with staged_archive(target):
            pass
    assert (target / "outputs.nc").read_text() == "earlier run"


def test_cli_run_writes_archive_into_hydra_run_dir(tmp_path):
    target = tmp_path / "cli"
    completed = run_sim("engine=pysd", "calibrated=none", "ensemble.samples=0", "plots=false",
                        "params.base_settlement_rate=0.02", f"hydra.run.dir={target}")
    assert completed.returncode == 0, completed.stderr
    manifest = verify_archive(target)
    assert manifest["parameters"]["base_settlement_rate"] == {"value": 0.02, "source": "command line"}
    assert "++params.base_settlement_rate=0.02" in manifest["overrides"]
    with xr.open_dataset(target / "outputs.nc") as outputs:
        assert float(outputs["base_settlement_rate"].values[0]) == 0.02


def test_archive_reproduces_from_its_own_files(point_archive):
    from simulator.reproduce import reproduce

    assert reproduce(point_archive[0]) == []


def test_run_archive_spells_the_files_sim_py_writes(point_archive):
    from base.archive import RunArchive

    archive = RunArchive(point_archive[0])
    manifest = archive.verify()
    assert archive.complete and {RunArchive.OUTPUTS, RunArchive.SUMMARY, RunArchive.CONFIG,
                                 RunArchive.README} <= set(manifest["files"])
    assert archive.read_summary() == point_archive[1]
    assert set(archive.open_dataset(RunArchive.OUTPUTS, ["urbanization_rate"]).data_vars) == {"urbanization_rate"}


def test_reproduce_reports_summary_entries_an_older_archive_lacks():
    from simulator.reproduce import compare_summary

    recorded = {"a": 1.0, "b": {"c": [1, 2]}}
    fresh = {"a": 1.0, "b": {"c": [1, 2], "new": 3}, "also_new": True}
    added: list = []
    assert compare_summary(recorded, fresh, 1e-12, added=added) == []
    assert added == ["summary.json.also_new", "summary.json.b.new"]
    # an entry the archive records must still be there, with the same value
    assert compare_summary(fresh, recorded, 1e-12) == ["summary.json.also_new: not in the new summary",
                                                       "summary.json.b.new: not in the new summary"]
    assert compare_summary({"a": 1.0}, {"a": 1.1}, 1e-12) == ["summary.json.a: archived 1.0, new run 1.1"]


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("wrong,header\n1,2\n", "line 1: the header"),
    ("{header}\n{row_short}\n", "line 2: "),
    ("{header}\n{row_text}\n", "line 2: a value is not a number"),
])
def test_malformed_draws_file_is_refused_with_its_line(tmp_path, capsys, spec, content, message):
    from simulator.run import prepare

    cfg = compose_config()
    names = list(cfg.calibrated.uncertainty.parameters)
    draws = tmp_path / "draws.csv"
    if content is not None:
        draws.write_text(content.format(header=",".join(names), row_short="0.1,0.2",
                                        row_text=",".join(["x"] * len(names))))
    cfg.calibrated.uncertainty.draws_file = str(draws)
    target = tmp_path / "run"
    target.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        prepare(cfg, spec, target)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not target.exists()


def test_manifest_names_dirty_files_whole(tmp_path):
    from base.archive import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "model.mdl").write_text("a\n")
    git("add", "model.mdl")
    git("commit", "-qm", "first")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "model.mdl").write_text("b\n")  # unstaged change: porcelain line " M model.mdl"
    state = git_state(tmp_path)
    assert state["dirty"] is True and state["dirty_files"] == ["model.mdl"]


def test_rk4_with_the_pysd_engine_is_refused(tmp_path):
    target = tmp_path / "rk4"
    completed = run_sim("engine=pysd", "run.method=rk4", "calibrated=none", f"hydra.run.dir={target}")
    assert completed.returncode == 2
    assert "run.method=rk4 needs engine=vectorized" in completed.stderr
    assert not target.exists()


# --------------------------------------------------------------------------- the population core's outputs
#: summary.json key -> (model variable, plausible range at every report year) of the population core.
#: The ranges are wide on purpose (Inner Mongolia, about 24 million residents): they catch a wrong
#: unit or variable, not a change of the calibration.
DEMOGRAPHY_SUMMARY = {
    "total_births_persons_per_year": ("total_births", (5.0e4, 5.0e5)),
    "total_deaths_persons_per_year": ("total_deaths", (5.0e4, 5.0e5)),
    "crude_birth_rate_permille": ("crude_birth_rate", (2.0, 20.0)),
    "crude_death_rate_permille": ("crude_death_rate", (3.0, 25.0)),
    "share_65_plus_pct": ("share_65_plus", (5.0, 45.0)),
    "old_age_dependency_ratio_pct": ("old_age_dependency_ratio", (5.0, 80.0)),
    "official_hukou_urbanization_rate_pct": ("official_hukou_urbanization_rate", (30.0, 75.0)),
}


@pytest.fixture(scope="module")
def ensemble_archive(tmp_path_factory):
    """A small ensemble run as ``python sim.py ensemble.samples=20`` makes it (calibrated draws, plots)."""
    target = tmp_path_factory.mktemp("runs") / "ensemble"
    target.mkdir()
    cfg = compose_config("ensemble.samples=20")
    summary = run_job(cfg, target, overrides=["ensemble.samples=20"], progress=False)
    return target, summary


def test_archive_has_the_pyramids_and_the_births_and_deaths_plot(ensemble_archive):
    archive, _ = ensemble_archive
    manifest = verify_archive(archive)  # listed with their hashes
    readme = (archive / "README.md").read_text(encoding="utf-8")
    for name in (PYRAMIDS, BIRTHS_DEATHS):
        assert name in manifest["files"] and (archive / name).stat().st_size > 10_000, name
        assert f"| `{name}` |" in readme, name
    # 91 ages x 2 sexes are too many panels for a small-multiple plot: the pyramids show them
    assert not (archive / "population_by_age_and_sex.png").exists()


def test_outputs_carry_population_by_age_and_sex_with_the_mdl_subscripts(ensemble_archive, spec):
    archive, _ = ensemble_archive
    with xr.open_dataset(archive / "outputs.nc") as outputs:
        by_age_sex = outputs["population_by_age_and_sex"]
        assert by_age_sex.dims == ("time", "age", "sex")
        assert tuple(by_age_sex["age"].values) == spec.coords["age"] and len(spec.coords["age"]) == 91
        assert tuple(by_age_sex["sex"].values) == spec.coords["sex"] == ("male", "female")
        assert by_age_sex.attrs["units"] == "persons"
        np.testing.assert_allclose(by_age_sex.sum(["age", "sex"]).values, outputs["total_population"].values,
                                   rtol=1e-9)
    with xr.open_dataset(archive / "ensemble.nc") as members:
        # kept per member: the scalar demography; not per member: the age structure (outputs.yaml says why)
        assert members["total_births"].dims == ("sample", "time") and members.sizes["sample"] == 20
        assert float(members["total_deaths"].isel(time=-1).std("sample")) > 0
        assert "population_by_age_and_sex" not in members


def test_pyramid_counts_are_the_population_stock_in_drawing_order(ensemble_archive, tmp_path):
    from simulator.pyramid import plot_pyramids, pyramid_counts

    archive, _ = ensemble_archive
    with xr.open_dataset(archive / "outputs.nc") as outputs:
        for year in (2020, 2035):
            counts = pyramid_counts(outputs, year)
            assert counts.shape == (91, 2, 3)
            stock = outputs["population"].sel(time=float(year))
            np.testing.assert_allclose(counts.sum(axis=2), stock.sum("residence").values, rtol=1e-12)
            np.testing.assert_allclose(counts[:, :, 0], stock.sel(residence="rural").values, rtol=1e-12)
            np.testing.assert_allclose(counts[:, 1, :], stock.sel(sex="female").values, rtol=1e-12)
        with pytest.raises(KeyError, match="outside the simulated times"):
            pyramid_counts(outputs, 2040)
        with pytest.raises(ValueError, match="no pyramid year"):
            plot_pyramids(outputs, (2040,), tmp_path / "unused.png")


def test_summary_reports_the_population_core_at_the_report_years(ensemble_archive):
    archive, summary = ensemble_archive
    with xr.open_dataset(archive / "outputs.nc") as outputs:
        for key, (name, (low, high)) in DEMOGRAPHY_SUMMARY.items():
            assert list(summary[key]) == ["2015", "2020", "2025", "2030", "2035"], key
            for year, value in summary[key].items():
                assert low < value < high, (key, year, value)
                assert value == pytest.approx(float(at_year(outputs[name], int(year))), rel=1e-12)
    births, deaths = summary["total_births_persons_per_year"], summary["total_deaths_persons_per_year"]
    for year, increase in summary["natural_increase_persons_per_year"].items():
        assert increase == pytest.approx(births[year] - deaths[year], rel=1e-9, abs=1e-6 * births[year])
    share = summary["share_65_plus_pct"]
    assert share["2035"] > share["2020"] > share["2015"]  # the cohorts of the 1960s reach 65


def test_plot_history_has_the_bulletin_birth_and_death_rates_from_the_data_file():
    from base.observations import load_history, load_observations, series

    history, frame = load_history(), load_observations()
    for name, variable in (("crude_birth_rate", "birth_rate_permille"), ("crude_death_rate", "death_rate_permille"),
                           ("total_births", "births"), ("total_deaths", "deaths")):
        rows = series(frame, variable)
        factor = 1e3 if variable.endswith("_permille") else 1.0  # 1/Year -> permille/Year; persons
        expected = [(year - 0.5, value * factor) for year, value in zip(rows["year"], rows["value_model"])]
        got = [(time, value) for time, value, basis in history[name]]
        assert len(got) == len(expected) and all(basis == "pre-census" for _, _, basis in history[name])
        np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-12)
    rates = dict((time, value) for time, value, _ in history["crude_birth_rate"])
    assert 2014.5 in rates and 2018.5 in rates and all(0 < v < 20 for v in rates.values())  # 2015-2019, per mille


def test_the_death_under_count_noted_on_the_plot_is_what_the_model_says(spec):
    # plots.plot_births_deaths writes that the bulletins under-count deaths; the .mdl says so
    assert "under-count deaths" in spec.variables["crude_death_rate"].description
    assert spec.variables["crude_death_rate"].units == "permille/Year"


# --------------------------------------------------------------------------- the printed summary
@pytest.mark.parametrize("p, text", [(0.996, "> 0.99"), (1.0, "> 0.99"), (0.5234, "0.523"),
                                     (0.99, "0.990"), (0.004, "< 0.01"), (0.0, "< 0.01")])
def test_probabilities_print_to_three_decimals_or_as_near_certain(p, text):
    from simulator.summary import format_probability

    assert format_probability(p) == text


def test_printed_summary_says_within_or_over_cap_in_yi_m3_and_land_in_mu(point_archive):
    import copy

    from simulator.summary import summary_lines

    _, summary = point_archive
    text = "\n".join(summary_lines(summary))
    margin = summary["water"]["smallest_margin"] / 1e8
    side = "within cap by" if margin >= 0 else "over cap by"
    assert f"{side} {abs(margin):.2f} 亿m³" in text
    assert "640,000 mu (426.7 km²) quota" in text
    assert f"{summary['land']['new_land_2021_2025_mu']:,.0f} mu" in text
    assert summary["land"]["new_land_2021_2025_mu"] == pytest.approx(
        summary["land"]["new_land_2021_2025_km2"] * 1e6 / 666.667, rel=1e-4)
    assert "point run only" in text and "P(" not in text
    over = copy.deepcopy(summary)
    over["water"]["smallest_margin_yi_m3"] = -1.5
    assert "over cap by 1.50 亿m³" in "\n".join(summary_lines(over))


def test_printed_ensemble_summary_names_size_probabilities_and_median():
    from simulator.summary import summarize, summary_lines

    cfg = compose_config("ensemble.samples=40", "plots=false")
    from model.spec import load_spec
    from simulator.run import prepare, simulate

    spec = load_spec()
    plan = prepare(cfg, spec)
    resolved, settings, uncertainty = plan.parameters, plan.settings, plan.uncertainty
    run = simulate(plan)
    point, ensemble, predictive = run.point, run.ensemble, run.predictive
    summary = summarize(point, ensemble, predictive, {"scenario": "baseline"})
    text = "\n".join(summary_lines(summary))
    assert "ensemble: 40 members" in text
    # water within cap = the water all sectors want fits under the cap in force: the cap never binds
    assert "P(water cap never binds, every year to 2035)" in text
    binding = summary["ensemble"]["limits_binding"]
    assert f"cap binds in {100 * binding['water_cap']['share_member_years']:.1f} % of member-years" in text
    flags = ensemble["water_cap_binds"].sel(time=slice(2016, 2035)) > 0
    assert binding["water_cap"]["share_member_years"] == pytest.approx(float(flags.mean()))
    ever = (ensemble["water_cap_binds"].sel(time=slice(None, 2035)) > 0).any("time")
    assert summary["ensemble"]["p_water_within_cap"] == pytest.approx(float((~ever).mean()))
    assert "P(within the standard at the end)" in text
    assert ", median " in text and "differs from the ensemble median" in text
    median = summary["targets"]["2035"]["ensemble_median_pct"]
    assert median == pytest.approx(float(np.median(at_year(ensemble["urbanization_rate"], 2035).values)))
    # the printed median is that of the draws the band and P come from (observation noise included)
    assert summary["targets"]["2035"]["median_pct"] == pytest.approx(float(np.median(predictive[2035])))
    low, high = summary["targets"]["2035"]["band_90_pct"]
    assert low < summary["targets"]["2035"]["median_pct"] < high
