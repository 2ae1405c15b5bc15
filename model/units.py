"""Dimensional-consistency check of a Vensim model (Sterman, *Business Dynamics*, ch. 21).

Every variable of the ``.mdl`` declares its units (``~ persons/Year``). This module parses those
strings into dimension vectors over named atoms, infers the units of every right-hand side by
walking PySD's abstract syntax tree, and reports each place where the two disagree.

Rules
-----
- Atoms are names (``persons``, ``km2``, ``m2``, ``mu``, ``%``, ``L``, ``m3``...). Different
  atoms are different dimensions: ``km2`` is not ``m2`` and the model must convert explicitly with
  a constant such as ``m2 per km2 ~ m2/km2``. ``person``/``persons``, ``Year``/``Years`` and
  ``Day``/``Days`` are the same atom; ``Dmnl``, ``dmnl`` and ``1`` are dimensionless.
- ``+``, ``-``, comparisons, ``MIN``/``MAX`` and both branches of ``IF THEN ELSE`` need equal
  units; ``*`` and ``/`` combine them; ``a^b`` needs a dimensionless ``b`` which, if ``a`` has
  units, must be a number.
- ``EXP``, ``LN``, trigonometric functions take dimensionless arguments; ``SQRT`` halves the
  exponents; ``ABS`` keeps the units; ``XIDZ(a, b, x)`` needs ``a/b`` in the units of ``x``;
  ``ZIDZ(a, b)`` is ``a/b``; ``STEP(h, t)`` has the units of ``h``; ``RAMP(s, t1, t2)`` has the
  units of ``s`` times time; ``SUM``/``VMIN``/``VMAX`` over a subscript keep the units.
- A lookup takes a dimensionless argument and returns its declared units.
- ``INTEG(rate, init)``: ``rate`` times time is the stock's units, ``init`` is in the stock's units.
- ``Time``, ``TIME STEP``, ``INITIAL TIME``, ``FINAL TIME``, ``SAVEPER`` are in the time units
  (the declared units of ``TIME STEP``, ``Year`` in this project).
- The literal ``0`` matches any units (Vensim's convention); any other number is dimensionless.
- A variable defined by a bare number (a constant) has the units it declares.
- Subscripts do not change units: units belong to the variable.
- A subscript range used as a value (its element index) is dimensionless.
- A function or construct the check does not know is reported, never silently accepted.

Usage
-----
``python -m model.units [path.mdl]`` prints a report and exits with status 1 if there are issues.

>>> parse_units("persons/Year") * parse_units("Year") == parse_units("persons")
True
>>> str(parse_units("m3/(Year*%)") * parse_units("%"))
'm3/Year'
"""
from __future__ import annotations

import argparse
import numbers
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Union

import numpy as np

from . import MODEL_PATH

from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.structures import abstract_model as am

from .cache import abstract_model

TIME_REFERENCES = ("time", "time step", "initial time", "final time", "saveper")
"""Normalized names that are in the model's time units."""

DEFAULT_TIME_UNITS = "Year"
"""Time units used when ``TIME STEP`` declares none."""

DIMENSIONLESS_NAMES = frozenset({"dmnl", "dimensionless"})
"""Unit names (compared case-insensitively) that mean dimensionless; ``1`` is also accepted."""

ATOM_ALIASES = MappingProxyType({
    "persons": "person",
    "Years": "Year",
    "year": "Year",
    "years": "Year",
    "Days": "Day",
    "day": "Day",
    "days": "Day",
})
"""Spellings of the same atom: the key is replaced by the value."""


class UnitSyntaxError(ValueError):
    """A units string that cannot be parsed."""


