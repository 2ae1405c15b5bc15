"""The base layer: what every part of the project shares, below ``simulator``, ``calibration`` and ``analysis``.

- :mod:`base.paths`        where things are (repository root, data, configs, runs): defined once;
- :mod:`base.fonts`        Chinese labels in plots (CJK font or a clean English fallback);
- :mod:`base.observations` the sourced statistics file: one loader for calibration and plots;
- :mod:`base.paramfile`    the calibrated-parameter file format and its one :class:`~base.paramfile.Uncertainty`;
- :mod:`base.archive`      the run archive format (atomic staging, manifest, verification).

Layers import downward only, at module level (checked by ``tests/test_import_layers.py``)::

    sim.py, benchmarks                  entry points (the benchmarks measure the explorer too)
    explorer                            the lever explorer (web entry point over the run API)
    analysis | calibration              (independent of each other)
    simulator                           the run API: prepare(cfg) -> RunPlan, simulate(plan)
    base                                this package
    model                               the .mdl, its spec and the two engines
"""
