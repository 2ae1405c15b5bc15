"""Sweep launchers and the sweep progress bar.

The local joblib launcher (the default) is exercised end to end by tests/test_compare.py; here:
the launcher configs compose, the SLURM config turns into a valid sbatch script (without a
cluster: submission is intercepted), submitit's local executor runs a tiny sweep through the real
``sim.py -m``, and the progress bar counts finished archives from the launching process.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import xarray as xr
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from analysis.archives import find_archives
from analysis.sweep_progress import SweepProgressBar, count_jobs, finished_archives
from base.archive import verify_archive

ROOT = Path(__file__).resolve().parents[1]


def hydra_config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "scenarios"), version_base="1.3"):
        return compose(config_name="config", overrides=["calibrated=none", "hydra.job.name=sim", *overrides],
                       return_hydra_config=True)


def test_the_default_launcher_is_local_parallel_joblib():
    cfg = hydra_config()
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == -1
    assert cfg.hydra.callbacks.sweep_progress._target_ == "analysis.sweep_progress.SweepProgressBar"
    sweep = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)
    assert sweep["subdir"] == "${hydra.job.num}_${scenario.name}"
    assert sweep["dir"].startswith("runs/multirun/")


@pytest.mark.parametrize("launcher, target", [
    ("basic", "BasicLauncher"), ("submitit_local", "LocalLauncher"), ("slurm", "SlurmLauncher"),
    ("parallel", "JoblibLauncher"),
])
def test_every_launcher_config_composes(launcher, target):
    cfg = hydra_config(f"hydra/launcher={launcher}")
    assert cfg.hydra.launcher._target_.endswith(target)


def test_slurm_config_becomes_a_valid_sbatch_script(tmp_path, monkeypatch):
    """Instantiate the SLURM launcher and intercept the submission: the parameters it passes to
    submitit must be accepted and produce the sbatch options of scenarios/hydra/launcher/slurm.yaml."""
    import submitit
    from hydra.utils import instantiate
    from submitit.slurm import slurm

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")

    class Submitted(Exception):
        pass

    def intercept(self, function, *arguments):
        raise Submitted(self, arguments)

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", intercept)
    sweep_dir = tmp_path / "sweep"
    cfg = hydra_config("hydra/launcher=slurm", "hydra.launcher.partition=debug",
                       "hydra.launcher.account=imsim", f"hydra.sweep.dir={sweep_dir}")
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    with pytest.raises(Submitted) as submitted:
        launcher.launch([["scenario=baseline"], ["scenario=strict_land"]], initial_job_idx=0)
    executor, arguments = submitted.value.args
    assert len(arguments[0]) == 2, "one array task per job"
    parameters = executor._executor.parameters
    script = slurm._make_sbatch_string(command="python sim.py", folder=str(sweep_dir), **parameters)
    for option in ("--partition=debug", "--account=imsim", "--time=30", "--mem=2GB", "--cpus-per-task=1"):
        assert f"#SBATCH {option}" in script, option
    assert parameters["array_parallelism"] == 64
    assert str(executor.folder).startswith(str(sweep_dir / ".submitit"))


def test_submitit_local_executor_runs_a_tiny_sweep(tmp_path):
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "sim.py", "-m", "hydra/launcher=submitit_local", "scenario=baseline,strict_land",
         "calibrated=none", "plots=false", "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    archives = find_archives([sweep_dir])
    assert [p.name for p in archives] == ["0_baseline", "1_strict_land"]
    assert (sweep_dir / ".submitit").is_dir(), "submitit's logs stay in a hidden directory"
    for archive in archives:  # calibrated=none: point runs (the launcher, not the ensemble, is tested)
        manifest = verify_archive(archive)
        assert manifest["scenario"] == archive.name.split("_", 1)[1]
        with xr.open_dataset(archive / "outputs.nc") as outputs:
            assert outputs["time"].values[-1] == 2035


# --------------------------------------------------------------------------- progress bar
def test_count_jobs_expands_the_sweep_like_the_basic_sweeper():
    config = OmegaConf.create({"hydra": {"overrides": {"task": ["scenario=a,b,c", "ensemble.seed=1,2",
                                                                 "plots=false"]},
                                         "sweeper": {"params": None}}})
    assert count_jobs(config) == 6
    assert count_jobs(OmegaConf.create({"hydra": {"overrides": {"task": ["x=range(0,4)"]}}})) == 4
    # the basic sweeper cannot expand an interval (another sweeper would): no total, no failure
    assert count_jobs(OmegaConf.create({"hydra": {"overrides": {"task": ["x=interval(0,1)"]}}})) is None


def test_the_bar_counts_finished_archives_and_survives_pickling(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "0_old").mkdir()
    (sweep_dir / "0_old" / "manifest.json").write_text("{}")  # finished before this sweep: not counted
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)},
                                         "overrides": {"task": ["scenario=a,b"]}}})
    bar = SweepProgressBar(enabled=True, poll_interval=0.05)
    bar.on_multirun_start(config)
    pickle.loads(pickle.dumps(bar))  # Hydra ships the callbacks to joblib/submitit workers
    for name in ("1_a", "2_b"):
        (sweep_dir / name).mkdir()
        (sweep_dir / name / "manifest.json").write_text("{}")
        time.sleep(0.15)
    (sweep_dir / ".3_c.partial-1").mkdir()  # a staging directory is not a finished job
    bar.on_multirun_end(config)
    assert finished_archives(sweep_dir) == 3
    err = capsys.readouterr().err
    assert "2/2" in err and "3/2" not in err
    assert not any(t.name == "sweep-progress" for t in threading.enumerate())


def test_the_bar_stays_off_when_disabled_or_not_a_terminal(tmp_path):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "overrides": {"task": []}}})
    for enabled in (False, "auto"):  # pytest's stderr is not a terminal
        bar = SweepProgressBar(enabled=enabled)
        bar.on_multirun_start(config)
        assert bar._thread is None
        bar.on_multirun_end(config)
    with pytest.raises(ValueError, match="enabled must be auto, true or false"):
        SweepProgressBar(enabled="sometimes")


def test_a_failed_sweep_stops_the_bar_then_reports_and_exits_1(tmp_path):
    """A sweep with a missing archive exits with status 1 (SystemExit), after which Hydra runs no end
    callback: the launcher runs them itself, so the bar ends on its own line before the report."""
    sweep_dir = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "sim.py", "-m", "ensemble.samples=20,2000000000", "plots=false",
         "hydra.launcher.n_jobs=2", "hydra.callbacks.sweep_progress.enabled=true",
         f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    lines = done.stderr.split("\n")
    head = [i for i, line in enumerate(lines) if line.startswith(f"sweep {sweep_dir}: 1 of 2 archive(s) complete")]
    assert head, f"the report starts a line of its own (the bar was closed first):\n{done.stderr}"
    assert "sweep: jobs finished" in "\n".join(lines[:head[0]])
    assert "sweep: jobs finished" not in "\n".join(lines[head[0]:]), "no bar drawn over or after the report"
    assert any(line.startswith("  MISSING   1_baseline: refused (exit status 2;") for line in lines[head[0]:])


def test_without_accounting_the_slurm_launcher_says_so_instead_of_waiting(tmp_path, monkeypatch):
    """squeue (the controller) tells when the tasks are gone; sacct (accounting) how they ended. A site
    without accounting gets 'unknown', never a wait for ever."""
    from simulator.launchers import queued_tasks, task_states

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "squeue").write_text("#!/bin/sh\nexit 0\n")  # nothing queued
    (fake_bin / "sacct").write_text(
        "#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n")
    for tool in ("squeue", "sacct"):
        (fake_bin / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    assert queued_tasks("7") == set()
    assert task_states("7") is None