# ---------------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class Dimension:
    """A dimension vector: the exponent of every named atom (absent atoms have exponent 0).

    Attributes
    ----------
    exponents : tuple of (str, fractions.Fraction)
        ``(atom, exponent)`` pairs sorted by atom, without zero exponents, e.g.
        ``(("Year", -1), ("person", 1))`` for ``persons/Year``.
    """

    exponents: tuple = ()

    @classmethod
    def of(cls, mapping: Mapping[str, Union[int, Fraction]]) -> "Dimension":
        """Build a dimension from ``{atom: exponent}``, dropping zero exponents."""
        cleaned = {atom: Fraction(power) for atom, power in mapping.items() if power != 0}
        return cls(tuple(sorted(cleaned.items())))

    @property
    def as_dict(self) -> dict:
        """``{atom: exponent}`` of the non-zero exponents."""
        return dict(self.exponents)

    @property
    def is_dimensionless(self) -> bool:
        """True when every exponent is zero."""
        return not self.exponents

    def __mul__(self, other: "Dimension") -> "Dimension":
        merged = self.as_dict
        for atom, power in other.exponents:
            merged[atom] = merged.get(atom, 0) + power
        return Dimension.of(merged)

    def __truediv__(self, other: "Dimension") -> "Dimension":
        return self * other ** -1

    def __pow__(self, power: Union[int, Fraction]) -> "Dimension":
        power = Fraction(power)
        return Dimension.of({atom: exp * power for atom, exp in self.exponents})

    def __str__(self) -> str:
        if self.is_dimensionless:
            return "Dmnl"

        def term(atom: str, power: Fraction) -> str:
            if power == 1:
                return atom
            text = str(power)
            return f"{atom}^{text}" if power.denominator == 1 else f"{atom}^({text})"

        numerator = [term(a, p) for a, p in self.exponents if p > 0]
        denominator = [term(a, -p) for a, p in self.exponents if p < 0]
        top = "*".join(numerator) if numerator else "1"
        if not denominator:
            return top
        bottom = denominator[0] if len(denominator) == 1 else "(" + "*".join(denominator) + ")"
        return f"{top}/{bottom}"


DIMENSIONLESS = Dimension()


class _Wildcard:
    """Units that match anything: the literal ``0`` or an expression whose units are unknown."""

    def __init__(self, label: str):
        self.label = label

    def __repr__(self) -> str:
        return self.label

    __str__ = __repr__


MATCHES_ANY = _Wildcard("any units (literal 0)")
"""Units of the literal 0, which Vensim lets match any units."""

UNDETERMINED = _Wildcard("undetermined units")
"""Units that could not be inferred (the cause has already been reported)."""

Units = Union[Dimension, _Wildcard]

