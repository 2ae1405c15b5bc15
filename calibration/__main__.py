"""``python -m calibration``: calibrate the model on 2015-2020 and write the archive and parameter file.

Hydra app (version_base 1.3) with primary config ``scenarios/calibrate.yaml``. Examples::

    python -m calibration                                   # full calibration (default settings)
    python -m calibration uncertainty.draws=100 holdout.enabled=false
    python -m calibration observation.approach=anchors output.write_parameter_file=false
    python -m calibration engine=pysd fit.starts=1 uncertainty.draws=5   # reference engine (slow)

Writes ``runs/calibration/<date>_<time>/`` (report.md, CSV, PNG, manifest.json) and, unless
``output.write_parameter_file=false``, ``scenarios/calibrated/default.yaml``.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@hydra.main(version_base="1.3", config_path="../scenarios", config_name="calibrate")
def main(cfg: DictConfig) -> None:
    """Run the calibration described by ``cfg``; write the archive, then the parameter file."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    from model.spec import load_spec
    from simulator.archive import git_state

    from .paramfile import write_parameter_file
    from .pipeline import run_calibration
    from .report import parameter_file_text, write_archive

    hydra_cfg = HydraConfig.get()
    archive_dir = Path(hydra_cfg.runtime.output_dir)
    spec = load_spec()
    result = run_calibration(cfg, spec=spec)
    target = Path(cfg.output.parameter_file)
    target = target if target.is_absolute() else REPO_ROOT / target
    text = parameter_file_text(result, git_state().get("commit"), target)
    write_archive(result, archive_dir, spec, overrides=list(hydra_cfg.overrides.task), parameter_text=text,
                  plots=bool(cfg.output.plots))
    print(f"calibration archive: {archive_dir}")
    if cfg.output.write_parameter_file:
        yaml_path, draws_path = write_parameter_file(target, text.yaml, text.draws_csv)
        print(f"parameter file: {yaml_path} (draws: {draws_path.name})")
    print(f"wall time: {result.wall_time_s:.1f} s")


if __name__ == "__main__":
    main()
