"""One simulation job: check the config, run point + ensemble, write the archive atomically.

``sim.py`` is a thin Hydra entry point around :func:`run_job`; Hydra multiruns call it once per
scenario (a whole ensemble per job, never one sample per job).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from base.archive import RunArchive, build_manifest, remove_if_empty
from base.observations import load_history
from base.paramfile import Uncertainty, uncertainty_from_config
from base.paths import DATA_PATH, REPO_ROOT
from model import MODEL_PATH
from model.cache import ModelFileError
from model.engines import ENGINES, make_engine
from model.outputs import Outputs, load_outputs
from model.spec import ModelSpec, ParameterError, load_spec

from .bands import BandsConfig, describe as describe_bands, draw_bands
from .league_uncertainty import LeagueUncertainty
from .config import ConfigError, ResolvedParameters, resolve_parameters
from .ensemble import draw_members, prediction_bands, predictive_draws, run_engine
from .plots import plot_contents, write_plots
from .validation import (check_resources, check_run_settings, check_schema, claim_run_dir,
                         estimate_resources)
from .results import check_finite, run_to_dataset
from .summary import URBANIZATION_TARGETS, at_year, summarize, summary_lines

class JobError(SystemExit):
    """A refused job: the message is printed and the process exits with status 2."""


def _fail(message: str, output_dir: Path | None, program: str = "sim.py") -> JobError:
    if output_dir is not None:
        remove_if_empty(output_dir)
    print(f"{program}: error: {message}", file=sys.stderr)
    return JobError(2)


def model_path(value: Any = None) -> Path:
    """The ``.mdl`` of a run: ``model.mdl`` of the config (relative to the repository root, or
    absolute); ``None`` is the project's model (``model/inner_mongolia.mdl``).

    Raises
    ------
    ConfigError
        If the file does not exist or is not a ``.mdl`` file (one line naming the fix).
    """
    if isinstance(value, (DictConfig, Mapping)):
        value = OmegaConf.select(value, "model.mdl", default=None) if isinstance(value, DictConfig) \
            else (value.get("model") or {}).get("mdl")
    if value is None:
        return MODEL_PATH
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else REPO_ROOT / path
    if path.suffix.lower() != ".mdl" or not path.is_file():
        problem = "is not a .mdl file" if path.is_file() or path.is_dir() else "does not exist"
        raise ConfigError(f"model.mdl = {value}: {path} {problem}; give a Vensim model file, relative to "
                          f"the repository root or absolute (e.g. model.mdl=tests/models/leagues.mdl)")
    return path.resolve()


def model_override(argv: Sequence[str]) -> str | None:
    """The value of a ``model.mdl=PATH`` command-line override (``None`` if there is none)."""
    values = [arg.split("=", 1)[1] for arg in argv if arg.lstrip("+").startswith("model.mdl=")]
    return values[-1] if values else None


def open_engine(name: str, mdl_path: str | Path = MODEL_PATH):
    """The engine ``name`` (``vectorized`` or ``pysd``) of ``mdl_path``: the one place that makes one.

    :meth:`RunPlan.open_engine` calls it for a run; calibration and the benchmarks call it for
    their inner loops.
    """
    return make_engine(str(name), Path(mdl_path))


@dataclass(frozen=True)
class RunPlan:
    """Everything one run needs, checked: what :func:`prepare` makes and :func:`simulate` runs.

    Attributes
    ----------
    cfg : omegaconf.DictConfig
        The composed config (``scenarios/config.yaml`` and its groups).
    spec : model.spec.ModelSpec
        The model the run uses.
    parameters : simulator.config.ResolvedParameters
        Parameter overrides of the ``.mdl`` values and where each came from.
    settings : mapping
        Run settings (``time_step`` and ``final_time`` [Year], ``method``, ``samples``, ``seed``...).
    uncertainty : base.paramfile.Uncertainty
        Calibrated draws and observation noise (``Uncertainty()``: point run only).
    engine : str
        ``vectorized`` or ``pysd``.
    bands : simulator.bands.BandsConfig
        Process noise and model-form alternatives drawn per member (``bands`` config group).
    league_fit : simulator.league_uncertainty.LeagueUncertainty
        The league parameters' uncertainty drawn per member (``league_fit`` config group).
    outputs : model.outputs.Outputs
        The model's declared outputs (what the ensemble keeps, which are banded...).
    """

    cfg: DictConfig
    spec: ModelSpec
    parameters: ResolvedParameters
    settings: Mapping[str, Any]
    uncertainty: Uncertainty
    engine: str
    outputs: Outputs
    bands: BandsConfig = BandsConfig()
    league_fit: LeagueUncertainty = LeagueUncertainty()

    @property
    def scenario(self) -> str:
        return str(self.cfg.scenario.name)

    @property
    def mdl_path(self) -> Path:
        """The model file of the run."""
        return self.spec.mdl_path

    def ensemble_columns(self) -> list[str]:
        """The variables kept for every member: the outputs declared with ``ensemble: true``."""
        return [name for name in self.outputs.names("ensemble") if name in self.spec.variables]

    def open_engine(self):
        """The run's engine (:func:`open_engine`)."""
        return open_engine(self.engine, self.mdl_path)