_TOKEN = re.compile(
    r"\s*(?:(?P<op>[()*/^])"
    r"|(?P<num>[+-]?\d+(?:\.\d*)?)(?=\s*(?:[()*/^]|$))"
    r"|(?P<atom>[^\s()*/^]+(?:[ \t]+[^\s()*/^]+)*))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise UnitSyntaxError(f"cannot read units '{text}' at '{stripped[position:]}'")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def canonical_atom(name: str) -> str:
    """The canonical spelling of a unit atom (``persons`` -> ``person``, ``Years`` -> ``Year``)."""
    name = " ".join(name.split())
    return ATOM_ALIASES.get(name, name)


class _UnitParser:
    """Recursive-descent parser of one units string (see :func:`parse_units`)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise UnitSyntaxError(f"units '{self.text}' end unexpectedly")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise UnitSyntaxError(f"expected '{value}' in units '{self.text}', found '{text}'")

    def parse(self) -> Dimension:
        if not self.tokens:
            raise UnitSyntaxError("empty units string")
        result = self.product()
        if self.peek() is not None:
            raise UnitSyntaxError(f"unexpected '{self.peek()[1]}' in units '{self.text}'")
        return result

    def product(self) -> Dimension:
        result = self.power()
        while self.peek() in (("op", "*"), ("op", "/")):
            _, operator = self.take()
            factor = self.power()
            result = result * factor if operator == "*" else result / factor
        return result

    def power(self) -> Dimension:
        base = self.primary()
        if self.peek() == ("op", "^"):
            self.take()
            base = base ** self.exponent()
        return base

    def exponent(self) -> Fraction:
        kind, text = self.take()
        if kind == "num":
            value = Fraction(text)
        elif text == "(":
            kind, text = self.take()
            if kind != "num":
                raise UnitSyntaxError(f"exponent must be a number in units '{self.text}'")
            value = Fraction(text)
            if self.peek() == ("op", "/"):
                self.take()
                kind, text = self.take()
                if kind != "num":
                    raise UnitSyntaxError(f"exponent must be a number in units '{self.text}'")
                value /= Fraction(text)
            self.expect(")")
        else:
            raise UnitSyntaxError(f"exponent must be a number in units '{self.text}', got '{text}'")
        return value

    def primary(self) -> Dimension:
        kind, text = self.take()
        if kind == "op" and text == "(":
            inner = self.product()
            self.expect(")")
            return inner
        if kind == "num":
            if Fraction(text) != 1:
                raise UnitSyntaxError(
                    f"units '{self.text}' contain the number {text}; only 1 (as in 1/Year) is "
                    f"allowed, scale factors belong in conversion constants"
                )
            return DIMENSIONLESS
        if kind == "atom":
            if re.match(r"[+-]?\d", text):
                raise UnitSyntaxError(
                    f"units '{self.text}' start a unit name with a number ('{text}'); scale "
                    f"factors belong in conversion constants"
                )
            if text.lower() in DIMENSIONLESS_NAMES:
                return DIMENSIONLESS
            return Dimension.of({canonical_atom(text): 1})
        raise UnitSyntaxError(f"unexpected '{text}' in units '{self.text}'")


def parse_units(text: str) -> Dimension:
    """Parse a Vensim units string into a :class:`Dimension`.

    Parameters
    ----------
    text : str
        Units as written in the ``.mdl`` (without the ``[min, max]`` range), e.g.
        ``"L/(person*Day)"``, ``"m3/(Year*%)"``, ``"1/Year"``, ``"km2^2"``, ``"Dmnl"``.

    Returns
    -------
    Dimension
        The dimension vector.

    Raises
    ------
    UnitSyntaxError
        If the string is empty or malformed.
    """
    return _UnitParser(text).parse()


# --------------------------------------------------------------------------------------- issues
@dataclass(frozen=True)
class UnitIssue:
    """One dimensional inconsistency (or a construct the check cannot verify).

    Attributes
    ----------
    variable : str
        Vensim name of the variable whose equation has the issue (with subscripts, if any).
    fragment : str
        The part of the equation concerned, in Vensim syntax.
    expected : str
        Units the rule requires there.
    found : str
        Units inferred there.
    message : str
        A sentence a modeller can act on.
    kind : str
        ``"mismatch"``, ``"unsupported"``, ``"missing units"``, ``"syntax"`` or
        ``"unknown reference"``.
    """

    variable: str
    fragment: str
    expected: str
    found: str
    message: str
    kind: str = "mismatch"

    def __str__(self) -> str:
        return self.message


def normalize_name(name: str) -> str:
    """Vensim's identity of a name: case, underscores and repeated spaces do not matter."""
    return " ".join(name.replace("_", " ").replace('"', " ").split()).lower()


def _is_number(node) -> bool:
    return isinstance(node, numbers.Number) and not isinstance(node, bool)


# ------------------------------------------------------------------------------------ rendering
_PRECEDENCE = {
    "^": 5, "negative": 4, "*": 3, "/": 3, "+": 2, "-": 2,
    "=": 1, "<>": 1, "<": 1, "<=": 1, ">": 1, ">=": 1,
    ":NOT:": 0.5, ":AND:": 0, ":OR:": 0,
}


def _format_number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


@dataclass
class _Renderer:
    """Write an AST back in Vensim syntax (for messages)."""

    display_names: Mapping[str, str]

    def name(self, reference: str) -> str:
        return self.display_names.get(normalize_name(reference), reference.replace("_", " "))

    def __call__(self, node) -> str:
        if _is_number(node):
            return _format_number(node)
        if isinstance(node, np.ndarray):
            return ", ".join(_format_number(v) for v in node.ravel())
        if isinstance(node, ae.ReferenceStructure):
            text = self.name(node.reference)
            if node.subscripts is not None:
                text += "[" + ",".join(node.subscripts.subscripts) + "]"
            return text
        if isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure)):
            return self.operation(node)
        if isinstance(node, ae.CallStructure):
            function = node.function.reference
            arguments = list(node.arguments)
            if function == "pulse_train" and len(arguments) == 4:
                arguments = [arguments[0], arguments[2], arguments[1], arguments[3]]
            label = self.display_names.get(normalize_name(function))
            label = label or function.replace("_", " ").upper()
            return f"{label}(" + ", ".join(self(a) for a in arguments) + ")"
        if isinstance(node, ae.IntegStructure):
            return f"INTEG({self(node.flow)}, {self(node.initial)})"
        if isinstance(node, ae.InlineLookupsStructure):
            return f"WITH LOOKUP({self(node.argument)}, ...)"
        if isinstance(node, ae.InitialStructure):
            return f"INITIAL({self(node.initial)})"
        fields = getattr(node, "__dataclass_fields__", None)
        if fields:
            inner = ", ".join(self(getattr(node, f)) for f in fields if f not in ("order", "type"))
            return f"{type(node).__name__.replace('Structure', '').upper()}({inner})"
        return str(node)

    def operation(self, node) -> str:
        operators = list(node.operators)
        if operators in (["negative"], [":NOT:"]):
            inner = self.wrapped(node.arguments[0], _PRECEDENCE[operators[0]])
            return ("-" if operators[0] == "negative" else ":NOT: ") + inner
        level = min(_PRECEDENCE.get(op, 0) for op in operators)
        parts = [self.wrapped(node.arguments[0], level)]
        for operator, argument in zip(operators, node.arguments[1:]):
            spaced = f" {operator} " if _PRECEDENCE.get(operator, 0) <= 2 else operator
            parts.append(spaced + self.wrapped(argument, level))
        return "".join(parts)

    def wrapped(self, node, level: float) -> str:
        text = self(node)
        if isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure)):
            inner = min(_PRECEDENCE.get(op, 0) for op in node.operators)
            if inner <= level:
                return f"({text})"
        return text


