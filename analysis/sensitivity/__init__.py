"""Global sensitivity analysis (Sobol indices): ``python -m analysis.sensitivity [options]``.

Which inputs drive urbanization, urban water demand, total population and the water stress ratio,
in 2020, 2025, 2030 and 2035? Variance-based (Sobol) indices with respect to

- the **policy levers** (:mod:`analysis.levers`), uniform over their documented ranges (or the
  ranges of ``analysis/sensitivity_ranges.yaml``, each with its reason);
- the **calibrated parameters**, over their draws in ``calibrated.uncertainty``: each is
  sampled from its empirical marginal distribution (inverse empirical CDF of the draws). Sobol
  indices assume independent inputs, so the correlation between the draws is not kept;
- the **assumptions** of the ``.mdl`` (comment ``Assumption:``), uniform over their documented
  ranges;
- the **data marked UNVERIFIED** in the ``.mdl`` (source values with a wide documented range),
  uniform over those ranges.

All other parameters keep the value of the chosen scenario (calibrated point estimates plus the
scenario's values); inputs set by the scenario itself stay fixed, as in the scenario's ensemble.

Why Sobol rather than Morris: the vectorized engine runs ~10^5 parameter sets in seconds, so the
variance decomposition (first-order S1 = share of variance explained alone, total ST = share
including interactions) is affordable, with bootstrap confidence intervals and a convergence check;
Morris would only screen and rank.

Design: SALib's Saltelli scheme on a scrambled Sobol sequence with ``N`` base samples (fixed seed),
``N (D + 2)`` model runs in a few vectorized calls. Convergence: the design for ``N / 2`` is the
first half of the design for ``N``, so the indices are also estimated at ``N / 2``; the change is
reported (stable when every index moves by at most the tolerance, default 0.05).

Writes an archive (atomically, with ``manifest.json``): ``sobol_indices.csv``,
``convergence.csv``, ``factors.csv``, ``sensitivity.md``, ``sobol_<year>.png``,
``sobol_over_time.png``.

The modules follow the workflow, each importing only those above it:

=================  ==================================================================
``options``        groups, default years, design size, tolerance, the error
``design``         which parameters vary and how (:class:`Factor`, range overrides)
``compute``        compose the scenario, run the design, the indices and their convergence
``markdown``       render ``sensitivity.md``
``plots``          render the two figures
``write``          the CSV tables and the archive
``cli``            the command (``__main__`` runs it)
=================  ==================================================================
"""
from .cli import main
from .compute import SensitivityResult, compose_scenario, convergence_rows, evaluate, run_sensitivity
from .design import Factor, classify, input_factors, load_range_overrides
from .markdown import markdown
from .options import (CHUNK_ROWS, CONVERGENCE_TOLERANCE, DEFAULT_N, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_YEARS,
                      GROUPS, RANGES_PATH, SensitivityError)
from .plots import plot_indices, plot_over_time
from .write import factor_rows, indices_rows, to_csv, write_archive

__all__ = [
    "CHUNK_ROWS", "CONVERGENCE_TOLERANCE", "DEFAULT_N", "DEFAULT_RESAMPLES", "DEFAULT_SEED",
    "DEFAULT_YEARS", "GROUPS", "RANGES_PATH", "Factor", "SensitivityError",
    "SensitivityResult", "classify", "compose_scenario", "convergence_rows", "evaluate", "factor_rows",
    "indices_rows", "input_factors", "load_range_overrides", "main", "markdown", "plot_indices",
    "plot_over_time", "run_sensitivity", "to_csv", "write_archive",
]
