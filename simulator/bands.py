"""Process noise and model-form alternatives of the ensemble (``bands`` config, issue 10 item 6).

The equations stay in the ``.mdl`` (group ``.Process noise``): a shock per calendar year and rate
(``migration shock[noise year]``... neutral 0), the migration response form, the lookup strength and
the trend break after 2020 (neutral values by default). This module only draws their per-member
values from the config ``scenarios/bands/default.yaml``:

- shocks: AR(1) per member, ``e_1 ~ N(0, sigma^2)``, ``e_t = phi e_(t-1) + sqrt(1 - phi^2) sigma z_t``
  (stationary sd ``sigma``), for the noise years from ``first_year`` on (earlier years 0);
- ``migration response form``: 0 or 1 with the stated weights;
- ``lookup shape strength``: uniform on the stated range;
- a trend break with probability ``trend_break_probability``: ``migration trend after 2020`` and
  ``out migration trend break factor`` uniform on their ranges (else their neutral values).

Every draw comes from its own generator spawned from the run's seed, in a fixed order, so the same
seed gives the same shocks and forms in every scenario (common random numbers). A model without
these variables (another ``.mdl``) gets none of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from model.spec import ModelSpec

from .validation import SettingsError

#: The shock constants (subscripted by the noise years) the process noise is drawn for.
SHOCKS = ("migration_shock", "out_migration_shock", "fertility_shock", "mortality_shock")
#: The noise-year subscript of the shocks and the model time at the end of its first year.
NOISE_DIM = "noise year"
#: Neutral values of the model-form parameters (what the .mdl holds).
FORM_NEUTRAL = {"migration_response_form": 0.0, "lookup_shape_strength": 1.0,
                "migration_trend_after_2020": 0.0, "out_migration_trend_break_factor": 1.0}


@dataclass(frozen=True)
class BandsConfig:
    """The ``bands`` section, checked.

    Attributes
    ----------
    enabled : bool
        False: no process noise, no model-form alternatives.
    first_year : int
        First calendar year with shocks [Year].
    noise : dict of str to (sigma, phi)
        Per shock constant: stationary sd [Dmnl, log units] and lag-1 autocorrelation.
    form_weights : tuple of float
        Probabilities of migration response forms 0 and 1.
    lookup_strength : tuple of float
        Uniform range of ``lookup shape strength``.
    break_probability : float
        Share of members with a trend break after 2020.
    migration_trend : tuple of float
        Uniform range of ``migration trend after 2020`` [1/Year] in a break.
    out_trend_factor : tuple of float
        Uniform range of ``out migration trend break factor`` in a break.
    """

    enabled: bool = False
    first_year: int = 2021
    noise: dict = field(default_factory=dict)
    form_weights: tuple = (1.0, 0.0)
    lookup_strength: tuple = (1.0, 1.0)
    break_probability: float = 0.0
    migration_trend: tuple = (0.0, 0.0)
    out_trend_factor: tuple = (1.0, 1.0)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "BandsConfig":
        """Read and check a ``bands`` section (``None``: disabled).

        Raises
        ------
        simulator.validation.SettingsError
            Naming the key and the fix.
        """
        if not section or not section.get("enabled", False):
            return cls()
        where = "scenarios/bands/<name>.yaml"

        def fail(message: str):
            raise SettingsError(f"bands.{message} in {where}")

        def pair(key: str, node: Mapping) -> tuple:
            value = node.get(key)
            try:
                low, high = (float(v) for v in value)
            except (TypeError, ValueError):
                fail(f"model_form.{key} must be [low, high], got {value!r}")
            if not low <= high:
                fail(f"model_form.{key} = {value!r}: low must not exceed high")
            return low, high

        noise = {}
        for name, entry in dict(section.get("process_noise") or {}).items():
            if name not in SHOCKS:
                fail(f"process_noise.{name}: unknown shock; known: {', '.join(SHOCKS)}")
            sigma, phi = float(entry.get("sigma", 0.0)), float(entry.get("phi", 0.0))
            if sigma < 0 or not -1 < phi < 1:
                fail(f"process_noise.{name}: sigma must be >= 0 and -1 < phi < 1, got {sigma}, {phi}")
            noise[name] = (sigma, phi)
        form = dict(section.get("model_form") or {})
        weights = tuple(float(w) for w in form.get("migration_response_form_weights", (1.0, 0.0)))
        if len(weights) != 2 or min(weights) < 0 or not np.isclose(sum(weights), 1.0):
            fail(f"model_form.migration_response_form_weights must be two probabilities summing to 1, got {weights}")
        probability = float(form.get("trend_break_probability", 0.0))
        if not 0 <= probability <= 1:
            fail(f"model_form.trend_break_probability must be in [0, 1], got {probability}")
        return cls(enabled=True, first_year=int(section.get("first_year", 2021)), noise=noise,
                   form_weights=weights,
                   lookup_strength=pair("lookup_shape_strength", form) if "lookup_shape_strength" in form else (1.0, 1.0),
                   break_probability=probability,
                   migration_trend=pair("migration_trend_after_2020", form) if "migration_trend_after_2020" in form else (0.0, 0.0),
                   out_trend_factor=pair("out_migration_trend_break_factor", form)
                   if "out_migration_trend_break_factor" in form else (1.0, 1.0))

    def with_first_year(self, year: int) -> "BandsConfig":
        """The same config with shocks from ``year`` on (the split-sample test starts them after training)."""
        return BandsConfig(self.enabled, int(year), dict(self.noise), self.form_weights, self.lookup_strength,
                           self.break_probability, self.migration_trend, self.out_trend_factor)


def ar1(n_samples: int, n_years: int, sigma: float, phi: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) series ``(n_samples, n_years)`` with stationary sd ``sigma`` and autocorrelation ``phi``."""
    z = rng.standard_normal((n_samples, n_years))
    out = np.empty_like(z)
    if n_years:
        out[:, 0] = sigma * z[:, 0]
    innovation = sigma * np.sqrt(1.0 - phi ** 2)
    for j in range(1, n_years):
        out[:, j] = phi * out[:, j - 1] + innovation * z[:, j]
    return out


