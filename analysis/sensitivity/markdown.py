"""Render ``sensitivity.md``: the set-up, the top factors per output, the indices over time, the
convergence check and the factor table (text only; :mod:`.write` writes it)."""
from __future__ import annotations

import numpy as np

from .compute import SensitivityResult, convergence_rows
from .options import CONVERGENCE_TOLERANCE, GROUPS


def markdown(result: SensitivityResult, wall_time_s: float, top: int = 10) -> str:
    """``sensitivity.md``: set-up, top factors per output, sums, convergence.

    Parameters
    ----------
    result : SensitivityResult
    wall_time_s : float
        Wall time of the whole command, reported in the set-up [s].
    top : int
        Factors listed per output (by decreasing total index).

    Returns
    -------
    str
        The markdown text.
    """
    info = result.settings
    last = max(info["years"])
    lines = [
        f"# Global sensitivity analysis (Sobol): scenario `{info['scenario']}`",
        "",
        f"{len(result.factors)} factors ({', '.join(f'{g}: {sum(f.group == g for f in result.factors)}' for g in GROUPS if any(f.group == g for f in result.factors))}), "
        f"N = {info['n']} base samples, {result.runs} model runs (vectorized engine, {result.engine_seconds:.1f} s; "
        f"total {wall_time_s:.1f} s), seed {info['seed']}, 95 % bootstrap confidence intervals "
        f"({info['resamples']} resamples). Factors set by the scenario and kept fixed: "
        f"{', '.join(result.fixed) if result.fixed else 'none'}.",
        "",
        "S1: share of the output's variance explained by the factor alone; ST: share including all "
        "its interactions (ST ≥ S1 up to estimation error; 1 − ΣS1 is the share due to "
        "interactions). Calibrated parameters (those with draws in `calibrated.uncertainty`) vary "
        "over their draws, each from its marginal (correlations between them are not kept); "
        "levers, assumptions and UNVERIFIED data over their documented ranges "
        "(`analysis/sensitivity_ranges.yaml` lists the exceptions, with reasons).",
        "",
    ]
    for output in info["outputs"]:
        si = result.indices[(output, last)]
        en, _ = result.label(output)
        lines += [f"## {en} ({output}), {last}", ""]
        if not np.any(np.isfinite(si.ST)):
            lines += ["The output does not vary over the design: indices undefined.", ""]
            continue
        lines += [f"ΣS1 = {np.nansum(si.S1):.3f}; variance {si.variance:.4g}.", "",
                  "| factor | group | S1 | ST |", "|---|---|---|---|"]
        groups = {f.name: f.group for f in result.factors}
        for name in si.ranking()[:top]:
            j = si.names.index(name)
            lines.append(f"| `{name}` | {groups[name]} | {si.S1[j]:.3f} ± {si.S1_conf[j]:.3f} "
                         f"| {si.ST[j]:.3f} ± {si.ST_conf[j]:.3f} |")
        lines.append("")
    lines += [f"## Over time: the three largest ST per output", "", "| output | " + " | ".join(map(str, info["years"])) + " |",
              "|---|" + "---|" * len(info["years"])]
    for output in info["outputs"]:
        cells = []
        for year in info["years"]:
            si = result.indices[(output, year)]
            if not np.any(np.isfinite(si.ST)):
                cells.append("no variance")
                continue
            cells.append(", ".join(f"`{name}` {si.ST[si.names.index(name)]:.2f}" for name in si.ranking()[:3]))
        lines.append(f"| {output} | " + " | ".join(cells) + " |")
    conv = convergence_rows(result)
    stable = all(row["stable"] for row in conv if np.isfinite(row["max_abs_change_ST"]))
    lines += ["", f"## Convergence (N = {info['n'] // 2} against N = {info['n']})", "",
              f"Every index moves by at most {CONVERGENCE_TOLERANCE} when N doubles: "
              f"**{'yes' if stable else 'no'}**.", "",
              "| output | year | max abs change S1 | max abs change ST | same top 5 | stable |",
              "|---|---|---|---|---|---|"]
    for row in conv:
        lines.append(f"| {row['output']} | {row['year']} | {row['max_abs_change_S1']:.3f} "
                     f"| {row['max_abs_change_ST']:.3f} | {'yes' if row['top5_same_set'] else 'no'} "
                     f"| {'yes' if row['stable'] else 'no'} |")
    lines += ["", "## Factors", "", "| factor | group | distribution | range | scenario value | range source |",
              "|---|---|---|---|---|---|"]
    for f in result.factors:
        lines.append(f"| `{f.name}` | {f.group} | {f.distribution} | [{f.low:.6g}, {f.high:.6g}] "
                     f"| {f.base:.6g} | {f.note} |")
    lines.append("")
    return "\n".join(lines)


def summary_text(result: SensitivityResult, wall_time_s: float) -> str:
    """What the command prints: the set-up and the top factors of the last year (the part of
    :func:`markdown` before the indices over time)."""
    return markdown(result, wall_time_s).split("\n## Over time")[0].rstrip()