# ------------------------------------------------------------------------------------ inference
_DIMENSIONLESS_FUNCTIONS = frozenset({
    "exp", "ln", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
})
_UNIT_KEEPING_FUNCTIONS = frozenset({"abs", "integer", "sum", "vmin", "vmax"})
_EQUAL_ARGUMENT_FUNCTIONS = frozenset({"min", "max", "modulo", "quantum"})


def _describe(units: Units, declared_text: str | None = None) -> str:
    """Units for a message: as declared in the ``.mdl`` if given, else in canonical form."""
    if declared_text and not isinstance(units, _Wildcard):
        return declared_text
    return str(units)


def _literal_value(node) -> float | None:
    """The value of an expression made only of numbers, else ``None``."""
    if _is_number(node):
        return float(node)
    if isinstance(node, ae.ArithmeticStructure):
        values = [_literal_value(a) for a in node.arguments]
        if any(v is None for v in values):
            return None
        if list(node.operators) == ["negative"]:
            return -values[0]
        if set(node.operators) <= {"^"}:
            result = values[-1]
            for value in reversed(values[:-1]):
                result = value ** result
            return result
        result = values[0]
        for operator, value in zip(node.operators, values[1:]):
            if operator == "+":
                result += value
            elif operator == "-":
                result -= value
            elif operator == "*":
                result *= value
            elif operator == "/":
                result = result / value if value != 0 else None
                if result is None:
                    return None
            else:
                return None
        return result
    return None


@dataclass
class _DeclaredVariable:
    name: str
    units_text: str
    units: Units
    is_lookup: bool


