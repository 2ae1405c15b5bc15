"""Dimensional consistency (Sterman ch. 21): the unit parser, the main model, and broken models.

Each broken model is a small, otherwise consistent ``.mdl`` with one deliberate unit error; the
check must name the variable that carries it, and nothing else.
"""
from __future__ import annotations

import re
from fractions import Fraction

import pytest

from model import MODEL_PATH
from model.spec import load_spec
from model.units import (
    DIMENSIONLESS,
    Dimension,
    UnitSyntaxError,
    check_units,
    main,
    parse_units,
)

CONTROL_SECTION = r"""
********************************************************
	.Control
********************************************************~
		Simulation Control Parameters
	|

FINAL TIME  = 2010
	~	Year
	~	The final time for the simulation.
	|

INITIAL TIME  = 2000
	~	Year
	~	The initial time for the simulation.
	|

SAVEPER  = 1
	~	Year [0,?]
	~	The frequency with which output is stored.
	|

TIME STEP  = 0.25
	~	Year [0,?]
	~	The time step for the simulation.
	|

\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
"""

# A small consistent model: population, land in km2 converted from m2, a water lookup.
CONSISTENT_EQUATIONS = {
    "population": "population = INTEG(births - deaths, initial population) ~ persons ~ Stock. |",
    "initial population": "initial population = 1000 ~ persons ~ Source: test. |",
    "births": "births = population * birth rate ~ persons/Year ~ Flow. |",
    "birth rate": "birth rate = 0.01 ~ 1/Year ~ Source: test. |",
    "deaths": "deaths = MIN(population / minimum time, population * death rate) ~ persons/Year ~ "
              "Flow. |",
    "death rate": "death rate = death rate 2000 * EXP(death trend * (Time - base year)) ~ 1/Year "
                  "~ Aux. |",
    "death rate 2000": "death rate 2000 = 0.008 ~ 1/Year ~ Source: test. |",
    "death trend": "death trend = 0.01 ~ 1/Year ~ Source: test. |",
    "base year": "base year = 2000 ~ Year ~ Source: test. |",
    "minimum time": "minimum time = 1 ~ Year ~ Source: test. |",
    "urban land": "urban land = population * land per person / m2 per km2 ~ km2 ~ Aux. |",
    "rural land": "rural land = 5e+06 ~ m2 ~ Source: test. |",
    "land per person": "land per person = 100 ~ m2/person ~ Source: test. |",
    "m2 per km2": "m2 per km2 = 1e+06 ~ m2/km2 ~ Source: definition. |",
    "total land": "total land = urban land + rural land / m2 per km2 ~ km2 ~ Aux. |",
    "water use": "water use = population * water per person * days per year / litres per m3 "
                 "~ m3/Year ~ Aux. |",
    "water per person": "water per person = 100 ~ L/(person*Day) ~ Source: test. |",
    "days per year": "days per year = 365 ~ Day/Year ~ Source: definition. |",
    "litres per m3": "litres per m3 = 1000 ~ L/m3 ~ Source: definition. |",
    "water cap": "water cap = 1e+06 ~ m3/Year ~ Source: test. |",
    "water stress": "water stress = XIDZ(water use, water cap, 10) ~ Dmnl ~ Aux. |",
    "stress lookup": "stress lookup([(0,0)-(10,1)],(0,1),(1,0.5),(10,0)) ~ Dmnl ~ Table. |",
    "stress effect": "stress effect = stress lookup(water stress) ~ Dmnl ~ Aux. |",
    "percent per unit": "percent per unit = 100 ~ % ~ Source: definition. |",
    "share": "share = percent per unit * ZIDZ(urban land, total land) ~ % ~ Aux. |",
    "policy": "policy = STEP(birth rate, base year + 5 * minimum time) + RAMP(birth rate / "
              "minimum time, base year, base year + 2 * minimum time) ~ 1/Year ~ Aux. |",
    "capped share": "capped share = IF THEN ELSE(Time > base year :AND: share >= 0, "
                    "MAX(0, share), percent per unit) ~ % ~ Aux. |",
    "crowding": "crowding = (land per person / reference land per person)^crowding exponent "
                "~ Dmnl ~ Aux. |",
    "reference land per person": "reference land per person = 100 ~ m2/person ~ Source: test. |",
    "crowding exponent": "crowding exponent = 0.5 ~ Dmnl ~ Source: test. |",
    "land area": "land area = SQRT(urban land^2) * 1 ~ km2 ~ Aux. |",
}


