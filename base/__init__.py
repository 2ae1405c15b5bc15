"""The base layer: what every part of the project shares, below ``simulator``, ``calibration`` and ``analysis``.

- :mod:`base.paths`        where things are (repository root, data, configs, runs): defined once;
- :mod:`base.fonts`        Chinese labels in plots (CJK font or a clean English fallback);
- :mod:`base.observations` the sourced statistics file: one loader for calibration and plots;
- :mod:`base.paramfile`    the calibrated-parameter file format and its one :class:`~base.paramfile.Uncertainty`;
- :mod:`base.archive`      the run archive: ``RunArchive`` names its files, writes (atomic staging), reads, verifies;
- :mod:`base.demography`   parametric schedules (Hadwiger fertility, Siler life table anchored on e0,
  Rogers-Castro migration, sex ratio at birth) by single year of age, each assumption with a range;
- :mod:`base.census`       the 2010 and 2020 census state by age x sex x residence (ungrouping, splits);
- :mod:`base.leagues`      the 12 leagues, their groupings (``base/leagues.yaml``), census figures and every
  league calibration target by basis (``league_targets``), distances between league seats;
- :mod:`base.league_state` the 2010/2015/2020 state by league x age x sex x residence (IPF on the league censuses);
- :mod:`base.schedule_tables` writes those schedules into a ``.mdl`` (``python -m base.schedule_tables``).

Layers import downward only, at module level (checked by ``tests/test_import_layers.py``)::

    sim.py, benchmarks                  entry points (the benchmarks measure the explorer too)
    explorer                            the lever explorer (web entry point over the run API)
    analysis | calibration              (independent of each other)
    simulator                           the run API: prepare(cfg) -> RunPlan, simulate(plan)
    base                                this package
    model                               the .mdl, its spec and the two engines
"""
