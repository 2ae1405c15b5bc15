"""Where things are: the repository root and the files every layer shares (defined once here)."""
from __future__ import annotations

from pathlib import Path

#: The repository root (the directory holding ``sim.py``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Hydra configs of ``sim.py`` and ``python -m calibration``.
SCENARIOS_DIR = REPO_ROOT / "scenarios"
#: The sourced statistics 2010-2020 (long format; see ``data/README.md``).
DATA_PATH = REPO_ROOT / "data" / "inner_mongolia_2010_2020.csv"
#: The calibrated parameter file written by ``python -m calibration``.
DEFAULT_PARAMETER_FILE = SCENARIOS_DIR / "calibrated" / "default.yaml"
#: The primary config of ``python -m calibration``.
CALIBRATE_CONFIG = SCENARIOS_DIR / "calibrate.yaml"
#: Default home of run archives (git-ignored).
RUNS_DIR = REPO_ROOT / "runs"


def repo_relative(path: str | Path) -> str:
    """``path`` relative to the repository root when it lies inside it, else as given (absolute)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
