"""The scenario comparison: a real sweep (sim.py -m, joblib launcher) then analysis.compare on it.

Every number of comparison.csv is recomputed here from the archive files with independent code;
the decomposition must close; probabilities must agree with another seed within Monte Carlo error;
broken, unfinished or empty inputs must fail with a message naming them and write nothing.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from scipy.stats import norm

from analysis.archives import ComparisonInputError, find_archives, load_archive
from analysis.compare import compare, main as compare_main
from analysis.decomposition import FLOW_STOCKS, decompose
from analysis.probability import exceedance, predictive_quantiles
from base.archive import ArchiveError, verify_archive

ROOT = Path(__file__).resolve().parents[1]
SWEEP_SCENARIOS = ("baseline", "strict_water")
SAMPLES = 100
TARGETS = {2025: 69.0, 2035: 72.0}


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 2-scenario x 100-member sweep through the real command line, then the comparison command."""
    root = tmp_path_factory.mktemp("sweep")
    sweep_dir, out = root / "multirun", root / "comparison"
    done = run("sim.py", "-m", f"scenario={','.join(SWEEP_SCENARIOS)}", f"ensemble.samples={SAMPLES}",
               "plots=false", f"hydra.sweep.dir={sweep_dir}", "hydra.callbacks.sweep_progress.enabled=true")
    assert done.returncode == 0, done.stderr[-3000:]
    compared = run("-m", "analysis.compare", str(sweep_dir), "--out", str(out))
    assert compared.returncode == 0, compared.stderr[-3000:]
    return {"dir": sweep_dir, "out": out, "sweep": done, "compare": compared}


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["scenario"]: row for row in csv.DictReader(handle)}


# --------------------------------------------------------------------------- the sweep
def test_the_sweep_used_the_joblib_launcher_and_wrote_one_ensemble_per_job(sweep):
    multirun = yaml.safe_load((sweep["dir"] / "multirun.yaml").read_text())
    assert multirun["hydra"]["launcher"]["_target_"].endswith("JoblibLauncher")
    jobs = sorted(p.name for p in sweep["dir"].iterdir() if p.is_dir() and not p.name.startswith("."))  # .sweep: the resume record
    assert jobs == [f"{i}_{name}" for i, name in enumerate(SWEEP_SCENARIOS)]
    for job in jobs:
        manifest = verify_archive(sweep["dir"] / job)
        assert manifest["seed"] == 20211122
        with xr.open_dataset(sweep["dir"] / job / "ensemble.nc") as ensemble:
            assert ensemble["urbanization_rate"].dims == ("sample", "time")
            assert ensemble.sizes["sample"] == SAMPLES
            assert not list((sweep["dir"] / job).glob("*.png")), "plots=false writes no plots"
    assert f"{len(SWEEP_SCENARIOS)}/{len(SWEEP_SCENARIOS)}" in sweep["sweep"].stderr, "progress bar"


def test_the_comparison_archive_is_complete(sweep):
    manifest = verify_archive(sweep["out"])
    assert manifest["kind"] == "comparison" and manifest["common_random_numbers"] is True
    assert [a["scenario"] for a in manifest["archives"]] == list(SWEEP_SCENARIOS)
    for name in ("comparison.csv", "comparison.md", "decomposition.csv", "urbanization.png",
                 "population.png", "water.png", "land.png", "decomposition.png"):
        assert name in manifest["files"], name
    markdown = (sweep["out"] / "comparison.md").read_text()
    assert "include the observation noise" in markdown and "jointly per member" in markdown
    assert "| strict_water |" in markdown and "| strict_water |" in sweep["compare"].stdout


