"""Calibration of the Inner Mongolia model on 2015-2020 (issue 3): ``python -m calibration``.

Weighted least squares through an explicit observation model for the 2020 census break, per-series
noise estimation, a parametric bootstrap for joint parameter draws, fit statistics (Sterman 1984) and
an out-of-sample check against forecasting baselines. See ``calibration/README.md``.
"""
