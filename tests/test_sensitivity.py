"""Global sensitivity analysis: Sobol estimates against known indices, and properties on the model.

Regression pins use fixed seeds (as SALib's own tests do), on the Ishigami function whose indices
are known analytically; on the model the tests assert properties that must hold whatever the
calibration: a lever that cannot act yet has a total index of exactly zero, sums and orderings
hold within the confidence intervals, the estimate is reproducible from its seed.
"""
from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from analysis.levers import LEVERS
from analysis.sensitivity import (GROUPS, Factor, SensitivityError, compose_scenario, convergence_rows, evaluate,
                                  indices_rows, main, run_sensitivity, write_archive)
from analysis.sobol import analyze, design_rows, ishigami, ishigami_indices, unit_design
from base.archive import verify_archive
from base.paths import REPO_ROOT
from simulator.run import open_engine

#: Every file of a sensitivity archive with plots (besides manifest.json), for the years 2025 and 2035.
ARCHIVE_FILES = {"sobol_indices.csv", "convergence.csv", "factors.csv", "sensitivity.md", "sobol_2035.png",
                 "sobol_over_time.png"}
#: Tables of numbers in the archive.
ARCHIVE_TABLES = ("sobol_indices.csv", "convergence.csv", "factors.csv")

#: Levers that act only after the end of 2020, so they cannot change anything simulated up to 2020.
LEVERS_ACTING_AFTER_2020 = ("county_town_investment", "domestic_water_saving_2025", "leakage_target",
                            "leakage_reduction_achievement",
                            "new_land_quota_2021_2025", "water_cap_growth_after_2025",
                            "irrigated_area_trend_after_2020", "water_cap_phase_in",
                            "irrigation_efficiency_gain_after_2020",
                            "industrial_water_intensity_trend_after_2020", "settlement_linked_quota_share")


def ishigami_estimate(n: int, seed: int = 1):
    unit = unit_design(3, n, seed)
    return analyze(["x1", "x2", "x3"], ishigami(-np.pi + 2 * np.pi * unit), seed, resamples=200)


def test_ishigami_indices_are_recovered_within_their_confidence_intervals():
    estimate = ishigami_estimate(2048)
    s1, st = ishigami_indices()
    assert np.all(np.abs(estimate.S1 - s1) <= np.maximum(2 * estimate.S1_conf, 0.02))
    assert np.all(np.abs(estimate.ST - st) <= np.maximum(2 * estimate.ST_conf, 0.02))
    assert estimate.ranking() == ["x1", "x2", "x3"]


def test_ishigami_regression_pinned_with_a_fixed_seed():
    """SALib 1.6, scrambled Sobol design seed 1, bootstrap seed 1, N = 256 (pinned values)."""
    estimate = ishigami_estimate(256)
    np.testing.assert_allclose(estimate.S1, PINNED_S1, rtol=1e-9)
    np.testing.assert_allclose(estimate.ST, PINNED_ST, rtol=1e-9)
    again = ishigami_estimate(256)
    np.testing.assert_array_equal(again.ST_conf, estimate.ST_conf)
    other = analyze(["x1", "x2", "x3"], ishigami(-np.pi + 2 * np.pi * unit_design(3, 256, 2)), 1)
    assert not np.allclose(other.ST, estimate.ST), "another seed gives another design"


PINNED_S1 = np.array([0.26511403290602403, 0.44550155789847834, 0.016675537980754863])
PINNED_ST = np.array([0.5003727922616233, 0.44219214349150304, 0.24904346349589412])


def test_ishigami_estimate_converges_when_n_doubles():
    s1, st = ishigami_indices()
    errors = [np.max(np.abs(ishigami_estimate(n).ST - st)) for n in (256, 4096)]
    assert errors[1] < errors[0] and errors[1] < 0.02


def test_the_design_for_n_is_the_first_part_of_the_design_for_2n():
    half, full = unit_design(5, 64, 3), unit_design(5, 128, 3)
    assert full.shape == (design_rows(128, 5), 5)
    np.testing.assert_array_equal(full[: design_rows(64, 5)], half)


def test_bad_design_sizes_and_outputs_are_refused():
    with pytest.raises(ValueError, match="power of two"):
        unit_design(3, 100, 1)
    with pytest.raises(ValueError, match="expected n \\* 5 outputs"):
        analyze(["a", "b", "c"], np.zeros(7), 1)
    with pytest.raises(ValueError, match="NaN"):
        analyze(["a", "b", "c"], np.full(10, np.nan), 1)
    constant = analyze(["a", "b", "c"], np.ones(10), 1)
    assert np.all(np.isnan(constant.ST))