# --------------------------------------------------------------------------- recomputation
def independent_row(archive_dir: Path) -> dict[str, float]:
    """The comparison numbers from the archive files, with code independent of analysis.*."""
    config = yaml.safe_load((archive_dir / "config.yaml").read_text())
    sigma = float(config["calibrated"]["uncertainty"]["observation_noise"]["urbanization_rate"])
    with xr.open_dataset(archive_dir / "ensemble.nc") as ens, xr.open_dataset(archive_dir / "outputs.nc") as out:
        time = ens["time"].values
        u = {y: ens["urbanization_rate"].values[:, time == y][:, 0] for y in TARGETS}
        horizon = time <= 2035
        wanted, in_force = ens["total_water_demand_before_cap"].values, ens["effective_water_cap"].values
        water = np.all((wanted <= in_force)[:, horizon], axis=1)
        land = ens["total_urban_construction_land"].values
        new_land = land[:, time == 2025][:, 0] - land[:, time == 2020][:, 0]
        quota = float(out["new_land_quota_2021_2025"].values[0] * out["m2_per_mu"].values[0] / 1e6)
        within_quota = new_land <= quota * (1 + 1e-9)
        per_capita = ens["land_per_urban_resident"].values[:, time == 2035][:, 0]
        with np.errstate(divide="ignore"):
            ratio_2035 = wanted[:, time == 2035][:, 0] / in_force[:, time == 2035][:, 0]
    row = {
        "water_demand_to_cap_2035_median": np.median(ratio_2035),
        "p_water_within_cap": water.mean(), "p_land_within_quota": within_quota.mean(),
        "p_land_per_capita_in_standard": ((per_capita >= 65) & (per_capita <= 115)).mean(),
        "sigma": sigma, "n": len(water),
    }
    for year, target in TARGETS.items():
        reach = norm.cdf((u[year] - target) / sigma)
        row[f"p_reach_{target:g}_{year}"] = reach.mean()
        row[f"p_reach_{target:g}_{year}_parameters_only"] = (u[year] >= target).mean()
        row[f"p_{target:g}_{year}_within_limits"] = (reach * water * within_quota).mean()
        row[f"members_{year}"] = u[year]
    return row


def test_comparison_numbers_equal_a_recomputation_from_the_archives(sweep):
    table = read_csv(sweep["out"] / "comparison.csv")
    assert list(table) == list(SWEEP_SCENARIOS)
    for i, name in enumerate(SWEEP_SCENARIOS):
        archive_dir = sweep["dir"] / f"{i}_{name}"
        row, expected = table[name], independent_row(archive_dir)
        summary = json.loads((archive_dir / "summary.json").read_text())
        assert float(row["water_demand_to_cap_2035_median"]) == pytest.approx(
            expected["water_demand_to_cap_2035_median"], rel=1e-12)
        for key in ("p_water_within_cap", "p_land_within_quota", "p_land_per_capita_in_standard"):
            assert float(row[key]) == pytest.approx(expected[key], abs=1e-12), (name, key)
            assert float(row[key]) == pytest.approx(summary["ensemble"][key], abs=1e-12), (name, key)
        for year, target in TARGETS.items():
            key = f"{target:g}_{year}"
            assert float(row[f"p_reach_{key}"]) == pytest.approx(expected[f"p_reach_{key}"], abs=1e-12)
            assert float(row[f"p_{key}_within_limits"]) == pytest.approx(expected[f"p_{key}_within_limits"], abs=1e-12)
            assert float(row[f"p_reach_{key}_parameters_only"]) == \
                summary["targets"][str(year)]["probability_parameters_only"]
            # summary.json draws one noise value per member: same expectation, within MC error
            p = float(row[f"p_reach_{key}"])
            assert abs(p - summary["targets"][str(year)]["probability"]) <= 4 * np.sqrt(0.25 / SAMPLES) + 1e-9
            joint = float(row[f"p_{key}_within_limits"])
            assert row[f"meets_{key}_p50"] == str(joint >= 0.5) and row[f"meets_{key}_p90"] == str(joint >= 0.9)
            # the reported median and band are quantiles of the members plus observation noise
            members, sigma = expected[f"members_{year}"], expected["sigma"]
            for q, column in ((0.05, "p05"), (0.5, "median"), (0.95, "p95")):
                x = float(row[f"urbanization_{year}_{column}"])
                assert norm.cdf((x - members) / sigma).mean() == pytest.approx(q, abs=1e-6)