def write_model(directory, replacements=None, additions=()):
    """Write the consistent test model with some equations replaced or added; return its path.

    Parameters
    ----------
    directory : pathlib.Path
        Where to write ``test_model.mdl``.
    replacements : dict of str to str, optional
        Equation text by variable name, replacing the consistent equation.
    additions : sequence of str
        Extra equations.
    """
    equations = dict(CONSISTENT_EQUATIONS)
    equations.update(replacements or {})
    text = "{UTF-8}\n" + "\n\n".join(list(equations.values()) + list(additions)) + "\n"
    path = directory / "test_model.mdl"
    path.write_text(text + CONTROL_SECTION, encoding="utf-8")
    return path


def flagged_variables(path) -> set[str]:
    """The flagged variables, an element of a subscripted one as ``name[element]``."""
    return {issue.variable for issue in check_units(path)}


# ------------------------------------------------------------------------------ the unit parser
@pytest.mark.parametrize(
    "text, expected",
    [
        ("persons", {"person": 1}),
        ("person", {"person": 1}),
        ("persons/Year", {"person": 1, "Year": -1}),
        ("1/Year", {"Year": -1}),
        ("1/Years", {"Year": -1}),
        ("Dmnl", {}),
        ("dmnl", {}),
        ("1", {}),
        ("%", {"%": 1}),
        ("km2", {"km2": 1}),
        ("m2/person", {"m2": 1, "person": -1}),
        ("m2/km2", {"m2": 1, "km2": -1}),
        ("mu", {"mu": 1}),
        ("m2/mu", {"m2": 1, "mu": -1}),
        ("m3/Year", {"m3": 1, "Year": -1}),
        ("L/(person*Day)", {"L": 1, "person": -1, "Day": -1}),
        ("L/(persons*Days)", {"L": 1, "person": -1, "Day": -1}),
        ("L/m3", {"L": 1, "m3": -1}),
        ("Day/Year", {"Day": 1, "Year": -1}),
        ("m3/(Year*%)", {"m3": 1, "Year": -1, "%": -1}),
        ("persons/km2", {"person": 1, "km2": -1}),
        ("Year", {"Year": 1}),
        ("km2^2", {"km2": 2}),
        ("m^2/Year^-1", {"m": 2, "Year": 1}),
        ("(persons/Year)^2", {"person": 2, "Year": -2}),
        ("persons * Year / persons", {"Year": 1}),
    ],
)
def test_parse_units_examples(text, expected):
    assert parse_units(text) == Dimension.of(expected)


def test_unit_algebra_equivalences():
    assert parse_units("persons/Year") * parse_units("Year") == parse_units("persons")
    assert parse_units("persons") / parse_units("persons") == DIMENSIONLESS
    assert parse_units("m3/(Year*%)") * parse_units("%") == parse_units("m3/Year")
    assert (parse_units("L/(person*Day)") * parse_units("persons") * parse_units("Day/Year")
            / parse_units("L/m3")) == parse_units("m3/Year")
    assert parse_units("mu") * parse_units("m2/mu") / parse_units("m2/km2") == parse_units("km2")
    assert parse_units("km2") ** 2 == parse_units("km2^2")
    assert parse_units("km2^2") ** Fraction(1, 2) == parse_units("km2")
    assert parse_units("1/Year") ** -1 == parse_units("Years")


def test_different_atoms_are_different_dimensions():
    assert parse_units("km2") != parse_units("m2")
    assert parse_units("%") != DIMENSIONLESS
    assert parse_units("mu") != parse_units("km2")


def test_units_print_readably():
    assert str(parse_units("persons/Year")) == "person/Year"
    assert str(parse_units("Dmnl")) == "Dmnl"
    assert str(parse_units("L/(person*Day)")) == "L/(Day*person)"


