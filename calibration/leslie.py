"""A plain cohort-component (Leslie) projection with the main model's schedules and rates.

It is the independent benchmark the chain of ``model/inner_mongolia.mdl`` is compared with, by
``tests/test_population_chain.py`` (within the Euler bound, first order in the time step) and by
``python -m benchmarks.population_chain`` (which prints the differences). It shares the schedules of
:mod:`base.demography` and the initial state of :mod:`base.census`, not the ``.mdl``'s equations: the
TFR path, the e0 path and the life tables are written here from their definitions.

**Residence-free rates.** The model's totals depend on residence through three things: the rural TFR
ratio, the out-migration rates by residence and the out-migrants' age weights, which are normalised
on each residence's own population. With equal fertility in every residence and no out-migration
(:func:`benchmark_parameters`), births and deaths depend on age and sex only and the moves inside the
region (migration, reclassification, settlement) carry people between residences at their age and
sex: the totals by age and sex must then be those of a projection without residence, whatever the
urbanization flows do. The process-noise shocks are 0 at the ``.mdl`` values (no noise).
"""
from __future__ import annotations

import numpy as np

from base import census, demography as demo

#: The benchmark's first year: the main model's INITIAL TIME (end of 2015, base.census.census_2015).
START = 2015
#: Points of the midpoint rule for the year's mean TFR (and of the grid of the birth rate's variation).
TFR_POINTS = 400


def benchmark_parameters() -> dict:
    """The main model's overrides for the benchmark: the same TFR in every residence, no out-migration,
    the central Gompertz slope (the benchmark's life tables are :func:`base.demography.life_table`)."""
    return {"rural_to_urban_fertility_ratio": 1.0, "base_out_migration_rate": 0.0,
            "gompertz_slope_change": 0.0}


def tfr_path(params: dict, year: float) -> float:
    """TFR at ``year`` [Dmnl]: ``tfr 2015`` x its trend to the trend break year (2020) and its trend
    after it, x the two-child pulse ``1 + peak * s / T * exp(1 - s / T)``, ``s`` years after the
    policy start (the ``.mdl``'s comments define these; written here from them)."""
    trend_years = min(year, params["trend_break_year"]) - params["trend_base_year"]
    after = max(0.0, year - params["trend_break_year"])
    s = max(0.0, year - params["two_child_policy_start"])
    catch_up = params["two_child_catch_up_time"]
    return (params["tfr_2015"] * np.exp(params["tfr_trend"] * trend_years + params["tfr_trend_after_2020"] * after)
            * (1 + params["two_child_catch_up_peak"] * s / catch_up * np.exp(1 - s / catch_up)))


def leslie_projection(params: dict, years: int, initial: np.ndarray | None = None) -> dict:
    """A plain cohort-component (Leslie) projection in yearly steps, no migration.

    Year by year: survivors of cell c move to cell c + 1 (the open cell keeps its own) with survival
    ``exp(-h)`` of the destination cell's hazard ``h`` (the life table at the year's e0 by sex);
    births = TFR x sum(ASFR x women's exposure), the exposure of a cell being
    ``shifted * (1 - exp(-h)) / h``; a year's births, spread evenly over it, survive to its end with
    ``(1 - exp(-h0)) / h0``. The TFR is its mean over the year (midpoint rule on
    :data:`TFR_POINTS` points: the two-child pulse peaks within a year or two, so its mid-year value
    is not the year's), e0 (linear in time) at mid-year.

    Parameters
    ----------
    params : dict
        The model's parameter values (``VectorizedModel.parameters`` with the benchmark's overrides).
    years : int
        Number of years projected from :data:`START`.
    initial : numpy.ndarray, optional
        Initial state ``(age, sex[, residence])`` [persons]; default :func:`base.census.census_2015`.

    Returns
    -------
    dict
        ``total`` [persons] and ``share_65`` [Dmnl] at the year-ends (``years + 1`` values), and per
        year the first-order Euler error indicators [1/Year] (an Euler step of ``dt`` is off by
        ``indicator * dt`` per year, relative): of the deaths, ``sum(P * h**2) / 2 / P`` over all cells
        (``euler``) and over the cells 65+ (``euler_old``), and of the births (a left Riemann sum of
        the birth rate ``B`` over the year: the two-child pulse rises and falls within the first
        year), ``total variation of B over the year / 2 / P``, plus the newborns' deaths (an Euler step's
        births are exposed from the step's end, half a step late), ``births * h0 / 2 / P``
        (``euler_births``); and the births'
        second-order term ``total variation of dB/dt over the year / 12 / P`` (``euler_births_2``,
        [1/Year**2], times ``dt**2``: the pulse bends the birth rate sharply in its first year).
    """
    pop = census.census_2015().counts if initial is None else np.asarray(initial, dtype=float)
    if pop.ndim == 3:
        pop = pop.sum(axis=2)
    fertility = demo.asfr(1.0)
    srb = params["sex_ratio_at_birth"]
    shares = (srb / (1 + srb), 1 / (1 + srb))
    gap = params["e0_sex_gap"]
    totals, old = [pop.sum()], [pop[65:].sum() / pop.sum()]
    euler, euler_old, euler_births, euler_births_2 = [], [], [], []
    for year in range(years):
        mid = START + year + 0.5
        e0 = params["e0_2015"] + params["e0_trend"] * (mid - params["trend_base_year"])
        hazards = [demo.life_table(e0 - gap / (1 + srb)).hazard, demo.life_table(e0 + gap * srb / (1 + srb)).hazard]
        tfr = np.mean([tfr_path(params, START + year + (k + 0.5) / TFR_POINTS) for k in range(TFR_POINTS)])
        new = np.zeros_like(pop)
        births = indicator = indicator_old = 0.0
        for j, hazard in enumerate(hazards):
            shifted = np.concatenate(([0.0], pop[:-2, j], [pop[-2, j] + pop[-1, j]]))
            new[:, j] = shifted * np.exp(-hazard)
            indicator += (shifted * hazard ** 2).sum() / 2
            indicator_old += (shifted * hazard ** 2)[65:].sum() / 2
            if j == 1:
                births = tfr * (fertility * shifted * -np.expm1(-hazard) / hazard).sum()
                # the birth rate B(u) at TFR_POINTS + 1 times u of the year, for its total variation
                u = np.linspace(0.0, 1.0, TFR_POINTS + 1)
                rate = (np.array([tfr_path(params, START + year + v) for v in u])
                        * (np.exp(-np.outer(u, hazard)) @ (fertility * shifted)))
                variation = np.abs(np.diff(rate)).sum()
                slope_variation = np.abs(np.diff(np.gradient(rate, u))).sum()
        for j, hazard in enumerate(hazards):
            new[0, j] = births * shares[j] * -np.expm1(-hazard[0]) / hazard[0]
        pop = new
        totals.append(pop.sum())
        old.append(pop[65:].sum() / pop.sum())
        euler.append(indicator / pop.sum())
        euler_old.append(indicator_old / pop[65:].sum())
        newborn_hazard = shares[0] * hazards[0][0] + shares[1] * hazards[1][0]
        euler_births.append((variation + births * newborn_hazard) / 2 / pop.sum())
        euler_births_2.append(slope_variation / 12 / pop.sum())
    return {"total": np.array(totals), "share_65": np.array(old), "euler": np.array(euler),
            "euler_old": np.array(euler_old), "euler_births": np.array(euler_births),
            "euler_births_2": np.array(euler_births_2)}
