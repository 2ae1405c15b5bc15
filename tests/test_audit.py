"""The lever audit, the loop knockouts, the paired differences and the urbanization benchmarks.

Small runs only: the audit is one vectorized call of 35 parameter sets; the knockouts re-run 20
members; one 40-member archive feeds the comparison checks.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis import lever_audit
from analysis.archives import load_archive
from analysis.compare import compare, crn_check, outcome_rows, outcomes_markdown
from analysis.levers import between
from analysis.loops import Loop, archive_knockout, archive_plan, knockout, load_loops
from analysis.outcomes import OUTCOMES, Trajectories, outcome
from analysis.urban_benchmarks import benchmarks, census_record, damped_logistic, logistic, urgd

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- lever audit
@pytest.fixture(scope="module")
def audit_effects():
    return lever_audit.audit()


def test_the_readme_lever_audit_is_what_the_model_gives(audit_effects):
    """Same flags, names and notes; every number within one unit of its last digit (a CPU may round
    the last digit the other way, never more)."""
    table = lever_audit.audit_table(audit_effects, acting=lever_audit.acting_effects(audit_effects))
    written = between((ROOT / "README.md").read_text(encoding="utf-8"), lever_audit.AUDIT_MARKERS)
    assert lever_audit.table_words(written) == lever_audit.table_words(table), \
        "run python -m analysis.lever_audit --write"
    for got, want in zip(lever_audit.table_numbers(written), lever_audit.table_numbers(table)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            decimals = len(b.split(".")[1]) if "." in b else 0
            assert abs(float(a) - float(b)) <= 1.01 * 10.0 ** -decimals, "run python -m analysis.lever_audit --write"


def test_every_lever_without_effect_is_explained_and_acts_where_the_reason_says(audit_effects):
    assert lever_audit.unexplained(audit_effects) == []
    acting = lever_audit.acting_effects(audit_effects)
    for name, effect in acting.items():
        assert not effect.no_effect(), f"{name} should act with {lever_audit.NO_EFFECT_REASONS[name].acts_with}"


def test_the_audit_reports_each_lever_at_both_ends_against_the_same_baseline(audit_effects):
    by_name = {e.lever: e for e in audit_effects}
    # a settlement lever moves the hukou rate, hardly where people live: settlement moves people
    # between the two urban residences, and its only effect on the resident rate is through the age
    # composition of each residence's later flows (Rogers-Castro weights are normalised per
    # residence): measured 0.00017 pp against more than 0.5 pp on the hukou rate
    talent = by_name["student_and_talent_settlement"]
    assert talent.at_high["official_hukou_2035"] > 0.5
    assert abs(talent.at_high["urbanization_2035"]) < 0.01
    # the default value is the baseline, so the end that equals it has exactly no effect
    assert all(v == 0 for v in talent.at_low.values() if v is not None)
    assert len({tuple(sorted(e.base.items())) for e in audit_effects}) == 1


# --------------------------------------------------------------------------- outcomes
def test_outcomes_are_unavailable_not_a_crash_when_a_variable_is_missing():
    t = Trajectories([2020.0, 2025.0, 2035.0], {"urbanization_rate": np.array([[60.0], [65.0], [70.0]])})
    assert outcome("urbanization_2035")(t) == pytest.approx([70.0])
    assert not outcome("official_hukou_2035").available(t)
    assert outcome("official_hukou_2035").missing(t.values) == ["official_hukou_urbanization_rate"]


# --------------------------------------------------------------------------- benchmarks
def test_urgd_reproduces_a_hand_computed_case():
    # 50 % -> 60 % in 10 years: ln(U/R) rises by ln 1.5; 10 years later U/R = 1.5^2 = 2.25, PU = 2.25/3.25
    assert urgd([0.0, 10.0], [50.0, 60.0], [20.0])[0] == pytest.approx(100 * 2.25 / 3.25, rel=1e-12)


def test_the_damped_logistic_recovers_a_known_curve():
    times = [2010.0, 2015.0, 2020.0]
    rates = logistic(80.0, 0.1, 2005.0, times)
    level, rate, midpoint = damped_logistic(times, rates)
    assert (level, rate, midpoint) == pytest.approx((80.0, 0.1, 2005.0), rel=1e-6)


def test_benchmarks_use_census_consistent_data_up_to_2020():
    record = census_record()
    assert max(record.times) <= 2020 and len(record.times) == 3
    bench = benchmarks(record)
    # the record decelerates: the logistic saturates below 100 % and below the constant-URGD path
    assert bench["logistic"]["level"] < 100
    assert bench["damped_logistic"][2035] < bench["urgd"][2035]
    assert record.rates[-1] < bench["damped_logistic"][2025] < bench["damped_logistic"][2035]


# --------------------------------------------------------------------------- archive + knockouts
@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit") / "baseline"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "sim.py", "scenario=baseline", "ensemble.samples=40", "plots=false",
                           f"hydra.run.dir={out}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return load_archive(out)


def test_a_paired_difference_of_a_scenario_with_itself_is_exactly_zero(archive):
    row = outcome_rows(archive, archive)
    assert row["crn"]["shared"] and row["crn"]["compared"] > 0
    for item in OUTCOMES:
        for stat in ("median", "p05", "p95"):
            assert row[f"{item.name}_vs_baseline_{stat}"] == 0.0


def test_the_draw_check_sees_members_that_do_not_share_draws(archive):
    name = next(str(v) for v in archive.ensemble.data_vars
                if str(v).startswith("param_") and np.ptp(archive.ensemble[v].values) > 0)
    shuffled = archive.ensemble.copy()
    shuffled[name] = ("sample", archive.ensemble[name].values[::-1].copy())
    other = dataclasses.replace(archive, ensemble=shuffled)
    check = crn_check(other, archive)
    assert not check["shared"] and check["differing"] == [name[len("param_"):]]
    assert "crn" in outcome_rows(other, archive) and "urbanization_2035_vs_baseline_median" not in outcome_rows(other, archive)


def test_knockouts_change_the_outcome_only_where_the_loop_acts(archive):
    loops = load_loops()
    result = archive_knockout(archive, loops, members=20)
    assert result.members == 20
    # the rural pool loop acts in every member (its effect moves as soon as the rural share falls)
    pool = result.differences["rural_pool_depletion"]["urbanization_rate"]
    assert np.all(np.abs(pool[-1]) > 0.01)
    # a "cut" that sets a lever to the value it already has is no knockout: exactly zero difference
    same = Loop("no_op", "B", "no-op", "", "", "", {"land_quota_enforcement": 1.0})
    missing = Loop("absent", "B", "absent", "", "", "", {"no_such_variable": 1.0})
    noop = knockout(archive_plan(archive), [same, missing], members=5)
    assert np.all(noop.differences["no_op"]["urbanization_rate"] == 0)
    assert noop.absent == {"absent": ["no_such_variable"]}


def test_an_archive_without_an_outcome_s_variable_gets_a_note_not_a_crash(archive):
    reduced = dataclasses.replace(archive, ensemble=archive.ensemble.drop_vars("official_hukou_urbanization_rate"))
    row = outcome_rows(reduced, archive)
    assert row["missing"] == {"official_hukou_2035": ["official_hukou_urbanization_rate"]}
    text = "\n".join(outcomes_markdown([row], ["reduced"]))
    assert "| n/a |" in text and "lacks official_hukou_urbanization_rate" in text


def test_the_comparison_archive_has_the_new_sections_and_the_loop_plot(archive, tmp_path):
    result = compare([archive.path], tmp_path / "cmp", loop_members=10)
    markdown = result["markdown"]
    for heading in ("## Outcomes next to the rate", "The plan's own check", "## Benchmarks for the urbanization rate",
                    "## Loop dominance (knockout)"):
        assert heading in markdown
    assert (tmp_path / "cmp" / "loops.png").is_file() and (tmp_path / "cmp" / "outcomes.csv").is_file()