# --------------------------------------------------------------------------- on the model
@pytest.fixture(scope="module")
def baseline_config():
    """The baseline with the calibrated draws, composed once (composition takes seconds)."""
    return compose_scenario("baseline", "default")


@pytest.fixture(scope="module")
def model_result(baseline_config):
    return run_sensitivity(n=128, seed=5, groups=("levers", "calibrated"),
                           outputs=("urbanization_rate", "urban_water_demand"), years=(2020, 2035),
                           resamples=100, cfg=baseline_config)


def test_levers_that_cannot_act_yet_have_zero_total_index(model_result):
    names = [f.name for f in model_result.factors]
    for output in ("urbanization_rate", "urban_water_demand"):
        indices = model_result.indices[(output, 2020)]
        for lever in LEVERS_ACTING_AFTER_2020:
            assert abs(indices.ST[names.index(lever)]) < 1e-12, (output, lever)
    late = model_result.indices[("urban_water_demand", 2035)]
    assert max(late.ST[names.index(lever)] for lever in LEVERS_ACTING_AFTER_2020) > 0.05, \
        "by 2035 the water levers must matter for water demand (the zero above is not vacuous)"


def test_indices_are_consistent_within_their_confidence_intervals(model_result):
    for key, si in model_result.indices.items():
        assert np.nansum(si.S1) <= 1 + np.sqrt(np.nansum(si.S1_conf ** 2)) + 0.05, key
        assert np.all(si.ST >= -si.ST_conf - 0.02), key
        assert np.all(si.ST + si.ST_conf + 0.05 >= si.S1 - si.S1_conf), key


def test_factors_follow_the_groups_and_ranges(model_result, spec):
    groups = {f.name: f.group for f in model_result.factors}
    assert set(groups.values()) == {"levers", "calibrated"}
    assert groups["county_town_investment"] == "levers" and groups["base_settlement_rate"] == "calibrated"
    for factor in model_result.factors:
        low, high = spec.parameters[factor.name].limits
        assert low <= factor.low < factor.high <= high
        sample = factor.transform(np.linspace(0.001, 0.999, 50))
        assert sample.min() >= factor.low and sample.max() <= factor.high
    cap = next(f for f in model_result.factors if f.name == "regional_water_cap_2025")
    assert (cap.low, cap.high) == (1.86485e10, 2.06115e10), "range replaced as sensitivity_ranges.yaml says"
    calibrated = next(f for f in model_result.factors if f.name == "base_settlement_rate")
    assert calibrated.draws is not None and calibrated.transform(np.array([0.5]))[0] in calibrated.draws


def test_reproducible_from_the_seed(model_result, baseline_config):
    again = run_sensitivity(n=128, seed=5, groups=("levers", "calibrated"), outputs=("urbanization_rate",),
                            years=(2035,), resamples=100, cfg=baseline_config)
    np.testing.assert_array_equal(again.indices[("urbanization_rate", 2035)].ST,
                                  model_result.indices[("urbanization_rate", 2035)].ST)
    rows = convergence_rows(model_result)
    assert {(r["output"], r["year"]) for r in rows} == set(model_result.indices)
    assert all(r["n_half"] == 64 and r["n"] == 128 for r in rows)
    assert len(indices_rows(model_result)) == len(model_result.factors) * len(model_result.indices)


def test_scenario_parameters_stay_fixed():
    cfg = compose_scenario("demographic_pessimism", "default")
    named = set(cfg.scenario.params)
    drawn = set(cfg.calibrated.uncertainty.parameters)
    result = run_sensitivity(n=8, seed=1, groups=("calibrated",), outputs=("total_population",),
                             years=(2035,), resamples=10, cfg=cfg)
    assert "tfr_trend_after_2020" in named & drawn  # drawn by the ensemble, fixed by the scenario
    assert set(result.fixed) == named & drawn
    assert not named & {f.name for f in result.factors}
    assert {f.name for f in result.factors} == drawn - named


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 100}, "power of two"),
    ({"groups": ("levers", "politics")}, "unknown parameter group"),
    ({"outputs": ("urbanisation",)}, "unknown output"),
    ({"years": (2040,)}, "after run.final_time"),
    ({"scenario": "no_such_scenario"}, "cannot compose scenario 'no_such_scenario'"),
])
def test_bad_options_are_clear_errors(kwargs, message):
    options = {"n": 8, "groups": ("levers",), "outputs": ("urbanization_rate",), "years": (2035,),
               "calibrated": "none", **kwargs}
    with pytest.raises((SensitivityError, ValueError), match=message):
        run_sensitivity(**options)