@pytest.mark.parametrize("text", ["", "persons/", "(persons", "1000 persons", "m2^x", "a**b"])
def test_malformed_units_are_rejected(text):
    with pytest.raises(UnitSyntaxError):
        parse_units(text)


# ------------------------------------------------------------------------------ the main model
def test_main_model_is_dimensionally_consistent():
    issues = check_units(MODEL_PATH)
    assert issues == [], "\n".join(str(issue) for issue in issues)


def _declared_units_span(mdl_text: str, vensim_name: str) -> tuple[int, int]:
    """Character span of the units (without range) declared for ``vensim_name`` in the .mdl."""
    pattern = re.compile(
        rf"^{re.escape(vensim_name)}\s*(?:\[[^\]]*\])?\s*=.*?\n\t~\t([^\[\n~]*?)\s*(?:\[|\n)",
        re.MULTILINE | re.DOTALL,
    )
    match = pattern.search(mdl_text)
    assert match, f"cannot find the units of '{vensim_name}' in the .mdl"
    return match.span(1)


def _mutation_targets():
    """A stock, a flow and a percentage of the main model (chosen from the spec, not by name)."""
    variables = list(load_spec(MODEL_PATH).variables.values())
    stock = next(v for v in variables if v.kind == "stock")
    flow = next(v for v in variables if v.kind == "auxiliary" and v.units == "persons/Year")
    percent = next(v for v in variables if v.kind == "auxiliary" and v.units == "%")
    return [stock.vensim_name, flow.vensim_name, percent.vensim_name]


@pytest.mark.parametrize("target", _mutation_targets())
def test_wrong_units_declared_in_the_main_model_are_caught(tmp_path, target):
    """The check is not vacuous on the real model: a wrongly declared variable is named."""
    text = MODEL_PATH.read_text(encoding="utf-8")
    start, end = _declared_units_span(text, target)
    mutated = text[:start] + f"({text[start:end]})*mu" + text[end:]
    path = tmp_path / MODEL_PATH.name
    path.write_text(mutated, encoding="utf-8")
    # A subscripted variable is flagged by element (``name[element]``): compare base names.
    assert target in {name.split("[")[0] for name in flagged_variables(path)}


def test_command_line_reports_the_main_model_consistent(capsys):
    assert main([str(MODEL_PATH)]) == 0
    assert "0 issues" in capsys.readouterr().out


# ------------------------------------------------------------------------------ broken models
def test_consistent_test_model_passes(tmp_path):
    """The base of the broken models is itself consistent (so every issue below is the bug)."""
    issues = check_units(write_model(tmp_path))
    assert issues == [], "\n".join(str(issue) for issue in issues)


def test_adding_km2_to_m2_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "total land": "total land = urban land + rural land ~ km2 ~ Aux. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"total land"}
    assert any("km2" in i.message and "m2" in i.message for i in issues)


def test_stock_with_flow_in_persons_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "population": "population = INTEG((births - deaths) * minimum time, initial population) "
                      "~ persons ~ Stock whose net flow is in persons. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"population"}
    (issue,) = issues
    assert parse_units(issue.expected) == parse_units("persons/Year")
    assert parse_units(issue.found) == parse_units("persons")


def test_exp_of_a_dimensioned_argument_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "death rate": "death rate = death rate 2000 * EXP(death trend) ~ 1/Year ~ Aux. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"death rate"}
    assert any("EXP" in i.message for i in issues)


def test_min_of_mismatched_units_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "deaths": "deaths = MIN(population, population * death rate) ~ persons/Year ~ Flow. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"deaths"}
    assert any("MIN" in i.message for i in issues)


def test_lookup_called_with_a_dimensioned_argument_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "stress effect": "stress effect = stress lookup(water use) ~ Dmnl ~ Aux. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"stress effect"}
    assert any("stress lookup" in i.message for i in issues)


def test_wrong_declared_units_are_caught(tmp_path):
    path = write_model(tmp_path, {
        "water use": "water use = population * water per person * days per year ~ m3/Year ~ "
                     "Missing the litres per m3 conversion. |",
    })
    issues = check_units(path)
    assert {i.variable for i in issues} == {"water use"}
    assert parse_units(issues[0].found) == parse_units("L/Year")


