"""The schedule tables of the population chain, written into ``model/inner_mongolia.mdl`` from
:mod:`base.demography` and :mod:`base.census` (so the equations and the Python schedules cannot drift
apart).

The tables form the group ``.Schedules`` of the model: from its header to the next group header
(or the end of the equations). ``python -m base.schedule_tables`` rewrites that group of the main
model in place; ``--check`` only reports whether it is up to date (exit status 1 if not).
tests/test_population_chain.py calls :func:`check_model`.

Tables (each from one function, so the ``.mdl`` comment names it):

* ``fertility shape[age]`` [1/Year, per mille]: :func:`base.demography.asfr` at TFR 1, x 1000 (sums
  to 1000 over the cells);
* ``reference hazard[age]`` [1/Year, per mille]: :func:`base.demography.reference_hazard` (Siler,
  level 1), x 1000;
* ``mortality level lookup`` [Dmnl] of e0 [Year]: the level of :func:`base.demography.life_table` at
  e0 = ``E0_FIRST``, ``E0_FIRST + E0_STEP``, ... ``E0_LAST`` (linear interpolation between them);
* ``migration profile[age]`` [Dmnl]: :func:`base.demography.migration_profile` weighted by the initial
  population (so a rate ``r`` is the population-weighted mean rate at the start);
* ``initial population[age, sex, residence]`` [persons]: the census state at the model's
  ``INITIAL TIME`` 2015: :func:`base.census.census_2015` (year-end 2015);
* ``cell age[age]`` [Year]: :func:`base.demography.cell_ages`; ``senescent share[age]`` [Dmnl]: the
  Gompertz part's share of the reference hazard (:func:`base.demography.senescent_hazard`; a share, not a
  rate per mille, so that the 8 decimals keep 1e-9 precision);
* ``first age indicator[age]``, ``child age indicator[age]`` (0-14), ``working age indicator[age]``
  (15-64), ``old age indicator[age]`` (65+): definitions;
* ``population shifted[age, sex, residence]``: the cohort shift, one equation per cell (the
  vectorized engine has no subscript mappings, and one equation per cell is plain Vensim);
* the league tables (issue 12), from :func:`base.league_state.league_state` of the initial year and
  ``base/leagues.yaml``: ``initial league population[league, residence]`` [persons] (the league state
  summed over age and sex; it sums to ``initial population`` over the leagues), ``league birth
  factor[league, residence]`` and ``league death factor[league, residence]`` [Dmnl] (indirect
  standardisation: the births, or deaths, the league's age structure gives at the province's schedule
  per resident, over the province's), ``league distance[league, destination]`` [km]
  (:func:`base.leagues.league_distances`), ``other league indicator[league, destination]`` (1 off the
  diagonal), ``cluster indicator[league]`` and ``yellow river indicator[league]`` (the groups
  ``cluster`` and ``yellow_river``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from model import MODEL_PATH

from . import census, demography as demo
from .league_state import league_state
from .leagues import league_distances, load_leagues

E0_FIRST = 60.0
E0_STEP = 0.25
E0_LAST = 95.0
PER_MILLE = 1000.0
HEADER = "********************************************************"
GROUP = ".Schedules"


#: Decimals written for the table entries. PySD 3.14.3 writes constant arrays and lookup points into
#: its Python translation with 8 decimals (fixed notation), so the tables are scaled to values >= ~0.1
#: (rates per mille) and rounded to 8 decimals here: both engines then read identical numbers.
DECIMALS = 8


def _number(v: float) -> str:
    text = f"{round(float(v), DECIMALS):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _row(values) -> str:
    return ", ".join(_number(v) for v in values)


def _table(rows) -> str:
    return ";\n\t".join(_row(row) for row in rows) + ";"


#: The census state by the model's initial time (year-end).
INITIAL_STATES = {2015: census.census_2015}


def initial_year(text: str) -> int:
    """The ``INITIAL TIME`` of a model's text [Year]."""
    match = re.search(r"^INITIAL TIME\s*=\s*([0-9.]+)", text, re.MULTILINE)
    if not match:
        raise ValueError("the model has no INITIAL TIME; add 'INITIAL TIME = 2015' to its control section")
    year = int(float(match.group(1)))
    if year not in INITIAL_STATES:
        raise ValueError(f"no census state for INITIAL TIME {year}; use one of {sorted(INITIAL_STATES)}")
    return year


def tables(initial: census.AgeStructure | None = None) -> dict[str, np.ndarray]:
    """The numbers of every table, by ``.mdl`` variable name (arrays in the variable's dims)."""
    initial = census.census_2015() if initial is None else initial
    grid = np.arange(E0_FIRST, E0_LAST + E0_STEP / 2, E0_STEP)
    return {
        "fertility shape": demo.asfr(1.0) * PER_MILLE,
        "reference hazard": demo.reference_hazard() * PER_MILLE,
        "mortality level lookup": np.column_stack([grid, [demo.life_table(e0).level for e0 in grid]]),
        "migration profile": demo.migration_profile(initial.counts.sum(axis=(1, 2))),
        "initial population": initial.counts,
        "cell age": demo.cell_ages(),
        "senescent share": demo.senescent_hazard() / demo.reference_hazard(),
        "first age indicator": (demo.AGE_LOWER == 0).astype(float),
        "child age indicator": (demo.AGE_LOWER < 15).astype(float),
        "working age indicator": ((demo.AGE_LOWER >= 15) & (demo.AGE_LOWER < 65)).astype(float),
        "old age indicator": (demo.AGE_LOWER >= 65).astype(float),
        **league_tables(),
    }