@dataclass(frozen=True)
class Simulation:
    """What :func:`simulate` returns.

    Attributes
    ----------
    point : xarray.Dataset
        The point run (calibrated point estimates) over ``time``, with the prediction bands.
    ensemble : xarray.Dataset or None
        Members over ``(sample, time)`` with each member's parameter values (None: no ensemble).
    bands : dict of str to ndarray
        ``{name_pNN: values over time}``.
    predictive : dict of int to ndarray or None
        Urbanization rate of each member plus observation noise in the target years [%].
    """

    point: xr.Dataset
    ensemble: xr.Dataset | None
    bands: dict
    predictive: dict | None


#: What :func:`plan_run` raises for a config it refuses (each message names the fix).
PlanError = (ParameterError, ConfigError, ModelFileError)


def plan_run(cfg: DictConfig, spec: ModelSpec | None = None, output_dir: Path | None = None,
             base_dir: Path | None = None) -> RunPlan:
    """Check the composed config and return the run plan; a refused config raises.

    The checks of :func:`prepare` for callers with their own error handling (the sensitivity
    analysis); ``output_dir`` is where the archive will go (its disk is checked).

    Raises
    ------
    model.spec.ParameterError, simulator.config.ConfigError, model.cache.ModelFileError
        (:data:`PlanError`) naming the problem and the fix.
    """
    check_schema(cfg)
    spec = spec if spec is not None else load_spec(model_path(cfg))
    outputs = load_outputs(spec.mdl_path, spec)
    initial_time = spec.variables["initial_time"].value
    resolved = resolve_parameters(cfg, spec)
    settings = check_run_settings(cfg, initial_time)
    if str(cfg.engine.name) not in ENGINES:
        raise ConfigError(f"unknown engine {cfg.engine.name!r}: use engine=vectorized or engine=pysd")
    if settings["method"] != "euler" and str(cfg.engine.name) == "pysd":
        raise ConfigError("run.method=rk4 needs engine=vectorized (PySD integrates with Euler only)")
    uncertainty = uncertainty_from_config(OmegaConf.select(cfg, "calibrated.uncertainty"), spec,
                                          base_dir=base_dir)
    if uncertainty.available and settings["samples"] > 0:
        columns = [name for name in outputs.names("ensemble") if name in spec.variables]
        elements = sum(int(np.prod([len(spec.coords[d]) for d in spec.variables[name].dims]))
                       for name in columns)  # every subscripted element is one more series
        estimate = estimate_resources(settings, elements, len(uncertainty.parameters), initial_time)
        check_resources(estimate, settings, output_dir)
    node = OmegaConf.select(cfg, "bands", default=None)
    bands = BandsConfig.from_config(OmegaConf.to_container(node, resolve=True) if node is not None else None)
    node = OmegaConf.select(cfg, "league_fit", default=None)
    league_fit = LeagueUncertainty.from_config(OmegaConf.to_container(node, resolve=True) if node is not None else None)
    return RunPlan(cfg=cfg, spec=spec, parameters=resolved, settings=dict(settings),
                   uncertainty=uncertainty, engine=str(cfg.engine.name), outputs=outputs, bands=bands,
                   league_fit=league_fit)


