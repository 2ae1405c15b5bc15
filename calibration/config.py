"""Compose the calibration config (``scenarios/calibrate.yaml``) outside the command line."""
from __future__ import annotations

from typing import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from base.paths import SCENARIOS_DIR as CONFIG_DIR
CONFIG_NAME = "calibrate"


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The calibration config as ``python -m calibration <overrides>`` would see it (without ``hydra``).

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["uncertainty.draws=100", "engine=pysd"]``.
    """
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=CONFIG_NAME, overrides=list(overrides))