def _standardised(counts: np.ndarray, schedule: np.ndarray, sexes: slice) -> np.ndarray:
    """Events per resident at ``schedule`` [age] of each league and residence over the province's [Dmnl]."""
    events = np.einsum("a,lasr->lr", schedule, counts[:, :, sexes, :])
    per_resident = events / counts.sum(axis=(1, 2))
    province = events.sum(axis=0) / counts.sum(axis=(0, 1, 2))
    return per_resident / province[None, :]


def league_tables(year: int = 2015) -> dict[str, np.ndarray]:
    """The league tables of the initial ``year`` (see the module docstring)."""
    state = league_state(year)
    leagues = load_leagues()
    counts = state.counts
    return {
        "initial league population": counts.sum(axis=(1, 2)),
        "league birth factor": _standardised(counts, demo.asfr(1.0), slice(1, 2)),
        "league death factor": _standardised(counts, demo.reference_hazard(), slice(0, 2)),
        "league distance": league_distances(leagues).values,
        "other league indicator": 1.0 - np.eye(len(leagues.names)),
        "cluster indicator": leagues.mask("cluster", leagues.names).astype(float),
        "yellow river indicator": leagues.mask("yellow_river", leagues.names).astype(float),
    }


INITIAL_COMMENT = {
    2015: ("Source: derived for the end of 2015 by base.census.census_2015: the 2020 census ungrouped and\n"
           "\t\tsplit by sex and residence, survived back five years, scaled to the census-basis total\n"
           "\t\t24,364,822 and split with the revised 2015 urbanization 62.09 % and hukou rate 44.16 %\n"
           "\t\t(method and assumptions in base/census.py; each step in calibration/README.md)."),
}


def _shift_equations() -> str:
    lines = ["population shifted[a0, sex, residence]=\n\t0 ~~|\n"]
    for c in range(1, demo.N_AGE - 1):
        lines.append(f"population shifted[a{c}, sex, residence]=\n\tpopulation[a{c - 1}, sex, residence] ~~|\n")
    last = demo.N_AGE - 1
    lines.append(f"population shifted[a{last}, sex, residence]=\n\tpopulation[a{last - 1}, sex, residence]"
                 f"+population[a{last}, sex, residence]\n\t~\tpersons\n\t~\tThe population after the year-end "
                 f"cohort shift (Derived: each cell receives the one below; the\n\t\topen cell a{last} keeps its own).\n\t|\n\n")
    return "".join(lines)