def test_power_of_dimensioned_base_with_variable_exponent_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "crowding": "crowding = land per person^crowding exponent ~ Dmnl ~ Aux. |",
    })
    assert flagged_variables(path) == {"crowding"}


def test_xidz_fallback_in_other_units_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "water stress": "water stress = XIDZ(water use, water cap, water cap) ~ Dmnl ~ Aux. |",
    })
    assert flagged_variables(path) == {"water stress"}


def test_if_then_else_branches_in_different_units_are_caught(tmp_path):
    path = write_model(tmp_path, {
        "capped share": "capped share = IF THEN ELSE(Time > base year, share, 1) ~ % ~ Aux. |",
    })
    assert flagged_variables(path) == {"capped share"}


def test_step_time_in_wrong_units_is_caught(tmp_path):
    path = write_model(tmp_path, {
        "policy": "policy = STEP(birth rate, percent per unit) ~ 1/Year ~ Aux. |",
    })
    assert flagged_variables(path) == {"policy"}


def test_unknown_function_is_reported_not_passed(tmp_path):
    path = write_model(tmp_path, additions=[
        "noise = RANDOM UNIFORM(0, 1, 0) ~ Dmnl ~ Aux. |",
    ])
    issues = check_units(path)
    assert {i.variable for i in issues} == {"noise"}
    assert issues[0].kind == "unsupported"
    assert "RANDOM UNIFORM" in issues[0].message


def test_missing_units_are_reported(tmp_path):
    path = write_model(tmp_path, additions=["mystery = population * 2 ~ ~ Aux. |"])
    issues = check_units(path)
    assert {i.variable for i in issues} == {"mystery"}
    assert issues[0].kind == "missing units"


def test_command_line_exits_non_zero_on_issues(tmp_path, capsys):
    path = write_model(tmp_path, {
        "total land": "total land = urban land + rural land ~ km2 ~ Aux. |",
    })
    assert main([str(path)]) == 1
    output = capsys.readouterr().out
    assert "1 unit issue" in output and "total land" in output


# ------------------------------------------------------------------------------ subscripts
SUBSCRIPTED_MODEL = """{{UTF-8}}
league:
	Hohhot, Baotou, Ordos
	~
	~	Leagues.
	|

pop[league] = INTEG(births[league] - deaths[league], initial pop[league]) ~ persons ~ Stock. |

initial pop[league] = 100, 200, 300 ~ persons ~ Source: test. |

births[league] = pop[league] * birth rate[league] ~ persons/Year ~ Flow. |

birth rate[league] = 0.01 ~ 1/Year ~ Source: test. |

deaths[Hohhot] = pop[Hohhot] * 0.01 / minimum time ~~|
deaths[Baotou] = pop[Baotou] * 0.02 / minimum time ~~|
deaths[Ordos] = {ordos_deaths} ~ persons/Year ~ Flow. |

minimum time = 1 ~ Year ~ Source: test. |

total pop = SUM(pop[league!]) ~ persons ~ Aux. |

largest league = VMAX(pop[league!]) ~ persons ~ Aux. |

share[league] = ZIDZ(pop[league], total pop) ~ Dmnl ~ Aux. |

league index[league] = league ~ Dmnl ~ The position of the league, a dimensionless index. |
"""


def test_subscripted_model_is_checked_per_variable(tmp_path):
    path = tmp_path / "leagues.mdl"
    path.write_text(
        SUBSCRIPTED_MODEL.format(ordos_deaths="pop[Ordos] * birth rate[Ordos]") + CONTROL_SECTION,
        encoding="utf-8",
    )
    issues = check_units(path)
    assert issues == [], "\n".join(str(issue) for issue in issues)


def test_error_in_one_subscript_element_is_caught(tmp_path):
    path = tmp_path / "leagues.mdl"
    path.write_text(
        SUBSCRIPTED_MODEL.format(ordos_deaths="pop[Ordos] * 0.03") + CONTROL_SECTION,
        encoding="utf-8",
    )
    assert flagged_variables(path) == {"deaths[Ordos]"}
