"""Loop dominance by knockout: for each main feedback loop, the run with it minus the run without it.

The loops are data (``analysis/loops.yaml``): name, polarity, path, and the overrides that cut the
loop (an effect of the ``.mdl`` replaced by its neutral value). For a scenario, the members of its
archive are rebuilt from the archive's own config and copy of the calibrated draws (same seed, so
member *i* has the archive's parameter draw *i*), run once with every loop and once per loop with
that loop cut, on the vectorized engine. The member-by-member difference (with minus without) of
an outcome over time is what the loop adds: its median and 90 % band show **when** the loop acts
and **by how much**; at each year the loop with the largest absolute median difference in the
urbanization rate is the dominant one (a knockout measure: loops interact, so the differences of
several loops need not add up to the difference of cutting them all).

The knockouts re-run the scenario on the model file of this checkout; when its SHA-256 differs
from the one the archive's manifest records, the result carries a note saying so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from omegaconf import OmegaConf

from base.archive import sha256_of
from simulator.ensemble import draw_members
from simulator.run import PlanError, open_engine, plan_run

from .archives import ComparisonInputError, LoadedArchive
from .outcomes import OUTCOMES, Trajectories, from_run, needed_variables

LOOPS_PATH = Path(__file__).with_name("loops.yaml")
#: Members re-run per scenario for the knockouts (the first members of the archive's ensemble).
DEFAULT_MEMBERS = 100
#: Trajectories whose difference over time is reported and plotted: (variable, scale, unit).
SERIES = (("urbanization_rate", 1.0, "pp"), ("urban_population", 1e-4, "10k persons"))
#: A loop "acts" in a member when it moves its urbanization rate by at least this much in some year [pp].
ACTS_PP = 0.01


@dataclass(frozen=True)
class Loop:
    """One feedback loop and how to cut it."""

    name: str
    polarity: str
    label: str
    label_zh: str
    path: str
    description: str
    cut: dict = field(default_factory=dict)


def load_loops(path: str | Path = LOOPS_PATH) -> list[Loop]:
    """The loops of ``path`` (``analysis/loops.yaml``), checked.

    Raises
    ------
    ComparisonInputError
        If the file is not a mapping of loops each with a polarity R or B and a non-empty cut.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ComparisonInputError(f"{path}: cannot read the loops ({error})") from None
    loops = []
    for name, entry in (data.get("loops") or {}).items():
        if not isinstance(entry, Mapping) or entry.get("polarity") not in ("R", "B") or not entry.get("cut"):
            raise ComparisonInputError(f"{path}: loop '{name}' needs polarity R or B and a non-empty cut")
        label = entry.get("label") or {}
        loops.append(Loop(str(name), str(entry["polarity"]), str(label.get("en", name)), str(label.get("zh", "")),
                          str(entry.get("path", "")), str(entry.get("description", "")),
                          {str(k): float(v) for k, v in entry["cut"].items()}))
    if not loops:
        raise ComparisonInputError(f"{path} declares no loop")
    return loops


@dataclass
class KnockoutResult:
    """The knockouts of one scenario.

    Attributes
    ----------
    scenario : str
    time : ndarray
        Saved times [Year].
    members : int
        Members re-run.
    differences : dict
        ``{loop: {variable: ndarray (n_time, members)}}``: with the loop minus without [scaled
        units of :data:`SERIES`].
    outcomes : dict
        ``{loop: {outcome: ndarray (members,)}}``: differences of :data:`analysis.outcomes.OUTCOMES`.
    absent : dict
        ``{loop: [variables the model lacks]}`` for loops not in this model.
    notes : list of str
    """

    scenario: str
    time: np.ndarray
    members: int
    differences: dict
    outcomes: dict
    absent: dict
    notes: list

    def dominant(self, variable: str = "urbanization_rate") -> list[str | None]:
        """Per saved year, the loop with the largest absolute median difference (None: all zero)."""
        names = list(self.differences)
        if not names:
            return [None] * len(self.time)
        medians = np.array([np.abs(np.median(self.differences[n][variable], axis=1)) for n in names])
        best = np.argmax(medians, axis=0)
        return [names[b] if medians[b, t] > 0 else None for t, b in enumerate(best)]


def archive_plan(archive: LoadedArchive):
    """The run plan of an archive's config (its draws file is the archive's own copy)."""
    try:
        return plan_run(OmegaConf.create(archive.config), base_dir=archive.path)
    except PlanError as error:
        raise ComparisonInputError(f"{archive.path}: cannot rebuild its run for the loop knockouts: {error}") from None


