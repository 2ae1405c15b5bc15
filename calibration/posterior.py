"""Read the calibrated parameters and their uncertainty back (for ensembles and prediction bands)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMETER_FILE = REPO_ROOT / "scenarios" / "calibrated" / "default.yaml"


class UncertaintyError(ValueError):
    """A parameter file whose uncertainty block cannot be used (the message says what to fix)."""


@dataclass(frozen=True)
class Uncertainty:
    """Calibrated point estimates, joint parameter draws and observation noise.

    Attributes
    ----------
    params : dict of str to float
        Point estimates.
    parameters : tuple of str
        Column order of ``draws``.
    draws : numpy.ndarray
        Joint draws, shape ``(n_draws, n_parameters)``.
    observation_noise : dict of str to float
        Census-basis noise standard deviation per output (``urbanization_rate`` [%],
        ``total_population`` [persons]).
    method : str
        How the draws were made.
    """

    params: dict
    parameters: tuple
    draws: np.ndarray
    observation_noise: dict
    method: str

    def draw_dicts(self) -> dict[str, np.ndarray]:
        """Draws as ``{parameter: 1-D array}`` (the engines' ``params`` argument)."""
        return {name: self.draws[:, j].copy() for j, name in enumerate(self.parameters)}


def _to_plain(cfg: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return cfg


def load_uncertainty(cfg_or_path: Any = DEFAULT_PARAMETER_FILE) -> Uncertainty | None:
    """Load the ``params`` and ``uncertainty`` blocks of a calibrated parameter file.

    Parameters
    ----------
    cfg_or_path : path-like, mapping or omegaconf config
        A YAML file (``scenarios/calibrated/default.yaml``), or a config holding ``params`` and
        ``uncertainty`` at its top (the composed Hydra config).

    Returns
    -------
    Uncertainty or None
        ``None`` when the file has no uncertainty block (the ``none`` placeholder).

    Raises
    ------
    UncertaintyError
        If the block is malformed (missing keys, ragged or non-numeric draws, column count not
        matching ``parameters``).
    """
    if isinstance(cfg_or_path, (str, Path)):
        import yaml

        path = Path(cfg_or_path)
        if not path.is_file():
            raise UncertaintyError(f"{path} does not exist; run `python -m calibration` to write it")
        with open(path, encoding="utf-8") as handle:
            cfg = yaml.safe_load(handle) or {}
        where = str(path)
    else:
        cfg = _to_plain(cfg_or_path)
        where = "the config"
    if not isinstance(cfg, Mapping):
        raise UncertaintyError(f"{where} must be a mapping with 'params' and 'uncertainty'")
    block = cfg.get("uncertainty")
    params = {str(k): float(v) for k, v in (cfg.get("params") or {}).items()}
    if block is None:
        return None
    for key in ("method", "parameters", "draws", "observation_noise"):
        if key not in block:
            raise UncertaintyError(f"{where}: uncertainty.{key} is missing; regenerate the file with "
                                   f"`python -m calibration`")
    names = tuple(str(n) for n in block["parameters"])
    try:
        draws = np.array(block["draws"], dtype=float)
    except (TypeError, ValueError):
        raise UncertaintyError(f"{where}: uncertainty.draws must be rows of numbers") from None
    if draws.ndim != 2 or draws.shape[1] != len(names):
        raise UncertaintyError(f"{where}: uncertainty.draws must have {len(names)} columns "
                               f"(one per parameter), got shape {draws.shape}")
    if not np.all(np.isfinite(draws)):
        raise UncertaintyError(f"{where}: uncertainty.draws contains non-finite numbers")
    noise = {str(k): float(v) for k, v in block["observation_noise"].items()}
    return Uncertainty(params=params, parameters=names, draws=draws, observation_noise=noise,
                       method=str(block["method"]))
