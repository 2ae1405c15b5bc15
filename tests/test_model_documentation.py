"""Structure assessment and parameter assessment (Sterman ch. 21; Barlas 1996).

Every variable of the ``.mdl`` is documented (units and a comment), every constant says where its
value comes from, every uncertain constant has a documented range containing its default, every
stock integrates named flow variables, and the PySD translation stays out of the source tree.
"""
from __future__ import annotations

import re

import pytest

from model import MODEL_DIR, MODEL_PATH

PROVENANCE = re.compile(r"Source:|Derived:|Assumption|Calibrated|Lever")
"""Words that say where a constant's value comes from."""

NEEDS_RANGE = re.compile(r"Assumption|Calibrated|Lever")
"""Provenance words that mark an uncertain value, which must carry a documented range."""


def _variables(spec, kinds=None):
    return [var for var in spec.variables.values() if kinds is None or var.kind in kinds]


def _stock_rates(abstract):
    """``{stock name: INTEG rate AST}`` of every stock in the parsed model."""
    from pysd.translators.structures import abstract_expressions as ae

    rates = {}
    for section in abstract.sections:
        for element in section.elements:
            for component in element.components:
                if isinstance(component.ast, ae.IntegStructure):
                    rates[element.name] = component.ast.flow
    return rates


def _references(node):
    """Names of every variable referenced in an AST (normalized Vensim names)."""
    from pysd.translators.structures import abstract_expressions as ae

    from model.units import normalize_name

    if isinstance(node, ae.ReferenceStructure):
        return [normalize_name(node.reference)]
    if isinstance(node, ae.CallStructure):
        return [name for argument in node.arguments for name in _references(argument)]
    fields = getattr(node, "__dataclass_fields__", None)
    if fields is None:
        return []
    found = []
    for name in fields:
        value = getattr(node, name)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            found.extend(_references(item))
    return found


# ------------------------------------------------------------------------------ documentation
def test_every_variable_has_units(spec):
    missing = [var.vensim_name for var in _variables(spec) if not var.units.strip()]
    assert not missing, f"variables without units in {MODEL_PATH.name}: {missing}"


def test_every_variable_has_a_comment(spec):
    missing = [var.vensim_name for var in _variables(spec) if not var.documentation.strip()]
    assert not missing, f"variables without a comment in {MODEL_PATH.name}: {missing}"


def test_every_constant_states_where_its_value_comes_from(spec):
    constants = _variables(spec, {"constant"})
    assert constants, "the model has no constants: the spec did not read the .mdl"
    undocumented = [var.vensim_name for var in constants if not PROVENANCE.search(var.documentation)]
    assert not undocumented, (
        "constants whose comment does not say where the value comes from (Source:, Derived:, "
        f"Assumption, Calibrated or Lever): {undocumented}"
    )


def test_uncertain_constants_have_a_documented_range(spec):
    uncertain = [var for var in _variables(spec, {"constant"})
                 if NEEDS_RANGE.search(var.documentation)]
    assert uncertain, "no constant is marked Assumption/Calibrated/Lever: the check is vacuous"
    without_range = [var.vensim_name for var in uncertain if var.name not in spec.parameters]
    assert not without_range, (
        "constants marked Assumption, Calibrated or Lever need a range [min, max] in their units "
        f"field: {without_range}"
    )


def test_every_range_is_ordered_and_contains_the_default(spec):
    assert spec.parameters, "the model has no parameters with a documented range"
    problems = []
    for var in spec.parameters.values():
        low, high = var.limits
        if not low <= high:
            problems.append(f"{var.vensim_name}: range [{low}, {high}] is not ordered")
        elif not low <= var.value <= high:
            problems.append(f"{var.vensim_name} = {var.value} is outside [{low}, {high}]")
    assert not problems, "\n".join(problems)


def test_model_has_a_sketch_section():
    text = MODEL_PATH.read_text(encoding="utf-8")
    assert "\\\\\\---/// Sketch information" in text


# ------------------------------------------------------------------------------ stock structure
@pytest.fixture(scope="module")
def abstract():
    from model.cache import abstract_model

    return abstract_model(MODEL_PATH)


def test_model_has_the_expected_stocks(abstract):
    stocks = set(_stock_rates(abstract))
    for name in ("population", "cumulative hukou settlement", "urban construction land",
                 "registered absent rural", "registered absent urban"):
        assert name in stocks


def test_every_name_in_a_stock_equation_is_a_model_variable(abstract):
    from model.units import TIME_REFERENCES, normalize_name

    known = {normalize_name(e.name) for s in abstract.sections for e in s.elements}
    known.update(TIME_REFERENCES)
    unknown = {
        stock: sorted(set(_references(rate)) - known)
        for stock, rate in _stock_rates(abstract).items()
        if set(_references(rate)) - known
    }
    assert not unknown, f"stocks integrating names that are not variables of the model: {unknown}"


def test_every_stock_integrates_named_flow_variables(spec):
    """Each INTEG rate is a signed sum of flow variables (each a valve in the diagram)."""
    problems = []
    for stock, terms in spec.stock_flows.items():
        if terms is None:
            problems.append(
                f"'{stock}' integrates an expression, not named flows; define the rate as a flow "
                f"variable and write INTEG(<flow>, <initial>)"
            )
        else:
            problems.extend(f"'{stock}': flow '{name}' is not a variable of the model"
                            for _, name in terms if name not in spec.variables)
    assert spec.stock_flows, "the model has no stocks: the spec did not read the .mdl"
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------ source tree
def _translated_modules(directory):
    """Python files under ``directory`` that PySD generated (they say so in their header)."""
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*.py")
        if "Translated using PySD" in path.read_text(encoding="utf-8", errors="replace")[:2000]
    )


def test_translation_is_not_written_next_to_the_mdl(tmp_path, monkeypatch):
    """Loading the model translates it into the cache, never into ``model/``."""
    from model.cache import translated_model_path
    from model.pysd_engine import load_pysd_model

    monkeypatch.setenv("IMSIM_CACHE_DIR", str(tmp_path / "fresh-cache"))
    before = {path.name for path in MODEL_DIR.glob("*.py")}
    model = load_pysd_model(MODEL_PATH)
    after = {path.name for path in MODEL_DIR.glob("*.py")}

    translated = translated_model_path(MODEL_PATH)
    assert translated.is_file() and (tmp_path / "fresh-cache") in translated.parents
    assert model is not None
    assert not (MODEL_DIR / f"{MODEL_PATH.stem}.py").exists()
    assert f"{MODEL_PATH.stem}.py" not in after - before
    assert _translated_modules(MODEL_DIR) == []
