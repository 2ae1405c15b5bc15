"""The 12 leagues (issue 12): groupings, census by league, levers by league or group, regional targets,
league pictures and the conservation of migration between leagues.

Run on the test model ``tests/models/league_migration.mdl`` (urban and rural residents of the 12
leagues from the 2020 census, an origin-destination flow between leagues), since the project's model
has no league subscript yet.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from analysis.compare import compare
from base.archive import RunArchive
from base.leagues import (LEAGUES_PATH, LeagueFileError, LeagueNameError, league_census, load_leagues)
from model.engines import make_engine
from model.spec import ParameterError, load_spec
from simulator import league_plots
from simulator.config import preprocess_overrides, resolve_parameters
from simulator.regional import REGIONAL_TARGETS, regional_summary, target_value
from simulator.results import run_to_dataset

ROOT = Path(__file__).resolve().parents[1]
MODEL = "tests/models/league_migration.mdl"
SAMPLES = 40
DRAWS = ("base_rural_to_urban_rate,inter_league_rate,out_of_region_rate,urban_natural_rate\n"
         "0.02,0.005,0.002,0.0\n0.03,0.01,0.004,0.001\n0.045,0.02,0.006,0.003\n0.055,0.025,0.008,-0.002\n"
         "0.025,0.015,0.003,0.002\n0.012,0.002,0.009,-0.004\n")  # inside the documented ranges of the .mdl


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("league_migration")
    (tmp / "draws.csv").write_text(DRAWS)
    target = tmp / "run"
    completed = run("sim.py", f"model.mdl={MODEL}", "calibrated=none",
                    "calibrated.uncertainty={method: test draws, parameters: [base_rural_to_urban_rate, "
                    f"inter_league_rate, out_of_region_rate, urban_natural_rate], draws_file: {tmp / 'draws.csv'}, "
                    "observation_noise: {}}", f"ensemble.samples={SAMPLES}",
                    "params.settlement_ease.cluster=0.9", "params.settlement_ease.Alxa=0.1",
                    f"hydra.run.dir={target}")
    assert completed.returncode == 0, completed.stderr
    return target


# ---------------------------------------------------------------------- groupings
def test_groupings_are_the_plans():
    leagues = load_leagues()
    assert set(leagues.names) == {"Hohhot", "Baotou", "Ordos", "Ulanqab", "Chifeng", "Tongliao", "Hulunbuir",
                                  "Hinggan", "Xilingol", "Bayannur", "Wuhai", "Alxa"}
    assert leagues.members("cluster") == ("Hohhot", "Baotou", "Ordos", "Ulanqab")  # ch.3 sec.1
    assert leagues.members("poles") == ("Chifeng", "Tongliao")  # ch.3 sec.2
    assert not set(leagues.members("cluster")) & set(leagues.members("poles"))
    assert set(leagues.members("cluster")) <= set(leagues.members("yellow_river"))
    assert not set(leagues.members("east")) & set(leagues.members("yellow_river"))
    for partition in (("east", "central", "west"), ("expanding", "stable", "shrinking")):
        members = [m for g in partition for m in leagues.members(g)]
        assert sorted(members) == sorted(leagues.names)  # disjoint and complete
    for group in leagues.groups.values():  # a source, and conventions say why
        assert group.source and (not group.assumption or group.note)
    assert not leagues.groups["cluster"].assumption and leagues.groups["east"].assumption


def test_the_models_and_data_use_the_declared_names():
    leagues = load_leagues()
    for mdl in ("tests/models/leagues.mdl", MODEL):
        assert set(load_spec(ROOT / mdl).coords["league"]) == set(leagues.names)
    assert len(set(leagues.tiles.values())) == len(leagues.names)


def test_a_bad_group_name_is_one_line():
    with pytest.raises(LeagueNameError) as error:
        load_leagues().members("clustr")
    message = str(error.value)
    assert "\n" not in message and "'clustr'" in message and "cluster" in message and "Alxa" in message


def test_a_bad_declaration_is_refused(tmp_path):
    raw = yaml.safe_load(LEAGUES_PATH.read_text(encoding="utf-8"))
    raw["groups"]["west"]["members"].append("Hohhot")  # now overlaps central
    path = tmp_path / "leagues.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LeagueFileError, match="disjoint"):
        load_leagues(path)
    raw["groups"]["west"]["members"][-1] = "Hohot"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LeagueFileError, match="'Hohot' is not a league"):
        load_leagues(path)


# ---------------------------------------------------------------------- census by league
@pytest.mark.parametrize("year", [2010, 2020])
def test_league_census_sums_to_the_province(year):
    census = league_census(year)
    assert list(census["league"].values) == list(load_leagues().names)
    province = {name: census[name].attrs["province"] for name in ("population", "urban_population")}
    province["rural_population"] = province["population"] - province["urban_population"]  # not in data/ for 2010
    for name in ("population", "urban_population", "rural_population"):
        # the compilation's league counts are whole persons; the province figure is given to 100 persons
        assert float(census[name].sum()) == pytest.approx(province[name], abs=100)
        assert census[name].attrs["basis"] == f"[census-{year}]" and census[name].attrs["source_url"]
    np.testing.assert_allclose(census["urban_population"] + census["rural_population"], census["population"],
                               atol=1.0)
    for share in ("share_age_0_14", "share_age_65plus"):  # population-weighted: the province's share
        weighted = float((census[share] * census["population"]).sum() / census["population"].sum())
        assert weighted == pytest.approx(census[share].attrs["province"], abs=0.05)  # README: within 0.02 pp


def test_six_leagues_grew_and_six_shrank_between_the_censuses():
    change = league_census(2020)["population"] - league_census(2010)["population"]
    # data/README.md: six growing leagues +98.53万, six shrinking -164.24万 (from the same compilation)
    assert int((change > 0).sum()) == 6
    assert float(change.where(change > 0).sum()) == pytest.approx(98.53e4, abs=100)
    assert float(change.where(change < 0).sum()) == pytest.approx(-164.24e4, abs=100)
    assert float(change.sel(league="Hohhot")) > 0 and float(change.sel(league="Ulanqab")) < 0


# ---------------------------------------------------------------------- levers by league or group
def test_a_lever_by_group_sets_its_members_only():
    spec = load_spec(ROOT / MODEL)
    cfg = OmegaConf.create({"scenario": {"params": {"settlement_ease": {"east": 0.2}}},
                            "params": {"settlement_ease": {"cluster": 0.9, "Hohhot": 0.7}}})
    value = np.asarray(resolve_parameters(cfg, spec).values["settlement_ease"])
    leagues = load_leagues()
    coords = spec.coords["league"]
    expected = np.full(len(coords), 0.5)  # the .mdl value where nothing is named
    expected[leagues.mask("east", coords)] = 0.2  # scenario layer
    expected[leagues.mask("cluster", coords)] = 0.9  # command line, later names win
    expected[leagues.mask("Hohhot", coords)] = 0.7
    np.testing.assert_array_equal(value, expected)
    engine = make_engine("vectorized", ROOT / MODEL)
    base = engine.run({}, n_samples=1, return_columns=["rural_to_urban_migration"])
    lever = engine.run({"settlement_ease": value}, n_samples=1, return_columns=["rural_to_urban_migration"])
    ratio = lever["rural_to_urban_migration"][0, 0] / base["rural_to_urban_migration"][0, 0]
    np.testing.assert_allclose(ratio, (0.5 + expected) / 1.0, rtol=1e-12)  # migration scales with 0.5 + ease


def test_bad_lever_names_and_values_are_refused():
    spec = load_spec(ROOT / MODEL)
    with pytest.raises(ParameterError) as error:
        preprocess_overrides(["params.settlement_ease.clustr=0.5"], spec)
    assert "\n" not in str(error.value) and "'clustr'" in str(error.value) and "cluster" in str(error.value)
    with pytest.raises(ParameterError, match="outside its documented range"):
        preprocess_overrides(["params.settlement_ease={cluster: 1.5}"], spec)
    with pytest.raises(ParameterError, match="has no subscripts"):
        preprocess_overrides(["params.inter_league_rate.cluster=0.01"], spec)
    assert preprocess_overrides(["params.settlement_ease.poles=0.3,0.6"], spec) == [
        "++params.settlement_ease.poles=0.3,0.6"]


def test_a_bad_group_on_the_command_line_writes_nothing(tmp_path):
    completed = run("sim.py", f"model.mdl={MODEL}", "calibrated=none", "params.settlement_ease.clustr=0.5",
                    f"hydra.run.dir={tmp_path / 'x'}")
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0 and "'clustr'" in completed.stderr
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------- migration between leagues
def test_migration_between_leagues_loses_nobody():
    engine = make_engine("vectorized", ROOT / MODEL)
    rng = np.random.default_rng(3)
    n, dt = 16, 0.25
    params = {"inter_league_rate": rng.uniform(0, 0.03, n), "settlement_ease": rng.uniform(0, 1, (n, 12)),
              "out_of_region_rate": rng.uniform(0, 0.01, n)}
    columns = ["inter_league_migration", "departures", "arrivals", "total_population", "rural_natural_increase",
               "urban_natural_increase", "out_of_region_migration"]
    result = engine.run(params, n_samples=n, saveper=dt, return_columns=columns)
    flow = result["inter_league_migration"]  # (time, sample, origin, destination)
    scale = float(np.abs(flow).sum(axis=(2, 3)).max())
    # every departure arrives: the sums over leagues agree to rounding of a sum of 144 terms
    np.testing.assert_allclose(result["arrivals"].sum(axis=2), result["departures"].sum(axis=2),
                               rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(result["departures"], flow.sum(axis=3), rtol=1e-12)
    assert np.all(np.einsum("tsii->tsi", flow) == 0)  # no move to the origin itself
    # the region changes only by natural change and migration out of the region (Euler step)
    change = np.diff(result["total_population"], axis=0)
    flows = (result["rural_natural_increase"] + result["urban_natural_increase"]
             - result["out_of_region_migration"]).sum(axis=2)[:-1] * dt
    np.testing.assert_allclose(change, flows, rtol=0, atol=1e-9 * float(result["total_population"].max()))


# ---------------------------------------------------------------------- the archive
def test_regional_targets_and_their_probabilities(archive):
    run_archive = RunArchive(archive)
    regional = run_archive.read_summary()["regional"]
    ensemble = run_archive.open_dataset(RunArchive.ENSEMBLE)
    leagues = load_leagues()
    assert set(regional["targets"]) == {t.key for t in REGIONAL_TARGETS}
    for target in REGIONAL_TARGETS:
        values = target_value(ensemble, target, leagues).values  # recomputed from ensemble.nc
        entry = regional["targets"][target.key]
        assert entry["probability"] == pytest.approx(float(np.mean(values >= target.target)), abs=1e-12)
        assert entry["median"] == pytest.approx(float(np.median(values)), rel=1e-12)
        assert entry["source"].startswith("plan ch.")
    cluster = ensemble["urban_population"].sel(league=list(leagues.members("cluster")), time=2025.0).sum("league")
    share = regional["targets"]["cluster_urban_population_2025"]
    assert share["median"] == pytest.approx(float(np.median(cluster)), rel=1e-12)
    assert 0 < share["probability"] < 1  # the draws straddle 8 million (a real probability, not 0 or 1)
    # league figures with bands, and the shrinking leagues ranked by their median change
    hohhot = regional["leagues"]["Hohhot"]
    assert set(hohhot) == {"population_persons", "urbanization_rate_pct"} and set(hohhot["population_persons"]) == {
        "2025", "2035"}
    change = regional["change"]
    assert change["period"] == [2020, 2035]
    population = ensemble["population"]
    expected = 100 * (population.sel(time=2035.0) / population.sel(time=2020.0) - 1)
    for name, stats in change["by_league"].items():
        assert stats["median_pct"] == pytest.approx(float(expected.sel(league=name).median()), rel=1e-9)
        assert stats["p_shrink"] == pytest.approx(float((expected.sel(league=name) < 0).mean()), abs=1e-12)
    medians = [change["by_league"][n]["median_pct"] for n in change["shrinking"]]
    assert medians == sorted(medians) and all(m < 0 for m in medians)
    assert set(change["shrinking"]) == {n for n, s in change["by_league"].items() if s["median_pct"] < 0}


def test_group_figures_are_sums_of_their_leagues(archive):
    run_archive = RunArchive(archive)
    groups = run_archive.read_summary()["regional"]["groups"]
    point = run_archive.open_dataset(RunArchive.OUTPUTS, ["urban_population", "population"])
    leagues = load_leagues()
    assert set(groups) == set(leagues.groups)
    for group, figures in groups.items():
        for year in ("2025", "2035"):
            members = list(leagues.members(group))
            expected = float(point["urban_population"].sel(time=float(year), league=members).sum())
            assert figures["urban_population_persons"][year]["point"] == pytest.approx(expected, rel=1e-12)
            low, high = figures["population_persons"][year]["band_90"]
            assert low <= figures["population_persons"][year]["median"] <= high
    partition = sum(groups[g]["population_persons"]["2035"]["point"] for g in ("east", "central", "west"))
    assert partition == pytest.approx(float(point["population"].sel(time=2035.0).sum()), rel=1e-12)


def test_the_lever_by_group_reaches_the_archive(archive):
    run_archive = RunArchive(archive)
    ease = run_archive.open_dataset(RunArchive.OUTPUTS, ["settlement_ease"])["settlement_ease"]
    ease = ease.isel(time=0) if "time" in ease.dims else ease
    assert float(ease.sel(league="Ordos")) == 0.9 and float(ease.sel(league="Alxa")) == 0.1  # cluster, Alxa
    assert float(ease.sel(league="Chifeng")) == 0.5  # not named: the .mdl value
    recorded = run_archive.read_manifest()["parameters"]["settlement_ease"]
    assert recorded["source"] == "command line" and np.asarray(recorded["value"]).shape == (12,)


def test_the_archive_has_the_league_pictures(archive):
    names = {path.name for path in Path(archive).glob("*.png")}
    assert {league_plots.MULTIPLES, league_plots.MAP, league_plots.MIGRATION} <= names
    RunArchive(archive).verify()  # listed in the manifest with their hashes


def test_the_comparison_reports_the_regional_targets(archive, tmp_path):
    result = compare([archive], tmp_path / "comparison", plots=False)
    assert "## Regional targets (leagues)" in result["markdown"]
    row = result["regional"][0]
    summary = RunArchive(archive).read_summary()["regional"]
    for key, target in summary["targets"].items():
        assert row[f"{key}_probability"] == pytest.approx(target["probability"], abs=1e-12)
    assert (tmp_path / "comparison" / "regional.csv").is_file()


def test_regional_summary_of_a_point_run_only():
    engine = make_engine("vectorized", ROOT / MODEL)
    spec = load_spec(ROOT / MODEL)
    point = run_to_dataset(engine.run({}, n_samples=1), spec)
    regional = regional_summary(point)
    target = regional["targets"]["cluster_urban_population_2025"]
    assert "probability" not in target and "point" in target
    assert target["reached_by_point_run"] == (target["point"] >= 8.0e6)


def test_both_engines_agree_on_the_league_model():
    spec = load_spec(ROOT / MODEL)
    params = {"settlement_ease": np.linspace(0, 1, len(spec.coords["league"])), "inter_league_rate": 0.02}
    columns = ["urban_population", "rural_population", "inter_league_migration", "arrivals"]
    fast = make_engine("vectorized", ROOT / MODEL).run(params, n_samples=1, return_columns=columns)
    reference = make_engine("pysd", ROOT / MODEL).run(params, n_samples=1, return_columns=columns)
    for name in columns:
        np.testing.assert_allclose(fast[name], reference[name], rtol=1e-10, atol=1e-6)
