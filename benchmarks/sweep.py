"""Speed of a full scenario sweep and its comparison: ``python -m benchmarks.sweep``.

Runs, as a user would, in a temporary directory:

1. ``python sim.py -m scenario=<all ten> ensemble.samples=2000 plots=false`` — a Hydra multirun with
   the default launcher (local joblib, one worker per core), one whole ensemble per job;
2. ``python -m analysis.compare <sweep dir> --out <dir>`` — the comparison with its plots.

Prints the wall time of each step, the per-job compute time recorded in the manifests, and the
time of one composition of the config (a sweep of N jobs composes it 2 + 2N times: twice to start,
once per job in the launching process to check the batch, once per job in the worker), then one
JSON line with the keys ``scenarios``, ``samples``, ``sweep_s``, ``comparison_s``, ``total_s``,
``jobs_compute_s``, ``compose_s``, ``composes``, ``cpus``, ``target_s`` and ``met``. Target on a 2-core machine: total <= 30 s. Not a test: timings depend on
the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from analysis.levers import scenario_files
from base.archive import RunArchive
from base.paths import REPO_ROOT, SCENARIOS_DIR

TARGET_S = 30.0


def all_scenarios() -> list[str]:
    """The scenario files, baseline first (as in the README table)."""
    return [scenario.name for scenario in scenario_files()]


def compose_seconds() -> float:
    """Wall time of one composition of the sim.py config (as each sweep job does) [s]."""
    start = time.perf_counter()
    with initialize_config_dir(config_dir=str(SCENARIOS_DIR), version_base="1.3"):
        compose(config_name="config", overrides=["scenario=baseline"])
    return time.perf_counter() - start


def timed_run(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``command`` from the repository root; return its wall time [s] and the result."""
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"benchmarks.sweep: `{' '.join(command)}` failed with status {completed.returncode}")
    return elapsed, completed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=2000, help="ensemble members per scenario")
    parser.add_argument("--scenarios", default="all", help="comma-separated scenarios (default: all ten)")
    parser.add_argument("--plots", action="store_true", help="also write each job's own plots")
    parser.add_argument("--keep", help="keep the outputs in this directory instead of a temporary one")
    args = parser.parse_args(argv)
    scenarios = all_scenarios() if args.scenarios == "all" else args.scenarios.split(",")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="imsim-sweep-bench-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        sweep_dir, comparison_dir = root / "sweep", root / "comparison"
        sweep_s, _ = timed_run(
            [sys.executable, "sim.py", "-m", f"scenario={','.join(scenarios)}",
             f"ensemble.samples={args.samples}", f"plots={str(args.plots).lower()}",
             f"hydra.sweep.dir={sweep_dir}"], env)
        manifests = sorted(sweep_dir.glob(f"*/{RunArchive.MANIFEST}"))
        jobs_compute_s = sum(json.loads(p.read_text())["wall_time_s"] for p in manifests)
        comparison_s, _ = timed_run(
            [sys.executable, "-m", "analysis.compare", str(sweep_dir), "--out", str(comparison_dir)], env)
        if len(manifests) != len(scenarios):
            raise SystemExit(f"benchmarks.sweep: {len(manifests)} archives for {len(scenarios)} scenarios")
    total = sweep_s + comparison_s
    compose_s = compose_seconds()
    composes = 2 + 2 * len(scenarios)  # launcher: 2 + one check per job; each job once more
    print(f"sweep: {len(scenarios)} scenarios x {args.samples} members, launcher: default "
          f"(joblib, {os.cpu_count()} cores), per-job plots {'on' if args.plots else 'off'}")
    print(f"  sweep wall time        {sweep_s:6.1f} s  (python sim.py -m ...)")
    print(f"  of which in the jobs   {jobs_compute_s:6.1f} s  (sum over jobs of run_job's simulation time)")
    print(f"  config composition     {compose_s:6.2f} s each, {composes} times in a sweep of {len(scenarios)} jobs "
          f"(Hydra/OmegaConf)")
    print(f"  comparison wall time   {comparison_s:6.1f} s  (python -m analysis.compare, with plots)")
    print(f"  total                  {total:6.1f} s  (target <= {TARGET_S:g} s: {'met' if total <= TARGET_S else 'MISSED'})")
    print(json.dumps({"scenarios": len(scenarios), "samples": args.samples, "sweep_s": round(sweep_s, 2),
                      "comparison_s": round(comparison_s, 2), "total_s": round(total, 2),
                      "jobs_compute_s": round(jobs_compute_s, 2), "compose_s": round(compose_s, 3),
                      "composes": composes, "cpus": os.cpu_count(),
                      "target_s": TARGET_S, "met": total <= TARGET_S}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
