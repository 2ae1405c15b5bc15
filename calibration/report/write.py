"""Write the calibration archive: the CSV tables, the figures, ``report.md``, ``config.yaml``, the
parameter file and ``manifest.json``, atomically (:func:`base.archive.staged_archive`: into a
hidden staging directory renamed onto ``runs/calibration/<date>_<time>/`` only when complete)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from omegaconf import OmegaConf

from base.archive import build_manifest, finalize_manifest, staged_archive
from base.paths import CALIBRATE_CONFIG
from model import MODEL_PATH

from ..pipeline import CalibrationResult
from .markdown import report_text
from .parameters import ParameterFileText
from .plots import write_plots
from .tables import report_tables


def write_report(result: CalibrationResult, staging: Path, spec, plots: bool = True) -> list[str]:
    """Write report.md, the CSV tables and the plots into ``staging``.

    Parameters
    ----------
    result : CalibrationResult
    staging : Path
        Directory written into.
    spec : model.spec.ModelSpec
        For the parameters' units.
    plots : bool
        Write the figures (and link them from the report).

    Returns
    -------
    list of str
        The names of the files in ``staging``, sorted.
    """
    tables = report_tables(result, spec)
    for name, (frame, index) in tables.files.items():
        frame.to_csv(staging / name, index=index)
    if plots:
        write_plots(result, tables.structural, staging)
    (staging / "report.md").write_text(report_text(result, tables, plots), encoding="utf-8")
    return sorted(p.name for p in staging.iterdir())


def write_archive(result: CalibrationResult, final_dir: str | Path, spec, *, overrides: Sequence[str] = (),
                  parameter_text: ParameterFileText | None = None, plots: bool = True) -> Path:
    """Write the whole archive atomically into ``final_dir``.

    Parameters
    ----------
    result : CalibrationResult
    final_dir : path-like
        Archive directory (must not exist or be empty).
    spec : model.spec.ModelSpec
    overrides : sequence of str
        Hydra overrides of the command line, recorded in the manifest.
    parameter_text : ParameterFileText, optional
        The parameter file, copied into the archive as ``calibrated_parameters.yaml`` and
        ``calibrated_draws.csv``.
    plots : bool
        Write the figures.

    Returns
    -------
    Path
        ``final_dir``.
    """
    final_dir = Path(final_dir)
    with staged_archive(final_dir) as staging:
        write_report(result, staging, spec, plots=plots)
        (staging / "config.yaml").write_text(OmegaConf.to_yaml(result.cfg), encoding="utf-8")
        if parameter_text is not None:
            (staging / "calibrated_parameters.yaml").write_text(parameter_text.yaml, encoding="utf-8")
            (staging / "calibrated_draws.csv").write_text(parameter_text.draws_csv, encoding="utf-8")
        manifest = build_manifest(
            kind="calibration", overrides=list(overrides), seed=int(result.cfg.uncertainty.seed),
            wall_time_s=result.wall_time_s,
            inputs={"model": MODEL_PATH, "data": result.data_path,
                    "calibration_config": CALIBRATE_CONFIG},
            extra={"calibration": {
                "engine": str(result.cfg.engine.name), "approach": str(result.cfg.observation.approach),
                "fit_seed": int(result.cfg.fit.seed), "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
                "params": result.primary.params,
                "observation_noise": result.observation_noise,
                "structural": None if result.primary.structural is None else {
                    "particles": result.primary.structural.n_particles,
                    "prior_sir_ess": result.primary.structural.prior_sir_ess,
                    "final_step_ess": result.primary.structural.final_ess,
                    "seed": int(result.cfg.uncertainty.structural.seed)},
            }},
        )
        finalize_manifest(staging, json.loads(json.dumps(manifest, default=float)))
    return final_dir

