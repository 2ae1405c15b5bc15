"""The regional targets in the scenario comparison (issue 12): ``regional.csv`` and a section of ``comparison.md``.

For every archive whose model has residents by league, the figures of
:func:`simulator.regional.regional_summary` recomputed from its ``ensemble.nc`` (the same function as
``summary.json``'s ``regional``): each target of :data:`simulator.regional.REGIONAL_TARGETS` (median,
90 % band, probability of reaching it), league populations and rates in 2025 and 2035, and the
leagues that shrink over 2020-2035 (median change and probability of a decline).
"""
from __future__ import annotations

from typing import Any, Sequence

from simulator.regional import REGIONAL_TARGETS, has_leagues, regional_summary

from .archives import LoadedArchive

#: Shrinking leagues named per scenario in ``comparison.md``.
SHRINKING_SHOWN = 3


def regional_row(archive: LoadedArchive) -> dict[str, Any] | None:
    """One flat row of regional figures for ``archive`` (None when its model has no leagues)."""
    if not has_leagues(archive.ensemble):
        return None
    regional = regional_summary(None, archive.ensemble)
    row: dict[str, Any] = {"scenario": archive.scenario, "members": archive.members}
    for key, target in regional.get("targets", {}).items():
        row[f"{key}_target"] = target["target"]
        row[f"{key}_median"] = target["median"]
        row[f"{key}_p05"], row[f"{key}_p95"] = target["band_90"]
        row[f"{key}_probability"] = target["probability"]
    for league, figures in regional["leagues"].items():
        for measure, years in figures.items():
            for year, stats in years.items():
                row[f"{league}_{measure}_{year}_median"] = stats["median"]
                row[f"{league}_{measure}_{year}_p05"], row[f"{league}_{measure}_{year}_p95"] = stats["band_90"]
    change = regional["change"]
    period = "_".join(str(y) for y in change["period"])
    for league, stats in change["by_league"].items():
        row[f"{league}_change_{period}_median_pct"] = stats["median_pct"]
        row[f"{league}_p_shrink_{period}"] = stats["p_shrink"]
    row["shrinking"] = " ".join(change["shrinking"])
    row["_regional"] = regional
    return row


def regional_markdown(rows: Sequence[dict | None], labels: Sequence[str]) -> list[str]:
    """The section of ``comparison.md`` (empty when no archive has leagues)."""
    present = [(label, row) for label, row in zip(labels, rows) if row is not None]
    if not present:
        return []
    keys = [t for t in REGIONAL_TARGETS if f"{t.key}_median" in present[0][1]]
    lines = ["", "## Regional targets (leagues)", "",
             "Median [5 %, 95 %] over the members and P(reach) = share of members at or above the target "
             "(no observation noise for league figures). Groups from `base/leagues.yaml`."]
    for target in keys:
        amount = f"{target.target / 1e6:g} million" if target.units == "persons" else f"{target.target:g} %"
        lines.append(f"- **{target.label} {target.year}** (target about {amount}): "
                     f"{target.source}. {target.note}.")
    scale = {t.key: (1e-6, "million") if t.units == "persons" else (1.0, "%") for t in keys}
    header = "| scenario | " + " | ".join(f"{t.label} {t.year} [{scale[t.key][1]}] | P(reach)" for t in keys)
    lines += ["", header + " | leagues shrinking most (median change) |",
              "|---|" + "---|---|" * len(keys) + "---|"]
    for label, row in present:
        cells = []
        for t in keys:
            s = scale[t.key][0]
            cells.append(f"{row[f'{t.key}_median'] * s:.2f} [{row[f'{t.key}_p05'] * s:.2f}, "
                         f"{row[f'{t.key}_p95'] * s:.2f}]")
            cells.append(f"{row[f'{t.key}_probability']:.3f}")
        change = row["_regional"]["change"]
        shrinking = change["shrinking"][:SHRINKING_SHOWN]
        cells.append(", ".join(f"{name} {change['by_league'][name]['median_pct']:+.1f} % "
                               f"(P {change['by_league'][name]['p_shrink']:.2f})" for name in shrinking) or "none")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def regional_csv_rows(rows: Sequence[dict | None]) -> list[dict]:
    """The rows for ``regional.csv`` (without the nested summary)."""
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows if row is not None]
