"""The league layer of the main model (issue 12): exact sums over the leagues, nobody lost between
leagues, no negative stocks at the ends of the parameter ranges, PySD agreement on the league variables,
and the regional figures of a run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.compare import compare
from base.archive import RunArchive
from base.league_state import league_state
from base.leagues import load_leagues
from model import MODEL_PATH
from model.vectorized import VectorizedModel
from base.paths import REPO_ROOT
from simulator import league_plots
from simulator.regional import regional_summary

LEAGUE_COLUMNS = ["league_population", "population_by_league", "urban_population_by_league", "total_population",
                  "urban_population", "population_by_residence", "inter_league_migration",
                  "net_migration_between_leagues", "rural_moves_to_other_leagues", "inter_league_moves",
                  "league_city_land", "urban_construction_land", "domestic_water_demand_by_league",
                  "domestic_water_demand"]
#: Parameter ranges of the league layer (the .mdl's), drawn jointly below.
RANGES = {"inter_league_migration_rate": (0.0, 0.03), "share_of_rural_migrants_leaving_league": (0.0, 0.8),
          "inter_league_distance_scale": (100.0, 1000.0), "destination_size_elasticity": (0.0, 1.5)}


@pytest.fixture(scope="module")
def engine() -> VectorizedModel:
    return VectorizedModel.from_mdl(MODEL_PATH)


def _draws(n: int, seed: int, extreme: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    params = {}
    for name, (low, high) in RANGES.items():
        params[name] = rng.choice([low, high], n) if extreme else rng.uniform(low, high, n)
    n_leagues = len(load_leagues().names)
    for name, (low, high) in (("league_urbanization_propensity", (0.25, 4.0)),
                              ("league_settlement_ease", (0.5, 2.0)), ("league_pull_factor", (0.25, 4.0)),
                              ("league_out_migration_propensity", (0.5, 2.0))):
        params[name] = (rng.choice([low, high], (n, n_leagues)) if extreme
                        else np.exp(rng.uniform(np.log(low), np.log(high), (n, n_leagues))))
    params["cluster_hukou_transfer_boost"] = rng.uniform(0.0, 1.0, n)
    return params


@pytest.fixture(scope="module")
def random_runs(engine):
    return engine.run(_draws(64, 20201101), n_samples=64, return_columns=LEAGUE_COLUMNS)


def test_league_order_is_the_declared_one(engine):
    assert engine.variables["league_population"].coords["league"] == load_leagues().names
    assert engine.variables["inter_league_migration"].coords["destination"] == load_leagues().names


def test_initial_leagues_sum_to_the_province_state():
    state = league_state(2015).counts
    from base.census import census_2015
    np.testing.assert_allclose(state.sum(axis=0), census_2015().counts, rtol=1e-9, atol=1e-6)


def test_province_figures_are_sums_over_leagues(random_runs):
    """Every year and member: residents by residence summed over leagues equal the province's chain."""
    leagues = random_runs["league_population"]             # (time, sample, league, residence)
    province = random_runs["population_by_residence"]      # (time, sample, residence)
    np.testing.assert_allclose(leagues.sum(axis=2), province, rtol=1e-9)
    np.testing.assert_allclose(random_runs["population_by_league"].sum(axis=2), random_runs["total_population"],
                               rtol=1e-9)
    np.testing.assert_allclose(random_runs["urban_population_by_league"].sum(axis=2),
                               random_runs["urban_population"], rtol=1e-9)


def test_land_and_water_are_sums_over_leagues(random_runs):
    """The leagues' city land and domestic water sum to the region's, every year and member."""
    np.testing.assert_allclose(random_runs["league_city_land"].sum(axis=2),
                               random_runs["urban_construction_land"], rtol=1e-9)
    np.testing.assert_allclose(random_runs["domestic_water_demand_by_league"].sum(axis=2),
                               random_runs["domestic_water_demand"], rtol=1e-9)
    assert random_runs["league_city_land"].min() > 0


def test_land_follows_the_residents(engine):
    """A league that gains urban residents gains land; land is never given back."""
    run = engine.run({}, return_columns=["league_city_land", "urban_population_by_league"])
    land, urban = run["league_city_land"][:, 0], run["urban_population_by_league"][:, 0]
    assert np.all(np.diff(land, axis=0) >= 0)
    gained = urban[-1] > urban[0]
    if gained.any() and (~gained).any():
        growth = land[-1] / land[0] - 1
        assert growth[gained].mean() > growth[~gained].mean()


def test_nobody_is_lost_between_leagues(random_runs):
    """Departures equal arrivals: the net migration between leagues sums to zero, relative to the moves."""
    net = random_runs["net_migration_between_leagues"].sum(axis=2)
    moves = random_runs["inter_league_migration"].sum(axis=(2, 3))
    assert np.all(np.abs(net) <= 1e-9 * np.maximum(moves, 1.0))
    flows = random_runs["inter_league_migration"]
    assert np.all(flows >= 0)
    diagonal = np.einsum("tsll->tsl", flows)
    assert np.all(diagonal == 0), "a league sends migrants to itself"


