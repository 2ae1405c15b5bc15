"""``python -m calibration``: calibrate the model on 2015-2020 and write the archive and parameter file.

Hydra app (version_base 1.3) with primary config ``scenarios/calibrate.yaml``. Examples::

    python -m calibration                                   # full calibration (default settings)
    python -m calibration uncertainty.draws=100 holdout.enabled=false
    python -m calibration observation.approach=anchors output.write_parameter_file=false
    python -m calibration engine=pysd fit.starts=1 uncertainty.draws=5   # reference engine (slow)

Writes ``runs/calibration/<date>_<time>/`` (report.md, CSV, PNG, manifest.json, and the new parameter
file ``calibrated_parameters.yaml`` with its draws). The tracked ``scenarios/calibrated/default.yaml``
(and ``default_draws.csv``) is updated only with ``output.write_parameter_file=true``;
``output.parameter_file=PATH`` writes the parameter file to PATH instead.

Errors are one or two lines naming the problem and the fix (tracebacks with ``--debug``).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from base.archive import git_state, remove_if_empty
from base.paramfile import write_parameter_file
from base.paths import REPO_ROOT
from model.spec import load_spec
from simulator.cli import errors_as_exit, run_command, strip_debug_flag
from simulator.validation import SettingsError

from .pipeline import run_calibration
from .report import parameter_file_text, write_archive


@hydra.main(version_base="1.3", config_path="../scenarios", config_name="calibrate")
def main(cfg: DictConfig) -> None:
    """Run the calibration described by ``cfg``; write the archive, then the parameter file."""
    # The one warning of a normal run, third-party and at import (the exception of pytest.ini): PySD 3.14
    # imports chardet.universaldetector, which chardet 7 deprecates. Every other warning is shown.
    warnings.filterwarnings("ignore", message="chardet.universaldetector is deprecated",
                            category=DeprecationWarning)
    hydra_cfg = HydraConfig.get()
    archive_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        with errors_as_exit("calibration"):
            _calibrate(cfg, archive_dir, list(hydra_cfg.overrides.task))
    except BaseException:
        remove_if_empty(archive_dir)  # Hydra made it before the job started
        raise


def _calibrate(cfg: DictConfig, archive_dir: Path, overrides: list[str]) -> None:
    for key in ("write_parameter_file", "plots"):
        if not isinstance(cfg.output.get(key), bool):
            raise SettingsError(f"output.{key} must be true or false, got {cfg.output.get(key)!r}")
    for key, low in (("fit.starts", 1), ("fit.seed", 0), ("uncertainty.draws", 1), ("uncertainty.seed", 0),
                     ("uncertainty.batch", 1)):
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SettingsError(f"{key} must be a whole number >= {low}, got {value!r}")
    spec = load_spec()
    result = run_calibration(cfg, spec=spec)
    target = Path(cfg.output.parameter_file)
    target = target if target.is_absolute() else REPO_ROOT / target
    text = parameter_file_text(result, git_state().get("commit"), target)
    write_archive(result, archive_dir, spec, overrides=overrides, parameter_text=text,
                  plots=bool(cfg.output.plots))
    print(f"calibration archive: {archive_dir}")
    path_given = any(arg.lstrip("+").startswith("output.parameter_file=") for arg in overrides)
    if cfg.output.write_parameter_file is True or path_given:
        yaml_path, draws_path = write_parameter_file(target, text.yaml, text.draws_csv)
        print(f"parameter file: {yaml_path} (draws: {draws_path.name})")
    else:
        print(f"parameter file: {archive_dir / 'calibrated_parameters.yaml'} (the tracked {target.name} is "
              f"unchanged; output.write_parameter_file=true updates it)")
    print(f"wall time: {result.wall_time_s:.1f} s")


def run() -> int:
    """The command, with errors as one or two lines (tracebacks with --debug)."""
    argv = sys.argv[1:]
    sys.argv[1:] = strip_debug_flag(argv)
    return run_command("calibration", main, argv)


if __name__ == "__main__":
    sys.exit(run())
