"""The population chain of the main model (``model/inner_mongolia.mdl``), measured:
``python -m benchmarks.population_chain``.

Prints, in this order:

1. **Dispersion against an exact cohort shift.** A cohort of 1,000,000 in cell 30 and no flow but
   deaths (no births or migration of any kind): its mean age and standard deviation after 5, 10 and
   15 years in the chain (exact shift: standard deviation 0), and the same for the alternative the
   chain replaces, 5-year groups with first-order ageing (outflow ``P / 5`` per year, Euler at dt
   0.25, no deaths), whose residence time in a group is geometric (variance ``(1 - p) / p**2 dt**2``,
   ``p = dt / 5``). Also the 65+ share of 2035 from ageing the 2015 initial state alone (no deaths,
   births or migration) with each scheme.
2. **Leslie benchmark.** The chain with the residence-free rates of
   :func:`calibration.leslie.benchmark_parameters` against the plain Leslie projection of
   :func:`calibration.leslie.leslie_projection` at dt 0.25, 0.125 and 0.0625: relative error of the
   total and error of the 65+ share (pp) in 2020, 2025, 2035, with the Euler bound the test uses,
   and the Richardson extrapolation to dt 0 (``2 e(dt/2) - e(dt)``: what is left that is not the
   time step); and the same for the 5-year first-order alternative (:func:`five_year_projection`).

The speed of the main model (and so of the chain) is measured by ``python -m benchmarks.ensemble``.
Ends with one JSON line.
"""
from __future__ import annotations

import json

import numpy as np

from base import census, demography as demo
from calibration.leslie import START, benchmark_parameters, leslie_projection, tfr_path
from model import MODEL_PATH
from model.vectorized import VectorizedModel

YEARS = 20  # 2015-2035
REPORT_YEARS = (2020, 2025, 2035)
#: No flow but deaths (as tests/test_population_chain.py).
DEATHS_ONLY = {"tfr_2015": 0.0, "base_out_migration_rate": 0.0, "base_rural_to_urban_migration_rate": 0.0,
               "base_settlement_rate": 0.0, "student_and_talent_settlement": 0.0,
               "rural_residents_per_converted_km2": 0.0}


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
    cells = engine.run({**DEATHS_ONLY, "initial_population": initial}, return_columns=["population"],
                       final_time=START + 15)["population"][:, 0]
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
    # the 65+ share of 2035 from ageing the 2015 initial state alone (20 years)
    by_age = census.census_2015().counts.sum(axis=(1, 2))
    exact = np.concatenate((np.zeros(YEARS), by_age[:-YEARS - 1], [by_age[-YEARS - 1:].sum()]))
    groups = np.append(by_age[:85].reshape(17, 5).sum(axis=1), by_age[85:].sum())
    aged = first_order_groups(groups, YEARS)
    out["share_65_2035_ageing_only"] = {"exact_shift": float(exact[65:].sum() / exact.sum()),
                                        "five_year_first_order": float(aged[13:].sum() / aged.sum())}
    return out


