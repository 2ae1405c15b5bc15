"""Back-cast of the population chain from the 2010 census to 2020: ``python -m calibration.backcast``.

The chain prototype (``tests/models/population_chain.mdl``) starts at its INITIAL TIME 2020; the
back-cast runs it with the 2010 census state (:func:`base.census.census_2010`) and every date shifted
by ten years (``trend base year`` 2025 and ``two child policy start`` 2025 stand for 2015), so model
year ``T`` is calendar year ``T - 10``.

Three parameters are fitted to three targets, nothing else:

* ``tfr_2015`` and ``tfr_trend`` to the bulletin crude birth rates of 2011 and the mean of 2015-2019
  (sample-survey ratios, independent of the population basis: ``data/README.md``);
* one factor on the out-migration rates (their ratios across residences kept) to the 2020 census
  population (24,049,155 on 1 November).

Life expectancy follows the data: 74.44 in 2010 (confirmed) rising to 77.56 in 2020 (UNVERIFIED),
i.e. ``e0 2015`` 76.0 and ``e0 trend`` 0.312 per year. The age structure of 2020 is **not** fitted:
the 65+, 0-14 and 15-59 shares of the back-cast against the census are the test of the schedules and
of the 2010 state. The crude death rates 2015-2019 of the back-cast are printed next to the bulletin's.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from base import census
from base.fonts import bilingual
from base.paths import REPO_ROOT
from model.vectorized import VectorizedModel
from simulator.pyramid import pyramid_figure

MODEL = REPO_ROOT / "tests" / "models" / "population_chain.mdl"
SHIFT = 10  # model year = calendar year + SHIFT
E0_2010 = 74.44  # [Year] 2010 census life table (data/, confirmed)
E0_2020 = 77.56  # [Year] (data/, UNVERIFIED)


@dataclass(frozen=True)
class Backcast:
    """Result of the back-cast (calendar years)."""

    tfr_2015: float
    tfr_trend: float
    out_migration_factor: float
    population: dict          # year -> persons
    share_65: dict            # year -> share [Dmnl]
    share_0_14: dict
    share_15_59: dict
    crude_birth_rate: dict    # year -> per mille
    crude_death_rate: dict    # year -> per mille
    targets: dict             # name -> (model, observed)
    check_2015: dict          # name -> (2010 run forward, 2020 reverse-survived: base.census.census_2015)
    state_2020: np.ndarray    # (age, sex, residence) of the back-cast at the end of 2020 [persons]


def _observed() -> dict:
    figures = {year: census.census_figures(year) for year in range(2010, 2021)}
    births = [figures[year]["birth_rate_permille"] for year in range(2015, 2020)]
    deaths = [figures[year]["death_rate_permille"] for year in range(2015, 2020)]
    f2020 = figures[2020]
    return {"cbr_2015_2019": float(np.mean(births)), "cbr_2011": figures[2011]["birth_rate_permille"], "cdr_bulletin": dict(zip(range(2015, 2020), deaths)),
            "population_2020": f2020["census_population"] * 1e4,
            "share_65_2020": f2020["census_share_age_65plus_pct"] / 100,
            "share_0_14_2020": f2020["census_share_age_0_14_pct"] / 100,
            "share_15_59_2020": f2020["census_share_age_15_59_pct"] / 100}


def _annual_rate(flow: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """Per mille rate of calendar year Y from year-end values: the flow of year Y is the mean of the
    instantaneous flows at the year-ends Y-1 and Y (trapezoid), over the mean population. Row k
    is year 2010 + k (NaN for the first)."""
    rate = np.full(stock.size, np.nan)
    rate[1:] = 1000 * (flow[1:] + flow[:-1]) / (stock[1:] + stock[:-1])
    return rate


def run_backcast(engine: VectorizedModel | None = None) -> Backcast:
    """Fit the two parameters and return the back-cast (see the module docstring)."""
    engine = VectorizedModel.from_mdl(MODEL) if engine is None else engine
    observed = _observed()
    base_rates = np.asarray(engine.parameters["out_migration_rate"], dtype=float)
    fixed = {"initial_population": census.census_2010().counts, "trend_base_year": 2015 + SHIFT,
             "two_child_policy_start": 2015 + SHIFT, "e0_2015": 0.5 * (E0_2010 + E0_2020),
             "e0_trend": (E0_2020 - E0_2010) / 10}
    columns = ["total_population", "total_births", "total_deaths", "population_by_age"]

    def simulate(x):
        params = {**fixed, "tfr_2015": x[0], "tfr_trend": x[2], "out_migration_rate": base_rates * x[1]}
        result = engine.run(params, return_columns=columns, final_time=2020 + SHIFT)
        return {name: result[name][:, 0] for name in columns}

    def residuals(x):
        r = simulate(x)
        total = r["total_population"].ravel()
        years = np.arange(2015, 2020) - 2010  # rows of the calendar years 2015..2019
        cbr = _annual_rate(r["total_births"].ravel(), total)
        return [(cbr[years].mean() - observed["cbr_2015_2019"]) / observed["cbr_2015_2019"],
                (cbr[2011 - 2010] - observed["cbr_2011"]) / observed["cbr_2011"],
                (total[-1] - observed["population_2020"]) / observed["population_2020"]]

    fit = least_squares(residuals, x0=[1.3, 1.0, -0.02], bounds=([0.5, 0.0, -0.1], [3.0, 5.0, 0.1]),
                        xtol=1e-12, ftol=1e-12, gtol=1e-12)
    r = simulate(fit.x)
    total = r["total_population"].ravel()
    by_age = r["population_by_age"]

    def share(lower, upper=None):
        cells = by_age[:, lower:upper].sum(axis=1) if upper else by_age[:, lower:].sum(axis=1)
        return {2010 + k: float(cells[k] / total[k]) for k in range(total.size)}

    rates = {name: dict(zip(range(2010, 2010 + total.size), _annual_rate(r[column].ravel(), total).tolist()))
             for name, column in (("cbr", "total_births"), ("cdr", "total_deaths"))}
    s65, s014, s1559 = share(65), share(0, 15), share(15, 60)
    targets = {"population_2020": (float(total[-1]), observed["population_2020"]),
               "share_65_2020": (s65[2020], observed["share_65_2020"]),
               "share_0_14_2020": (s014[2020], observed["share_0_14_2020"]),
               "share_15_59_2020": (s1559[2020], observed["share_15_59_2020"])}
    reverse = census.census_2015()
    row = 2015 - 2010
    check_2015 = {"population": (float(total[row]), reverse.total),
                  "share_0_14": (s014[2015], reverse.share(0, 15)),
                  "share_15_59": (s1559[2015], reverse.share(15, 60)),
                  "share_65": (s65[2015], reverse.share(65))}
    state_2020 = engine.run({**fixed, "tfr_2015": fit.x[0], "tfr_trend": fit.x[2],
                             "out_migration_rate": base_rates * fit.x[1]},
                            return_columns=["population"], final_time=2020 + SHIFT)["population"][-1, 0]
    return Backcast(check_2015=check_2015, state_2020=state_2020, tfr_2015=float(fit.x[0]), tfr_trend=float(fit.x[2]), out_migration_factor=float(fit.x[1]),
                    population={2010 + k: float(v) for k, v in enumerate(total)}, share_65=s65,
                    share_0_14=s014, share_15_59=s1559, crude_birth_rate=rates["cbr"],
                    crude_death_rate=rates["cdr"], targets=targets)


def project_2035(result: Backcast, engine: VectorizedModel | None = None) -> dict:
    """The chain from the 2020 census to 2035 at the back-cast's rates, the TFR held at its 2020 level
    (assumption: no trend after 2020; the fitted +2 %/yr offsets the shrinking cohorts of mothers of
    2010-2020 and is not extrapolated) and e0 continuing its 2010-2020 trend."""
    engine = VectorizedModel.from_mdl(MODEL) if engine is None else engine
    tfr_2020 = result.tfr_2015 * np.exp(result.tfr_trend * 5)
    params = {"tfr_2015": tfr_2020, "tfr_trend": 0.0, "e0_2015": 0.5 * (E0_2010 + E0_2020),
              "e0_trend": (E0_2020 - E0_2010) / 10,
              "out_migration_rate": np.asarray(engine.parameters["out_migration_rate"]) * result.out_migration_factor}
    names = ["population", "total_population", "total_births", "total_deaths", "total_out_migration",
             "share_65_plus", "official_hukou_urbanization_rate", "resident_hukou_share"]
    run = engine.run(params, return_columns=names)
    return {name: run[name][:, 0] for name in names}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m calibration.backcast", description=__doc__.split("\n")[0])
    parser.add_argument("--plot", metavar="PNG", help="write the pyramids (2020 census, 2020 back-cast, 2035)")
    args = parser.parse_args(argv)
    result = run_backcast()
    observed = _observed()
    print(f"Back-cast 2010 -> 2020 of the population chain ({Path(MODEL).name}):")
    print(f"  fitted: tfr_2015 {result.tfr_2015:.3f}, tfr_trend {result.tfr_trend:+.4f}/yr, "
          f"out-migration factor {result.out_migration_factor:.3f}")
    for name, (model, data) in result.targets.items():
        unit = "persons" if name.startswith("population") else "%"
        if unit == "%":
            print(f"  {name}: back-cast {100 * model:.2f} %, census {100 * data:.2f} %,"
                  f" error {100 * (model - data):+.2f} pp")
        else:
            print(f"  {name}: back-cast {model:,.0f}, census {data:,.0f} (fitted)")
    print("  2015: the 2010 census run forward against the 2020 census survived back (base.census.census_2015):")
    for name, (forward, reverse) in result.check_2015.items():
        if name == "population":
            print(f"    population {forward:,.0f} vs {reverse:,.0f} ({100 * (forward / reverse - 1):+.2f} %)")
        else:
            print(f"    {name} {100 * forward:.2f} % vs {100 * reverse:.2f} % ({100 * (forward - reverse):+.2f} pp)")
    print("  year  population   CBR model  CBR bulletin  CDR model  CDR bulletin (per mille)")
    for year in range(2010, 2021):
        cbr = census.census_figures(year).get("birth_rate_permille", "")
        cdr = census.census_figures(year).get("death_rate_permille", "")
        print(f"  {year}  {result.population[year]:11,.0f}  {result.crude_birth_rate[year]:6.2f}     {cbr:>6}"
              f"        {result.crude_death_rate[year]:6.2f}     {cdr:>6}")
    projection = project_2035(result)
    print("  Projection from the 2020 census at these rates (TFR held at its 2020 level, e0 +0.31/yr):")
    print("  year  population   births   deaths  out-migr.  65+ %  hukou % (resident)  official %")
    for year in (2020, 2025, 2030, 2035):
        k = year - 2020
        print(f"  {year}  {projection['total_population'][k]:10,.0f} {projection['total_births'][k]:8,.0f}"
              f" {projection['total_deaths'][k]:8,.0f} {projection['total_out_migration'][k]:9,.0f}"
              f"  {100 * projection['share_65_plus'][k]:5.2f}  {projection['resident_hukou_share'][k]:6.2f}"
              f"              {projection['official_hukou_urbanization_rate'][k]:6.2f}")
    if args.plot:
        fig = pyramid_figure({bilingual("2020 census", "2020年普查"): census.census_2020().counts,
                              bilingual("2020 back-cast from 2010", "2010年起回推"): result.state_2020,
                              bilingual("2035 projection", "2035年预测"): projection["population"][-1]})
        fig.savefig(args.plot, dpi=110)
        print(f"  pyramids written to {args.plot}")
    print(json.dumps({"tfr_2015": result.tfr_2015, "tfr_trend": result.tfr_trend, "out_migration_factor": result.out_migration_factor,
                      **{f"{name}_error": model - data for name, (model, data) in result.targets.items()}}))


if __name__ == "__main__":
    main()
