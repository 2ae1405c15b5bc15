"""Hydra finds launcher plugins only in the ``hydra_plugins`` namespace: these are the project's
sweep launchers (:mod:`simulator.launchers`, which holds their code) under the names that the
configs ``scenarios/hydra/launcher/parallel.yaml`` and ``slurm.yaml`` give as ``_target_``."""
from simulator import launchers


class JoblibLauncher(launchers.JoblibLauncher):
    """Local parallel sweeps that resume and report (:class:`simulator.launchers.JoblibLauncher`)."""


class SlurmLauncher(launchers.SlurmLauncher):
    """SLURM sweeps that resume and report (:class:`simulator.launchers.SlurmLauncher`)."""
