"""Parameter values from the Hydra config and the command line, checked against the model.

Values are resolved in this order, later ones winning:

1. the value written in ``model/inner_mongolia.mdl``;
2. ``calibrated.params`` (``scenarios/calibrated/<name>.yaml``, written by ``python -m calibration``);
3. ``scenario.params`` (``scenarios/scenario/<name>.yaml``);
4. ``params`` (``python sim.py params.NAME=VALUE``).

Every name must be a model parameter (a constant with a documented range) and every value a
number inside that range; otherwise :class:`model.spec.ParameterError` says which and why. A
subscripted parameter may be set for some leagues or groups by name (:mod:`simulator.by_element`):
``params.settlement_ease.cluster=0.8`` or a mapping ``{cluster: 0.8, Alxa: 0.2}``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf

from model.spec import ModelSpec, ParameterError

from .by_element import by_element, element_mask, split_name

from .validation import SettingsError, check_run_settings  # noqa: F401  (re-exported)

SOURCES = ("calibrated", "scenario", "command line")
_PARAM_OVERRIDE = re.compile(r"^(?P<prefix>\+\+|\+)?params\.(?P<name>[^=]+)=(?P<value>.*)$")
_SWEEP_FUNCTION = re.compile(r"^\s*(range|choice|interval|glob|sort|shuffle|tag)\(")


#: A run setting that cannot be used (bad time step, sample count, method...); the run settings
#: are checked in :mod:`simulator.validation`.
ConfigError = SettingsError


@dataclass
class ResolvedParameters:
    """The parameter overrides of one run and where each came from.

    Attributes
    ----------
    values : dict of str to float or list
        Overrides of the ``.mdl`` values (parameters not listed keep their ``.mdl`` value); a
        parameter set by league or group is a nested list shaped like its subscripts.
    sources : dict of str to str
        For each override, ``"calibrated"``, ``"scenario"`` or ``"command line"``.
    """

    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def fixed_by_user(self) -> set[str]:
        """Names set by the scenario or the command line (kept fixed across ensemble members)."""
        return {name for name, source in self.sources.items() if source != "calibrated"}


def _as_mapping(node: Any, where: str) -> dict[str, Any]:
    if node is None:
        return {}
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    if not isinstance(node, Mapping):
        raise ParameterError(
            f"'{where}' must be a mapping of parameter names to numbers, got {type(node).__name__}"
        )
    return dict(node)


def resolve_parameters(cfg: DictConfig | Mapping[str, Any], spec: ModelSpec) -> ResolvedParameters:
    """Merge and check the parameter layers of a composed config.

    Raises
    ------
    ParameterError
        Naming every unknown parameter (with the closest names), malformed value or value outside
        its documented range, and the config layer it came from.
    """
    layers = [
        ("calibrated", _as_mapping(_select(cfg, "calibrated.params"), "calibrated.params")),
        ("scenario", _as_mapping(_select(cfg, "scenario.params"), "scenario.params")),
        ("command line", _as_mapping(_select(cfg, "params"), "params")),
    ]
    resolved = ResolvedParameters()
    problems = []
    calibrated = layers[0][1]
    foreign = [name for name in calibrated if name not in spec.variables]
    if calibrated and 2 * len(foreign) > len(calibrated):  # a parameter file made for another model
        raise ParameterError(
            f"[calibrated] {len(foreign)} of the {len(calibrated)} calibrated parameters (e.g. '{foreign[0]}') "
            f"are not variables of {spec.mdl_path.name}: the parameter file is for another model; use "
            f"calibrated=none or a parameter file for {spec.mdl_path.name}")
    for source, values in layers:
        for name, value in values.items():
            try:
                if isinstance(value, Mapping):  # a lever by league or group (simulator.by_element)
                    resolved.values[name] = by_element(spec, name, value, resolved.values.get(name))
                else:
                    resolved.values[name] = spec.check_value(name, value)
                resolved.sources[name] = source
            except ParameterError as error:
                problems.append(f"[{source}] {error}")
    if problems:
        raise ParameterError("\n".join(problems))
    return resolved


def _select(cfg: DictConfig | Mapping[str, Any], key: str) -> Any:
    if isinstance(cfg, DictConfig):
        return OmegaConf.select(cfg, key, default=None)
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _split_sweep(value: str) -> list[str] | None:
    """The items of a simple comma sweep ``a,b,c``; ``None`` for sweep functions like range()."""
    if _SWEEP_FUNCTION.match(value) or "${" in value:
        return None
    return [item.strip() for item in value.split(",")]


def _flow_mapping(name: str, value: str) -> dict:
    """The mapping of ``params.NAME={a: 1, b: 2}`` (YAML flow syntax, as Hydra writes dicts)."""
    try:
        mapping = yaml.safe_load(value)
    except yaml.YAMLError:
        mapping = None
    if not isinstance(mapping, dict):
        raise ParameterError(f"params.{name}={value}: give a number or a mapping of leagues or groups to "
                             f"numbers, e.g. params.{name}={{cluster: 0.8, Alxa: 0.2}}")
    return mapping


def preprocess_overrides(argv: Sequence[str], spec: ModelSpec) -> list[str]:
    """Check ``params.NAME=VALUE`` command-line overrides and pass them on to Hydra.

    Hydra itself would reject a new key under ``params`` without naming the closest parameter
    names, and cannot know the documented ranges. This check runs before Hydra (so nothing is
    written when it fails) and rewrites each checked override to ``++params.NAME=VALUE``.

    Raises
    ------
    ParameterError
        For an unknown name (with the closest names), a malformed value or a value out of range.
    """
    rewritten, problems = [], []
    for arg in argv:
        match = _PARAM_OVERRIDE.match(arg)
        if not match:
            rewritten.append(arg)
            continue
        name, value = match.group("name").strip(), match.group("value")
        try:
            name_only, key = split_name(name)
            spec.check_name(name_only)
            if key is not None:  # params.NAME.LEAGUE_OR_GROUP=VALUE (simulator.by_element)
                element_mask(spec, name_only, key)
            elif value.lstrip().startswith("{"):  # params.NAME={cluster: 0.8, Alxa: 0.2}
                for key_, item in _flow_mapping(name, value).items():
                    element_mask(spec, name, str(key_))
                    spec.check_value(name, item)
                rewritten.append(f"++params.{name}={value}")
                continue
            items = _split_sweep(value)
            for item in items or []:
                spec.check_value(name_only, item)
        except ParameterError as error:
            problems.append(str(error))
            continue
        rewritten.append(f"++params.{name}={value}")
    if problems:
        raise ParameterError("\n".join(problems))
    return rewritten
