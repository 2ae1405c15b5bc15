"""A sweep on a real single-node SLURM cluster: submit, cancel a task, warn one of its time limit,
rerun into the same sweep directory, compare.

The cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd from Debian's packages) is installed and
started by :class:`slurm_cluster.SlurmCluster` (tests/slurm/slurm_cluster.py) in a temporary directory and stopped by PID at
the end. If the packages cannot be installed the test fails and says so (it never skips). The
timings are printed (``pytest -s tests/slurm``).
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from base.archive import verify_archive

from slurm_cluster import PARTITION, SlurmCluster

pytestmark = pytest.mark.slurm
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("baseline", "strict_water", "water_saving")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        alive = [f"{d.name} (pid {d.pid})" for d in cluster.daemons if d.process.poll() is None]
        assert not alive, f"daemons still running after stop: {alive}"
        cluster.remove_database()


class Launch:
    """``sim.py -m ...`` running in the background; its stderr collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        pytest.fail(f"no line matching {pattern!r}; stderr so far:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        out = self.process.stdout.read()
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()
        return status, out, "\n".join(self.lines)


def wait_for_task_start(log: Path, timeout: float = 120) -> None:
    """Until the task's log says the job started (its signal handlers are installed by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and re.search(r"^sim\.py: SLURM task \S+ on \S+: job \d+ .* started$",
                                       log.read_text(errors="replace"), re.M):
            return
        time.sleep(0.05)
    pytest.fail(f"{log} never said the task started")


def test_a_sweep_on_real_slurm_cancel_rerun_compare(cluster, tmp_path):
    timings = dict(cluster.timings)
    sweep = tmp_path / "sweep"
    # with its plots a job takes about 3 s after it says it started: time enough to signal it;
    # one task at a time, so that the test signals each task while it runs
    command = [sys.executable, "sim.py", "-m", f"scenario={','.join(SCENARIOS)}", "ensemble.samples=50",
               "hydra/launcher=slurm", f"hydra.launcher.partition={PARTITION}",
               "hydra.launcher.array_parallelism=1", f"hydra.sweep.dir={sweep}"]

    # a time limit shorter than twice SLURM's warning is refused before anything is submitted
    short = subprocess.run([*command, "hydra.launcher.timeout_min=1"], cwd=ROOT, env=cluster.env,
                           capture_output=True, text=True, timeout=120)
    assert short.returncode == 2 and "timeout_min=1" in short.stderr and "Traceback" not in short.stderr
    assert len(short.stderr.strip().splitlines()) == 1, short.stderr
    assert cluster.run("squeue", "-h").stdout.strip() == ""

    # --- first launch: task 1 is cancelled while it runs, task 2 gets SLURM's time-limit warning
    started = time.perf_counter()
    launch = Launch(command, cluster.env)
    array = launch.wait_for(r"submitted SLURM array job (\d+): 3 task\(s\)").group(1)
    logs = sweep / ".submitit"
    wait_for_task_start(logs / f"{array}_1" / f"{array}_1_0_log.err")
    cluster.run("scancel", f"{array}_1", check=True)
    wait_for_task_start(logs / f"{array}_2" / f"{array}_2_0_log.err")
    cluster.run("scancel", "--signal=USR2", f"{array}_2", check=True)
    status, out, err = launch.finish()
    timings["sweep_s"] = time.perf_counter() - started

    assert status == 1, err
    assert "Traceback" not in err + out, err
    for expected in (f"sweep {sweep}: 3 job(s)", f"watch:  squeue -j {array}", f"cancel: scancel {array}",
                     "Ctrl-C here stops only this launcher", f"sweep {sweep}: 1 of 3 archive(s) complete"):
        assert expected in err, f"{expected!r} not in:\n{err}"
    report = {line.split()[1].rstrip(":"): line for line in err.splitlines()
              if line.startswith(("  complete", "  MISSING"))}
    assert set(report) == {"0_baseline", "1_strict_water", "2_water_saving"}, err
    assert report["0_baseline"].startswith("  complete") and "urbanization 2025" in report["0_baseline"]
    cancelled, warned = report["1_strict_water"], report["2_water_saving"]
    assert cancelled.startswith("  MISSING") and f"task {array}_1 ended: CANCELLED" in cancelled, cancelled
    assert "SIGTERM" in cancelled and f"{array}_1_0_log.err" in cancelled, cancelled
    assert warned.startswith("  MISSING") and f"task {array}_2 ended: FAILED" in warned, warned
    assert "SIGUSR2" in warned and "timeout_min" in warned, warned
    assert "2 job(s) missing: rerun to redo only those: python sim.py" in err
    assert not list(sweep.glob(".*.partial-*")), "a signalled task leaves no staging directory"

    # --- the comparison names what is missing instead of skipping it
    refused = subprocess.run([sys.executable, "-m", "analysis.compare", str(sweep)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    for name, task in (("1_strict_water", "1"), ("2_water_saving", "2")):
        assert name in refused.stderr and f"{array}_{task}_0_log.err" in refused.stderr, refused.stderr

    # --- rerun: the same command submits the gaps; Ctrl-C stops the launcher, not the jobs
    started = time.perf_counter()
    rerun = Launch(command, cluster.env)
    second = rerun.wait_for(r"submitted SLURM array job (\d+): 2 task\(s\)").group(1)
    rerun.wait_for(r"Ctrl-C here stops only this launcher")
    rerun.process.send_signal(signal.SIGINT)
    status, out, err = rerun.finish()
    assert status == 130 and "Traceback" not in err, err
    assert "skip 0_baseline: archive complete and verified" in err
    assert "run  1_strict_water" in err and "run  2_water_saving" in err
    stopped = [line for line in err.splitlines() if line.startswith("sim.py: interrupted")]
    assert len(stopped) == 1 and "keep running" in stopped[0] and f"scancel {second}" in stopped[0], err
    deadline = time.monotonic() + 180
    while cluster.run("squeue", "-h", "-j", second).stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.5)
    interrupted = rerun.lines
    # ... the jobs ran on; the same command once more collects their archives, submitting nothing
    collect = Launch(command, cluster.env)
    status, out, err = collect.finish()
    timings["rerun_s"] = time.perf_counter() - started
    assert status == 0, err
    for name in ("0_baseline", "1_strict_water", "2_water_saving"):
        assert f"skip {name}: archive complete and verified" in err, err
    assert "submitted SLURM array job" not in err
    assert f"sweep {sweep}: 3 of 3 archive(s) complete and verified" in err
    assert "Traceback" not in err

    first_command = command[1:]
    for num, name in enumerate(f"{i}_{s}" for i, s in enumerate(SCENARIOS)):
        manifest = verify_archive(sweep / name)
        assert manifest["command"][1:] == first_command, manifest["command"]
        slurm = manifest["slurm"]
        job = array if num == 0 else second
        task = 0 if num == 0 else num - 1
        assert slurm["SLURM_ARRAY_JOB_ID"] == job and slurm["SLURM_ARRAY_TASK_ID"] == str(task), slurm
        assert slurm["SLURM_JOB_ID"] and slurm["node"] == "localhost", slurm
    assert len(json.loads((sweep / ".sweep" / "jobs.json").read_text())["jobs"]) == 3

    started = time.perf_counter()
    compared = subprocess.run([sys.executable, "-m", "analysis.compare", str(sweep)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    timings["compare_s"] = time.perf_counter() - started
    assert compared.returncode == 0, compared.stderr
    table = (sweep / "comparison" / "comparison.csv").read_text()
    assert all(scenario in table for scenario in SCENARIOS)
    print("\nreal SLURM test timings [s]: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print("first launch, what the user saw:\n" + "\n".join(launch.lines))
    print("rerun, Ctrl-C after the submission:\n" + "\n".join(interrupted))
    print("the same command once more:\n" + "\n".join(collect.lines))