def noise_years(spec: ModelSpec) -> np.ndarray:
    """Calendar year of each noise-year element (``y2016`` -> 2016)."""
    return np.array([int(str(c).lstrip("y")) for c in spec.coords[NOISE_DIM]])


def draw_bands(config: BandsConfig, spec: ModelSpec, n_samples: int, seed: np.random.SeedSequence,
               fixed: frozenset | set = frozenset()) -> dict[str, np.ndarray]:
    """Per-member values of the shocks ``(n_samples, n_noise_years)`` and the form parameters ``(n_samples,)``.

    Parameters
    ----------
    config : BandsConfig
        What to draw (disabled: nothing).
    spec : model.spec.ModelSpec
        The run's model; variables it lacks are not drawn.
    n_samples : int
        Ensemble size.
    seed : numpy.random.SeedSequence
        The bands' own seed (spawned from the run seed): one child for the shocks, one for the forms.
    fixed : set of str
        Parameters set by the scenario or the command line: kept fixed (not returned).
    """
    if not config.enabled or n_samples <= 0:
        return {}
    noise_rng, form_rng = (np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k)))
                           for k in (0, 1))  # children without mutating ``seed``: the same draws on every call
    values: dict[str, np.ndarray] = {}
    if NOISE_DIM in spec.coords:
        years = noise_years(spec)
        active = years >= config.first_year
        for name in SHOCKS:  # fixed order: common random numbers
            sigma, phi = config.noise.get(name, (0.0, 0.0))
            series = ar1(n_samples, int(active.sum()), sigma, phi, noise_rng)
            if name in spec.variables and name not in fixed and sigma > 0:
                shocks = np.zeros((n_samples, years.size))
                shocks[:, active] = series
                values[name] = shocks
    form = form_rng.random(n_samples)
    strength = form_rng.uniform(*config.lookup_strength, n_samples)
    broken = form_rng.random(n_samples) < config.break_probability
    trend = np.where(broken, form_rng.uniform(*config.migration_trend, n_samples), 0.0)
    factor = np.where(broken, form_rng.uniform(*config.out_trend_factor, n_samples), 1.0)
    drawn = {"migration_response_form": (form >= config.form_weights[0]).astype(float),
             "lookup_shape_strength": strength, "migration_trend_after_2020": trend,
             "out_migration_trend_break_factor": factor}
    for name, array in drawn.items():
        if name in spec.variables and name not in fixed and not np.all(array == FORM_NEUTRAL[name]):
            values[name] = array
    return values


def describe(config: BandsConfig) -> str:
    """One line for the summary's ``uncertainty`` entry."""
    if not config.enabled:
        return "no process noise or model-form alternatives (bands=none)"
    noise = ", ".join(f"{name.replace('_shock', '')} sd {sigma:.3g}" + (f" phi {phi:.2g}" if phi else "")
                      for name, (sigma, phi) in config.noise.items())
    return (f"process noise from {config.first_year} (log shocks per year: {noise}); model form: migration "
            f"response power/logistic {config.form_weights[0]:g}/{config.form_weights[1]:g}, lookup strength "
            f"U{list(config.lookup_strength)}, trend break after 2020 with p {config.break_probability:g} "
            f"(migration trend U{list(config.migration_trend)}/yr, out-migration trend factor "
            f"U{list(config.out_trend_factor)})")
