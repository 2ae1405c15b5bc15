"""The population chain prototype (``tests/models/population_chain.mdl``), measured:
``python -m benchmarks.population_chain``.

Prints, in this order:

1. **Dispersion against an exact cohort shift.** A cohort of 1,000,000 in cell 30 and no other
   flows: its mean age and standard deviation after 5, 10 and 15 years in the chain (exact shift:
   standard deviation 0), and the same for the alternative the chain replaces, 5-year groups with
   first-order ageing (outflow ``P / 5`` per year, Euler at dt 0.25), whose residence time in a group
   is geometric (variance ``(1 - p) / p**2 dt**2``, ``p = dt / 5``). Also the 65+ share of 2035 from
   ageing the 2020 census alone (no deaths, births or migration) with each scheme.
2. **Leslie benchmark.** The chain (residence-free rates) against the plain Leslie projection of
   :func:`calibration.leslie.leslie_projection` at dt 0.25 and 0.125: relative error of the total and error of
   the 65+ share (pp) in 2025, 2030, 2035, with the Euler bound the test uses; and the same for the
   5-year first-order alternative (:func:`five_year_projection`).
3. **What the chain does** at the ``.mdl`` values (not calibrated): population, births, deaths,
   out-migration, 65+ share, resident and official hukou rates in 2020, 2025, 2030, 2035.
4. **Speed.** Vectorized engine at N = 1, 1,000 and 10,000 (median of 3 after a warm-up), PySD
   for one run.

Ends with one JSON line. Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from base import census, demography as demo
from calibration.leslie import BENCHMARK_RATE, benchmark_parameters, leslie_projection
from model.pysd_engine import load_pysd_model
from model.vectorized import VectorizedModel

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "models" / "population_chain.mdl"


def first_order_groups(initial_by_group: np.ndarray, years: float, dt: float = 0.25) -> np.ndarray:
    """Ageing only, in 5-year groups with first-order outflow P/5 (Euler), the open group 85+ kept."""
    state = initial_by_group.astype(float).copy()
    rate = np.full(state.size, 1 / 5)
    rate[-1] = 0.0
    for _ in range(int(round(years / dt))):
        out = state * rate * dt
        state = state - out + np.concatenate(([0.0], out[:-1]))
    return state


def dispersion(engine) -> dict:
    initial = np.zeros((demo.N_AGE, 2, 3))
    initial[30, 1, 2] = 1e6
    params = {"initial_population": initial, "tfr_2015": 0.0, "out_migration_rate": np.zeros(3),
              "rural_to_urban_migration_rate": 0.0, "settlement_rate": 0.0, "reclassification_rate": 0.0}
    cells = engine.run(params, return_columns=["population"], final_time=2035)["population"][:, 0]
    cells = cells.sum(axis=(2, 3))
    ages = demo.AGE_LOWER.astype(float)
    out = {}
    for k in (5, 10, 15):
        weights = cells[k] / cells[k].sum()
        mean = (weights * ages).sum()
        chain_sd = float(np.sqrt((weights * (ages - mean) ** 2).sum()))
        groups = np.zeros(18)
        groups[6] = 1.0  # the 5-year group 30-34
        aged = first_order_groups(groups, k)
        centre = np.arange(18) * 5 + 2.5
        g_mean = (aged * centre).sum() / aged.sum()
        g_sd = float(np.sqrt((aged * (centre - g_mean) ** 2).sum() / aged.sum()))
        out[k] = {"chain_mean_shift": float(mean - 30), "chain_sd": chain_sd,
                  "five_year_mean_shift": float(g_mean - 32.5), "five_year_sd": g_sd}
    # the 65+ share of 2035 from ageing the 2020 census alone
    by_age = census.census_2020().counts.sum(axis=(1, 2))
    exact = np.concatenate((np.zeros(15), by_age[:-16], [by_age[-16:].sum()]))
    groups = np.append(by_age[:85].reshape(17, 5).sum(axis=1), by_age[85:].sum())
    aged = first_order_groups(groups, 15)
    out["share_65_2035_ageing_only"] = {"exact_shift": float(exact[65:].sum() / exact.sum()),
                                        "five_year_first_order": float(aged[13:].sum() / aged.sum())}
    return out


def five_year_projection(params: dict, years: int, rate: float, dt: float = 0.25) -> dict:
    """The alternative design, for comparison: 5-year groups (0-4 ... 80-84, 85+) with first-order
    ageing ``P / 5`` (Euler, ``dt``), the same schedules averaged over each group with the 2020 census
    weights, the same residence-free rates as the Leslie benchmark. Returns totals and 65+ shares at
    the year-ends."""
    initial = census.census_2020().counts.sum(axis=2)  # (cell, sex)
    weights = initial.sum(axis=1)
    index = np.minimum(np.arange(demo.N_AGE) // 5, 17)

    def grouped(values, w=weights):
        return np.array([(values[index == g] * w[index == g]).sum() / w[index == g].sum() for g in range(18)])

    pop = np.stack([np.array([initial[index == g, j].sum() for g in range(18)]) for j in range(2)], axis=1)
    profile = grouped(demo.migration_profile(weights))
    fertility = grouped(demo.asfr(1.0), initial[:, 1]) * 5  # per woman of the group and year
    ageing = np.full(18, 0.2)
    ageing[-1] = 0.0
    srb = params["sex_ratio_at_birth"]
    shares = np.array([srb / (1 + srb), 1 / (1 + srb)])
    totals, old = [pop.sum()], [pop[13:].sum() / pop.sum()]
    steps = int(round(1 / dt))
    for step in range(years * steps):
        s = 2020 + step * dt - 2015
        tfr = (params["tfr_2015"] * np.exp(params["tfr_trend"] * s)
               * (1 + params["two_child_catch_up_peak"] * s / params["two_child_catch_up_time"]
                  * np.exp(1 - s / params["two_child_catch_up_time"])))
        e0 = params["e0_2015"] + params["e0_trend"] * s
        gap = params["e0_sex_gap"]
        hazard = np.stack([grouped(demo.life_table(e).hazard) for e in
                           (e0 - gap / (1 + srb), e0 + gap * srb / (1 + srb))], axis=1)
        births = tfr * (fertility / 5 * pop[:, 1]).sum()
        out = pop * ageing[:, None]
        change = -out - pop * (hazard + rate * profile[:, None])
        change[1:] += out[:-1]
        change[0] += births * shares
        pop = pop + dt * change
        if (step + 1) % steps == 0:
            totals.append(pop.sum())
            old.append(pop[13:].sum() / pop.sum())
    return {"total": np.array(totals), "share_65": np.array(old)}


def leslie_comparison(engine) -> dict:
    years = 15
    leslie = leslie_projection(engine.parameters, years, BENCHMARK_RATE)
    out = {}
    for dt in (0.25, 0.125):
        r = engine.run(benchmark_parameters(), return_columns=["total_population", "share_65_plus"],
                       final_time=2020 + years, time_step=dt)
        total = r["total_population"][:, 0].ravel()
        share = r["share_65_plus"][:, 0].ravel()
        bound = np.cumsum(leslie["euler"]) * dt
        out[dt] = {year: {"rel_total": float(total[year - 2020] / leslie["total"][year - 2020] - 1),
                          "bound_total": float(bound[year - 2021]),
                          "share_65_pp": float(100 * (share[year - 2020] - leslie["share_65"][year - 2020]))}
                   for year in (2025, 2030, 2035)}
    groups = five_year_projection(engine.parameters, years, BENCHMARK_RATE)
    out["five_year"] = {year: {"rel_total": float(groups["total"][year - 2020] / leslie["total"][year - 2020] - 1),
                               "bound_total": float("nan"),
                               "share_65_pp": float(100 * (groups["share_65"][year - 2020]
                                                           - leslie["share_65"][year - 2020]))}
                        for year in (2025, 2030, 2035)}
    return out


def behaviour(engine) -> dict:
    names = ["total_population", "total_births", "total_deaths", "total_out_migration", "share_65_plus",
             "resident_hukou_share", "official_hukou_urbanization_rate", "registered_population"]
    r = engine.run(return_columns=names)
    return {year: {name: float(r[name][year - 2020, 0]) for name in names} for year in (2020, 2025, 2030, 2035)}


def speed(engine) -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for n in (1, 1000, 10000):
        params = {"tfr_2015": rng.uniform(0.9, 1.8, n), "e0_trend": rng.uniform(0.0, 0.5, n)}
        engine.run(params, return_columns=["total_population"])
        times = []
        for _ in range(3):
            start = time.perf_counter()
            engine.run(params, return_columns=["total_population", "share_65_plus", "total_births"])
            times.append(time.perf_counter() - start)
        out[f"vectorized_{n}_s"] = statistics.median(times)
    model = load_pysd_model(MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.run(return_columns=["total_population"], progress=False)
        out["pysd_run_s"] = time.perf_counter() - start
    return out


def main() -> None:
    start = time.perf_counter()
    engine = VectorizedModel.from_mdl(MODEL)
    compile_s = time.perf_counter() - start
    spread = dispersion(engine)
    print("1. Dispersion against an exact cohort shift (cohort at age 30, no other flows)")
    for k in (5, 10, 15):
        d = spread[k]
        print(f"   after {k:2d} years: chain mean shift {d['chain_mean_shift']:6.3f} sd {d['chain_sd']:.3g};"
              f"  5-year first-order groups: mean shift {d['five_year_mean_shift']:6.3f} sd {d['five_year_sd']:.2f}")
    s = spread["share_65_2035_ageing_only"]
    print(f"   65+ share 2035 from ageing the 2020 census alone: exact shift {100 * s['exact_shift']:.2f} %,"
          f" 5-year first-order {100 * s['five_year_first_order']:.2f} %")
    comparison = leslie_comparison(engine)
    print("2. Chain against the plain Leslie projection (same rates; residence-free)")
    for dt, rows in comparison.items():
        for year, row in rows.items():
            what = f"dt {dt:<6}" if dt != "five_year" else "5-year groups, first order, dt 0.25:"
            bound = f" (Euler bound {row['bound_total']:.2e})" if dt != "five_year" else ""
            print(f"   {what} {year}: total {row['rel_total']:+.2e}{bound}, 65+ share {row['share_65_pp']:+.4f} pp")
    result = behaviour(engine)
    print("3. What the chain does at the .mdl values (not calibrated)")
    print("   year  population   births   deaths  out-migr.  65+ %  hukou % (resident)  official %")
    for year, row in result.items():
        print(f"   {year}  {row['total_population']:10.0f} {row['total_births']:8.0f} {row['total_deaths']:8.0f}"
              f" {row['total_out_migration']:9.0f}  {100 * row['share_65_plus']:5.2f}  {row['resident_hukou_share']:6.2f}"
              f"              {row['official_hukou_urbanization_rate']:6.2f}")
    timing = speed(engine)
    print(f"4. Speed: compile {compile_s:.2f} s; vectorized N=1 {timing['vectorized_1_s'] * 1e3:.1f} ms, "
          f"N=1,000 {timing['vectorized_1000_s']:.2f} s, N=10,000 {timing['vectorized_10000_s']:.2f} s; "
          f"PySD one run {timing['pysd_run_s']:.2f} s")
    print(json.dumps({"dispersion_sd_15y_chain": spread[15]["chain_sd"],
                      "dispersion_sd_15y_five_year": spread[15]["five_year_sd"],
                      "leslie_rel_total_2035_dt025": comparison[0.25][2035]["rel_total"],
                      "leslie_share65_pp_2035_dt025": comparison[0.25][2035]["share_65_pp"],
                      "five_year_rel_total_2035": comparison["five_year"][2035]["rel_total"],
                      "five_year_share65_pp_2035": comparison["five_year"][2035]["share_65_pp"],
                      **timing}))


if __name__ == "__main__":
    main()
