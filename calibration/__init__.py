"""Calibration of the Inner Mongolia model on 2015-2020 (issue 3): ``python -m calibration``.

Weighted least squares through an explicit observation model for the 2020 census break, per-series
noise estimation, the posterior of the structural assumptions (uniform priors on their documented
ranges, profile likelihood, sequential Monte Carlo), a parametric bootstrap given each posterior
particle for the joint parameter draws, fit statistics (Sterman 1984) and an out-of-sample check
against forecasting baselines. See ``calibration/README.md``.
"""
