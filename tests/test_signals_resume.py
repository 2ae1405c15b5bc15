"""SIGINT/SIGTERM end a run at once without leftovers; a sweep rerun skips complete archives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from base.archive import verify_archive

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("signame, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_the_archive_write_ends_the_run_cleanly(tmp_path, signame, status):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "sim.py", f"hydra.run.dir={out}", "ensemble.samples=20000", "plots=false"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(tmp_path.glob(".run.partial-*")):
        if process.poll() is not None:
            pytest.fail("the run ended before its archive write: " + process.stderr.read()[-500:])
        time.sleep(0.01)
    sent = time.monotonic()
    process.send_signal(getattr(signal, signame))
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert process.returncode == status
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert signame in err
    assert list(tmp_path.iterdir()) == [], "no .partial and no empty run folder left behind"


def test_a_sweep_rerun_skips_complete_archives_and_redoes_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    command = [sys.executable, "sim.py", "-m", "scenario=baseline,strict_water", "ensemble.samples=20",
               "plots=false", f"hydra.sweep.dir={sweep}"]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "2 of 2 archive(s) complete and verified" in first.stderr
    multirun = (sweep / "multirun.yaml").read_text()
    kept = (sweep / "0_baseline" / "manifest.json").stat().st_mtime_ns
    (sweep / "1_strict_water" / "manifest.json").unlink()        # an incomplete archive
    (sweep / ".0_baseline.partial-1").mkdir()                    # a stale staging directory
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "skip 0_baseline: archive complete and verified" in rerun.stderr
    assert "run  1_strict_water (redo:" in rerun.stderr
    assert "removed stale .0_baseline.partial-1" in rerun.stderr
    assert (sweep / "0_baseline" / "manifest.json").stat().st_mtime_ns == kept
    for name in ("0_baseline", "1_strict_water"):
        verify_archive(sweep / name)
    assert not list(sweep.glob(".*.partial-*"))
    only = subprocess.run([*command[:3], "scenario=strict_water", *command[4:]], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert only.returncode == 0, only.stderr[-2000:]
    assert (sweep / "multirun.yaml").read_text() == multirun, "multirun.yaml stays the whole sweep's"
    other = subprocess.run([*command[:3], "scenario=coordinated", *command[4:]], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert other.returncode == 2 and "holds another sweep" in other.stderr
    assert "Traceback" not in other.stderr