def test_league_layer_does_not_change_the_province(engine):
    """The league parameters move people between leagues, never the province's figures."""
    base = engine.run({}, return_columns=["urbanization_rate", "total_population"])
    draws = {k: v for k, v in _draws(8, 7).items() if k != "cluster_hukou_transfer_boost"}  # a province lever
    varied = engine.run(draws, n_samples=8, return_columns=["urbanization_rate", "total_population"])
    for name in ("urbanization_rate", "total_population"):
        np.testing.assert_allclose(varied[name], np.broadcast_to(base[name], varied[name].shape), rtol=1e-12)


def test_no_negative_league_stock_at_the_range_ends(engine):
    run = engine.run(_draws(64, 11, extreme=True), n_samples=64, return_columns=["league_population"])
    assert np.all(np.isfinite(run["league_population"]))
    assert run["league_population"].min() >= 0.0


def test_zero_migration_between_leagues_keeps_it_zero(engine):
    run = engine.run({"inter_league_migration_rate": 0.0, "share_of_rural_migrants_leaving_league": 0.0},
                     return_columns=["inter_league_migration", "net_migration_between_leagues"])
    assert np.all(run["inter_league_migration"] == 0.0)
    assert np.all(run["net_migration_between_leagues"] == 0.0)


def test_hukou_transfer_in_the_cluster_moves_settlement_there(engine):
    """Free hukou transfer in the cluster (plan ch.5 sec.1) raises the cluster's share of the settled."""
    mask = load_leagues().mask("cluster", load_leagues().names)
    shares = []
    for boost in (0.0, 1.0):
        run = engine.run({"cluster_hukou_transfer_boost": boost}, return_columns=["league_settlement"])
        settled = run["league_settlement"][-1, 0]
        shares.append(settled[mask].sum() / settled.sum())
    assert shares[1] > shares[0] + 0.05


def test_regional_summary_of_a_main_model_run(engine):
    """The regional targets are computed from the main model's league variables."""
    import xarray as xr
    run = engine.run({}, return_columns=["population_by_league", "urban_population_by_league",
                                         "urban_population", "inter_league_migration"])
    coords = {"time": run.time, "league": list(load_leagues().names), "destination": list(load_leagues().names)}
    point = xr.Dataset({
        "population_by_league": (("time", "league"), run["population_by_league"][:, 0]),
        "urban_population_by_league": (("time", "league"), run["urban_population_by_league"][:, 0]),
        "urban_population": (("time",), run["urban_population"][:, 0, ...].ravel()),
        "inter_league_migration": (("time", "league", "destination"), run["inter_league_migration"][:, 0]),
    }, coords=coords)
    regional = regional_summary(point)
    cluster = regional["targets"]["cluster_urban_population_2025"]["point"]
    k = int(np.flatnonzero(np.isclose(run.time, 2025))[0])
    mask = load_leagues().mask("cluster", coords["league"])
    assert cluster == pytest.approx(run["urban_population_by_league"][k, 0][mask].sum(), rel=1e-12)
    assert 0 < regional["targets"]["cluster_poles_urban_share_2025"]["point"] < 100
    assert len(regional["migration_between_leagues"]["largest_flows"]) == 5


# ---------------------------------------------------------------------- sim.py and the comparison, main model
def _sim(*args: str):
    return subprocess.run([sys.executable, "sim.py", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))


@pytest.fixture(scope="module")
def two_archives(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("main_leagues")
    archives = []
    for scenario in ("baseline", "cluster_poles_tilt"):
        target = tmp / scenario
        completed = _sim(f"scenario={scenario}", "ensemble.samples=40", f"hydra.run.dir={target}")
        assert completed.returncode == 0, completed.stderr
        archives.append(target)
    return archives


def test_the_main_archive_carries_the_league_dim_targets_and_pictures(two_archives):
    archive = RunArchive(two_archives[0])
    archive.verify()
    regional = archive.read_summary()["regional"]
    for key in ("cluster_urban_population_2025", "cluster_poles_urban_share_2025"):
        target = regional["targets"][key]
        assert 0.0 <= target["probability"] <= 1.0 and target["band_90"][0] <= target["median"] <= target["band_90"][1]
    assert len(regional["leagues"]) == 12 and "land_per_urban_resident_m2" in regional["leagues"]["Hohhot"]
    ensemble = archive.open_dataset(RunArchive.ENSEMBLE)
    assert ensemble["population_by_league"].dims == ("sample", "time", "league")
    assert ensemble["param_league_urbanization_propensity"].dims == ("sample", "league")  # league uncertainty
    names = {path.name for path in Path(two_archives[0]).glob("*.png")}
    assert {league_plots.MULTIPLES, league_plots.MAP, league_plots.MIGRATION} <= names


def test_the_comparison_reports_the_regional_targets_of_every_scenario(two_archives, tmp_path):
    result = compare(two_archives, tmp_path / "comparison", plots=False)
    rows = {row["scenario"]: row for row in result["regional"]}
    assert set(rows) == {"baseline", "cluster_poles_tilt"}
    key = "cluster_urban_population_2025"
    # the tilt pulls migrants into the cluster and the poles: more urban residents there (common draws)
    assert rows["cluster_poles_tilt"][f"{key}_median"] > rows["baseline"][f"{key}_median"]
    assert "## Regional targets (leagues)" in result["markdown"]
