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


def read_draws_csv(path: str | Path, parameters: tuple) -> np.ndarray:
    """Read a CSV of joint draws (header = parameter names, one row per draw).

    Raises
    ------
    UncertaintyError
        If the file is missing, its header differs from ``parameters``, a row has the wrong number
        of fields, or a value is not a finite number; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise UncertaintyError(f"the draws file {path} does not exist; run `python -m calibration` to write it")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = tuple(name.strip() for name in lines[0].split(",")) if lines else ()
    if header != tuple(parameters):
        raise UncertaintyError(f"{path}, line 1: the header {list(header)} must list the parameters "
                               f"{list(parameters)} in that order; regenerate it with `python -m calibration`")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(parameters):
            raise UncertaintyError(f"{path}, line {number}: {len(fields)} values, expected {len(parameters)}")
        try:
            row = [float(field) for field in fields]
        except ValueError:
            raise UncertaintyError(f"{path}, line {number}: a value is not a number: {line!r}") from None
        if not all(np.isfinite(row)):
            raise UncertaintyError(f"{path}, line {number}: non-finite value in {line!r}")
        rows.append(row)
    if not rows:
        raise UncertaintyError(f"{path} holds no draws; regenerate it with `python -m calibration`")
    return np.array(rows, dtype=float)


def _check_draws_record(block: Mapping[str, Any], path: Path, draws: np.ndarray, where: str) -> None:
    """Refuse a draws file whose row count or SHA-256 differs from the one the parameter file records."""
    from model.cache import file_sha256

    fix = "restore the file that came with it (git checkout, or the archive's own copy) or re-run `python -m calibration`"
    count = block.get("draws_count")
    if count is not None and int(count) != draws.shape[0]:
        raise UncertaintyError(f"{path} holds {draws.shape[0]} draws but {where} records {int(count)}; {fix}")
    digest = block.get("draws_sha256")
    if digest is not None and file_sha256(path) != str(digest):
        raise UncertaintyError(f"{path} differs from the draws file {where} records (SHA-256 mismatch); {fix}")


def load_uncertainty(cfg_or_path: Any = DEFAULT_PARAMETER_FILE, base_dir: str | Path | None = None
                     ) -> Uncertainty | None:
    """Load the ``params`` and ``uncertainty`` blocks of a calibrated parameter file.

    Parameters
    ----------
    cfg_or_path : path-like, mapping or omegaconf config
        A YAML file (``scenarios/calibrated/default.yaml``), or a config holding ``params`` and
        ``uncertainty`` at its top (the composed Hydra config).
    base_dir : path-like, optional
        Directory against which a relative ``uncertainty.draws_file`` is resolved (default: the
        repository root; a run archive passes its own directory, where it keeps a copy).

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
    for key in ("method", "parameters", "observation_noise"):
        if key not in block:
            raise UncertaintyError(f"{where}: uncertainty.{key} is missing; regenerate the file with "
                                   f"`python -m calibration`")
    names = tuple(str(n) for n in block["parameters"])
    if block.get("draws_file"):
        draws_path = Path(str(block["draws_file"]))
        if not draws_path.is_absolute():
            draws_path = Path(base_dir if base_dir is not None else REPO_ROOT) / draws_path
        draws = read_draws_csv(draws_path, names)
        _check_draws_record(block, draws_path, draws, where)
    elif "draws" in block:
        try:
            draws = np.array(block["draws"], dtype=float)
        except (TypeError, ValueError):
            raise UncertaintyError(f"{where}: uncertainty.draws must be rows of numbers") from None
    else:
        raise UncertaintyError(f"{where}: uncertainty.draws_file (or uncertainty.draws) is missing; "
                               f"regenerate the file with `python -m calibration`")
    if draws.ndim != 2 or draws.shape[1] != len(names):
        raise UncertaintyError(f"{where}: uncertainty.draws must have {len(names)} columns "
                               f"(one per parameter), got shape {draws.shape}")
    if not np.all(np.isfinite(draws)):
        raise UncertaintyError(f"{where}: uncertainty.draws contains non-finite numbers")
    noise = {str(k): float(v) for k, v in block["observation_noise"].items()}
    return Uncertainty(params=params, parameters=names, draws=draws, observation_noise=noise,
                       method=str(block["method"]))
