"""Compute the Sobol indices: compose the scenario, run the design, analyse every output and year.

Design: SALib's Saltelli scheme on a scrambled Sobol sequence (:mod:`analysis.sobol`) with ``N``
base samples, ``N (D + 2)`` model runs in a few calls of the vectorized engine. Convergence: the
design for ``N / 2`` is the first half of the design for ``N``, so the indices are also estimated
at ``N / 2`` (:func:`convergence_rows` reports the change). Writes nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from base.paths import SCENARIOS_DIR
from model import MODEL_PATH
from simulator.run import PlanError, open_engine, plan_run

from ..sobol import SobolIndices, analyze, check_base_samples, design_rows, unit_design
from .design import Factor, input_factors, load_range_overrides
from .options import (CHUNK_ROWS, CONVERGENCE_TOLERANCE, DEFAULT_N, DEFAULT_RESAMPLES,
                      DEFAULT_SEED, DEFAULT_YEARS, GROUPS, RANGES_PATH, SensitivityError)


def evaluate(factors: Sequence[Factor], unit: np.ndarray, base: Mapping[str, float],
             outputs: Sequence[str], years: Sequence[int], settings: Mapping[str, Any],
             engine=None, chunk_rows: int = CHUNK_ROWS) -> dict[tuple[str, int], np.ndarray]:
    """Run the vectorized engine on every row of the unit design.

    Parameters
    ----------
    factors : sequence of Factor
        The ``D`` inputs, in the order of the design's columns.
    unit : ndarray
        The design on ``[0, 1]^D`` [-], shape ``(rows, D)``.
    base : mapping
        Values of every other parameter [units of each parameter].
    outputs : sequence of str
        Model variables recorded; a subscripted one as its province total (the sum over its
        subscripts, as :func:`simulator.results.province_total`).
    years : sequence of int
        Year-ends recorded [Year].
    settings : mapping
        ``final_time`` [Year], ``time_step`` [Year] and ``method`` (checked run settings).
    engine : model.vectorized.VectorizedModel, optional
        Default: :func:`simulator.run.open_engine` of the project's model.
    chunk_rows : int
        Model runs per engine call (bounds memory).

    Returns
    -------
    dict
        ``{(output, year): values}`` with one value per design row [units of the output].
    """
    if engine is None:
        engine = open_engine("vectorized")
    values = {f.name: f.transform(unit[:, j]) for j, f in enumerate(factors)}
    results = {(o, y): np.empty(unit.shape[0]) for o in outputs for y in years}
    for start in range(0, unit.shape[0], chunk_rows):
        stop = min(start + chunk_rows, unit.shape[0])
        params = dict(base)
        params.update({name: column[start:stop] for name, column in values.items()})
        run = engine.run(params, n_samples=stop - start, final_time=settings["final_time"],
                         time_step=settings["time_step"], saveper=1.0, method=settings["method"],
                         return_columns=list(outputs))
        for year in years:
            rows = np.flatnonzero(np.isclose(run.time, year))
            if rows.size == 0:
                raise SensitivityError(f"year {year} is not simulated ({run.time[0]:g}-{run.time[-1]:g})")
            for output in outputs:
                at_year = np.asarray(run.values[output][rows[0]], dtype=float)
                results[(output, year)][start:stop] = at_year.reshape(stop - start, -1).sum(axis=1)
    for key, column in results.items():
        if not np.all(np.isfinite(column)):
            raise SensitivityError(f"{key[0]} in {key[1]} is NaN or infinite for some factor values")
    return results


@dataclass
class SensitivityResult:
    """Indices at N (final) and N/2 (convergence), with the set-up.

    Attributes
    ----------
    factors : list of Factor
        The inputs varied.
    fixed : list of str
        Parameters of the chosen groups that the scenario sets (kept fixed).
    indices, half : dict
        ``{(output, year): SobolIndices}`` at N and at N/2 base samples.
    settings : dict
        The options of the analysis (scenario, n, seed, groups, outputs, years, resamples,
        time step [Year], integration method, config overrides).
    runs : int
        Model runs, ``N (D + 2)``.
    engine_seconds : float
        Wall time of the model runs [s].
    labels : dict
        ``{output: (English, Chinese)}`` from the model's outputs declaration.
    mdl_path : Path
        The model analysed.
    """

    factors: list[Factor]
    fixed: list[str]
    indices: dict[tuple[str, int], SobolIndices]
    half: dict[tuple[str, int], SobolIndices]
    settings: dict[str, Any]
    runs: int
    engine_seconds: float
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    mdl_path: Path = MODEL_PATH

    def label(self, output: str) -> tuple[str, str]:
        """English and Chinese label of ``output`` (its name and no Chinese when it has none)."""
        return self.labels.get(output) or (output, "")


def compose_scenario(scenario: str, calibrated: str, overrides: Sequence[str] = ()):
    """The composed ``sim.py`` config of a scenario (Hydra compose API).

    Parameters
    ----------
    scenario, calibrated : str
        Options of the config groups ``scenario`` and ``calibrated``.
    overrides : sequence of str
        Further Hydra overrides.

    Returns
    -------
    omegaconf.DictConfig
    """
    try:
        with initialize_config_dir(config_dir=str(SCENARIOS_DIR), version_base="1.3"):
            return compose(config_name="config",
                           overrides=[f"scenario={scenario}", f"calibrated={calibrated}", *overrides])
    except HydraException as error:
        raise SensitivityError(f"cannot compose scenario '{scenario}' with calibrated '{calibrated}': "
                               f"{error}") from None


def run_sensitivity(*, scenario: str = "baseline", calibrated: str = "default", n: int = DEFAULT_N,
                    seed: int = DEFAULT_SEED, groups: Sequence[str] = GROUPS,
                    outputs: Sequence[str] | None = None, years: Sequence[int] = DEFAULT_YEARS,
                    resamples: int = DEFAULT_RESAMPLES, ranges: str | Path = RANGES_PATH,
                    config_overrides: Sequence[str] = (), cfg=None) -> SensitivityResult:
    """Sample, run and analyse.

    Parameters
    ----------
    scenario, calibrated : str
        Config options of ``sim.py`` (``scenarios/scenario/<scenario>.yaml``...).
    n : int
        Base samples (power of two); ``n (D + 2)`` model runs.
    seed : int
        Seed of the design and of the bootstrap.
    groups : sequence of str
        Factor groups to vary (:data:`~.options.GROUPS`).
    outputs : sequence of str, optional
        Model variables analysed (default: those the model declares ``sensitivity: true``).
    years : sequence of int
        Year-ends analysed [Year].
    resamples : int
        Bootstrap resamples of the confidence intervals.
    ranges : path-like
        Range replacements (:data:`~.options.RANGES_PATH`).
    config_overrides : sequence of str
        Further Hydra overrides of the run config (e.g. ``run.time_step=0.125``).
    cfg : omegaconf.DictConfig, optional
        An already composed ``sim.py`` config to use instead of composing ``scenario`` and
        ``calibrated`` (composition with the calibrated draws takes seconds).

    Returns
    -------
    SensitivityResult
    """
    check_base_samples(n)
    if n < 4:
        raise SensitivityError("n must be at least 4 (the convergence check uses n / 2)")
    if cfg is None:
        cfg = compose_scenario(scenario, calibrated, config_overrides)
    else:
        scenario = str(cfg.scenario.name)
    try:  # the run API's checks (simulator.run.plan_run, model.mdl included); the design varies its parameters
        plan = plan_run(cfg)
    except PlanError as error:
        raise SensitivityError(str(error)) from None
    spec, resolved, settings, uncertainty = plan.spec, plan.parameters, plan.settings, plan.uncertainty
    declared = plan.outputs.names("sensitivity")
    outputs = tuple(declared if outputs is None else outputs)
    if not outputs:
        raise SensitivityError(f"no output to analyse: {spec.mdl_path.name} declares none with 'sensitivity: true'; "
                               f"pass --outputs NAME[,NAME...]")
    unknown = [o for o in outputs if o not in spec.variables]
    if unknown:
        raise SensitivityError(f"unknown output(s) {', '.join(unknown)}: use model variable names "
                               f"such as {', '.join(declared or sorted(spec.variables)[:3])}")
    if max(years) > settings["final_time"]:
        raise SensitivityError(f"year {max(years)} is after run.final_time = {settings['final_time']:g}")
    factors, fixed = input_factors(spec, resolved, uncertainty, groups, load_range_overrides(ranges))
    unit = unit_design(len(factors), n, seed)
    base = dict(resolved.values)
    started = time.perf_counter()
    values = evaluate(factors, unit, base, outputs, years, settings, open_engine("vectorized", plan.mdl_path))
    engine_seconds = time.perf_counter() - started
    names = [f.name for f in factors]
    half_rows = design_rows(n // 2, len(factors))
    indices, half = {}, {}
    for key, column in values.items():
        indices[key] = analyze(names, column, seed, resamples=resamples)
        half[key] = analyze(names, column[:half_rows], seed, resamples=resamples)
    info = {"scenario": scenario, "calibrated": calibrated, "n": n, "seed": seed, "groups": list(groups),
            "outputs": list(outputs), "years": [int(y) for y in years], "resamples": resamples,
            "time_step": settings["time_step"], "method": settings["method"],
            "config_overrides": list(config_overrides)}
    labels = {o: plan.outputs.label(o) for o in outputs if o in plan.outputs}
    return SensitivityResult(factors, fixed, indices, half, info, unit.shape[0], engine_seconds, labels,
                             plan.mdl_path)


def convergence_rows(result: SensitivityResult, tolerance: float = CONVERGENCE_TOLERANCE) -> list[dict[str, Any]]:
    """The convergence check: per output and year, the change of the indices from N/2 to N.

    Parameters
    ----------
    result : SensitivityResult
    tolerance : float
        Largest change of an index for the estimate to count as stable [share of variance].

    Returns
    -------
    list of dict
        ``output``, ``year``, ``n_half``, ``n``, ``max_abs_change_S1`` and ``max_abs_change_ST``
        [share of variance], ``top5_same_set`` and ``stable`` (bool).
    """
    rows = []
    for key, full in result.indices.items():
        half = result.half[key]
        d_s1 = float(np.nanmax(np.abs(full.S1 - half.S1))) if np.any(np.isfinite(full.S1)) else float("nan")
        d_st = float(np.nanmax(np.abs(full.ST - half.ST))) if np.any(np.isfinite(full.ST)) else float("nan")
        rows.append({"output": key[0], "year": key[1], "n_half": half.n, "n": full.n,
                     "max_abs_change_S1": d_s1, "max_abs_change_ST": d_st,
                     "top5_same_set": set(full.ranking()[:5]) == set(half.ranking()[:5]),
                     "stable": bool(d_s1 <= tolerance and d_st <= tolerance)})
    return rows
