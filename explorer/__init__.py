"""The lever explorer: a local web page where a planner moves the plan's levers and sees the
calibrated ensemble's projection and odds at once (``python -m explorer``).

- :mod:`explorer.backend` the only door into the simulator (settings checked as ``sim.py`` checks them);
- :mod:`explorer.outputs` what the page shows, declared as data (panels, probability labels);
- :mod:`explorer.figures` the Plotly charts;
- :mod:`explorer.app`     the Dash app (controls generated from the lever registry);
- :mod:`explorer.server`  serving it on 127.0.0.1 (``python -m explorer --help``).
"""
