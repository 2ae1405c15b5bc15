"""What the model declares about itself: variables, units, comments and documented ranges.

Everything here is read from the ``.mdl`` (through PySD's parser), never restated in Python.
A *parameter* is a constant of the model with a documented range ``[min, max]`` in its units
field, e.g. ``~ 1/Year [0,0.08]``. Unit conversions and definitions carry no range and are not
parameters.

>>> spec = load_spec()
>>> spec.parameters["base_rural_to_urban_migration_rate"].limits
(0.0, 0.08)
>>> spec.validate({"base_rural_to_urban_migration_rate": 0.03})
{'base_rural_to_urban_migration_rate': 0.03}
"""
from __future__ import annotations

import argparse
import difflib
import math
import numbers
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping


from . import MODEL_PATH
from .cache import ModelFileError, _line_of, abstract_model, file_sha256

from pysd.builders.python.namespace import NamespaceManager
from pysd.builders.python.subscripts import SubscriptManager
from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.structures import abstract_model as am

CONTROL_NAMES = ("initial_time", "final_time", "time_step", "saveper")


class ParameterError(ValueError):
    """A parameter override that the model cannot accept (unknown name, bad value, out of range)."""


@dataclass(frozen=True)
class Variable:
    """One model variable as declared in the ``.mdl``.

    Attributes
    ----------
    name : str
        Python-safe name used everywhere in Python and in ``outputs.nc`` (``rural_population``).
    vensim_name : str
        Name as written in the ``.mdl`` (``rural population``).
    units : str
        Units string from the ``.mdl`` (``persons``).
    limits : tuple of (float or None, float or None)
        Documented range ``[min, max]``; ``(None, None)`` when the ``.mdl`` gives none.
    documentation : str
        The comment: what the variable is and where its value comes from.
    kind : str
        ``"stock"``, ``"constant"``, ``"lookup"``, ``"auxiliary"`` or ``"control"``.
    value : float or None
        The value written in the ``.mdl`` for constants and control variables, else ``None``.
    subscripts : tuple of str
        Subscript ranges of the variable's first equation (empty for province-level scalars).
    dims : tuple of str
        Dimensions of the variable's values: the subscript ranges over all its equations, merged
        as PySD merges them (``death rate[cluster]`` and ``death rate[east]``... give ``league``).
        Their elements are in :attr:`ModelSpec.coords`.
    """

    name: str
    vensim_name: str
    units: str
    limits: tuple
    documentation: str
    kind: str
    value: float | None = None
    subscripts: tuple = ()
    dims: tuple = ()

    @property
    def has_range(self) -> bool:
        return self.limits[0] is not None and self.limits[1] is not None

    @property
    def description(self) -> str:
        """The comment on one line."""
        return " ".join(self.documentation.split())


def _kind_and_value(element) -> tuple[str, float | None, tuple]:
    component = element.components[0]
    subscripts = tuple(component.subscripts[0]) if component.subscripts else ()
    if isinstance(element, am.AbstractControlElement):
        value = component.ast if isinstance(component.ast, numbers.Number) else None
        return "control", (float(value) if value is not None else None), subscripts
    if isinstance(component, am.AbstractLookup) or isinstance(
        component.ast, (ae.LookupsStructure, ae.GetLookupsStructure)
    ):
        return "lookup", None, subscripts
    if isinstance(component.ast, ae.IntegStructure):
        return "stock", None, subscripts
    def is_number(ast) -> bool:
        return isinstance(ast, numbers.Number) and not isinstance(ast, bool)

    if is_number(component.ast) and all(is_number(c.ast) for c in element.components):
        # every element a number (the first one's value is reported); an element equation elsewhere
        # (e.g. population shifted[a0] = 0, the others references) makes it an auxiliary
        return "constant", float(component.ast), subscripts
    return "auxiliary", None, subscripts