def prepare(cfg: DictConfig, spec: ModelSpec | None = None, output_dir: Path | None = None,
            base_dir: Path | None = None, program: str = "sim.py") -> RunPlan:
    """Check the composed config and return the run plan (nothing runs, nothing is written).

    ``base_dir`` resolves a relative ``calibrated.uncertainty.draws_file`` (default: the
    repository root; :mod:`simulator.reproduce` passes the archive, which keeps its own copy).
    A refused config prints one line and raises :class:`JobError` (exit status 2); see
    :func:`plan_run` for the checks.
    """
    try:
        return plan_run(cfg, spec, output_dir, base_dir)
    except PlanError as error:
        raise _fail(str(error), output_dir, program) from None


def simulate(plan: RunPlan, progress: bool = False) -> Simulation:
    """Run the point estimate and the ensemble of ``plan``; return datasets, bands and predictive draws."""
    spec, resolved, settings, uncertainty = plan.spec, plan.parameters, plan.settings, plan.uncertainty
    engine = plan.open_engine()
    point_result = run_engine(engine, resolved.values, 1, settings)
    point = run_to_dataset(point_result, spec)
    check_finite(point)
    seeds = np.random.SeedSequence(settings["seed"]).spawn(4)  # members, observation noise, bands, leagues
    member_rng, noise_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    n_samples = settings["samples"] if uncertainty.available else 0
    ensemble, bands, predictive = None, {}, None
    if n_samples > 0:
        members = draw_members(resolved, uncertainty, n_samples, member_rng)
        members.update(draw_bands(plan.bands, spec, n_samples, seeds[2], resolved.fixed_by_user()))
        members.update(plan.league_fit.draw(spec, n_samples, seeds[3], resolved.fixed_by_user()))
        columns = plan.ensemble_columns()
        result = run_engine(engine, members, n_samples, settings, columns, progress=progress)
        ensemble = run_to_dataset(result, spec, sample_axis=True)
        check_finite(ensemble)
        for name, values in members.items():
            var = spec.variables[name]
            if var.dims and np.shape(values) == tuple(len(spec.coords[d]) for d in var.dims):
                continue  # one value per element, the same in every member (a lever by league)
            if np.ndim(values) == 1 or (np.ndim(values) == 1 + len(var.dims) and np.shape(values)[0] == n_samples
                                        and np.ndim(values) > 1):
                ensemble[f"param_{name}"] = xr.DataArray(
                    np.asarray(values, dtype=float), dims=("sample", *var.dims),
                    coords={d: list(spec.coords[d]) for d in var.dims},
                    attrs={"units": var.units, "description": f"member value of {name}: {var.description}"})
        bands = prediction_bands({name: result.values[name] for name in plan.outputs.names("band")
                                  if name in result.values},
                                 uncertainty.observation_noise, noise_rng)
        if "urbanization_rate" in ensemble:  # the plan's targets are on the urbanization rate
            sigma = uncertainty.observation_noise.get("urbanization_rate", 0.0)
            predictive = {
                year: predictive_draws(at_year(ensemble["urbanization_rate"], year).values, sigma, noise_rng)
                for year in URBANIZATION_TARGETS if year <= point["time"].values[-1]
            }
    for name, values in bands.items():
        base = name.rsplit("_p", 1)[0]
        q = int(name.rsplit("_p", 1)[1])
        point[name] = (point[base].dims, values, {
            "units": point[base].attrs["units"],
            "description": f"{q}th percentile of {base} over {n_samples} ensemble members "
                           f"(calibrated parameter uncertainty, process noise and model form when the bands config "
                           f"has them, plus observation noise)",
        })
    return Simulation(point, ensemble, bands, predictive)


def astuple_shallow(simulation: Simulation) -> tuple:
    """``(point, ensemble, bands, predictive)`` without copying (``dataclasses.astuple`` deep-copies)."""
    return simulation.point, simulation.ensemble, simulation.bands, simulation.predictive


