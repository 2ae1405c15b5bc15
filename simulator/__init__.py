"""Running the model for users: configuration, ensembles, run archives, summaries and plots.

The run API: ``plan = prepare(cfg)`` (a checked, frozen :class:`RunPlan`), then
``simulate(plan)`` (a :class:`Simulation`: point run, ensemble, bands, predictive draws)::

    from simulator import prepare, simulate

``simulator.run.plan_run`` makes the same checks but raises instead of exiting (for callers with
their own errors), and ``simulator.run.open_engine`` is the one place that makes an engine
(``RunPlan.open_engine()`` for a plan; calibration and the benchmarks use it for inner loops).

- :mod:`simulator.config`   parameter overrides from Hydra configs and the command line;
- :mod:`simulator.ensemble` deterministic run + Monte Carlo ensemble over calibrated uncertainty;
- :mod:`simulator.results`  engine results as xarray Datasets with units and descriptions;
- :mod:`simulator.summary`  targets and limits (``summary.json``);
- :mod:`simulator.plots`    bilingual (English / Chinese) plots;
- :mod:`simulator.by_element` levers by league or group; :mod:`simulator.regional` the regional targets;
  :mod:`simulator.league_plots` the league pictures (models with a ``league`` dimension);
- :mod:`base.archive`  atomic, self-describing run archives (``RunArchive`` names their files).
"""
from .run import RunPlan, Simulation, prepare, simulate

__all__ = ["RunPlan", "Simulation", "prepare", "simulate"]
