"""Compose the calibration config (``scenarios/calibrate.yaml``) outside the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / "scenarios"
CONFIG_NAME = "calibrate"


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The calibration config as ``python -m calibration <overrides>`` would see it (without ``hydra``).

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["uncertainty.draws=100", "engine=pysd"]``.
    """
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=CONFIG_NAME, overrides=list(overrides))
