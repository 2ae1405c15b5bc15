"""Run the Inner Mongolia urbanization model: ``python sim.py [overrides]`` (Hydra 1.3).

Examples
--------
python sim.py                                        # baseline 2015-2035, archive under runs/
python sim.py params.base_settlement_rate=0.02       # any model parameter (checked against its range)
python sim.py scenario=faster_settlement ensemble.samples=2000
python sim.py -m scenario=baseline,strict_water      # a sweep (one job per scenario)
python sim.py hydra.run.dir=/tmp/my_run              # put the archive in /tmp/my_run

The equations live in model/inner_mongolia.mdl; this file only wires the config to the run.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from base.archive import remove_if_empty
from base import signals
from model.spec import ParameterError, load_spec
from simulator.cli import errors_as_exit, run_command, strip_debug_flag
from simulator.config import ConfigError, preprocess_overrides
from simulator.run import model_override, model_path, print_summary, run_job


@hydra.main(version_base="1.3", config_path="scenarios", config_name="config")
def main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    signals.install("sim.py", f"run {output_dir} stopped, no archive written")
    try:
        with errors_as_exit("sim.py"), signals.cleanup_on_signal(signals.remove_if_empty(output_dir)):
            summary = run_job(cfg, output_dir, overrides=list(hydra_cfg.overrides.task))
    except BaseException:
        remove_if_empty(output_dir)  # Hydra made it before the job started
        raise
    print_summary(summary, output_dir)
    return (summary.get("urbanization_rate_pct") or {}).get("2035", float("nan"))


def check_command_line(argv: list[str]) -> list[str]:
    """Check ``params.NAME=VALUE`` overrides before Hydra starts (so nothing is written on error)."""
    if not any("params." in arg for arg in argv):
        return argv
    try:
        return preprocess_overrides(argv, load_spec(model_path(model_override(argv))))
    except (ParameterError, ConfigError) as error:
        print(f"sim.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def run() -> int:
    """The command: checks, then Hydra; errors as one or two lines (tracebacks with --debug)."""
    argv = sys.argv[1:]
    sys.argv[1:] = strip_debug_flag(argv)

    def command() -> None:
        sys.argv[1:] = check_command_line(sys.argv[1:])
        main()

    return run_command("sim.py", command, argv)


if __name__ == "__main__":
    signals.install("sim.py", "nothing was written")
    sys.exit(run())
