"""A progress bar for Hydra sweeps (``python sim.py -m ...``), drawn by the launching process.

With the joblib launcher the jobs run in worker processes, with submitit on other machines: a
bar updated from inside the jobs would print from many processes at once. The bar therefore
lives in the process that launched the sweep and counts finished *archives* (a job is finished
when its ``manifest.json`` exists: archives are renamed into place only when complete). This
works the same for the basic, joblib and submitit launchers, and the job's own output scrolls
above the bar.

Configured in ``scenarios/config.yaml``::

    hydra:
      callbacks:
        sweep_progress:
          _target_: analysis.sweep_progress.SweepProgressBar
          enabled: auto      # auto: only when stderr is a terminal; true / false to force
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from tqdm import tqdm
from omegaconf import DictConfig, OmegaConf

from base.archive import RunArchive



def count_jobs(config: DictConfig) -> Optional[int]:
    """Number of jobs of the sweep described by ``config`` (``None`` if it cannot be told).

    Expands the command-line sweep overrides and ``hydra.sweeper.params`` as Hydra's basic
    sweeper does (cartesian product of comma-separated lists).
    """
    try:
        arguments = [f"{key}={value}" for key, value in
                     (OmegaConf.select(config, "hydra.sweeper.params") or {}).items()]
        arguments += list(OmegaConf.select(config, "hydra.overrides.task") or [])
        overrides = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(overrides, None)
        return sum(len(batch) for batch in batches)
    except Exception:  # another sweeper (e.g. an optimiser) or an unparseable override
        return None


def finished_archives(sweep_dir: Path) -> int:
    """Number of finished job archives (sub-directories holding a manifest) in ``sweep_dir``."""
    if not sweep_dir.is_dir():
        return 0
    return sum(1 for path in sweep_dir.iterdir()
               if path.is_dir() and not path.name.startswith(".") and RunArchive(path).complete)


class SweepProgressBar(Callback):
    """Hydra callback: a tqdm bar on stderr counting the finished jobs of a multirun.

    Parameters
    ----------
    enabled : {"auto", True, False}
        ``"auto"`` draws the bar only when stderr is a terminal (so logs and CI output stay
        clean); ``True`` forces it, ``False`` turns it off.
    poll_interval : float
        Seconds between two looks at the sweep directory [s].
    """

    def __init__(self, enabled: Any = "auto", poll_interval: float = 0.5) -> None:
        if enabled not in ("auto", True, False):
            raise ValueError(f"SweepProgressBar.enabled must be auto, true or false, got {enabled!r}")
        if not poll_interval > 0:
            raise ValueError(f"SweepProgressBar.poll_interval must be > 0 s, got {poll_interval!r}")
        self.enabled = enabled
        self.poll_interval = float(poll_interval)
        self._stop: Optional[threading.Event] = None
        self._thread: Optional[threading.Thread] = None

    # Hydra pickles the callbacks with the job (joblib, submitit): never ship the thread.
    def __getstate__(self) -> dict:
        return {"enabled": self.enabled, "poll_interval": self.poll_interval,
                "_stop": None, "_thread": None}

    def _active(self) -> bool:
        if self.enabled == "auto":
            return sys.stderr.isatty()
        return bool(self.enabled)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self._active():
            return
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        total = count_jobs(config)
        already = finished_archives(sweep_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(sweep_dir, total, already),
                                        name="sweep-progress", daemon=True)
        self._thread.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.stop_drawing()

    def stop_drawing(self) -> None:
        """Draw the last state and stop (the launcher calls it before its final report; idempotent)."""
        if self._thread is None or self._stop is None:
            return
        self._stop.set()
        self._thread.join(timeout=10 * self.poll_interval + 1)
        self._thread, self._stop = None, None

    def _watch(self, sweep_dir: Path, total: Optional[int], already: int) -> None:
        bar = tqdm(total=total, desc="sweep: jobs finished", unit="job", file=sys.stderr,
                   dynamic_ncols=True, leave=True)
        done = 0
        try:
            while True:
                stopping = self._stop.wait(self.poll_interval)
                now = finished_archives(sweep_dir) - already
                if now > done:
                    bar.update(now - done)
                    done = now
                if stopping:
                    break
        finally:
            bar.close()

