"""Sobol indices with SALib, independent of the model: design on the unit cube, then analysis.

Design: SALib's Saltelli scheme on a scrambled Sobol sequence (``SALib.sample.sobol``, first-order
and total indices only), ``n * (d + 2)`` points for ``d`` inputs. With a fixed seed the design for
``n`` is the first ``n * (d + 2)`` rows of the design for ``2 n``, so one run of the model at
``2 n`` also gives the estimate at ``n`` — the convergence check costs nothing extra.

Analysis: ``SALib.analyze.sobol`` (Saltelli 2010 / Jansen estimators) with bootstrap confidence
intervals, seeded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample


def check_base_samples(n: int) -> None:
    """``n`` must be a power of two (Sobol sequences balance only at powers of two)."""
    if not isinstance(n, (int, np.integer)) or n < 2 or n & (n - 1):
        raise ValueError(f"the number of base samples must be a power of two >= 2, got {n!r} "
                         f"(e.g. 256, 1024, 2048)")


def design_rows(n: int, d: int) -> int:
    """Rows of the design (model runs) for ``n`` base samples and ``d`` inputs."""
    return n * (d + 2)


def unit_design(d: int, n: int, seed: int) -> np.ndarray:
    """Saltelli design on ``[0, 1]^d``, shape ``(n * (d + 2), d)``.

    Parameters
    ----------
    d : int
        Number of inputs.
    n : int
        Base samples (a power of two).
    seed : int
        Seed of the scrambling (same seed, same design).
    """
    check_base_samples(n)
    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


@dataclass(frozen=True)
class SobolIndices:
    """First-order and total Sobol indices of one output, with confidence half-widths.

    Attributes
    ----------
    names : tuple of str
        The inputs.
    S1, S1_conf, ST, ST_conf : ndarray
        Indices and half-widths of their confidence intervals (bootstrap, ``conf_level``).
    n : int
        Base samples used.
    variance : float
        Variance of the output over the design.
    """

    names: tuple
    S1: np.ndarray
    S1_conf: np.ndarray
    ST: np.ndarray
    ST_conf: np.ndarray
    n: int
    variance: float

    def ranking(self) -> list[str]:
        """Inputs by decreasing total index."""
        order = np.argsort(-np.nan_to_num(self.ST, nan=-np.inf), kind="stable")
        return [self.names[i] for i in order]


def analyze(names: Sequence[str], outputs: np.ndarray, seed: int, *, resamples: int = 200,
            conf_level: float = 0.95) -> SobolIndices:
    """Sobol indices of ``outputs`` evaluated on :func:`unit_design` rows.

    Parameters
    ----------
    names : sequence of str
        The ``d`` inputs.
    outputs : ndarray
        Model output at the design rows, length ``n * (d + 2)``.
    seed : int
        Seed of the bootstrap.
    resamples : int
        Bootstrap resamples for the confidence intervals.
    conf_level : float
        Confidence level of the intervals.

    Returns
    -------
    SobolIndices
        With NaN indices if the output does not vary (the indices are undefined).
    """
    names = tuple(names)
    outputs = np.asarray(outputs, dtype=float)
    d = len(names)
    if outputs.ndim != 1 or outputs.size % (d + 2):
        raise ValueError(f"expected n * {d + 2} outputs for {d} inputs, got shape {outputs.shape}")
    if not np.all(np.isfinite(outputs)):
        raise ValueError("the model output holds NaN or infinite values; Sobol indices need finite outputs")
    n = outputs.size // (d + 2)
    variance = float(np.var(outputs))
    if variance <= 1e-24 * max(1.0, float(np.mean(outputs)) ** 2):
        nan = np.full(d, np.nan)
        return SobolIndices(names, nan, nan, nan, nan, n, variance)
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    result = sobol_analyze.analyze(problem, outputs, calc_second_order=False,
                                   num_resamples=resamples, conf_level=conf_level,
                                   # SALib 1.6 tests `if seed:`, so seed 0 would leave the bootstrap
                                   # unseeded; a Generator is always truthy and, made from the same
                                   # integer, gives SALib the stream it makes itself for seed != 0
                                   seed=np.random.default_rng(seed))
    return SobolIndices(names, np.asarray(result["S1"]), np.asarray(result["S1_conf"]),
                        np.asarray(result["ST"]), np.asarray(result["ST_conf"]), n, variance)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami function on ``[-pi, pi]^3`` (rows of ``x``)."""
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol indices of :func:`ishigami`."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / total, np.array([v1 + v13, v2, v13]) / total
