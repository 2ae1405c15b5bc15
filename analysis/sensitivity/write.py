"""Write the sensitivity archive: the CSV tables, ``sensitivity.md``, the plots and
``manifest.json``, atomically (:func:`base.archive.staged_archive`)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from base.archive import build_manifest, finalize_manifest, staged_archive

from .compute import SensitivityResult, convergence_rows
from .markdown import markdown
from .options import RANGES_PATH
from .plots import plot_indices, plot_over_time


def indices_rows(result: SensitivityResult) -> list[dict[str, Any]]:
    """``sobol_indices.csv``: one row per output, year and factor (the final estimates at N).

    Returns
    -------
    list of dict
        ``output``, ``year``, ``factor``, ``group``, ``n``, and ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf`` [share of variance; ``_conf``: half-width of the 95 % interval].
    """
    groups = {f.name: f.group for f in result.factors}
    rows = []
    for (output, year), si in result.indices.items():
        for j, name in enumerate(si.names):
            rows.append({"output": output, "year": year, "factor": name, "group": groups[name],
                         "n": si.n, "S1": si.S1[j], "S1_conf": si.S1_conf[j],
                         "ST": si.ST[j], "ST_conf": si.ST_conf[j]})
    return rows


def factor_rows(result: SensitivityResult) -> list[dict[str, Any]]:
    """``factors.csv``: one row per factor with its group, distribution, range and scenario value
    [units of the parameter], and where the range comes from."""
    return [{"factor": f.name, "group": f.group, "distribution": f.distribution, "low": f.low,
             "high": f.high, "scenario_value": f.base, "range_source": f.note} for f in result.factors]


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of ``rows`` (header from the first row; floats written exactly, with ``repr``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()})
    return buffer.getvalue()


def write_archive(result: SensitivityResult, out: Path, wall_time_s: float, plots: bool = True,
                  command: Sequence[str] | None = None) -> Path:
    """Write the sensitivity archive into ``out`` (atomically).

    Parameters
    ----------
    result : SensitivityResult
    out : Path
        Archive directory (must not exist or be empty).
    wall_time_s : float
        Wall time of the analysis, recorded in the manifest and the report [s].
    plots : bool
        Write the PNG plots.
    command : sequence of str, optional
        Command line recorded in the manifest (default: ``sys.argv``).

    Returns
    -------
    Path
        ``out``.
    """
    years = result.settings["years"]
    manifest = build_manifest(kind="sensitivity", command=command, seed=result.settings["seed"],
                              wall_time_s=wall_time_s,
                              inputs={"model": result.mdl_path,
                                      "ranges": RANGES_PATH},
                              extra={"settings": result.settings, "runs": result.runs,
                                     "factors": [f.name for f in result.factors],
                                     "fixed_by_scenario": result.fixed})
    with staged_archive(out) as staging:
        (staging / "sobol_indices.csv").write_text(to_csv(indices_rows(result)))
        (staging / "convergence.csv").write_text(to_csv(convergence_rows(result)))
        (staging / "factors.csv").write_text(to_csv(factor_rows(result)))
        (staging / "sensitivity.md").write_text(markdown(result, wall_time_s), encoding="utf-8")
        if plots:
            plot_indices(result, max(years), staging / f"sobol_{max(years)}.png")
            if len(years) > 1:
                plot_over_time(result, staging / "sobol_over_time.png")
        finalize_manifest(staging, manifest)
    return out