def knockout(plan, loops: Sequence[Loop], members: int = DEFAULT_MEMBERS, scenario: str | None = None,
             recorded_model_sha256: str | None = None) -> KnockoutResult:
    """Run every loop's knockout for the plan's first ``members`` ensemble members.

    Parameters
    ----------
    plan : simulator.run.RunPlan
        The scenario's run (an archive's: :func:`archive_plan`).
    loops : sequence of Loop
    members : int
        Members re-run (at most the plan's ensemble size); 0 runs the point estimate only.
    scenario : str, optional
        Name in the result (default: the plan's).
    recorded_model_sha256 : str, optional
        The model hash the archive recorded; a note is added when this checkout's model differs.
    """
    settings, spec = plan.settings, plan.spec
    notes = []
    if recorded_model_sha256 and sha256_of(plan.mdl_path) != recorded_model_sha256:
        notes.append("the model file differs from the one this archive was made with: the knockouts ran "
                     "on the current model")
    params: dict[str, Any] = dict(plan.parameters.values)
    n = 1
    if plan.uncertainty.available and settings["samples"] > 0 and members > 0:
        seeds = np.random.SeedSequence(settings["seed"]).spawn(2)
        drawn = draw_members(plan.parameters, plan.uncertainty, settings["samples"], np.random.default_rng(seeds[0]))
        n = min(members, settings["samples"])
        params = {k: (v[:n] if np.ndim(v) == 1 else v) for k, v in drawn.items()}
    columns = needed_variables(OUTCOMES, spec.variables)
    columns += [v for v, _, _ in SERIES if v in spec.variables and v not in columns]
    engine = open_engine("vectorized", plan.mdl_path)

    def run(overrides: Mapping[str, float]) -> Trajectories:
        result = engine.run({**params, **overrides}, n_samples=n, final_time=settings["final_time"],
                            time_step=settings["time_step"], saveper=1.0, method=settings["method"],
                            return_columns=columns)
        return from_run(result)

    full = run({})
    differences, outcome_deltas, absent = {}, {}, {}
    for loop in loops:
        missing = [name for name in loop.cut if name not in spec.variables]
        if missing:
            absent[loop.name] = missing
            continue
        cut = run(loop.cut)
        differences[loop.name] = {v: (full.series(v) - cut.series(v)) * scale
                                  for v, scale, _ in SERIES if full.has(v)}
        outcome_deltas[loop.name] = {o.name: o(full) - o(cut) for o in OUTCOMES
                                     if o.available(full) and o.available(cut)}
    return KnockoutResult(scenario or plan.scenario, full.time, n, differences, outcome_deltas, absent, notes)


def archive_knockout(archive: LoadedArchive, loops: Sequence[Loop], members: int = DEFAULT_MEMBERS) -> KnockoutResult:
    """:func:`knockout` of an archive's scenario."""
    recorded = ((archive.manifest.get("inputs") or {}).get("model") or {}).get("sha256")
    return knockout(archive_plan(archive), loops, members, archive.scenario, recorded)


def loops_markdown(results: Sequence[KnockoutResult], labels: Sequence[str], loops: Sequence[Loop]) -> list[str]:
    """The loop-dominance section of ``comparison.md``: one row per scenario, one column per loop."""
    if not results:
        return []
    lines = ["", "## Loop dominance (knockout)", "",
             "Each loop of `analysis/loops.yaml` is cut (its effect replaced by the neutral value) and the "
             f"scenario re-run for its first {results[0].members} members with the archive's parameter draws; "
             "Δ = with the loop − without it, member by member. Each cell: Δ of the urbanization rate in 2035 "
             "[pp], median [5 %, 95 %], then the share of members in which the loop moves the rate by at "
             f"least {ACTS_PP:g} pp in some year. *Dominant*: in which years each loop has the largest "
             "absolute median Δ of the rate. The same for urban residents, and over time: `loops.png`.", "",
             "| loop | polarity | path | cut |", "|---|---|---|---|"]
    absent = {name: missing for r in results for name, missing in r.absent.items()}
    loops = [loop for loop in loops if any(loop.name in r.differences for r in results)] + \
            [loop for loop in loops if not any(loop.name in r.differences for r in results)]
    present = [loop for loop in loops if any(loop.name in r.differences for r in results)]
    for loop in loops:
        cut = ", ".join(f"`{k}` = {v:g}" for k, v in loop.cut.items())
        lines.append(f"| {loop.label} | {loop.polarity} | {loop.path} | {cut} |")
    gone = [loop for loop in loops if loop not in present]
    if gone:
        lines += ["", "Not in this model (the knockout needs variables it lacks): " + "; ".join(
            f"{loop.label} ({', '.join(absent.get(loop.name, []))})" for loop in gone) + "."]
    lines += ["", "| scenario | " + " | ".join(f"{loop.label} ({loop.polarity})" for loop in present) + " | dominant |",
              "|---|" + "---|" * (len(present) + 1)]
    for label, result in zip(labels, results):
        cells = []
        for loop in present:
            if loop.name in result.absent:
                cells.append(f"not in this model (lacks {', '.join(result.absent[loop.name])})")
                continue
            series = result.differences[loop.name]["urbanization_rate"]
            acts = np.max(np.abs(series), axis=0) >= ACTS_PP
            last = series[-1]
            cells.append(f"{np.median(last):+.2f} [{np.percentile(last, 5):+.2f}, {np.percentile(last, 95):+.2f}]; "
                         f"{np.mean(acts):.0%}")
        dominant = result.dominant()
        spans = []
        for loop in present:
            years = [int(t) for t, d in zip(result.time, dominant) if d == loop.name]
            if years:
                spans.append(f"{loop.label} {_years(years)}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'; '.join(spans) or 'none'} |")
    notes = sorted({f"{label}: {note}" for label, r in zip(labels, results) for note in r.notes})
    if notes:
        lines += [""] + [f"Note — {note}." for note in notes]
    return lines


def _years(years: Sequence[int]) -> str:
    """``2016-2020, 2030`` from a list of years."""
    if not years:
        return "never"
    spans, start, prev = [], years[0], years[0]
    for year in list(years[1:]) + [None]:
        if year is not None and year == prev + 1:
            prev = year
            continue
        spans.append(f"{start}" if start == prev else f"{start}-{prev}")
        if year is not None:
            start = prev = year
    return ", ".join(spans)