def five_year_projection(params: dict, years: int, dt: float = 0.25) -> dict:
    """The alternative design, for comparison: 5-year groups (0-4 ... 80-84, 85+) with first-order
    ageing ``P / 5`` (Euler, ``dt``), the same schedules averaged over each group with the 2015
    initial state's weights, the same residence-free rates as the Leslie benchmark (no migration).
    Returns totals and 65+ shares at the year-ends."""
    initial = census.census_2015().counts.sum(axis=2)  # (cell, sex)
    weights = initial.sum(axis=1)
    index = np.minimum(np.arange(demo.N_AGE) // 5, 17)

    def grouped(values, w=weights):
        return np.array([(values[index == g] * w[index == g]).sum() / w[index == g].sum() for g in range(18)])

    pop = np.stack([np.array([initial[index == g, j].sum() for g in range(18)]) for j in range(2)], axis=1)
    fertility = grouped(demo.asfr(1.0), initial[:, 1]) * 5  # per woman of the group and year
    ageing = np.full(18, 0.2)
    ageing[-1] = 0.0
    srb = params["sex_ratio_at_birth"]
    shares = np.array([srb / (1 + srb), 1 / (1 + srb)])
    gap = params["e0_sex_gap"]
    totals, old = [pop.sum()], [pop[13:].sum() / pop.sum()]
    steps = int(round(1 / dt))
    for step in range(years * steps):
        t = START + step * dt
        e0 = params["e0_2015"] + params["e0_trend"] * (t - params["trend_base_year"])
        hazard = np.stack([grouped(demo.life_table(e).hazard) for e in
                           (e0 - gap / (1 + srb), e0 + gap * srb / (1 + srb))], axis=1)
        births = tfr_path(params, t) * (fertility / 5 * pop[:, 1]).sum()
        out = pop * ageing[:, None]
        change = -out - pop * hazard
        change[1:] += out[:-1]
        change[0] += births * shares
        pop = pop + dt * change
        if (step + 1) % steps == 0:
            totals.append(pop.sum())
            old.append(pop[13:].sum() / pop.sum())
    return {"total": np.array(totals), "share_65": np.array(old)}


def leslie_comparison(engine) -> dict:
    params = {**engine.parameters, **benchmark_parameters()}
    leslie = leslie_projection(params, YEARS)
    out, errors = {}, {}
    for dt in (0.25, 0.125, 0.0625):
        r = engine.run(benchmark_parameters(), return_columns=["total_population", "share_65_plus"],
                       final_time=START + YEARS, time_step=dt)
        total = r["total_population"][:, 0].ravel()
        share = r["share_65_plus"][:, 0].ravel() / 100
        bound = (np.cumsum(leslie["euler"] + leslie["euler_births"]) * dt
                 + np.cumsum(leslie["euler_births_2"]) * dt ** 2)
        errors[dt] = (total / leslie["total"] - 1, share - leslie["share_65"])
        out[dt] = {year: {"rel_total": float(errors[dt][0][year - START]),
                          "bound_total": float(bound[year - START - 1]),
                          "share_65_pp": float(100 * errors[dt][1][year - START])}
                   for year in REPORT_YEARS}
    out["dt 0 (Richardson)"] = {year: {"rel_total": float(2 * errors[0.0625][0][year - START]
                                                         - errors[0.125][0][year - START]),
                                       "bound_total": float("nan"),
                                       "share_65_pp": float(100 * (2 * errors[0.0625][1][year - START]
                                                                   - errors[0.125][1][year - START]))}
                                for year in REPORT_YEARS}
    groups = five_year_projection(params, YEARS)
    out["five_year"] = {year: {"rel_total": float(groups["total"][year - START] / leslie["total"][year - START] - 1),
                               "bound_total": float("nan"),
                               "share_65_pp": float(100 * (groups["share_65"][year - START]
                                                           - leslie["share_65"][year - START]))}
                        for year in REPORT_YEARS}
    return out


def main() -> None:
    engine = VectorizedModel.from_mdl(MODEL_PATH)
    spread = dispersion(engine)
    print(f"Population chain of {MODEL_PATH.name}")
    print("1. Dispersion against an exact cohort shift (cohort at age 30, only deaths)")
    for k in (5, 10, 15):
        d = spread[k]
        print(f"   after {k:2d} years: chain mean shift {d['chain_mean_shift']:6.3f} sd {d['chain_sd']:.3g};"
              f"  5-year first-order groups: mean shift {d['five_year_mean_shift']:6.3f} sd {d['five_year_sd']:.2f}")
    s = spread["share_65_2035_ageing_only"]
    print(f"   65+ share 2035 from ageing the 2015 initial state alone: exact shift {100 * s['exact_shift']:.2f} %,"
          f" 5-year first-order {100 * s['five_year_first_order']:.2f} %")
    comparison = leslie_comparison(engine)
    print("2. Chain against the plain Leslie projection (residence-free rates: equal TFR, no out-migration)")
    for dt, rows in comparison.items():
        for year, row in rows.items():
            if dt == "five_year":
                what = "5-year groups, first order, dt 0.25:"
            elif isinstance(dt, str):
                what = f"{dt}:"
            else:
                what = f"dt {dt:<6}"
            bound = f" (Euler bound {row['bound_total']:.2e})" if np.isfinite(row["bound_total"]) else ""
            print(f"   {what} {year}: total {row['rel_total']:+.2e}{bound}, 65+ share {row['share_65_pp']:+.4f} pp")
    print(json.dumps({"dispersion_sd_15y_chain": spread[15]["chain_sd"],
                      "dispersion_sd_15y_five_year": spread[15]["five_year_sd"],
                      "leslie_rel_total_2035_dt025": comparison[0.25][2035]["rel_total"],
                      "leslie_bound_total_2035_dt025": comparison[0.25][2035]["bound_total"],
                      "leslie_share65_pp_2035_dt025": comparison[0.25][2035]["share_65_pp"],
                      "leslie_rel_total_2035_dt0": comparison["dt 0 (Richardson)"][2035]["rel_total"],
                      "five_year_rel_total_2035": comparison["five_year"][2035]["rel_total"],
                      "five_year_share65_pp_2035": comparison["five_year"][2035]["share_65_pp"]}))


if __name__ == "__main__":
    main()