@dataclass
class _ModelUnitChecker:
    """Infer and compare the units of every equation of one abstract model."""

    declared: dict
    time_units: Dimension
    render: _Renderer
    subscript_names: frozenset = frozenset()
    issues: list = field(default_factory=list)
    variable: str = ""
    variable_units: Units = UNDETERMINED

    # ------------------------------------------------------------------ reporting
    def report(self, node, expected: str, found: str, message: str, kind: str = "mismatch"):
        fragment = self.render(node) if node is not None else ""
        self.issues.append(UnitIssue(
            variable=self.variable, fragment=fragment, expected=expected, found=found,
            message=message, kind=kind,
        ))

    @staticmethod
    def same(first: Units, second: Units) -> bool:
        if isinstance(first, _Wildcard) or isinstance(second, _Wildcard):
            return True
        return first == second

    def require(self, node, units: Units, expected: Units, role: str) -> None:
        """Report ``node`` (in ``units``) if it is not in ``expected``."""
        if not self.same(units, expected):
            self.report(
                node, str(expected), str(units),
                f"'{self.variable}': {role} `{self.render(node)}` is in {_describe(units)} but "
                f"must be in {_describe(expected)}.",
            )

    # ------------------------------------------------------------------ equations
    def check_component(self, element_name: str, component, declared: _DeclaredVariable) -> None:
        subscripts = component.subscripts[0] if component.subscripts else []
        self.variable = element_name + (f"[{','.join(subscripts)}]" if subscripts else "")
        self.variable_units = declared.units
        ast = component.ast
        if isinstance(component, (am.AbstractLookup, am.AbstractData)) or isinstance(
            ast, (ae.LookupsStructure, ae.GetLookupsStructure, ae.GetDataStructure,
                  ae.GetConstantsStructure, ae.DataStructure)
        ):
            return  # a table or external data: the declared units define it
        if _is_number(ast) or isinstance(ast, (np.ndarray, str)):
            return  # a constant: the declared units define it
        if isinstance(ast, ae.IntegStructure):
            self.check_stock(ast, declared)
            return
        found = self.infer(ast)
        if not self.same(found, declared.units):
            self.report(
                ast, str(declared.units), str(found),
                f"'{self.variable}' is declared in {_describe(declared.units, declared.units_text)}"
                f" but its equation `{self.render(ast)}` gives {_describe(found)}.",
            )

    def check_stock(self, integ, declared: _DeclaredVariable) -> None:
        flow_units = self.infer(integ.flow)
        initial_units = self.infer(integ.initial)
        stock_units = declared.units
        if isinstance(stock_units, Dimension) and isinstance(flow_units, Dimension):
            accumulated = flow_units * self.time_units
            if accumulated != stock_units:
                self.report(
                    integ.flow, str(stock_units / self.time_units), str(flow_units),
                    f"'{self.variable}' is a stock in {_describe(stock_units, declared.units_text)}"
                    f", so its net flow must be in {stock_units / self.time_units}; the flow "
                    f"`{self.render(integ.flow)}` is in {flow_units} (accumulates to "
                    f"{accumulated}).",
                )
        if not self.same(initial_units, stock_units):
            self.report(
                integ.initial, str(stock_units), str(initial_units),
                f"'{self.variable}' is a stock in {_describe(stock_units, declared.units_text)} "
                f"but its initial value `{self.render(integ.initial)}` is in "
                f"{_describe(initial_units)}.",
            )

    # ------------------------------------------------------------------ expressions
    def infer(self, node) -> Units:
        """Units of an expression; reports every inconsistency found inside it."""
        if _is_number(node):
            return MATCHES_ANY if node == 0 else DIMENSIONLESS
        if isinstance(node, ae.ReferenceStructure):
            return self.reference(node)
        if isinstance(node, ae.ArithmeticStructure):
            return self.arithmetic(node)
        if isinstance(node, ae.LogicStructure):
            return self.logic(node)
        if isinstance(node, ae.CallStructure):
            return self.call(node)
        if isinstance(node, ae.InlineLookupsStructure):
            self.require(node.argument, self.infer(node.argument), DIMENSIONLESS,
                         "the argument of the lookup")
            return self.variable_units
        if isinstance(node, ae.InitialStructure):
            return self.infer(node.initial)
        if isinstance(node, (ae.SmoothStructure, ae.SmoothNStructure)):
            return self.delay_like(node, node.smooth_time, "smoothing time")
        if isinstance(node, (ae.DelayStructure, ae.DelayNStructure)):
            return self.delay_like(node, node.delay_time, "delay time")
        if isinstance(node, ae.DelayFixedStructure):
            input_units = self.infer(node.input)
            self.require(node.delay_time, self.infer(node.delay_time), self.time_units,
                         "the delay time")
            self.require(node.initial, self.infer(node.initial), input_units,
                         "the initial value")
            return input_units
        if isinstance(node, ae.TrendStructure):
            self.infer(node.input)
            self.require(node.average_time, self.infer(node.average_time), self.time_units,
                         "the averaging time")
            rate = self.time_units ** -1
            self.require(node.initial_trend, self.infer(node.initial_trend), rate,
                         "the initial trend")
            return rate
        if isinstance(node, ae.SampleIfTrueStructure):
            self.infer(node.condition)
            input_units = self.infer(node.input)
            self.require(node.initial, self.infer(node.initial), input_units,
                         "the initial value")
            return input_units
        if isinstance(node, ae.IntegStructure):
            self.report(node, "", "", f"'{self.variable}': INTEG can only be the whole equation "
                        f"of a stock, not part of an expression.", kind="unsupported")
            return UNDETERMINED
        self.report(
            node, "", "",
            f"'{self.variable}': the unit check does not know the construct "
            f"{type(node).__name__} in `{self.render(node)}`; its units were not verified. "
            f"Extend model/units.py or rewrite the equation with supported functions.",
            kind="unsupported",
        )
        return UNDETERMINED

    def delay_like(self, node, time_node, role: str) -> Units:
        input_units = self.infer(node.input)
        self.require(time_node, self.infer(time_node), self.time_units, f"the {role}")
        self.require(node.initial, self.infer(node.initial), input_units, "the initial value")
        order = getattr(node, "order", None)
        if order is not None and not _is_number(order):
            self.require(order, self.infer(order), DIMENSIONLESS, "the order")
        return input_units

    def reference(self, node) -> Units:
        key = normalize_name(node.reference)
        if key in TIME_REFERENCES:
            return self.time_units
        declared = self.declared.get(key)
        if declared is None and key in self.subscript_names:
            return DIMENSIONLESS  # the index of a subscript element
        if declared is None:
            self.report(
                node, "", "",
                f"'{self.variable}' refers to `{self.render(node)}`, which is not a variable of "
                f"the model.", kind="unknown reference",
            )
            return UNDETERMINED
        if declared.is_lookup:
            self.report(
                node, "", "",
                f"'{self.variable}' uses the lookup `{declared.name}` without an argument.",
                kind="unsupported",
            )
            return UNDETERMINED
        return declared.units

    def arithmetic(self, node) -> Units:
        operators = list(node.operators)
        arguments = list(node.arguments)
        if operators == ["negative"]:
            return self.infer(arguments[0])
        if set(operators) <= {"^"}:
            return self.power_chain(node, arguments)
        units = [self.infer(a) for a in arguments]
        if set(operators) <= {"*", "/"}:
            if any(u is UNDETERMINED for u in units):
                return UNDETERMINED
            if any(u is MATCHES_ANY for u in units):
                return MATCHES_ANY
            result = units[0]
            for operator, factor in zip(operators, units[1:]):
                result = result * factor if operator == "*" else result / factor
            return result
        if set(operators) <= {"+", "-"}:
            return self.common_units(node, arguments, units, "the terms of")
        self.report(node, "", "", f"'{self.variable}': unexpected mix of operators {operators} "
                    f"in `{self.render(node)}`.", kind="unsupported")
        return UNDETERMINED

    def common_units(self, node, arguments, units, role: str) -> Units:
        """The units shared by ``arguments``; report every one that differs from the first."""
        reference_index = next(
            (i for i, u in enumerate(units) if isinstance(u, Dimension)), None
        )
        if reference_index is None:
            return UNDETERMINED if any(u is UNDETERMINED for u in units) else MATCHES_ANY
        reference = units[reference_index]
        consistent = True
        for argument, argument_units in zip(arguments, units):
            if not self.same(argument_units, reference):
                consistent = False
                self.report(
                    node, str(reference), str(argument_units),
                    f"'{self.variable}': {role} `{self.render(node)}` have different units: "
                    f"`{self.render(arguments[reference_index])}` is in {reference} but "
                    f"`{self.render(argument)}` is in {argument_units}. They must be in the same "
                    f"units; convert with an explicit constant (e.g. 'm2 per km2') or fix the "
                    f"declared units.",
                )
        return reference if consistent else UNDETERMINED

    def power_chain(self, node, arguments) -> Units:
        # PySD builds a^b^c as a^(b^c): nest the chain from the right, then check each power.
        if len(arguments) > 2:
            exponent = arguments[-1]
            for base in reversed(arguments[1:-1]):
                exponent = ae.ArithmeticStructure(["^"], (base, exponent))
            node = ae.ArithmeticStructure(["^"], (arguments[0], exponent))
            arguments = list(node.arguments)
        base_node, exponent_node = arguments
        return self.power(node, base_node, self.infer(base_node), exponent_node,
                          self.infer(exponent_node))

    def power(self, node, base_node, base_units, exponent_node, exponent_units) -> Units:
        self.require(exponent_node, exponent_units, DIMENSIONLESS, "the exponent")
        if base_units is UNDETERMINED or base_units is MATCHES_ANY:
            return base_units
        if base_units.is_dimensionless:
            return DIMENSIONLESS
        value = _literal_value(exponent_node)
        if value is None:
            self.report(
                node, "a number", self.render(exponent_node),
                f"'{self.variable}': in `{self.render(node)}` the base "
                f"`{self.render(base_node)}` is in {base_units}, so the exponent must be a "
                f"number, not `{self.render(exponent_node)}`. Divide the base by a reference "
                f"value to make it dimensionless.",
            )
            return UNDETERMINED
        return base_units ** Fraction(value).limit_denominator(1000)

    def logic(self, node) -> Units:
        operators = list(node.operators)
        arguments = list(node.arguments)
        if set(operators) <= {":AND:", ":OR:", ":NOT:"}:
            for argument in arguments:
                self.infer(argument)
            return DIMENSIONLESS
        units = [self.infer(a) for a in arguments]
        self.common_units(node, arguments, units, "the sides of the comparison")
        return DIMENSIONLESS

    def call(self, node) -> Units:
        function = normalize_name(node.function.reference).replace(" ", "_")
        arguments = list(node.arguments)
        declared = self.declared.get(normalize_name(node.function.reference))
        if declared is not None and declared.is_lookup:
            if len(arguments) != 1:
                self.report(node, "", "", f"'{self.variable}': the lookup `{declared.name}` takes "
                            f"one argument.", kind="unsupported")
                return declared.units
            self.require(arguments[0], self.infer(arguments[0]), DIMENSIONLESS,
                         f"the argument of the lookup '{declared.name}',")
            return declared.units
        units = [self.infer(a) for a in arguments]
        time = self.time_units

        def arity(count: int) -> bool:
            if len(arguments) in ((count,) if isinstance(count, int) else count):
                return True
            self.report(node, "", "", f"'{self.variable}': {function.upper()} called with "
                        f"{len(arguments)} arguments in `{self.render(node)}`.", kind="unsupported")
            return False

        if function in _DIMENSIONLESS_FUNCTIONS and arity(1):
            self.require(arguments[0], units[0], DIMENSIONLESS,
                         f"the argument of {function.upper()}")
            return DIMENSIONLESS
        if function == "log" and arity(2):
            for argument, argument_units in zip(arguments, units):
                self.require(argument, argument_units, DIMENSIONLESS, "the argument of LOG")
            return DIMENSIONLESS
        if function == "sqrt" and arity(1):
            if isinstance(units[0], _Wildcard):
                return units[0]
            return units[0] ** Fraction(1, 2)
        if function == "power" and arity(2):
            return self.power(node, arguments[0], units[0], arguments[1], units[1])
        if function in _UNIT_KEEPING_FUNCTIONS and arity(1):
            return units[0]
        if function == "prod" and arity(1):
            self.require(arguments[0], units[0], DIMENSIONLESS,
                         "the argument of PROD (whose units would depend on the subscript size)")
            return DIMENSIONLESS
        if function in _EQUAL_ARGUMENT_FUNCTIONS and arity(2):
            return self.common_units(node, arguments, units,
                                     f"the arguments of {function.upper()}")
        if function == "if_then_else" and arity(3):
            return self.common_units(node, arguments[1:], units[1:],
                                     "the two branches of IF THEN ELSE")
        if function == "zidz" and arity(2):
            return self.quotient(units[0], units[1])
        if function == "xidz" and arity(3):
            ratio = self.quotient(units[0], units[1])
            if not self.same(ratio, units[2]):
                self.report(
                    node, str(ratio), str(units[2]),
                    f"'{self.variable}': in `{self.render(node)}` the quotient "
                    f"`{self.render(arguments[0])}`/`{self.render(arguments[1])}` is in {ratio} "
                    f"but the value used when the divisor is 0, `{self.render(arguments[2])}`, is "
                    f"in {units[2]}; they must agree.",
                )
                return UNDETERMINED
            return ratio if isinstance(ratio, Dimension) else units[2]
        if function == "step" and arity(2):
            self.require(arguments[1], units[1], time, "the step time")
            return units[0]
        if function == "ramp" and arity((2, 3)):
            for argument, argument_units in zip(arguments[1:], units[1:]):
                self.require(argument, argument_units, time, "the start/end time of RAMP")
            return units[0] * time if isinstance(units[0], Dimension) else units[0]
        if function == "pulse" and arity(2):
            for argument, argument_units in zip(arguments, units):
                self.require(argument, argument_units, time, "the start/width of PULSE")
            return DIMENSIONLESS
        if function == "pulse_train" and arity(4):
            for argument, argument_units in zip(arguments, units):
                self.require(argument, argument_units, time, "the times of PULSE TRAIN")
            return DIMENSIONLESS
        if function in ("elmcount", "pi"):
            return DIMENSIONLESS
        if function in ("min", "max", "log", "sqrt", "power", "if_then_else", "zidz", "xidz",
                        "step", "ramp", "pulse", "pulse_train", "prod", "modulo", "quantum") \
                or function in _DIMENSIONLESS_FUNCTIONS or function in _UNIT_KEEPING_FUNCTIONS:
            return UNDETERMINED  # wrong number of arguments, already reported
        self.report(
            node, "", "",
            f"'{self.variable}': the unit check does not know the function "
            f"{function.replace('_', ' ').upper()} in `{self.render(node)}`; its units were not "
            f"verified. Extend model/units.py or use a supported function.",
            kind="unsupported",
        )
        return UNDETERMINED

    @staticmethod
    def quotient(numerator: Units, denominator: Units) -> Units:
        if numerator is UNDETERMINED or denominator is UNDETERMINED:
            return UNDETERMINED
        if numerator is MATCHES_ANY or denominator is MATCHES_ANY:
            return MATCHES_ANY
        return numerator / denominator