def signed_flow_terms(rate) -> list[tuple[int, str]] | None:
    """An INTEG rate ``a + b - c`` (PySD AST) as ``[(+1, "a"), (+1, "b"), (-1, "c")]``.

    Names are as the AST writes references (normalized Vensim names). Returns ``None`` if the rate
    is not a signed sum of variables (e.g. an expression integrated directly).
    """
    if isinstance(rate, ae.ReferenceStructure):
        return [(1, rate.reference)]
    if isinstance(rate, ae.ArithmeticStructure):
        if list(rate.operators) == ["negative"]:
            inner = signed_flow_terms(rate.arguments[0])
            return None if inner is None else [(-sign, name) for sign, name in inner]
        if set(rate.operators) <= {"+", "-"}:
            signs = [1] + [1 if op == "+" else -1 for op in rate.operators]
            terms = []
            for sign, argument in zip(signs, rate.arguments):
                inner = signed_flow_terms(argument)
                if inner is None:
                    return None
                terms.extend((sign * s, name) for s, name in inner)
            return terms
    return None


class ModelSpec:
    """The declared variables of one ``.mdl`` file and the validation of parameter overrides.

    Parameters
    ----------
    mdl_path : path-like
        The Vensim model file.
    """

    def __init__(self, mdl_path: str | Path = MODEL_PATH):
        self.mdl_path = Path(mdl_path).resolve()
        self.mdl_sha256 = file_sha256(self.mdl_path)
        abstract = abstract_model(self.mdl_path)
        namespace = NamespaceManager()
        variables: dict[str, Variable] = {}
        rates: dict[str, object] = {}
        #: Elements of every subscript range used as a dimension (range name -> element names).
        self.coords: dict[str, tuple] = {}
        for section in abstract.sections:
            subscripts_manager = None
            if section.subscripts:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    subscripts_manager = SubscriptManager(section.subscripts, self.mdl_path.parent)
            for element in section.elements:
                namespace.add_to_namespace(element.name)
                name = namespace.namespace[element.name]
                kind, value, subscripts = _kind_and_value(element)
                dims: tuple = ()
                if subscripts_manager is not None and element.components[0].subscripts[0]:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        merged = subscripts_manager.make_merge_list(
                            [component.subscripts[0] for component in element.components], element.name)
                    coords = subscripts_manager.make_coord_dict(merged)
                    dims = tuple(coords)
                    self.coords.update({dim: tuple(values) for dim, values in coords.items()})
                limits = tuple(element.limits[:2]) if element.limits else (None, None)
                if kind == "stock":
                    rates[name] = element.components[0].ast.flow
                variables[name] = Variable(
                    name=name,
                    vensim_name=element.name,
                    units=element.units or "",
                    limits=limits,
                    documentation=element.documentation or "",
                    kind=kind,
                    value=value,
                    subscripts=subscripts,
                    dims=dims,
                )
        backwards = [var for var in variables.values()
                     if var.has_range and var.limits[0] > var.limits[1]]
        if backwards:
            var = backwards[0]
            line = _line_of(self.mdl_path.read_text(encoding="utf-8", errors="replace"), var.vensim_name)
            raise ModelFileError(
                f"{self.mdl_path}" + (f", line {line}" if line else "") + f": the documented range of "
                f"'{var.vensim_name}' [{var.limits[0]:g}, {var.limits[1]:g}] is backwards; write [min, max]")
        self.variables = variables
        #: For each stock, its INTEG rate as ``[(sign, flow name)]`` (Python names), or ``None`` if
        #: the stock integrates an expression rather than named flows.
        self.stock_flows: dict[str, list[tuple[int, str]] | None] = {}
        for stock, rate in rates.items():
            terms = signed_flow_terms(rate)
            self.stock_flows[stock] = None if terms is None else [
                (sign, namespace.cleanspace.get(ref, ref)) for sign, ref in terms]
        self.parameters = {
            name: var
            for name, var in variables.items()
            if var.kind == "constant" and var.has_range
        }

    # ------------------------------------------------------------------ validation
    def closest_names(self, name: str, n: int = 3) -> list[str]:
        """The ``n`` parameter names closest to ``name`` (for error messages)."""
        return difflib.get_close_matches(name, list(self.parameters), n=n, cutoff=0.4)

    def check_name(self, name: str) -> Variable:
        """Return the parameter ``name`` or raise :class:`ParameterError` naming the closest ones."""
        if name in self.parameters:
            return self.parameters[name]
        if name in self.variables:
            var = self.variables[name]
            raise ParameterError(
                f"'{name}' is a {var.kind} of the model, not a parameter: only constants with a "
                f"documented range can be set. `python -m model.spec` lists the parameters with their "
                f"ranges."
            )
        close = self.closest_names(name)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ParameterError(
            f"unknown parameter '{name}'.{hint} Parameters are the constants of "
            f"{self.mdl_path.name} with a documented range: `python -m model.spec` lists them."
        )

    def check_value(self, name: str, value: Any) -> float:
        """Return ``value`` as a float if it is a number inside the documented range."""
        var = self.check_name(name)
        low, high = var.limits
        valid = f"a number in [{low:g}, {high:g}] {var.units}".rstrip()
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
            raise ParameterError(f"parameter '{name}' must be {valid}, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"parameter '{name}' must be {valid}, got {value!r}") from None
        if not math.isfinite(number):
            raise ParameterError(f"parameter '{name}' must be {valid}, got {value!r}")
        if number < low or number > high:
            raise ParameterError(
                f"parameter '{name}' = {number:g} is outside its documented range: it must be "
                f"{valid}. The range and its reasoning are in the comment of "
                f"'{var.vensim_name}' in {self.mdl_path.name}."
            )
        return number

    def validate(self, overrides: Mapping[str, Any] | None) -> dict[str, float]:
        """Check every override; return them as floats or raise :class:`ParameterError`.

        All problems are reported at once, one per line.
        """
        checked: dict[str, float] = {}
        problems: list[str] = []
        for name, value in (overrides or {}).items():
            try:
                checked[name] = self.check_value(name, value)
            except ParameterError as error:
                problems.append(str(error))
        if problems:
            raise ParameterError("\n".join(problems))
        return checked

    def defaults(self) -> dict[str, float]:
        """The parameter values written in the ``.mdl``."""
        return {name: var.value for name, var in self.parameters.items()}


@lru_cache(maxsize=8)
def _load_spec_cached(mdl_path: str, digest: str) -> ModelSpec:
    return ModelSpec(mdl_path)


def load_spec(mdl_path: str | Path = MODEL_PATH) -> ModelSpec:
    """Return the (cached) :class:`ModelSpec` of ``mdl_path``."""
    path = Path(mdl_path).resolve()
    return _load_spec_cached(str(path), file_sha256(path))


def parameter_table(spec: ModelSpec) -> str:
    """The parameters as a Markdown table (name, value, range, units, first sentence of the comment)."""
    lines = ["| parameter | value | range | units | what it is |", "|---|---|---|---|---|"]
    for name, var in sorted(spec.parameters.items()):
        first = var.description.split(". ")[0].rstrip(".")
        lines.append(f"| `{name}` | {var.value:g} | [{var.limits[0]:g}, {var.limits[1]:g}] | {var.units} | {first} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m model.spec [path.mdl]``: the parameter table, or a one-line error (exit 2)."""
    parser = argparse.ArgumentParser(prog="python -m model.spec", description="List the model parameters.")
    parser.add_argument("mdl_path", nargs="?", default=str(MODEL_PATH), help="the Vensim model")
    arguments = parser.parse_args(argv)
    try:
        print(parameter_table(load_spec(arguments.mdl_path)))
    except (ModelFileError, FileNotFoundError, ValueError) as error:
        print(f"model.spec: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
