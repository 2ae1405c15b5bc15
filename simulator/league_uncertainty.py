"""The league layer's parameter uncertainty in the ensemble (``league_fit`` config group, issue 12).

``python -m calibration.leagues --write`` writes ``scenarios/league_fit/default.yaml``: the fitted
parameters of the league layer in the fit's coordinates (the scalars as they are, the 12 league
urbanization propensities as logarithms), their estimate and covariance (the normal approximation at
the weighted least-squares optimum), and each parameter's range. Each ensemble member draws one vector
from that normal distribution, from its own generator spawned from the run's seed (the fourth child:
the members', observation-noise and bands' draws are unchanged); the logarithms are exponentiated and
every value is clipped to its range (a parameter whose estimate sits at a bound keeps that bound in
about half the members). The fit holds the propensities' geometric mean at 1 (only their ratios
matter), so their draws vary in their ratios only. A parameter
set by the scenario or the command line stays fixed; ``league_fit=none`` leaves the league parameters
at their point values; a model without the variables gets none of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from model.spec import ModelSpec

from .validation import SettingsError

TRANSFORMS = ("identity", "log")


@dataclass(frozen=True)
class LeagueParameter:
    """One coordinate of the fit: ``name`` (a model constant), its ``element`` (a league) or None."""

    name: str
    element: str | None
    transform: str
    bounds: tuple


@dataclass(frozen=True)
class LeagueUncertainty:
    """The ``league_fit`` section, checked (``enabled`` False: nothing is drawn)."""

    enabled: bool = False
    parameters: tuple = ()
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), compare=False)
    method: str = ""

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "LeagueUncertainty":
        """Read and check a ``league_fit`` section (``None`` or disabled: no draws).

        Raises
        ------
        simulator.validation.SettingsError
            Naming the key and the fix.
        """
        if not section or not section.get("enabled", False):
            return cls()
        where = "scenarios/league_fit/<name>.yaml (written by python -m calibration.leagues --write)"

        def fail(message: str):
            raise SettingsError(f"league_fit.{message} in {where}")

        parameters = []
        for k, entry in enumerate(section.get("parameters") or ()):
            try:
                low, high = (float(v) for v in entry["bounds"])
                parameter = LeagueParameter(str(entry["name"]), entry.get("element"), str(entry.get("transform", "identity")),
                                            (low, high))
            except (KeyError, TypeError, ValueError):
                fail(f"parameters[{k}] must be {{name, element, transform, bounds: [low, high]}}, got {entry!r}")
            if parameter.transform not in TRANSFORMS:
                fail(f"parameters[{k}].transform must be one of {TRANSFORMS}, got {parameter.transform!r}")
            if not low <= high:
                fail(f"parameters[{k}].bounds {entry['bounds']!r}: low must not exceed high")
            parameters.append(parameter)
        n = len(parameters)
        try:
            mean = np.asarray(section.get("mean"), dtype=float).reshape(n)
            covariance = np.asarray(section.get("covariance"), dtype=float).reshape(n, n)
        except (TypeError, ValueError):
            fail(f"mean and covariance must have {n} and {n}x{n} numbers (one per parameter)")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
            fail("mean and covariance must be finite numbers")
        if not np.allclose(covariance, covariance.T, rtol=1e-8, atol=1e-12) or np.linalg.eigvalsh(covariance).min() < \
                -1e-9 * max(1.0, np.abs(covariance).max()):
            fail("covariance must be symmetric positive semi-definite")
        return cls(enabled=True, parameters=tuple(parameters), mean=mean, covariance=covariance,
                   method=str(section.get("method", "")))

    def draw(self, spec: ModelSpec, n_samples: int, seed: np.random.SeedSequence,
             fixed: frozenset | set = frozenset()) -> dict[str, np.ndarray]:
        """Per-member values: scalars ``(n_samples,)``, league arrays ``(n_samples, n_leagues)``.

        Parameters
        ----------
        spec : model.spec.ModelSpec
            The run's model; parameters it lacks are not drawn.
        n_samples : int
            Ensemble size.
        seed : numpy.random.SeedSequence
            The league draws' own seed.
        fixed : set of str
            Parameters set by the scenario or the command line (kept fixed, not returned).
        """
        if not self.enabled or n_samples <= 0:
            return {}
        rng = np.random.default_rng(seed)
        # eigen-decomposition: a semi-definite covariance (the propensities' common level is not identified)
        values, vectors = np.linalg.eigh(self.covariance)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))[None, :]
        x = self.mean[None, :] + rng.standard_normal((n_samples, self.mean.size)) @ root.T
        names = list(dict.fromkeys(p.name for p in self.parameters))
        out: dict[str, np.ndarray] = {}
        for name in names:
            columns = [k for k, p in enumerate(self.parameters) if p.name == name]
            if name not in spec.variables or name in fixed:
                continue
            params = [self.parameters[k] for k in columns]
            block = x[:, columns]
            if params[0].transform == "log":
                block = np.exp(block)
            low = np.array([p.bounds[0] for p in params])
            high = np.array([p.bounds[1] for p in params])
            block = np.clip(block, low[None, :], high[None, :])
            dims = spec.variables[name].dims
            if params[0].element is None:
                out[name] = block[:, 0]
                continue
            coords = [str(c) for c in spec.coords[dims[0]]] if len(dims) == 1 else []
            order = {p.element: j for j, p in enumerate(params)}
            if sorted(order) != sorted(coords):
                raise SettingsError(f"league_fit: the elements of {name} ({', '.join(order)}) are not those of the "
                                    f"model ({', '.join(coords)}); rerun python -m calibration.leagues --write")
            out[name] = block[:, [order[c] for c in coords]]
        return out

    def describe(self) -> str:
        """One line for the summary's ``uncertainty`` entry."""
        if not self.enabled:
            return "league parameters at their point values (league_fit=none)"
        names = list(dict.fromkeys(p.name for p in self.parameters))
        return f"league parameters drawn ({', '.join(names)}): {self.method}"