def test_decomposition_closes_and_matches_the_archives(sweep):
    table = read_csv(sweep["out"] / "decomposition.csv")
    for i, name in enumerate(SWEEP_SCENARIOS):
        with xr.open_dataset(sweep["dir"] / f"{i}_{name}" / "ensemble.nc") as ens:
            time = ens["time"].values
            change = {label: ens[stock].values[:, time == 2035][:, 0] - ens[stock].values[:, time == 2020][:, 0]
                      for label, stock in FLOW_STOCKS.items()}
            total = ens["urbanization_rate"].values[:, time == 2035][:, 0] - ens["urbanization_rate"].values[:, time == 2020][:, 0]
        residual = total - sum(change.values())
        assert np.max(np.abs(residual)) < 1e-9, "the four flows must add up to the change, member by member"
        row = table[name]
        for label, values in change.items():
            assert float(row[label]) == pytest.approx(values.mean(), abs=1e-12)
        parts = sum(float(row[label]) for label in FLOW_STOCKS)
        assert parts == pytest.approx(float(row["total_change"]), abs=1e-10)
        assert float(row["total_change"]) == pytest.approx(total.mean(), abs=1e-12)
        assert float(row["max_abs_residual"]) < 1e-9


def test_decomposition_detects_a_broken_accounting():
    from analysis.decomposition import DecompositionError, check_closure

    ds = xr.Dataset({name: (("sample", "time"), np.array([[0.0, 1.0], [0.0, 2.0]]))
                     for name in [*FLOW_STOCKS.values(), "urbanization_rate"]},
                    coords={"time": [2020.0, 2035.0]})
    parts = decompose(ds)
    with pytest.raises(DecompositionError, match="does not close"):
        check_closure(parts)
    ds["urbanization_rate"] = ds["urbanization_rate"] * 4
    check_closure(decompose(ds))


def test_probability_helpers_against_sampling():
    rng = np.random.default_rng(5)
    members = rng.normal(71.5, 0.4, 3000)
    sigma = 0.3
    noisy = members[None, :] + rng.normal(0, sigma, (200, members.size))
    assert exceedance(members, 72.0, sigma).mean() == pytest.approx((noisy >= 72).mean(), abs=0.005)
    quantiles = predictive_quantiles(members, sigma, (0.05, 0.5, 0.95))
    np.testing.assert_allclose(quantiles, np.quantile(noisy, (0.05, 0.5, 0.95)), atol=0.01)
    np.testing.assert_array_equal(exceedance(members, 72.0, 0.0), members >= 72.0)
    with pytest.raises(ValueError, match="observation noise"):
        exceedance(members, 72.0, -1.0)


# --------------------------------------------------------------------------- Monte Carlo error
@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """strict_water and baseline with 400 members each, at two seeds (in-process run_job)."""
    from hydra import compose, initialize_config_dir

    from simulator.run import run_job

    root = tmp_path_factory.mktemp("seeds")
    n = 400
    dirs, configs = {}, {}
    for scenario in ("baseline", "strict_water"):  # composed once: composition takes seconds
        with initialize_config_dir(config_dir=str(ROOT / "scenarios"), version_base="1.3"):
            configs[scenario] = compose(config_name="config", overrides=[
                f"scenario={scenario}", f"ensemble.samples={n}", "plots=false"])
    for seed in (11, 12):
        for scenario, cfg in configs.items():
            cfg.ensemble.seed = seed
            target = root / f"seed{seed}" / scenario
            target.mkdir(parents=True)
            run_job(cfg, target, progress=False)
        dirs[seed] = compare([root / f"seed{seed}"], root / f"cmp{seed}", plots=False)
    return dirs, n


def test_probabilities_agree_with_another_seed_within_monte_carlo_error(two_seeds):
    results, n = two_seeds
    first, second = (dict(zip(r["labels"], r["rows"])) for r in results.values())
    keys = ["p_reach_69_2025", "p_reach_72_2035", "p_water_within_cap", "p_land_within_quota",
            "p_land_per_capita_in_standard", "p_69_2025_within_limits", "p_72_2035_within_limits"]
    informative = 0
    for scenario in ("baseline", "strict_water"):
        for key in keys:
            p1, p2 = first[scenario][key], second[scenario][key]
            p = 0.5 * (p1 + p2)
            bound = 4 * np.sqrt(p * (1 - p) * (2 / n)) + 0.01
            assert abs(p1 - p2) <= bound, (scenario, key, p1, p2)
            informative += 0.05 < p < 0.95
    assert informative >= 1, "at least one probability must be away from 0 and 1 for the check to bite"
    assert first["strict_water"]["seed"] == 11 and second["strict_water"]["seed"] == 12


