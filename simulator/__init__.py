"""Running the model for users: configuration, ensembles, run archives, summaries and plots.

- :mod:`simulator.config`   parameter overrides from Hydra configs and the command line;
- :mod:`simulator.ensemble` deterministic run + Monte Carlo ensemble over calibrated uncertainty;
- :mod:`simulator.results`  engine results as xarray Datasets with units and descriptions;
- :mod:`simulator.summary`  targets and limits (``summary.json``);
- :mod:`simulator.plots`    bilingual (English / Chinese) plots;
- :mod:`base.archive`  atomic, self-describing run archives.
"""