def render(values: dict[str, np.ndarray] | None = None, year: int = 2015) -> str:
    """The text of the ``.Schedules`` group (initial population of the census state of ``year``)."""
    values = tables(INITIAL_STATES[year]()) if values is None else values
    out = [f"{HEADER}\n\t{GROUP}\n{HEADER}~\n"
           "\t\tSchedule tables and the cohort shift, written by python -m base.schedule_tables from\n"
           "\t\tbase/demography.py and base/census.py (do not edit by hand; tests/test_population_chain.py\n"
           "\t\tchecks them).\n\t|\n\n"]

    def entry(name, body, unit, comment):
        out.append(f"{name}=\n\t{body}\n\t~\t{unit}\n\t~\t{comment}\n\t|\n\n")

    entry("fertility shape[age]", _row(values["fertility shape"]), "1/Year",
          "Assumption: Hadwiger age pattern of fertility per cell, per mille (base.demography.asfr at\n"
          "\t\tTFR 1 x 1000; parameters and ranges in base.demography.ASSUMPTIONS); the sum is 1000.")
    entry("reference hazard[age]", _row(values["reference hazard"]), "1/Year",
          "Assumption: Siler hazard of death per cell at level 1, per mille\n"
          "\t\t(base.demography.reference_hazard x 1000; shape parameters and ranges in\n"
          "\t\tbase.demography.ASSUMPTIONS).")
    points = ",".join(f"({_number(x)},{_number(y)})" for x, y in values["mortality level lookup"])
    low, high = values["mortality level lookup"][[0, -1], 1]
    out.append(f"mortality level lookup(\n\t[({E0_FIRST:g},0)-({E0_LAST:g},{np.ceil(low):g})],{points})\n"
               "\t~\tDmnl\n\t~\tDerived: the proportional level of the reference hazard whose life table has the\n"
               "\t\tlife expectancy at birth given as x (base.demography.life_table).\n\t|\n\n")
    entry("migration profile[age]", _row(values["migration profile"]), "Dmnl",
          "Assumption: Rogers-Castro age profile of migration (base.demography.migration_profile),\n"
          "\t\tnormalised to a mean of 1 over the initial population.")
    counts = values["initial population"]
    for k, residence in enumerate(("rural", "nonhukou", "hukou")):
        body = _table(counts[:, :, k])
        out.append(f"initial population[age, sex, {residence}]=\n\t{body}"
                   + (" ~~|\n" if k < 2 else
                      "\n\t~\tpersons\n\t~\t" + INITIAL_COMMENT[year] + "\n\t|\n\n"))
    entry("cell age[age]", _row(values["cell age"]), "Year",
          "Source: definition: mean exact age of each cell during a year (base.demography.cell_ages).")
    entry("senescent share[age]", _row(values["senescent share"]), "Dmnl",
          "Assumption: share of the Gompertz part in the reference hazard of each cell\n"
          "\t\t(base.demography.senescent_hazard / base.demography.reference_hazard).")
    entry("first age indicator[age]", _row(values["first age indicator"]), "Dmnl",
          "Source: definition: 1 for cell a0 (where births arrive), 0 elsewhere.")
    entry("child age indicator[age]", _row(values["child age indicator"]), "Dmnl",
          "Source: definition: 1 for the cells 0-14.")
    entry("working age indicator[age]", _row(values["working age indicator"]), "Dmnl",
          "Source: definition: 1 for the cells 15-64.")
    entry("old age indicator[age]", _row(values["old age indicator"]), "Dmnl",
          "Source: definition: 1 for the cells 65 and over.")
    out.append(_shift_equations())
    entry("initial league population[league, residence]", _table(values["initial league population"]), "persons",
          "Source: derived: the league state of the end of 2015 (base.league_state.league_state(2015):\n"
          "\t\tthe 2010 and 2020 league censuses interpolated and raked to base.census.census_2015) summed\n"
          "\t\tover age and sex; the leagues sum to initial population.")
    entry("league birth factor[league, residence]", _table(values["league birth factor"]), "Dmnl",
          "Derived (indirect standardisation): births per resident that the league's 2015 age structure\n"
          "\t\tgives at the province's fertility shape, over the province's, by residence\n"
          "\t\t(base.schedule_tables.league_tables). Assumption: fixed at the 2015 structure.")
    entry("league death factor[league, residence]", _table(values["league death factor"]), "Dmnl",
          "Derived (indirect standardisation): deaths per resident that the league's 2015 age structure\n"
          "\t\tgives at the reference hazard, over the province's, by residence\n"
          "\t\t(base.schedule_tables.league_tables). Assumption: fixed at the 2015 structure.")
    entry("league distance[league, destination]", _table(values["league distance"]), "km",
          "Source: derived: great-circle distance between the league seats (base.leagues.league_distances;\n"
          "\t\tapproximate recalled seat coordinates, UNVERIFIED, about +-0.1 degree).")
    entry("other league indicator[league, destination]", _table(values["other league indicator"]), "Dmnl",
          "Source: definition: 1 between two different leagues, 0 on the diagonal.")
    entry("cluster indicator[league]", _row(values["cluster indicator"]), "Dmnl",
          "Source: definition: 1 for the leagues of the group cluster of base/leagues.yaml (Hohhot,\n"
          "\t\tBaotou, Ordos, Ulanqab; plan ch.3 sec.1).")
    entry("yellow river indicator[league]", _row(values["yellow river indicator"]), "Dmnl",
          "Source: definition: 1 for the leagues of the group yellow_river of base/leagues.yaml (the seven\n"
          "\t\tYellow River leagues, a convention marked as an assumption there).")
    return "".join(out)


def _group_span(text: str) -> tuple[int, int]:
    match = re.search(r"\*{10,}\s*\n\s*\.Schedules\s*\n\*{10,}~", text)
    if not match:
        raise ValueError(f"the model has no group {GROUP}; add a group header '{GROUP}'")
    following = re.compile(r"\*{10,}\s*\n\s*\.[^\n]+\n\*{10,}~|\\\\\\---///")
    after = following.search(text, match.end())
    return match.start(), (after.start() if after else len(text))


def write_model(path: Path = MODEL_PATH) -> bool:
    """Rewrite the ``.Schedules`` group of ``path``; True if the file changed."""
    text = Path(path).read_text(encoding="utf-8")
    start, end = _group_span(text)
    new = text[:start] + render(year=initial_year(text)) + text[end:]
    if new != text:
        Path(path).write_text(new, encoding="utf-8")
    return new != text


def check_model(path: Path = MODEL_PATH) -> bool:
    """Whether the ``.Schedules`` group of ``path`` is what :func:`render` writes now."""
    text = Path(path).read_text(encoding="utf-8")
    start, end = _group_span(text)
    return text[start:end] == render(year=initial_year(text))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m base.schedule_tables", description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, nargs="?", default=MODEL_PATH,
                        help="the .mdl whose .Schedules group to write (default: the main model)")
    parser.add_argument("--check", action="store_true", help="only check, exit 1 if out of date")
    args = parser.parse_args(argv)
    if args.check:
        ok = check_model(args.model)
        print(f"{args.model}: schedule tables {'up to date' if ok else 'OUT OF DATE'}")
        return 0 if ok else 1
    changed = write_model(args.model)
    print(f"{args.model}: schedule tables {'written' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
