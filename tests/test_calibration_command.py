"""``python -m calibration`` end to end: the archive, and the committed parameter file reproduced.

Two tests. **In the suite** (CI): the command at reduced sample sizes (:data:`REDUCED`: fewer SMC
particles, draws and starts; the same code path and the same archive) writes a complete, verifiable
archive whose parameter file has the committed file's parameters, with every value inside its
documented range and each fitted point estimate inside the range of the committed joint draws.
**Marked ``reproduction``** (deselected by pytest.ini; ``python -m pytest -m reproduction``, about
20 minutes a run on 2 cores, run it before committing a new parameter file): the full command
reproduces the committed parameter file, under this machine's OpenBLAS kernel and another one.
With the age x sex x residence chain a full calibration takes 16-20 minutes (1201.6 s in the report
of the run that wrote the file), too long to run twice in a ~15-minute suite.

The committed file is reproduced up to machine-dependent floating point, never bit for bit: the
fit and the SMC sampler call BLAS/LAPACK (numpy's OpenBLAS picks a different kernel on an AVX-512
CPU than on a Haswell one, and ``OPENBLAS_CORETYPE`` changes it too), so the last digits differ
between machines. The tolerances below are derived from the method, and each is far below what a
change of the code, the model or the data moves:

* **Fitted point estimates** come from a trust-region least-squares fit converged to
  ``xtol = 1e-12`` on the unit cube (``calibration/fit.py``). Rounding differences of ~1e-16 move
  the optimum by at most the condition number times that, so they must agree to ``FIT_ATOL`` =
  1e-7 of the parameter's range (10^5 times the optimiser's tolerance; any real change of an input
  moves them by far more, e.g. one more data point moves them by > 1e-3 of the range).
* **Draws** are refits truncated after a fixed number of Levenberg-Marquardt iterations, started
  from SMC particles chosen by Metropolis accept/reject decisions. Truncation amplifies rounding
  differences (seen: 9e-9 absolute, 1.5e-5 relative, in 1 of 15,500 elements between two CPUs),
  and a rounding difference can in principle flip one accept/reject decision and so change a
  whole particle. So: at least ``ROW_SHARE`` = 95 % of the rows agree to ``DRAW_ATOL`` = 1e-6 of
  the range, and the moments of every column agree to the Monte Carlo error of 500 draws
  (mean within ``MOMENT_SD`` = 0.05 sd, sd within 5 %).
* **Structural point estimates** are posterior medians (or the ``.mdl`` value when the data do not
  inform the parameter): within ``MEDIAN_RANGE`` = 0.05 of the prior range, about four Monte Carlo
  standard errors of the median of 1000 particles under a uniform prior (1.25 x sd / sqrt(N),
  sd = range / sqrt(12): 0.011 of the range).
* **Observation noise** is estimated from the residuals of the converged fit: relative 1e-6.

The same code on the same machine is bit-for-bit deterministic (seeded Latin hypercube, seeded
bootstrap noise, fixed iteration counts); ``tests/test_calibration_fit.py`` covers the method on
model-generated data. A change beyond these bounds means an input changed: regenerate the file
with ``python -m calibration`` (see calibration/README.md).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from base.archive import verify_archive
from base.paramfile import read_draws_csv
from model.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "scenarios" / "calibrated" / "default.yaml"
CALIBRATE = ROOT / "scenarios" / "calibrate.yaml"
FIT_ATOL = 1e-7        # [share of the parameter's range] converged least-squares fit
DRAW_ATOL = 1e-6       # [share of the parameter's range] truncated refits, row by row
ROW_SHARE = 0.95       # rows that must agree row by row (the rest: a flipped accept/reject)
MOMENT_SD = 0.05       # [column sd] column means of the draws
SD_RTOL = 0.05         # column standard deviations of the draws, relative
MEDIAN_RANGE = 0.05    # [share of the prior range] structural point estimates
NOISE_RTOL = 1e-6      # estimated observation noise, relative
#: Every file of the archive with the default settings (structural posterior, the other observation
#: model and the out-of-sample check enabled, plots on), besides manifest.json.
ARCHIVE_FILES = {
    "report.md", "config.yaml", "calibrated_parameters.yaml", "calibrated_draws.csv",
    # the primary fit
    "observations_residuals.csv", "fit_statistics.csv", "parameters.csv", "correlation.csv", "multistart.csv",
    "noise.csv", "bootstrap_draws.csv", "trajectories.csv",
    # its structural posterior and joint draws
    "structural_posterior.csv", "structural_steps.csv", "structural_particles.csv", "parameters_conditional.csv",
    "joint_draws.csv", "correlation_joint.csv",
    # the other observation model
    "alternative_observations_residuals.csv", "alternative_fit_statistics.csv", "alternative_parameters.csv",
    "alternative_multistart.csv",
    # the out-of-sample check
    "holdout_forecasts.csv", "holdout_errors.csv", "holdout_training.csv", "holdout_parameters.csv",
    "holdout_structural_posterior.csv", "holdout_band.csv",
    # the five figures (the fit figure twice: primary and alternative)
    "fit_residuals.png", "alternative_fit_residuals.png", "trajectories.png", "holdout.png", "parameter_draws.png",
    "structural_posterior.png",
}


def _ranges(names):
    spec = load_spec()
    lows = np.array([spec.parameters[n].limits[0] for n in names], dtype=float)
    highs = np.array([spec.parameters[n].limits[1] for n in names], dtype=float)
    return highs - lows


def _other_blas_kernel() -> dict:
    """The environment with OpenBLAS on another kernel than the one this machine is set to.

    ``OPENBLAS_CORETYPE`` set (as on some machines here) -> unset, so OpenBLAS picks the kernel of
    the CPU (AVX-512 where it has it); unset -> a conservative kernel every CPU of the family runs.
    """
    env = dict(os.environ)
    if env.pop("OPENBLAS_CORETYPE", None) is not None:
        env.pop("OPENBLAS_L2_SIZE", None)
    else:
        env["OPENBLAS_CORETYPE"] = "ARMV8" if platform.machine() in ("aarch64", "arm64") else "Prescott"
    return env


#: Reduced sample sizes for the suite (the method's settings are unchanged; only how many).
REDUCED = ("fit.starts=2", "uncertainty.structural.particles=60", "uncertainty.draws=30",
           "uncertainty.conditional_draws=20", "observation.compare_draws=10", "holdout.starts=2",
           "holdout.particles=40", "holdout.draws=20")


def _calibrate(archive: Path, produced: Path, env: dict, *overrides: str, timeout: float) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "calibration", f"hydra.run.dir={archive}",
         f"output.parameter_file={produced}", *overrides],
        cwd=ROOT, env={**env, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"},
        capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-3000:]


def _check_archive(archive: Path) -> None:
    manifest = verify_archive(archive)
    assert manifest["kind"] == "calibration"
    assert set(manifest["files"]) == ARCHIVE_FILES
    assert sorted(p.name for p in archive.iterdir()) == sorted(ARCHIVE_FILES | {"manifest.json"})
    report = (archive / "report.md").read_text(encoding="utf-8")
    assert "## Out-of-sample check" in report and "Not identified by the data" in report


def test_command_at_reduced_sizes_writes_a_complete_archive_and_parameter_file(tmp_path):
    archive, produced = tmp_path / "archive", tmp_path / "default.yaml"
    _calibrate(archive, produced, dict(os.environ), *REDUCED, timeout=900)
    _check_archive(archive)
    new = yaml.safe_load(produced.read_text(encoding="utf-8"))
    old = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert list(new["params"]) == list(old["params"])
    assert new["uncertainty"]["parameters"] == old["uncertainty"]["parameters"]
    names = list(old["params"])
    spec = load_spec()
    for name in names:
        low, high = spec.parameters[name].limits
        assert low <= new["params"][name] <= high, name
    columns = tuple(old["uncertainty"]["parameters"])
    new_draws = read_draws_csv(new["uncertainty"]["draws_file"], columns)
    old_draws = read_draws_csv(ROOT / old["uncertainty"]["draws_file"], columns)
    assert new_draws.shape == (30, len(columns))
    lows = np.array([spec.parameters[n].limits[0] for n in columns])
    highs = np.array([spec.parameters[n].limits[1] for n in columns])
    assert np.all((new_draws >= lows) & (new_draws <= highs))
    # the fitted point estimates land where the committed 500 joint draws put them
    for name in yaml.safe_load(CALIBRATE.read_text(encoding="utf-8"))["parameters"]:
        column = old_draws[:, columns.index(name)]
        assert column.min() <= new["params"][name] <= column.max(), name


@pytest.mark.reproduction
@pytest.mark.parametrize("blas", ["as set", "other kernel"])
def test_command_writes_an_archive_and_reproduces_the_committed_parameter_file(tmp_path, blas):

    archive = tmp_path / "archive"
    produced = tmp_path / "default.yaml"
    base = dict(os.environ) if blas == "as set" else _other_blas_kernel()
    _calibrate(archive, produced, base, timeout=3600)
    _check_archive(archive)

    new = yaml.safe_load(produced.read_text(encoding="utf-8"))
    old = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert list(new["params"]) == list(old["params"])
    assert new["uncertainty"]["parameters"] == old["uncertainty"]["parameters"]

    # point estimates: fitted ones to the optimiser's tolerance, structural ones to the MC error
    fitted = set(yaml.safe_load(CALIBRATE.read_text(encoding="utf-8"))["parameters"])
    names = list(old["params"])
    width = _ranges(names)
    gap = np.abs(np.array([new["params"][k] for k in names]) -
                 np.array([old["params"][k] for k in names])) / width
    for name, g in zip(names, gap):
        bound = FIT_ATOL if name in fitted else MEDIAN_RANGE
        assert g <= bound, f"{name}: point estimate moved by {g:.3g} of its range (> {bound:g})"

    # the draws live in a CSV next to the YAML (a relative path is relative to the repository root)
    assert old["uncertainty"]["draws_file"] == "scenarios/calibrated/default_draws.csv"
    assert Path(new["uncertainty"]["draws_file"]) == tmp_path / "default_draws.csv"
    columns = tuple(old["uncertainty"]["parameters"])
    new_draws = read_draws_csv(new["uncertainty"]["draws_file"], columns)
    old_draws = read_draws_csv(ROOT / old["uncertainty"]["draws_file"], columns)
    assert new_draws.shape == old_draws.shape
    scaled_gap = np.abs(new_draws - old_draws) / _ranges(columns)
    rows_equal = np.all(scaled_gap <= DRAW_ATOL, axis=1)
    assert rows_equal.mean() >= ROW_SHARE, (
        f"only {rows_equal.sum()} of {len(rows_equal)} draws agree to {DRAW_ATOL:g} of the range; "
        f"largest gap {scaled_gap.max():.3g} in column {columns[int(np.argmax(scaled_gap.max(axis=0)))]}")
    sd = old_draws.std(axis=0, ddof=1)
    mean_gap = np.abs(new_draws.mean(axis=0) - old_draws.mean(axis=0))
    assert np.all(mean_gap <= MOMENT_SD * sd + 1e-300), dict(zip(columns, mean_gap / sd))
    np.testing.assert_allclose(new_draws.std(axis=0, ddof=1), sd, rtol=SD_RTOL)
    assert (archive / "calibrated_draws.csv").read_text() == (tmp_path / "default_draws.csv").read_text()
    for key, value in old["uncertainty"]["observation_noise"].items():
        assert abs(new["uncertainty"]["observation_noise"][key] / value - 1) <= NOISE_RTOL, key
