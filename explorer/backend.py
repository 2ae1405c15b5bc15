"""The explorer's one door into the simulator: a setting, checked as ``sim.py`` checks it, run, summarized.

Every call into the simulator (config composition, parameter and run-setting checks, the run, the
summary, the run archive) is in this module, so that the web layer (:mod:`explorer.app`) knows
nothing of how a run is made. A *setting* is what a planner chose on the page: a scenario preset
(``scenarios/scenario/<preset>.yaml``), the levers moved away from the preset's values, and the
ensemble size. It maps one to one onto a command line::

    python sim.py scenario=<preset> ensemble.samples=<N> params.<lever>=<value> ...

and the explorer runs exactly that configuration (the same composition, the same checks, the same
seed), so every number on the page is the number ``sim.py`` writes into ``summary.json``.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from analysis.levers import (LEVER_GROUP_ZH, LEVER_MEANING_ZH, LEVERS, ScenarioFileError,
                             format_number, read_scenario_file, scenario_files)
from model import MODEL_PATH
from model.spec import ModelSpec, ParameterError, load_spec
from base.paths import REPO_ROOT
from simulator import prepare, simulate
from simulator.config import ConfigError, check_run_settings, resolve_parameters
from simulator.run import JobError, run_job
from simulator.summary import URBANIZATION_TARGETS, at_year, constant, land_quota_km2, summarize

CONFIG_DIR = REPO_ROOT / "scenarios"
SCENARIO_DIR = CONFIG_DIR / "scenario"
RUNS_DIR = REPO_ROOT / "runs"
#: Ensemble size the page starts with. The explorer re-runs the ensemble on every lever change,
#: and the age x sex x residence model takes about 7 s per 1,000 members on 2 cores
#: (``python -m benchmarks.ensemble``), so the page starts at 200 members (about 1.5 s an update)
#: rather than ``sim.py``'s 1,000; the planner can type a larger size into the page.
DEFAULT_SAMPLES = 200
#: Largest ensemble the explorer runs per change (20,000 members take minutes with the age model);
#: larger ensembles belong to ``python sim.py``. ``python -m explorer --max-samples`` changes it.
DEFAULT_MAX_SAMPLES = 20_000
#: Fewest members: the page shows probabilities, which need an ensemble.
MIN_SAMPLES = 10
#: Percentiles of the bands shown (a 90 % band and the median).
BAND_PERCENTILES = (5.0, 50.0, 95.0)
_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SettingError(ValueError):
    """A setting the explorer refuses; the message names the problem and the fix."""


# --------------------------------------------------------------------------- the lever registry
@dataclass(frozen=True)
class LeverControl:
    """What the page needs to draw one lever: read from :mod:`analysis.levers` and the ``.mdl``.

    Attributes
    ----------
    name : str
        Model parameter name.
    units : str
        Units as written in the ``.mdl``.
    low, high : float
        Documented range (the slider's ends; values outside are refused).
    default : float
        Value in the ``.mdl``.
    step : float
        Slider step: 1 for years, otherwise a power of ten of about a thousandth of the range.
    group, group_zh : str
        Policy family in English and Chinese.
    plan, plan_quote : str
        Plan citation (chapter and section) and the phrase quoted from it.
    effect, meaning_zh : str
        What the lever does, in English and in Chinese.
    documentation : str
        The ``.mdl`` comment (source or assumption and range).
    """

    name: str
    units: str
    low: float
    high: float
    default: float
    step: float
    group: str
    group_zh: str
    plan: str
    plan_quote: str
    effect: str
    meaning_zh: str
    documentation: str

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def tooltip(self) -> str:
        """Meaning and plan citation, English and Chinese (the control's tooltip)."""
        lines = [self.effect.replace("`", "") + ".", f"Plan {self.plan}: 「{self.plan_quote}」",
                 f"{self.meaning_zh}。" if self.meaning_zh else "",
                 f"规划依据：{self.plan}「{self.plan_quote}」",
                 f"Unit {self.units}; range [{format_number(self.low)}, {format_number(self.high)}]; "
                 f".mdl default {format_number(self.default)}.",
                 f"Model file: {self.documentation}"]
        return "\n".join(line for line in lines if line)

    def decimals(self) -> int:
        """Decimal places of a slider position (its step)."""
        return max(0, -int(math.floor(math.log10(self.step))))


def _slider_step(units: str, low: float, high: float) -> float:
    if units.strip().lower() == "year":
        return 1.0
    span = high - low
    return 10.0 ** math.floor(math.log10(span / 1000.0)) if span > 0 else 1.0


def lever_controls(spec: ModelSpec) -> list[LeverControl]:
    """One control per lever of :data:`analysis.levers.LEVERS`, in registry order."""
    controls = []
    for lever in LEVERS:
        var = spec.parameters[lever.name]
        low, high = (float(v) for v in var.limits)
        controls.append(LeverControl(
            name=lever.name, units=var.units, low=low, high=high, default=float(var.value),
            step=_slider_step(var.units, low, high), group=lever.group,
            group_zh=LEVER_GROUP_ZH.get(lever.group, ""), plan=lever.plan,
            plan_quote=lever.plan_quote, effect=lever.effect,
            meaning_zh=LEVER_MEANING_ZH.get(lever.name, ""), documentation=var.description))
    return controls


@dataclass(frozen=True)
class Preset:
    """A scenario file offered in the preset menu."""

    name: str
    title: str
    title_zh: str
    params: dict
    comment: str
    plan_citations: tuple[str, ...]


# --------------------------------------------------------------------------- settings
def _number_text(value: float) -> str:
    """A value as written on a command line or in YAML: whole numbers without '.0', else repr."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


@dataclass(frozen=True)
class Setting:
    """One checked setting of the page.

    Attributes
    ----------
    preset : str
        Scenario file name (without ``.yaml``).
    levers : tuple of (str, float)
        Levers set away from the preset's value, sorted by name (the command-line layer).
    samples : int
        Ensemble size.
    """

    preset: str
    levers: tuple[tuple[str, float], ...] = ()
    samples: int = 1000

    def overrides(self) -> list[str]:
        """The ``sim.py`` command-line overrides of this setting."""
        return ([f"scenario={self.preset}", f"ensemble.samples={self.samples}"]
                + [f"params.{name}={_number_text(value)}" for name, value in self.levers])

    def command(self) -> str:
        """The ``sim.py`` command that computes the same numbers."""
        return "python sim.py " + " ".join(self.overrides())

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "levers": {k: v for k, v in self.levers}, "samples": self.samples}

    def with_samples(self, samples: int) -> "Setting":
        return Setting(self.preset, self.levers, samples)


# --------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """The numbers of one setting, as shown on the page.

    Attributes
    ----------
    setting : Setting
    time : ndarray
        Model times (year-ends) [Year].
    summary : dict
        ``summary.json`` of the same run (the probabilities shown are read from it).
    point : dict of str to ndarray
        The point run (calibrated point estimates), every ensemble variable over time.
    members : dict of str to ndarray
        Ensemble members, shaped ``(n_samples, n_time)``.
    bands : dict of str to ndarray
        ``{name: array (3, n_time)}``: the 5th, 50th and 95th percentiles. For the variables with
        observation noise (urbanization rate, population) these are ``sim.py``'s prediction bands
        (``outputs.nc``, parameters plus observation noise); for the others, percentiles of the
        members (parameter uncertainty).
    band_includes_noise : set of str
        Variables whose band includes the observation noise.
    units, descriptions : dict of str to str
    references : dict
        Constants for the limits drawn (land quota, standard, targets).
    elapsed_s : float
        Wall time of the run and summary [s].
    """

    setting: Setting
    time: np.ndarray
    summary: dict
    point: dict[str, np.ndarray]
    members: dict[str, np.ndarray]
    bands: dict[str, np.ndarray]
    band_includes_noise: set[str]
    units: dict[str, str]
    descriptions: dict[str, str]
    references: dict[str, Any]
    elapsed_s: float
    predictive: dict[int, np.ndarray] = field(default_factory=dict)

    def probabilities(self) -> dict[str, float]:
        """Every probability of the summary: ``reach_<target>_<year>`` and the ensemble's ``p_*``."""
        found = {}
        for year, entry in self.summary.get("targets", {}).items():
            if entry.get("probability") is not None:
                found[f"reach_{entry['target_pct']:g}_{year}"] = float(entry["probability"])
        for key, value in self.summary.get("ensemble", {}).items():
            if key.startswith("p_") and value is not None:
                found[key] = float(value)
        return found


def probability_flags(outcome: Outcome) -> dict[str, np.ndarray]:
    """Per-member 0/1 flags behind the target probabilities (with observation noise)."""
    flags = {}
    for year, target in URBANIZATION_TARGETS.items():
        if year in outcome.predictive:
            flags[f"reach_{target:g}_{year}"] = outcome.predictive[year] >= target
    return flags


# --------------------------------------------------------------------------- the explorer backend
class Backend:
    """Settings -> checked configs -> runs, with a small cache of outcomes.

    Parameters
    ----------
    config_dir : path-like
        The Hydra config directory of ``sim.py`` (``scenarios/``).
    max_samples : int
        Largest ensemble run per change; larger requests are refused with a message.
    cache_size : int
        Outcomes kept (a setting's outcome is a pure function of the setting, so the cache is
        shared safely between browser sessions).
    default_samples : int
        Ensemble size a new page starts with (:data:`DEFAULT_SAMPLES`).
    """

    def __init__(self, config_dir: str | Path = CONFIG_DIR, max_samples: int = DEFAULT_MAX_SAMPLES,
                 cache_size: int = 8, default_samples: int = DEFAULT_SAMPLES):
        self.config_dir = Path(config_dir).resolve()
        self.max_samples = int(max_samples)
        self.spec = load_spec(MODEL_PATH)
        self.controls = lever_controls(self.spec)
        self._by_name = {control.name: control for control in self.controls}
        self._configs: dict[str, DictConfig] = {}
        self._cache: OrderedDict[Setting, Outcome] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()  # re-entrant: a run composes its config under the same lock
        self.default_samples = self.check_samples(default_samples)
        self.seed = int(self._config(self.presets()[0].name).ensemble.seed)

    # ----------------------------------------------------------------- presets and configs
    def presets(self) -> list[Preset]:
        """The scenario files (read again on every call, so a saved scenario appears)."""
        try:
            files = scenario_files(self.config_dir / "scenario")
        except ScenarioFileError as error:
            raise SettingError(str(error)) from None
        return [Preset(s.name, s.title, s.title_zh, dict(s.params), s.comment, tuple(s.plan_citations))
                for s in files]

    def _config(self, preset: str) -> DictConfig:
        """The composed ``sim.py`` config of ``scenario=<preset>`` (composed once, then copied)."""
        if preset not in self._configs:
            if not isinstance(preset, str) or not (self.config_dir / "scenario" / f"{preset}.yaml").is_file():
                names = ", ".join(p.name for p in self.presets())
                raise SettingError(f"unknown preset {preset!r}; choose one of: {names}")
            with self._lock, initialize_config_dir(config_dir=str(self.config_dir), version_base="1.3"):
                self._configs[preset] = compose(config_name="config", overrides=[f"scenario={preset}"])
        return self._configs[preset]

    def preset_values(self, preset: str) -> dict[str, float]:
        """Each lever's value under ``preset``: .mdl < calibrated < scenario (as ``sim.py`` resolves)."""
        cfg = self._config(preset)
        try:
            resolved = resolve_parameters(cfg, self.spec).values
        except ParameterError as error:
            raise SettingError(f"preset {preset!r}: {error}") from None
        return {c.name: float(resolved.get(c.name, c.default)) for c in self.controls}

    # ----------------------------------------------------------------- checking
    def check_samples(self, samples: Any) -> int:
        """The ensemble size as a whole number, checked as ``sim.py`` checks ``ensemble.samples``."""
        value = samples
        if isinstance(value, str):
            text = value.strip().replace(",", "").replace("_", "")
            value = int(text) if re.fullmatch(r"\d+", text) else value
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        try:
            check_run_settings({"run": {"time_step": 0.25, "final_time": 2035, "method": "euler"},
                                "ensemble": {"samples": value, "seed": 0}},
                               self.spec.variables["initial_time"].value)
        except ConfigError as error:
            raise SettingError(f"ensemble size: {error}") from None
        if value < MIN_SAMPLES:
            raise SettingError(f"ensemble size {value} is too small: the explorer shows probabilities, "
                               f"which need at least {MIN_SAMPLES} members")
        if value > self.max_samples:
            raise SettingError(
                f"ensemble size {value:,} is refused: the explorer runs at most {self.max_samples:,} "
                f"members per change; run "
                f"`python sim.py ensemble.samples={value}` for larger ensembles, or start the explorer "
                f"with --max-samples {value}")
        return value

    def setting(self, preset: Any, values: Mapping[str, Any] | None = None,
                samples: Any = None) -> Setting:
        """Check what the page sent and return the :class:`Setting` (levers that differ from the preset).

        Every lever value goes through the check ``sim.py`` applies to ``params.NAME=VALUE``
        (:meth:`model.spec.ModelSpec.check_value`: a number inside the documented range).

        Raises
        ------
        SettingError
            Naming every refused value and why.
        """
        if not isinstance(preset, str):
            raise SettingError(f"preset must be a scenario name, got {preset!r}")
        base = self.preset_values(preset)
        if values is not None and not isinstance(values, Mapping):
            raise SettingError("levers must be a mapping of lever names to values")
        problems, changed = [], {}
        for name, raw in (values or {}).items():
            try:
                value = self.spec.check_value(str(name), raw)
            except ParameterError as error:
                problems.append(str(error))
                continue
            if name not in self._by_name:
                problems.append(f"'{name}' is a model parameter but not a lever; set it with "
                                f"`python sim.py params.{name}=...` instead")
                continue
            if value != base[name]:
                changed[name] = value
        try:
            n = self.check_samples(self.default_samples if samples is None else samples)
        except SettingError as error:
            problems.append(str(error))
            n = 0
        if problems:
            raise SettingError("\n".join(problems))
        return Setting(preset, tuple(sorted(changed.items())), n)

    def setting_from_json(self, data: Any) -> Setting:
        """A :class:`Setting` from its JSON form (as stored in the page), checked again."""
        if not isinstance(data, Mapping):
            raise SettingError("the setting must be a JSON object with preset, levers and samples")
        return self.setting(data.get("preset"), data.get("levers") or {}, data.get("samples"))

    # ----------------------------------------------------------------- running
    def run_config(self, setting: Setting) -> DictConfig:
        """The composed config of ``python sim.py <setting.overrides()>``."""
        cfg = OmegaConf.create(OmegaConf.to_container(self._config(setting.preset), resolve=False))
        cfg.params = {name: value for name, value in setting.levers}
        cfg.ensemble.samples = int(setting.samples)
        return cfg

    def evaluate(self, setting: Setting) -> Outcome:
        """Run ``setting`` (or return its cached outcome)."""
        with self._lock:
            cached = self._cache.get(setting)
            if cached is not None:
                self._cache.move_to_end(setting)
                return cached
            outcome = self._run(setting)
            self._cache[setting] = outcome
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return outcome

    def _run(self, setting: Setting) -> Outcome:
        started = time.perf_counter()
        cfg = self.run_config(setting)
        try:
            plan = prepare(cfg, self.spec, program="python -m explorer")
            result = simulate(plan)
            settings = plan.settings
            point, ensemble, bands, predictive = result.point, result.ensemble, result.bands, result.predictive
        except JobError:
            raise SettingError("the simulator refused this setting (see the server log)") from None
        except FloatingPointError as error:
            raise SettingError(str(error)) from None
        if ensemble is None:
            raise SettingError("the calibrated config carries no parameter draws, so there is no "
                               "ensemble to show; use the calibrated config (calibrated=default)")
        summary = summarize(point, ensemble, predictive, {"scenario": setting.preset,
                                                          "seed": settings["seed"]})
        names = [name for name in ensemble.data_vars if not name.startswith("param_")]
        members = {name: np.asarray(ensemble[name].values, dtype=float) for name in names}
        band_values = {name: np.percentile(values, BAND_PERCENTILES, axis=0)
                       for name, values in members.items()}
        noisy = set()
        for name in names:
            keys = [f"{name}_p{int(q):02d}" for q in BAND_PERCENTILES]
            if all(key in bands for key in keys):
                band_values[name] = np.stack([np.asarray(bands[key], dtype=float) for key in keys])
                noisy.add(name)
        references = {
            "targets": dict(URBANIZATION_TARGETS),
            "land_quota_2021_2025_km2": land_quota_km2(point),
            "land_2020_km2": float(at_year(point["total_urban_construction_land"], 2020)),
            "land_standard_m2_per_person": (constant(point, "land_standard_minimum"),
                                            constant(point, "land_standard_maximum")),
        }
        return Outcome(
            setting=setting, time=np.asarray(point["time"].values, dtype=float), summary=summary,
            point={name: np.asarray(point[name].values, dtype=float) for name in names},
            members=members, bands=band_values, band_includes_noise=noisy,
            units={name: str(ensemble[name].attrs.get("units", "")) for name in names},
            descriptions={name: str(ensemble[name].attrs.get("description", "")) for name in names},
            references=references, elapsed_s=time.perf_counter() - started,
            predictive={int(y): np.asarray(v, dtype=float) for y, v in (predictive or {}).items()})

    # ----------------------------------------------------------------- the research workflow
    def save_scenario(self, setting: Setting, name: str, title: str = "", title_zh: str = "",
                      directory: str | Path | None = None) -> Path:
        """Write ``setting`` as a Hydra scenario delta file ``<directory>/<name>.yaml``.

        The file holds the preset's parameters plus the levers moved, and a comment that cites
        the plan for every lever moved (and carries the preset's own comment). ``python sim.py
        scenario=<name> ensemble.samples=<N>`` then computes the same numbers as the explorer.

        Raises
        ------
        SettingError
            For a malformed or taken name (a scenario is never overwritten).
        """
        directory = Path(directory) if directory is not None else self.config_dir / "scenario"
        if not isinstance(name, str) or not _SCENARIO_NAME.match(name):
            raise SettingError(f"scenario name {name!r} is refused: use lower-case letters, digits and "
                               f"underscores, starting with a letter (e.g. my_settlement_push)")
        path = directory / f"{name}.yaml"
        if path.exists():
            raise SettingError(f"scenario {name!r} already exists ({path.name}); choose another name")
        preset = next((p for p in self.presets() if p.name == setting.preset), None)
        if preset is None:
            raise SettingError(f"unknown preset {setting.preset!r}")
        title = (title or "").strip() or f"{preset.title}, levers changed in the explorer"
        title_zh = (title_zh or "").strip() or f"{preset.title_zh}（探索器调整）"
        base = self.preset_values(setting.preset)
        params = {key: value for key, value in preset.params.items()}
        for lever, value in setting.levers:
            params[lever] = value
        lines = [f"# {title} / {title_zh}: saved from the lever explorer "
                 f"({_dt.date.today().isoformat()}), preset '{preset.name}' with these levers moved:"]
        for lever, value in setting.levers:
            control = self._by_name[lever]
            lines.append(f"#   - {lever} = {_number_text(value)} {control.units} (preset "
                         f"{_number_text(base[lever])}; plan {control.plan}: {control.plan_quote})")
        if not setting.levers:
            lines.append("#   (none: the preset as it is)")
        lines.append(f"# The preset '{preset.name}' says:")
        lines += [f"#   {line}" for line in _wrap(preset.comment)]
        lines.append(f"# Reproduce the explorer's figures: python sim.py scenario={name} "
                     f"ensemble.samples={setting.samples}")
        body = {"name": name, "title": title, "title_zh": title_zh,
                "params": {key: _yaml_number(value) for key, value in params.items()}}
        text = "\n".join(lines) + "\n" + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.yaml.partial"
        partial.write_text(text, encoding="utf-8")
        try:
            read_scenario_file(partial.rename(path))
        except ScenarioFileError as error:
            path.unlink()
            raise SettingError(f"the scenario file would be malformed: {error}") from None
        return path

    def save_message(self, path: Path, setting: Setting) -> str:
        """What the planner is told after :meth:`save_scenario` wrote ``path``.

        A scenario file saved into the repository's ``scenarios/scenario`` is a new scenario of the
        project: the README's scenario table (checked by the tests) must be regenerated, so the
        message says how.
        """
        shown = path.relative_to(path.parents[2]) if len(path.parents) > 2 else path
        text = (f"Saved {shown}; reproduce: python sim.py scenario={path.stem} "
                f"ensemble.samples={setting.samples}")
        if path.parent.resolve() == (self.config_dir / "scenario").resolve():
            text += ("; it is now a scenario of the project: update the README's scenario table "
                     "with python -m analysis.levers --write (the tests check it)")
        return text

    def export_run(self, setting: Setting, runs_dir: str | Path = RUNS_DIR) -> Path:
        """Write the normal run archive of ``setting`` (as ``sim.py`` writes it); return its path."""
        stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        output_dir = Path(runs_dir) / f"{stamp}_{setting.preset}_explorer"
        suffix = 1
        while output_dir.exists():
            suffix += 1
            output_dir = Path(runs_dir) / f"{stamp}_{setting.preset}_explorer{suffix}"
        overrides = [o.replace("params.", "++params.", 1) if o.startswith("params.") else o
                     for o in setting.overrides()]
        try:
            with self._lock:
                run_job(self.run_config(setting), output_dir, overrides=overrides, progress=False)
        except JobError:
            raise SettingError("the simulator refused to write the archive (see the server log)") from None
        return output_dir


def _yaml_number(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _wrap(text: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines
