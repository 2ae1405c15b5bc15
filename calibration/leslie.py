"""A plain cohort-component (Leslie) projection with the population chain's schedules.

It is the independent benchmark the chain (``tests/models/population_chain.mdl``) is compared with,
by ``tests/test_population_chain.py`` (within the Euler bound, first order in the time step) and by
``python -m benchmarks.population_chain`` (which prints the differences). It shares the schedules of
:mod:`base.demography` and the 2020 census of :mod:`base.census`, not the chain's equations.
"""
from __future__ import annotations

import numpy as np

from base import census, demography as demo

#: The out-migration rate [1/Year] of the benchmark, the same in every residence (so residence does not
#: matter and the chain can be compared with a projection that has none).
BENCHMARK_RATE = 0.006


def benchmark_parameters() -> dict:
    """The chain's parameter overrides for the benchmark: :data:`BENCHMARK_RATE` out-migration and equal
    fertility in every residence (rural, urban without local hukou, urban hukou)."""
    return {"out_migration_rate": np.full(3, BENCHMARK_RATE), "tfr_residence_ratio": np.ones(3)}


def leslie_projection(params: dict, years: int, rate: float) -> dict:
    """A plain cohort-component (Leslie) projection in yearly steps with the chain's schedules.

    Year by year: survivors of cell c move to cell c + 1 (the open cell keeps its own) with survival
    ``exp(-(h + rate * profile))`` of the destination cell; births = TFR x sum(ASFR x women's
    exposure), the exposure of a cell being ``shifted * (1 - exp(-H)) / H``; a year's births, spread
    evenly over it, survive to its end with ``(1 - exp(-H0)) / H0``. TFR and e0 at mid-year.
    Returns totals, 65+ shares and, per year, the Euler error indicators ``sum(P * H**2) / 2 / P``
    over all cells and over the cells 65+ [1/Year].
    """
    pop = census.census_2020().counts.sum(axis=2)
    profile = demo.migration_profile(pop.sum(axis=1))
    fertility = demo.asfr(1.0)
    srb = params["sex_ratio_at_birth"]
    shares = (srb / (1 + srb), 1 / (1 + srb))
    totals, old, euler, euler_old = [pop.sum()], [pop[65:].sum() / pop.sum()], [], []
    for year in range(years):
        s = 2020.5 + year - 2015
        catch_up = params["two_child_catch_up_time"]
        tfr = (params["tfr_2015"] * np.exp(params["tfr_trend"] * s)
               * (1 + params["two_child_catch_up_peak"] * s / catch_up * np.exp(1 - s / catch_up)))
        e0 = params["e0_2015"] + params["e0_trend"] * s
        gap = params["e0_sex_gap"]
        hazards = [demo.life_table(e0 - gap / (1 + srb)).hazard + rate * profile,
                   demo.life_table(e0 + gap * srb / (1 + srb)).hazard + rate * profile]
        new = np.zeros_like(pop)
        births = 0.0
        indicator = indicator_old = 0.0
        for j, total_hazard in enumerate(hazards):
            shifted = np.concatenate(([0.0], pop[:-2, j], [pop[-2, j] + pop[-1, j]]))
            new[:, j] = shifted * np.exp(-total_hazard)
            indicator += (shifted * total_hazard ** 2).sum() / 2
            indicator_old += (shifted * total_hazard ** 2)[65:].sum() / 2
            if j == 1:
                births = tfr * (fertility * shifted * -np.expm1(-total_hazard) / total_hazard).sum()
        for j, total_hazard in enumerate(hazards):
            new[0, j] = births * shares[j] * -np.expm1(-total_hazard[0]) / total_hazard[0]
        pop = new
        totals.append(pop.sum())
        old.append(pop[65:].sum() / pop.sum())
        euler.append(indicator / pop.sum())
        euler_old.append(indicator_old / pop[65:].sum())
    return {"total": np.array(totals), "share_65": np.array(old), "euler": np.array(euler),
            "euler_old": np.array(euler_old)}