def archived_config(cfg: DictConfig, uncertainty: Uncertainty) -> DictConfig:
    """The config as archived: the calibrated draws point at the archive's own copy."""
    archived = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    if uncertainty.draws_path is not None:
        archived.calibrated.uncertainty.draws_file = RunArchive.DRAWS
    return archived


def write_archive(output_dir: Path, cfg: DictConfig, point: xr.Dataset, ensemble: xr.Dataset | None,
                  bands: dict, summary: dict, manifest: dict, make_plots: bool,
                  uncertainty: Uncertainty | None = None, save_members: bool = True,
                  outputs: Outputs | None = None) -> None:
    """Write every file of the archive into a staging directory, then publish it atomically.

    The archive is self-contained: it keeps a copy of the calibrated parameter draws, and its
    ``config.yaml`` refers to that copy. ``save_members=False`` leaves out ``ensemble.nc`` (the
    summary and the bands still come from the ensemble).
    """
    if not save_members:
        ensemble = None
    uncertainty = uncertainty or Uncertainty()
    with RunArchive.staged(output_dir) as archive:
        if uncertainty.draws_path is not None:
            archive.copy_draws(uncertainty.draws_path)
        cfg = archived_config(cfg, uncertainty)
        point.attrs.update({
            "title": "Inner Mongolia urbanization SD model: point run (calibrated point estimates)",
            "scenario": str(cfg.scenario.name),
            "time_convention": "the value at model time Y is the year-end value of year Y",
        })
        archive.write_dataset(RunArchive.OUTPUTS, point)
        if ensemble is not None:
            ensemble.attrs.update({"title": "Ensemble members over calibrated parameter uncertainty",
                                   "scenario": str(cfg.scenario.name)})
            archive.write_dataset(RunArchive.ENSEMBLE, ensemble)
        archive.write_text(RunArchive.CONFIG, OmegaConf.to_yaml(cfg, resolve=True))
        archive.write_summary(summary)
        plots = write_plots(archive.path, point, bands, ensemble, load_history(DATA_PATH), outputs) \
            if make_plots else []
        archive.write_text(RunArchive.README,
                           archive_readme(cfg, manifest, has_ensemble=ensemble is not None, has_bands=bool(bands),
                                          has_plots=make_plots, ensemble=ensemble,
                                          plan_summary="targets" in summary,
                                          plot_files=[path.name for path in plots]))
        archive.finalize(manifest)


def archive_readme(cfg: DictConfig, manifest: dict, *, has_ensemble: bool, has_bands: bool,
                   has_plots: bool, ensemble: xr.Dataset | None = None, plan_summary: bool = True,
                   plot_files: Sequence[str] = ()) -> str:
    """A short description of the archive's files and how to reproduce it.

    ``plot_files`` (the PNG files written) get one line each (:func:`simulator.plots.plot_contents`);
    without them, ``has_plots`` gives one line for all plots.
    """
    A = RunArchive
    subscripts = sorted({d for v in ensemble.data_vars.values() for d in v.dims
                         if d not in ("sample", "time")}) if ensemble is not None else []
    member_dims = ", ".join(["sample", "time"] + ([" / ".join(subscripts)] if subscripts else []))
    overrides = " ".join(manifest.get("overrides", []))
    commit = manifest["git"].get("commit") or "unknown"
    lines = [
        f"# Run archive: scenario `{cfg.scenario.name}`",
        "",
        f"Made by `python sim.py {overrides}`".rstrip() + f" at git commit `{commit}`"
        + (" (with uncommitted changes)" if manifest["git"].get("dirty") else "") + ".",
        "",
        "| file | content |",
        "|---|---|",
        f"| `{A.OUTPUTS}` | point run: every model variable over `time` (units and descriptions as attributes)"
        + (" and the prediction bands `*_p05/_p50/_p95`" if has_bands else "") + " |",
    ]
    if has_ensemble:
        lines.append(f"| `{A.ENSEMBLE}` | ensemble members, dimensions ({member_dims}), with each member's parameter values |")
        lines.append(f"| `{A.DRAWS}` | the calibrated joint parameter draws the members were resampled from |")
    lines += [
        f"| `{A.SUMMARY}` | " + ("targets (69 % in 2025, 72 % in 2035), water against the cap, land against the quota and the standard"
                               if plan_summary else "the declared summary outputs (province totals) at the report years") + " |",
        f"| `{A.CONFIG}` | the resolved configuration (parameters, run settings, seed) |",
        f"| `{A.MANIFEST}` | git commit, hashes of model/config/data/archive files, package versions, command, seed, wall time |",
    ]
    if plot_files:
        lines += [f"| `{name}` | {plot_contents(name)} |" for name in sorted(plot_files)]
    elif has_plots:
        lines.append(f"| `{A.PLOTS}` | " + ("urbanization, population, land and water plots" if
                     not subscripts else "plots (one small-multiple plot per subscripted output)") + " |")
    lines += [
        "",
        f"Reproduce: check out the commit, then run the same command (the seed is in {A.CONFIG}), or",
        f"`python -m simulator.reproduce <this directory>`, which re-runs from {A.CONFIG} and compares.",
        "",
    ]
    return "\n".join(lines)