def _numbers(path):
    """The cells of a CSV table: floats where they parse, else the text."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return [[_number(cell) for cell in row] for row in rows]


def _number(cell):
    try:
        return float(cell)
    except ValueError:
        return cell


def _assert_same_tables(first, second):
    a, b = _numbers(first), _numbers(second)
    assert [len(row) for row in a] == [len(row) for row in b], first.name
    for row_a, row_b in zip(a, b):
        for x, y in zip(row_a, row_b):
            if isinstance(x, float) and isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-12, abs=1e-14, nan_ok=True), (first.name, row_a[:3])
            else:
                assert x == y, (first.name, row_a[:3])


def test_the_command_writes_a_verifiable_archive(tmp_path, capsys):
    out = tmp_path / "sens"
    code = main(["--n", "16", "--groups", "levers", "--calibrated", "none",
                 "--outputs", "urbanization_rate,total_population",
                 "--years", "2025,2035", "--resamples", "20", "--out", str(out)])
    assert code == 0
    manifest = verify_archive(out)
    assert manifest["kind"] == "sensitivity" and manifest["seed"] == 20211122
    assert set(manifest["files"]) == ARCHIVE_FILES
    assert sorted(p.name for p in out.iterdir()) == sorted(ARCHIVE_FILES | {"manifest.json"})
    with open(out / "sobol_indices.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # one row per (output, year, lever): every lever of the registry is a factor
    assert len(rows) == 2 * 2 * len(LEVERS) and {r["group"] for r in rows} == {"levers"}
    assert "sensitivity archive" in capsys.readouterr().out
    assert main(["--n", "16", "--groups", "levers", "--calibrated", "none", "--out", str(out)]) == 2, \
        "refuses to overwrite"
    assert "already exists" in capsys.readouterr().err

    # the archive says what made it: the settings and the ranges file of its manifest make it again
    settings = manifest["settings"]
    again = run_sensitivity(scenario=settings["scenario"], calibrated=settings["calibrated"], n=settings["n"],
                            seed=settings["seed"], groups=settings["groups"], outputs=settings["outputs"],
                            years=settings["years"], resamples=settings["resamples"],
                            ranges=REPO_ROOT / manifest["inputs"]["ranges"]["path"],
                            config_overrides=settings["config_overrides"])
    second = write_archive(again, tmp_path / "again", wall_time_s=0.0)
    assert set(verify_archive(second)["files"]) == ARCHIVE_FILES
    for name in ARCHIVE_TABLES:
        _assert_same_tables(out / name, second / name)
    timing = re.compile(r"\d+\.\d s")  # wall times in the set-up paragraph
    assert (timing.sub("", (out / "sensitivity.md").read_text(encoding="utf-8"))
            == timing.sub("", (second / "sensitivity.md").read_text(encoding="utf-8")))


def test_all_groups_are_known():
    assert GROUPS == ("levers", "calibrated", "assumptions", "unverified_data")


@pytest.mark.parametrize("seed", [0, 1])
def test_sobol_bootstrap_is_reproducible_for_every_seed_including_zero(seed):
    """SALib 1.6 tests ``if seed:``; seed 0 must still give the same confidence intervals twice."""
    unit = unit_design(3, 64, seed)
    outputs = ishigami(-np.pi + 2 * np.pi * unit)
    first = analyze(["x1", "x2", "x3"], outputs, seed, resamples=50)
    second = analyze(["x1", "x2", "x3"], outputs, seed, resamples=50)
    np.testing.assert_array_equal(first.S1_conf, second.S1_conf)
    np.testing.assert_array_equal(first.ST_conf, second.ST_conf)
    np.testing.assert_array_equal(unit, unit_design(3, 64, seed))


def test_a_subscripted_output_is_analysed_as_its_province_total():
    """On the 12-league test model: the sum over leagues of ``population`` equals the model's own
    ``total_population`` for every design row, so its indices are those of the total."""
    mdl = REPO_ROOT / "tests" / "models" / "leagues.mdl"
    factors = [Factor("fertility_trend", "assumptions", -0.03, 0.01, -0.01),
               Factor("other_out_rate", "assumptions", 0.0, 0.02, 0.006)]
    unit = unit_design(len(factors), 8, 3)
    settings = {"final_time": 2006.0, "time_step": 0.5, "method": "euler"}
    values = evaluate(factors, unit, {}, ("population", "total_population"), (2003, 2006), settings,
                      engine=open_engine("vectorized", mdl), chunk_rows=13)
    for year in (2003, 2006):
        total = values[("total_population", year)]
        assert np.ptp(total) > 0, "the factors move the output (the comparison is not vacuous)"
        np.testing.assert_allclose(values[("population", year)], total, rtol=1e-12)