# ----------------------------------------------------------------------------------- entry point
def _declare(element, issues: list) -> _DeclaredVariable:
    is_lookup = any(
        isinstance(c, am.AbstractLookup)
        or isinstance(c.ast, (ae.LookupsStructure, ae.GetLookupsStructure))
        for c in element.components
    )
    text = (element.units or "").strip()
    if not text:
        issues.append(UnitIssue(
            variable=element.name, fragment="", expected="declared units", found="none",
            message=f"'{element.name}' has no units; declare them in the .mdl (Dmnl if "
                    f"dimensionless).",
            kind="missing units",
        ))
        return _DeclaredVariable(element.name, text, UNDETERMINED, is_lookup)
    try:
        units = parse_units(text)
    except UnitSyntaxError as error:
        issues.append(UnitIssue(
            variable=element.name, fragment=text, expected="a units expression", found=text,
            message=f"'{element.name}': cannot read its units: {error}.", kind="syntax",
        ))
        units = UNDETERMINED
    return _DeclaredVariable(element.name, text, units, is_lookup)


def check_abstract_model(abstract) -> list[UnitIssue]:
    """Check the dimensional consistency of a parsed PySD ``AbstractModel``.

    Parameters
    ----------
    abstract : pysd.translators.structures.abstract_model.AbstractModel
        The parsed model (see :func:`model.cache.abstract_model`).

    Returns
    -------
    list of UnitIssue
        Every inconsistency found, in the order of the ``.mdl``; empty if the model is consistent.
    """
    issues: list[UnitIssue] = []
    elements = []
    for section in abstract.sections:
        if section.type != "main":
            issues.append(UnitIssue(
                variable=section.name, fragment="", expected="", found="",
                message=f"macro '{section.name}' is not supported by the unit check; its "
                        f"equations were not verified.",
                kind="unsupported",
            ))
            continue
        elements.extend(section.elements)

    declared = {normalize_name(e.name): _declare(e, issues) for e in elements}
    # A subscript range or element used as a value is its (dimensionless) index.
    subscript_names = set()
    for section in abstract.sections:
        for subscript_range in section.subscripts:
            subscript_names.add(normalize_name(subscript_range.name))
            if isinstance(subscript_range.subscripts, (list, tuple)):
                subscript_names.update(normalize_name(str(s)) for s in subscript_range.subscripts)
    time_step = declared.get("time step")
    if time_step is not None and isinstance(time_step.units, Dimension):
        time_units = time_step.units
    else:
        time_units = parse_units(DEFAULT_TIME_UNITS)
    display_names = {"time": "Time"}
    display_names.update({key: var.name for key, var in declared.items()})
    render = _Renderer(display_names)
    checker = _ModelUnitChecker(declared=declared, time_units=time_units, render=render,
                                subscript_names=frozenset(subscript_names - set(declared)))
    checker.issues = issues

    for element in elements:
        variable = declared[normalize_name(element.name)]
        if isinstance(element, am.AbstractControlElement):
            checker.variable = element.name
            checker.variable_units = variable.units
            if normalize_name(element.name) in TIME_REFERENCES and not checker.same(
                variable.units, time_units
            ):
                checker.report(
                    None, str(time_units), str(variable.units),
                    f"'{element.name}' is a time control and must be in the time units "
                    f"{time_units} (the units of TIME STEP), not {_describe(variable.units)}.",
                )
            for component in element.components:
                if not _is_number(component.ast):
                    checker.check_component(element.name, component, variable)
            continue
        for component in element.components:
            checker.check_component(element.name, component, variable)
    return checker.issues


