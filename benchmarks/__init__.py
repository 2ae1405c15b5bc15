"""Benchmarks (not tests): ``python -m benchmarks.ensemble``, ``python -m benchmarks.calibration``."""