def job_summary(plan: RunPlan, simulation: Simulation) -> dict[str, Any]:
    """``summary.json`` of a job (also recomputed by :mod:`simulator.reproduce`)."""
    cfg, settings, uncertainty, ensemble = plan.cfg, plan.settings, plan.uncertainty, simulation.ensemble
    info = {
        "scenario": str(cfg.scenario.name),
        "title": str(cfg.scenario.get("title", cfg.scenario.name)),
        "engine": str(cfg.engine.name),
        "seed": settings["seed"],
        "ensemble_members": int(ensemble.sizes["sample"]) if ensemble is not None else 0,
        "uncertainty": uncertainty.method if uncertainty.available else
        "none: the calibrated config carries no parameter draws, so only the point run was made",
    }
    if uncertainty.available and ensemble is not None:
        info["bands"] = describe_bands(plan.bands)
        info["league_parameters"] = plan.league_fit.describe()
    return summarize(simulation.point, ensemble, simulation.predictive, info, plan.outputs)


def run_job(cfg: DictConfig, output_dir: Path, overrides: Sequence[str] = (), progress: bool = True) -> dict[str, Any]:
    """Run one simulation job and write its archive into ``output_dir``; return the summary."""
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:  # before anything else: the directory is ours alone, empty and writable
            stack.enter_context(claim_run_dir(output_dir))
        except ConfigError as error:
            raise _fail(str(error), None) from None
        return _run_claimed(cfg, output_dir, started, overrides, progress)


def _run_claimed(cfg: DictConfig, output_dir: Path, started: float,
                 overrides: Sequence[str], progress: bool) -> dict[str, Any]:
    plan = prepare(cfg, None, output_dir)
    resolved, settings, uncertainty = plan.parameters, plan.settings, plan.uncertainty
    try:
        simulation = simulate(plan, progress)
    except FloatingPointError as error:
        raise _fail(str(error), output_dir) from None
    point, ensemble, bands, _ = astuple_shallow(simulation)
    summary = job_summary(plan, simulation)
    inputs = {"model": plan.mdl_path}
    if DATA_PATH.is_file():
        inputs["data"] = DATA_PATH
    if uncertainty.draws_path is not None:
        inputs["calibrated_draws"] = uncertainty.draws_path
    manifest = build_manifest(
        kind="simulation", overrides=list(overrides), seed=settings["seed"],
        wall_time_s=time.perf_counter() - started, inputs=inputs,
        extra={"scenario": str(cfg.scenario.name), "engine": str(cfg.engine.name),
               "parameters": {name: {"value": value, "source": resolved.sources[name]}
                              for name, value in sorted(resolved.values.items())}},
    )
    write_archive(output_dir, cfg, point, ensemble, bands, summary, manifest, settings["plots"], uncertainty,
                  save_members=settings["save_members"], outputs=plan.outputs)
    return summary


def print_summary(summary: dict[str, Any], output_dir: Path) -> None:
    """A few lines for the terminal (:func:`simulator.summary.summary_lines`)."""
    for line in summary_lines(summary):
        print(line)
    print(f"archive: {output_dir}")