# --------------------------------------------------------------------------- bad input
def test_empty_or_missing_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ComparisonInputError, match="holds no run archive"):
        find_archives([tmp_path])
    with pytest.raises(ComparisonInputError, match="does not exist"):
        find_archives([tmp_path / "nowhere"])
    with pytest.raises(ComparisonInputError, match="no input"):
        find_archives([])


def test_unfinished_job_and_killed_staging_directory_are_named(sweep, tmp_path):
    copy = tmp_path / "multirun"
    shutil.copytree(sweep["dir"], copy)
    (copy / "3_unfinished").mkdir()
    with pytest.raises(ComparisonInputError, match="3_unfinished has no manifest.json"):
        find_archives([copy])
    (copy / "3_unfinished").rmdir()
    (copy / ".4_killed.partial-123").mkdir()
    with pytest.raises(ComparisonInputError, match=r"\.4_killed\.partial-123 is the staging directory"):
        find_archives([copy])


def test_a_job_of_the_sweep_record_without_archive_is_named_with_its_end_and_log(sweep, tmp_path):
    """A job that never wrote a folder (e.g. a SLURM task cancelled while pending) is not skipped."""
    copy = tmp_path / "multirun"
    shutil.copytree(sweep["dir"], copy)
    record = copy / ".sweep"
    jobs = json.loads((record / "jobs.json").read_text())
    jobs["jobs"].append({"num": 9, "folder": "9_cancelled", "overrides": ["scenario=cancelled"]})
    (record / "jobs.json").write_text(json.dumps(jobs))
    log = tmp_path / "7_0_log.err"
    with open(record / "launches.jsonl", "a") as handle:
        handle.write(json.dumps({"command": ["python", "sim.py", "-m", "scenario=cancelled"],
                                 "launcher": "slurm", "jobs": ["9_cancelled"], "logs": {"9_cancelled": str(log)}}) + "\n")
        handle.write(json.dumps({"ended": True, "missing": {"9_cancelled": "task 7_0 ended: CANCELLED by 0"}}) + "\n")
    with pytest.raises(ComparisonInputError) as refused:
        find_archives([copy])
    message = str(refused.value)
    assert "1 job(s) of this sweep have no complete archive" in message
    assert f"9_cancelled: task 7_0 ended: CANCELLED by 0; log {log} (not written: the task never ran)" in message
    assert "rerun `python sim.py -m" in message and f"hydra.sweep.dir={copy}" in message


def test_an_altered_archive_stops_the_comparison_and_nothing_is_written(sweep, tmp_path, capsys):
    copy = tmp_path / "multirun"
    shutil.copytree(sweep["dir"], copy)
    with open(copy / "1_strict_water" / "ensemble.nc", "r+b") as handle:
        handle.seek(-8, os.SEEK_END)
        handle.write(b"\0" * 8)
    out = tmp_path / "out"
    assert compare_main([str(copy), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "1_strict_water" in error and "ensemble.nc differs from the manifest" in error
    assert not out.exists()
    with pytest.raises(ArchiveError):
        load_archive(copy / "1_strict_water")


def test_an_archive_without_ensemble_is_refused(tmp_path):
    from hydra import compose, initialize_config_dir

    from simulator.run import run_job

    with initialize_config_dir(config_dir=str(ROOT / "scenarios"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["calibrated=none", "plots=false"])
    target = tmp_path / "point_only"
    target.mkdir()
    run_job(cfg, target, progress=False)
    with pytest.raises(ComparisonInputError, match="has no ensemble.nc"):
        load_archive(target)


def test_the_comparison_refuses_to_overwrite(sweep, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert compare_main([str(sweep["dir"] / "0_baseline"), "--out", str(out), "--no-plots"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 1


def test_a_comparison_archive_inside_the_sweep_is_skipped(sweep, tmp_path):
    copy = tmp_path / "multirun"
    shutil.copytree(sweep["dir"], copy)
    shutil.copytree(sweep["out"], copy / "comparison")
    assert [p.name for p in find_archives([copy])] == [f"{i}_{n}" for i, n in enumerate(SWEEP_SCENARIOS)]
    with pytest.raises(ComparisonInputError, match="'comparison' archive, not a simulation"):
        find_archives([copy / "comparison"])
