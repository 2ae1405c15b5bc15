"""``python -m calibration`` end to end: the archive, and the committed parameter file reproduced."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "scenarios" / "calibrated" / "default.yaml"
# The file holds 6 significant digits. The computation is deterministic (seeded Latin hypercube and
# bootstrap noise, fixed iteration counts, no threads in the fit), so the same code, model, data and
# libraries give bit-identical numbers: allow one unit in the 6th digit (relative 1e-5). A larger
# difference means an input changed and the file must be regenerated with `python -m calibration`.
RTOL = 1e-5


def test_command_writes_an_archive_and_reproduces_the_committed_parameter_file(tmp_path):
    from base.paramfile import read_draws_csv
    from base.archive import verify_archive

    archive = tmp_path / "archive"
    produced = tmp_path / "default.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [sys.executable, "-m", "calibration", f"hydra.run.dir={archive}",
         f"output.parameter_file={produced}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    manifest = verify_archive(archive)
    assert manifest["kind"] == "calibration"
    for name in ("report.md", "fit_statistics.csv", "parameters.csv", "correlation.csv",
                 "holdout_errors.csv", "fit_residuals.png", "calibrated_parameters.yaml"):
        assert (archive / name).is_file(), name
    report = (archive / "report.md").read_text(encoding="utf-8")
    assert "## Out-of-sample check" in report and "Not identified by the data" in report

    new = yaml.safe_load(produced.read_text(encoding="utf-8"))
    old = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert list(new["params"]) == list(old["params"])
    np.testing.assert_allclose([new["params"][k] for k in new["params"]],
                               [old["params"][k] for k in old["params"]], rtol=RTOL, atol=0)
    assert new["uncertainty"]["parameters"] == old["uncertainty"]["parameters"]
    # the draws live in a CSV next to the YAML (a relative path is relative to the repository root)
    assert old["uncertainty"]["draws_file"] == "scenarios/calibrated/default_draws.csv"
    assert Path(new["uncertainty"]["draws_file"]) == tmp_path / "default_draws.csv"
    names = tuple(old["uncertainty"]["parameters"])
    new_draws = read_draws_csv(new["uncertainty"]["draws_file"], names)
    old_draws = read_draws_csv(ROOT / old["uncertainty"]["draws_file"], names)
    np.testing.assert_allclose(new_draws, old_draws, rtol=RTOL, atol=1e-12)
    assert (archive / "calibrated_draws.csv").read_text() == (tmp_path / "default_draws.csv").read_text()
    for key, value in old["uncertainty"]["observation_noise"].items():
        assert new["uncertainty"]["observation_noise"][key] == value or \
            abs(new["uncertainty"]["observation_noise"][key] / value - 1) <= RTOL
