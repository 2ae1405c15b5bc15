"""The lever audit: what each lever does to each outcome over its documented range.

For every lever of :data:`analysis.levers.LEVERS`, the model runs at the calibrated point of the
baseline (``scenario=baseline calibrated=default``) with the lever at the low and at the high end
of its documented range (``model.spec``, the ``.mdl`` comment), every other parameter unchanged:
``1 + 2 L`` parameter sets in one call of the vectorized engine. The table gives, for each
outcome of :data:`analysis.outcomes.OUTCOMES`, the change from the baseline value at the low end
and at the high end (``low / high``). A lever that moves no outcome by at least half a unit of the
last digit shown is flagged **no effect**; :data:`NO_EFFECT_REASONS` must explain every such
lever (a test fails on an unexplained one), naming the scenario or condition in which it acts.

It reports what the model does: nothing here is tuned. ``python -m analysis.lever_audit`` prints
the table; ``--write`` writes it into README.md between its markers; ``--check`` exits 1 when the
README differs (the tests compare the README's numbers with a regenerated table, within one unit
of the last digit shown).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from base.paths import REPO_ROOT
from simulator.cli import run_command, strip_debug_flag
from simulator.run import PlanError, open_engine, plan_run

from .levers import LEVERS, between, format_number, replace_between
from .outcomes import OUTCOMES, Outcome, from_run, needed_variables
from .sensitivity.compute import compose_scenario

README_PATH = REPO_ROOT / "README.md"
AUDIT_MARKERS = ("<!-- lever-audit:start -->", "<!-- lever-audit:end -->")

@dataclass(frozen=True)
class NoEffect:
    """Why a lever moves no outcome at the baseline point, and a setting in which it acts.

    Attributes
    ----------
    reason : str
        Written by hand from the model's equations.
    acts_with : tuple of str
        Hydra overrides of the baseline (``+params.NAME=VALUE``) under which the lever moves an
        outcome; the audit runs the lever there too and prints what it does (a test checks that it
        moves something).
    """

    reason: str
    acts_with: tuple[str, ...] = ()


#: The levers that move no outcome at the baseline point (keyed by lever name).
NO_EFFECT_REASONS: dict[str, NoEffect] = {
    "land_quota_enforcement": NoEffect(
        "the quota does not bind at the baseline point (the land demand of the model stays below "
        "the 640,000 mu quota), so how strictly it is enforced changes nothing; it acts once the "
        "quota binds, e.g. with a quota of 50,000 mu",
        ("+params.new_land_quota_2021_2025=50000",)),
    # levers of the water and land rewrite (checked on its branch: both act in the setting named)
    "water_cap_enforcement": NoEffect(
        "the cap does not bind at the baseline point, so how strictly it is enforced changes "
        "nothing; it acts once the cap binds, e.g. with a 2025 cap of 150 亿 m3",
        ("+params.regional_water_cap_2025=1.5e10",)),
    "settlement_linked_quota_share": NoEffect(
        "the settlement-linked part of the quota (人地挂钩) only matters when the quota binds, which "
        "it does not at the baseline point; it acts with a quota of 50,000 mu",
        ("+params.new_land_quota_2021_2025=50000",)),
}


@dataclass(frozen=True)
class LeverEffect:
    """The outcomes at the two ends of one lever's range, as changes from the baseline.

    Attributes
    ----------
    lever : str
    low, high : float
        The documented range [units of the lever].
    default : float
        The baseline value [units of the lever].
    base : dict
        ``{outcome: value}`` at the baseline point (None: outcome unavailable).
    at_low, at_high : dict
        ``{outcome: value - base}`` with the lever at ``low`` / ``high``.
    basis : dict
        ``{outcome: what it measures}`` for outcomes with several definitions (the one used).
    """

    lever: str
    low: float
    high: float
    default: float
    base: dict
    at_low: dict
    at_high: dict
    basis: dict = field(default_factory=dict)

    def moves(self, item: Outcome) -> bool:
        """Whether the lever moves ``item`` by at least its resolution at either end."""
        low, high = self.at_low.get(item.name), self.at_high.get(item.name)
        if low is None or high is None:
            return False
        return max(abs(low), abs(high)) >= item.resolution

    def no_effect(self, outcomes: Sequence[Outcome] = OUTCOMES) -> bool:
        return not any(self.moves(o) for o in outcomes)


def baseline_parameters(scenario: str = "baseline", calibrated: str = "default", overrides: Sequence[str] = ()):
    """The run plan of ``scenario`` (parameters at the calibrated point), with Hydra ``overrides``."""
    cfg = compose_scenario(scenario, calibrated, overrides)
    try:
        return plan_run(cfg)
    except PlanError as error:
        raise SystemExit(f"analysis.lever_audit: error: {error}") from None


def audit(levers: Sequence[str] | None = None, outcomes: Sequence[Outcome] = OUTCOMES,
          plan=None) -> list[LeverEffect]:
    """Run the lever ends and return one :class:`LeverEffect` per lever.

    Parameters
    ----------
    levers : sequence of str, optional
        Lever names (default: every lever of :data:`analysis.levers.LEVERS`).
    outcomes : sequence of Outcome
    plan : simulator.run.RunPlan, optional
        The base run (default: :func:`baseline_parameters`).
    """
    plan = plan if plan is not None else baseline_parameters()
    names = [lever.name for lever in LEVERS] if levers is None else list(levers)
    spec, settings = plan.spec, plan.settings
    base = {name: float(value) for name, value in plan.parameters.values.items()}
    n = 1 + 2 * len(names)
    params: dict[str, np.ndarray] = {}
    ranges = {}
    for k, name in enumerate(names):
        var = spec.parameters[name]
        low, high = (float(x) for x in var.limits)
        default = base.get(name, float(var.value))
        ranges[name] = (low, high, default)
        column = np.full(n, default)
        column[1 + 2 * k], column[2 + 2 * k] = low, high
        params[name] = column
    for name, value in base.items():
        params.setdefault(name, value)
    columns = needed_variables(outcomes, spec.variables)
    result = open_engine("vectorized", plan.mdl_path).run(
        params, n_samples=n, final_time=settings["final_time"], time_step=settings["time_step"],
        saveper=1.0, method=settings["method"], return_columns=columns)
    trajectories = from_run(result)
    values = {o.name: (o(trajectories) if o.available(trajectories) else None) for o in outcomes}
    basis = {o.name: o.basis(trajectories) for o in outcomes if o.basis(trajectories)}
    effects = []
    for k, name in enumerate(names):
        low, high, default = ranges[name]
        base_values = {o: (None if v is None else float(v[0])) for o, v in values.items()}
        at_low = {o: (None if v is None else float(v[1 + 2 * k] - v[0])) for o, v in values.items()}
        at_high = {o: (None if v is None else float(v[2 + 2 * k] - v[0])) for o, v in values.items()}
        effects.append(LeverEffect(name, low, high, default, base_values, at_low, at_high, basis))
    return effects


def _cell(effect: LeverEffect, item: Outcome) -> str:
    low, high = effect.at_low.get(item.name), effect.at_high.get(item.name)
    if low is None or high is None:
        return "n/a"
    if not effect.moves(item):
        return "0"
    fmt = f"{{:+.{item.digits}f}}"
    return f"{fmt.format(low)} / {fmt.format(high)}"


def acting_effects(effects: Sequence[LeverEffect], outcomes: Sequence[Outcome] = OUTCOMES) -> dict[str, LeverEffect]:
    """For each no-effect lever with :attr:`NoEffect.acts_with`, its effect under those overrides."""
    acting = {}
    for effect in effects:
        entry = NO_EFFECT_REASONS.get(effect.lever)
        if effect.no_effect(outcomes) and entry is not None and entry.acts_with:
            plan = baseline_parameters(overrides=entry.acts_with)
            acting[effect.lever] = audit([effect.lever], outcomes, plan)[0]
    return acting


def audit_table(effects: Sequence[LeverEffect], outcomes: Sequence[Outcome] = OUTCOMES,
                acting: Mapping[str, LeverEffect] | None = None) -> str:
    """The README audit table (Markdown) with the baseline values and the notes on no-effect levers
    (``acting``: :func:`acting_effects`, the effect where each acts)."""
    header = ("| lever | range (default) | "
              + " | ".join(f"Δ {o.label} [{o.change_unit}]" for o in outcomes) + " |")
    lines = [header, "|---|---|" + "---|" * len(outcomes)]
    base = effects[0].base if effects else {}
    lines.append("| *baseline value* | | " + " | ".join(
        "n/a" if base.get(o.name) is None else f"{base[o.name]:.{o.digits}f}" for o in outcomes) + " |")
    for effect in effects:
        cells = [_cell(effect, o) for o in outcomes]
        name = f"`{effect.lever}`" + (" **no effect**" if effect.no_effect(outcomes) else "")
        lines.append(f"| {name} | [{format_number(effect.low)}, {format_number(effect.high)}] "
                     f"({format_number(effect.default)}) | " + " | ".join(cells) + " |")
    notes = []
    for effect in effects:
        if not effect.no_effect(outcomes):
            continue
        entry = NO_EFFECT_REASONS.get(effect.lever)
        if entry is None:
            notes.append(f"- `{effect.lever}`: UNEXPLAINED (no reason recorded in analysis/lever_audit.py)")
            continue
        note = f"- `{effect.lever}`: {entry.reason}."
        elsewhere = (acting or {}).get(effect.lever)
        if elsewhere is not None:
            moved = sorted((o for o in outcomes if elsewhere.moves(o)),
                           key=lambda o: -max(abs(elsewhere.at_low[o.name]), abs(elsewhere.at_high[o.name])))
            shown = "; ".join(f"Δ {o.label} {_cell(elsewhere, o)} {o.change_unit}" for o in moved[:3])
            note += (f" With {', '.join(f'`{x.lstrip(chr(43))}`' for x in entry.acts_with)}: "
                     f"{shown or 'still no effect'}.")
        notes.append(note)
    missing = [o for o in outcomes if base.get(o.name) is None]
    text = "\n".join(lines)
    basis = effects[0].basis if effects else {}
    if basis:
        text += "\n\nMeasured as: " + "; ".join(f"*{o.label}*: {basis[o.name]}" for o in outcomes if o.name in basis) + "."
    if notes:
        text += "\n\nLevers with **no effect** on any outcome at the baseline point, and where they act:\n\n" + "\n".join(notes)
    if missing:
        text += ("\n\nn/a: the model lacks " + "; ".join(
            f"{o.label} ({', '.join(o.variables)})" for o in missing) + ".")
    return text


def unexplained(effects: Sequence[LeverEffect], outcomes: Sequence[Outcome] = OUTCOMES) -> list[str]:
    """Levers with no effect on any outcome and no entry in :data:`NO_EFFECT_REASONS`."""
    return [e.lever for e in effects if e.no_effect(outcomes) and e.lever not in NO_EFFECT_REASONS]


_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def table_numbers(table: str) -> list[list[str]]:
    """The numbers of each data row of an audit table, as written (to compare two tables within
    one unit of their last digit)."""
    rows = []
    for line in table.splitlines():
        if line.startswith("| `") or line.startswith("| *baseline"):
            cells = line.split("|")[3:-1]
            rows.append([x for cell in cells for x in _NUMBER.findall(cell)])
    return rows


def table_words(table: str) -> str:
    """The table with its numbers blanked (flags, names, notes)."""
    return _NUMBER.sub("#", table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.lever_audit",
        description="Effect of each lever over its documented range on each outcome; --write updates "
                    "README.md, --check tests it.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the audit table in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    args = parser.parse_args(argv)
    effects = audit()
    table = audit_table(effects, acting=acting_effects(effects))
    lost = unexplained(effects)
    if lost:
        print("analysis.lever_audit: levers with no effect and no reason in NO_EFFECT_REASONS: "
              + ", ".join(lost), file=sys.stderr)
    if args.write:
        readme = README_PATH.read_text(encoding="utf-8")
        README_PATH.write_text(replace_between(readme, AUDIT_MARKERS, table), encoding="utf-8")
        print(f"updated the lever audit in {README_PATH}")
        return 1 if lost else 0
    if args.check:
        written = between(README_PATH.read_text(encoding="utf-8"), AUDIT_MARKERS)
        if written != table.strip():
            print("README.md's lever audit is out of date; run python -m analysis.lever_audit --write",
                  file=sys.stderr)
            return 1
        print("README.md lever audit is up to date")
        return 1 if lost else 0
    print(table)
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(run_command("analysis.lever_audit", lambda: main(strip_debug_flag(sys.argv[1:]))))
