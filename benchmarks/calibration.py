"""How long the full calibration takes: ``python -m benchmarks.calibration [--engine E] [--repeat N]``.

Runs what ``python -m calibration`` runs with the settings of ``scenarios/calibrate.yaml`` (primary
fit + noise, the structural posterior (SMC), the bootstrap and joint draws, the other observation
model, the out-of-sample check with its own structural posterior), then writes the
archive into a temporary directory (discarded; the parameter file is not touched), and prints the
wall time of each stage. Not a test: the numbers depend on the machine (target: <= 60 s on 2 cores).
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from calibration.config import load_config
from calibration.pipeline import run_calibration
from calibration.report import parameter_file_text, write_archive
from model.spec import load_spec
from simulator.run import open_engine



def main(argv: list[str] | None = None) -> None:
    """Time the calibration and print the stages [s]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default=None, help="vectorized (default from the config) or pysd")
    parser.add_argument("--repeat", type=int, default=1, help="number of timed repetitions")
    parser.add_argument("--no-archive", action="store_true", help="skip writing the report archive")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    cfg = load_config([f"engine={args.engine}"] if args.engine else [])
    spec = load_spec()
    engine = open_engine(str(cfg.engine.name))
    print(f"setup (imports, model spec, engine compile): {time.perf_counter() - start:6.2f} s")
    for k in range(args.repeat):
        clock = time.perf_counter()
        result = run_calibration(cfg, engine=engine, spec=spec)
        fitted = time.perf_counter() - clock
        stages = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
        print(f"run {k + 1}: calibration {fitted:6.2f} s ({stages}; "
              f"{result.primary.problem.n_model_runs} model runs in the primary fit)")
        for label, outcome in (("primary", result.primary),
                               ("holdout", result.holdout.fit if result.holdout is not None else None)):
            if outcome is not None and outcome.structural is not None:
                post = outcome.structural
                print(f"run {k + 1}: {label} structural posterior {post.wall_time_s:6.2f} s ({post.n_particles} "
                      f"particles, {len(post.steps)} tempering steps, final-step ESS {post.final_ess:.0f})")
        if not args.no_archive:
            clock = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                write_archive(result, Path(tmp) / "archive", spec,
                              parameter_text=parameter_file_text(result, None), plots=bool(cfg.output.plots))
            print(f"run {k + 1}: report archive {time.perf_counter() - clock:6.2f} s")
    print(f"total: {time.perf_counter() - start:6.2f} s (engine {cfg.engine.name}, "
          f"{cfg.uncertainty.draws} joint draws, {cfg.fit.starts} starts, "
          f"{cfg.uncertainty.structural.particles} particles x {cfg.uncertainty.structural.moves} moves)")


if __name__ == "__main__":
    main()