def check_units(mdl_path: str | Path = MODEL_PATH) -> list[UnitIssue]:
    """Check the dimensional consistency of a Vensim model.

    Parameters
    ----------
    mdl_path : path-like
        The Vensim ``.mdl`` file (default: the main model).

    Returns
    -------
    list of UnitIssue
        Every inconsistency found; empty if every equation's units match its declared units.
    """
    return check_abstract_model(abstract_model(mdl_path))


def format_report(issues: Iterable[UnitIssue], mdl_path: str | Path) -> str:
    """A plain-text report of ``issues`` for ``mdl_path``."""
    issues = list(issues)
    name = Path(mdl_path).name
    if not issues:
        return f"{name}: units are consistent (0 issues)."
    lines = [f"{name}: {len(issues)} unit issue(s)"]
    for number, issue in enumerate(issues, start=1):
        lines.append(f"{number:3d}. [{issue.kind}] {issue.message}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m model.units [path.mdl]``; returns 1 if there are issues."""
    parser = argparse.ArgumentParser(
        prog="python -m model.units",
        description="Check the dimensional consistency of a Vensim .mdl model.",
    )
    parser.add_argument("mdl_path", nargs="?", default=str(MODEL_PATH),
                        help="the Vensim model (default: %(default)s)")
    arguments = parser.parse_args(argv)
    try:
        issues = check_units(arguments.mdl_path)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(issues, arguments.mdl_path))
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
