"""Translate PySD's parsed ``AbstractModel`` into numpy source code that runs many samples at once.

The translation mirrors PySD 3.14.3's own Python builder
(``pysd/builders/python/python_expressions_builder.py``) node by node: operators are rendered
with the same precedence and parenthesisation rules, functions call the numpy equivalent of the
PySD runtime function (see :mod:`model.vectorized.runtime`), stocks, SMOOTH and DELAY states are
initialised and integrated as ``pysd/py_backend/statefuls.py`` does. What differs is only the
array layout: axis 0 holds the samples, the following axes the subscript ranges.

The compiler has two stages:

1. :class:`ModelCompiler` walks the abstract model once and builds an intermediate
   representation: one :class:`Expr` (a numpy expression string plus its subscript axes and
   dependencies) per equation, hidden state objects for INTEG/SMOOTH/DELAY, lookup tables.
2. :meth:`ModelCompiler.generate` writes the source of one ``simulate`` function for a given set
   of overridden variables, requested outputs and integration method, with time-invariant
   equations hoisted out of the time loop.

Anything the engine cannot reproduce exactly raises :class:`UnsupportedConstruct` at compile
time, naming the construct and the variable.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import runtime

from pysd.builders.python.namespace import NamespaceManager
from pysd.builders.python.subscripts import SubscriptManager
from pysd.py_backend.lookups import HardcodedLookups
from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.structures import abstract_model as am

CONTROL_NAMES = ("initial_time", "final_time", "time_step", "saveper")
#: Local names of the control values inside the generated code.
CONTROL_LOCALS = {"initial_time": "t0", "final_time": "tf", "time_step": "dt", "saveper": "sp"}


class UnsupportedConstruct(NotImplementedError):
    """A construct of the ``.mdl`` that the vectorized engine does not reproduce.

    Parameters
    ----------
    construct : str
        The Vensim construct (``DELAY FIXED``, ``GET XLS DATA``, ...).
    variable : str
        The Vensim name of the variable whose equation uses it.
    detail : str, optional
        Extra explanation appended to the message.
    """

    def __init__(self, construct: str, variable: str, detail: str = ""):
        self.construct = construct
        self.variable = variable
        message = (
            f"{construct} in variable '{variable}' is not supported by the vectorized engine; "
            f"use engine=pysd (model.pysd_engine.PySDEngine)"
        )
        if detail:
            message += f". {detail}"
        super().__init__(message)


# Structures PySD can translate but this engine rejects, with their Vensim names.
_REJECTED_STRUCTURES = {
    "DelayNStructure": "DELAY N",
    "DelayFixedStructure": "DELAY FIXED",
    "TrendStructure": "TREND",
    "ForecastStructure": "FORECAST",
    "SampleIfTrueStructure": "SAMPLE IF TRUE",
    "AllocateAvailableStructure": "ALLOCATE AVAILABLE",
    "AllocateByPriorityStructure": "ALLOCATE BY PRIORITY",
    "GetConstantsStructure": "GET XLS/DIRECT CONSTANTS",
    "GetDataStructure": "GET XLS/DIRECT DATA",
    "GetLookupsStructure": "GET XLS/DIRECT LOOKUPS",
    "DataStructure": "DATA variable",
}

# Elementwise functions: Vensim name (as parsed) -> (numpy call template, number of arguments).
_ELEMENTWISE = {
    "abs": ("_np.abs({0})", 1),
    "exp": ("_np.exp({0})", 1),
    "ln": ("_np.log({0})", 1),
    "sqrt": ("_np.sqrt({0})", 1),
    "sin": ("_np.sin({0})", 1),
    "cos": ("_np.cos({0})", 1),
    "tan": ("_np.tan({0})", 1),
    "arcsin": ("_np.arcsin({0})", 1),
    "arccos": ("_np.arccos({0})", 1),
    "arctan": ("_np.arctan({0})", 1),
    "sinh": ("_np.sinh({0})", 1),
    "cosh": ("_np.cosh({0})", 1),
    "tanh": ("_np.tanh({0})", 1),
    "power": ("_np.power({0},{1})", 2),
    "log": ("(_np.log({0})/_np.log({1}))", 2),
    "min": ("_np.minimum({0}, {1})", 2),
    "max": ("_np.maximum({0}, {1})", 2),
    "if_then_else": ("_np.where({0}, {1}, {2})", 3),
    "xidz": ("_rt.xidz({0}, {1}, {2})", 3),
    "zidz": ("_rt.zidz({0}, {1})", 2),
    "integer": ("_rt.integer({0})", 1),
    "quantum": ("_rt.quantum({0}, {1})", 2),
    "modulo": ("_rt.modulo({0}, {1})", 2),
}
# Functions of time (PySD's functions.py): template with t (time) and dt (time step).
_TIME_FUNCTIONS = {
    "step": ("({0} * (t + dt / 2 > {1}))", 2),
    "ramp": ("((t + 1e-06 > {1}) * {0} * (_np.minimum({2}, t) - {1}))", 3),
    "Xramp": ("((t + 1e-06 > {1}) * {0} * (t - {1}))", 2),
    "pulse": ("_rt.pulse(t, {0}, {1})", 2),
    "pulse_train": ("_rt.pulse_train(t, {0}, {1}, {2}, {3})", 4),
}
_REDUCTIONS = {"sum": "_np.sum", "prod": "_np.prod", "vmin": "_np.min", "vmax": "_np.max"}

# PySD's operator table (OperationBuilder._operators_build): template and precedence order.
_OPERATORS = {
    "^": ("%(left)s**%(right)s", 1),
    "*": ("%(left)s*%(right)s", 2),
    "/": ("%(left)s/%(right)s", 2),
    "+": ("%(left)s + %(right)s", 3),
    "-": ("%(left)s - %(right)s", 3),
    "=": ("%(left)s == %(right)s", 4),
    "<>": ("%(left)s != %(right)s", 4),
    ">=": ("%(left)s >= %(right)s", 4),
    ">": ("%(left)s > %(right)s", 4),
    "<=": ("%(left)s <= %(right)s", 4),
    "<": ("%(left)s < %(right)s", 4),
    ":NOT:": ("_np.logical_not(%s)", 0),
    ":AND:": ("_np.logical_and(%(left)s, %(right)s)", 0),
    ":OR:": ("_np.logical_or(%(left)s, %(right)s)", 0),
    "negative": ("-%s", 3),
}


@dataclass
class Expr:
    """A numpy expression with its array layout.

    Attributes
    ----------
    code : str
        Python source evaluating the expression.
    order : int
        PySD's arithmetic order of the last operation (0 atom, 1 power, 2 product, 3 sum,
        4 comparison); decides where parentheses go, exactly as PySD does.
    dims : dict of str to tuple of str
        Subscript axes after the sample axis, in order, with their elements.
    arrayed : bool
        True if the value carries the leading sample axis; False for *bare* values (literals,
        time), which broadcast against anything.
    refs : frozenset of str
        Graph nodes the expression reads (variables, hidden states, INITIAL values).
    timed : bool
        True if the expression reads the model time directly (Time, STEP, RAMP, PULSE).
    partial : frozenset of str
        Dims present only as length-1 broadcast axes (inserted by alignment).
    is_int : bool
        The value is a Python/numpy integer in PySD (integer literals and constants, and
        ``+ - * ^`` of those); PySD keeps SMOOTH states in integer arrays in that case.
    """

    code: str
    order: int = 0
    dims: dict = field(default_factory=dict)
    arrayed: bool = False
    refs: frozenset = frozenset()
    timed: bool = False
    partial: frozenset = frozenset()
    is_int: bool = False

    def lower_order(self, new_order: int) -> None:
        """Parenthesise if needed before use in an operation of ``new_order`` (PySD's rule)."""
        if self.order >= new_order and self.order != 0 and new_order != 0:
            self.code = "(%s)" % self.code
            self.order = 0

    def atom(self) -> str:
        """The code as an atom (parenthesised unless already atomic)."""
        return self.code if self.order == 0 else "(%s)" % self.code


@dataclass
class State:
    """A hidden integrated state (one INTEG, SMOOTH or DELAY call).

    Attributes
    ----------
    index : int
        Number of the state; the generated levels are named ``s<index>_<level>``.
    kind : str
        ``"integ"``, ``"smooth"`` or ``"delay"``.
    variable : str
        Vensim name of the variable whose equation holds the call (for messages).
    dims : dict
        Subscript axes of the state (the equation's definition subscripts).
    levels : int
        Number of levels (the order of SMOOTH/DELAY, 1 for INTEG).
    init : Expr
        Initial value (aligned to ``dims``).
    rate_input : Expr
        Flow of an INTEG, input of a SMOOTH/DELAY (aligned to ``dims``).
    time_constant : Expr or None
        Smooth time or delay time (aligned to ``dims``).
    non_negative : bool
        Clip the state at 0 after each step (PySD's NonNegativeInteg).
    """

    index: int
    kind: str
    variable: str
    dims: dict
    levels: int
    init: Expr
    rate_input: Expr
    time_constant: Expr | None = None
    non_negative: bool = False

    @property
    def node(self) -> str:
        return f"#s{self.index}"

    def level(self, j: int) -> str:
        return f"s{self.index}_{j}"

    @property
    def shape(self) -> tuple:
        return tuple(len(c) for c in self.dims.values())

    @property
    def init_refs(self) -> frozenset:
        refs = self.init.refs
        if self.kind == "delay":
            refs = refs | self.time_constant.refs
        return refs

    @property
    def step_refs(self) -> frozenset:
        refs = self.rate_input.refs
        if self.time_constant is not None:
            refs = refs | self.time_constant.refs
        return refs | {self.node}

    @property
    def step_timed(self) -> bool:
        return self.rate_input.timed or bool(self.time_constant and self.time_constant.timed)


@dataclass
class InitialValue:
    """A hidden INITIAL(x) value, computed once at the initial time."""

    index: int
    variable: str
    value: Expr

    @property
    def node(self) -> str:
        return f"#i{self.index}"

    @property
    def local(self) -> str:
        return f"i{self.index}"


@dataclass
class LookupTable:
    """A named lookup table as PySD builds it (merged, sorted and filled ``HardcodedLookups``)."""

    name: str
    x_points: np.ndarray
    y_points: np.ndarray  # shape (n_points, *shape)
    dims: dict
    hold_backward: bool


@dataclass
class Element:
    """One model variable and how to compute it.

    Attributes
    ----------
    name : str
        Python name (same as :class:`model.spec.ModelSpec`).
    vensim_name : str
        Name in the ``.mdl``.
    kind : str
        ``"stock"``, ``"constant"``, ``"auxiliary"``, ``"lookup"`` or ``"control"``.
    dims : dict
        Subscript ranges of the variable and their elements.
    units : str
        Units from the ``.mdl``.
    assign : str
        Source code of the right-hand side computing the variable (not for constants).
    refs : frozenset
        Graph nodes the equation reads.
    timed : bool
        The equation reads the model time directly.
    arrayed : bool
        The value carries a sample axis (False only for expressions of literals and time).
    default : numpy.ndarray or None
        Value of a constant, shape ``(1, *shape)``.
    """

    name: str
    vensim_name: str
    kind: str
    dims: dict
    units: str = ""
    assign: str = ""
    refs: frozenset = frozenset()
    timed: bool = False
    arrayed: bool = True
    default: np.ndarray | None = None
    is_int: bool = False

    @property
    def shape(self) -> tuple:
        return tuple(len(c) for c in self.dims.values())

    @property
    def local(self) -> str:
        return f"v_{self.name}"


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _literal(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        if np.isnan(value):
            return "_nan"
        if np.isinf(value):
            return "_inf" if value > 0 else "(-_inf)"
    return repr(value)


def _topological(nodes, edges, what: str) -> list:
    """Order ``nodes`` so that every node comes after the nodes it reads (``edges[node]``)."""
    order, state = [], {}
    for start in sorted(nodes):
        if state.get(start) == 2:
            continue
        stack = [(start, iter(sorted(edges(start))))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                if child not in nodes:
                    continue
                mark = state.get(child)
                if mark == 1:
                    cycle = path[path.index(child):] + [child]
                    raise ValueError(
                        f"{what}: circular dependency {' -> '.join(cycle)}; the vectorized "
                        f"engine (like PySD) needs an order in which every variable can be "
                        f"computed from the ones before it"
                    )
                if mark is None:
                    state[child] = 1
                    stack.append((child, iter(sorted(edges(child)))))
                    path.append(child)
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                path.pop()
                state[node] = 2
                order.append(node)
    return order


class ModelCompiler:
    """Intermediate representation of one ``.mdl`` and the generator of its ensemble code.

    Parameters
    ----------
    abstract_model : pysd.translators.structures.abstract_model.AbstractModel
        PySD's parsed model (``model.cache.abstract_model``).
    mdl_path : path-like
        The model file (for messages and PySD's subscript manager).
    """

    def __init__(self, abstract_model, mdl_path: str | Path):
        self.mdl_path = Path(mdl_path)
        if len(abstract_model.sections) > 1:
            macro = abstract_model.sections[1].name
            raise UnsupportedConstruct("MACRO", macro, "macros are not translated")
        section = abstract_model.sections[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.subscripts = SubscriptManager(section.subscripts, self.mdl_path.parent)
        self.namespace = NamespaceManager()
        self.elements: dict[str, Element] = {}
        self.lookups: dict[str, LookupTable] = {}
        self.states: list[State] = []
        self.initials: list[InitialValue] = []
        self.control_ast: dict[str, object] = {}
        self.constants_pool: list = []  # objects referenced by the generated code as _c<i>

        abstract_elements = []
        for element in section.elements:
            self.namespace.add_to_namespace(element.name)
            name = self.namespace.namespace[element.name]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dims_list = self.subscripts.make_merge_list(
                    [component.subscripts[0] for component in element.components], element.name
                ) if element.components[0].subscripts[0] else []
            self.subscripts.elements[name] = dims_list
            dims = {dim: tuple(coords) for dim, coords in
                    self.subscripts.make_coord_dict(dims_list).items()}
            kind = self._kind(element, am)
            self.elements[name] = Element(
                name=name, vensim_name=element.name, kind=kind, dims=dims,
                units=element.units or "",
            )
            abstract_elements.append((name, element))

        for name, element in abstract_elements:  # tables and constants first
            info = self.elements[name]
            if info.kind == "control":
                self.control_ast[name] = element.components[0].ast
            elif info.kind == "lookup":
                self._build_lookup(info, element)
            elif info.kind == "constant":
                self._build_constant(info, element)
        for name, element in abstract_elements:
            if self.elements[name].kind in ("stock", "auxiliary"):
                self._build_equation(self.elements[name], element)
        missing = [c for c in CONTROL_NAMES if c not in self.control_ast]
        if missing:
            raise ValueError(
                f"{self.mdl_path.name} does not define the control variables {missing}; "
                f"add INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER to the model"
            )

    # ------------------------------------------------------------------ classification
    @staticmethod
    def _kind(element, am) -> str:
        if isinstance(element, am.AbstractControlElement):
            return "control"
        components = element.components
        for component in components:
            if isinstance(component, am.AbstractData) or isinstance(component.ast, ae.DataStructure):
                raise UnsupportedConstruct("DATA variable", element.name)
        if any(isinstance(c, am.AbstractLookup) or isinstance(
                c.ast, (ae.LookupsStructure, ae.GetLookupsStructure)) for c in components):
            return "lookup"
        if all(_is_number(c.ast) or isinstance(c.ast, np.ndarray) for c in components):
            return "constant"
        if all(isinstance(c.ast, ae.IntegStructure) for c in components):
            return "stock"
        return "auxiliary"

    # ------------------------------------------------------------------ pool of objects
    def _pool(self, value) -> str:
        """Name under which the generated code sees ``value`` (index arrays, tables...)."""
        self.constants_pool.append(value)
        return f"_c{len(self.constants_pool) - 1}"

    # ------------------------------------------------------------------ components
    def _component_layout(self, info: Element, component):
        """Definition subscripts of one equation and where they go in the variable's grid."""
        def_subs = {dim: tuple(coords) for dim, coords in
                    self.subscripts.make_coord_dict(component.subscripts[0]).items()}
        if len(def_subs) != len(info.dims):
            raise UnsupportedConstruct(
                "equation with a different number of subscripts than the variable",
                info.vensim_name)
        element_axes = list(info.dims.values())
        positions = []
        for (dim, coords), element_coords in zip(def_subs.items(), element_axes):
            missing = [c for c in coords if c not in element_coords]
            if missing:
                raise UnsupportedConstruct(
                    f"subscripts {missing} outside the variable's range", info.vensim_name)
            positions.append([element_coords.index(c) for c in coords])
        component_shape = tuple(len(c) for c in def_subs.values())
        grid = np.ones(component_shape, dtype=bool)
        for except_list in component.subscripts[1]:
            excluded = self.subscripts.make_coord_dict(except_list)
            mask = np.ones(component_shape, dtype=bool)
            for axis, ((dim, coords), exc_coords) in enumerate(zip(def_subs.items(),
                                                                   excluded.values())):
                keep = np.isin(np.array(coords, dtype=object), np.array(exc_coords, dtype=object))
                shape = [1] * len(component_shape)
                shape[axis] = len(coords)
                mask = mask & keep.reshape(shape)
            grid &= ~mask
        source = np.flatnonzero(grid.ravel())
        if info.shape:
            mesh = np.meshgrid(*[np.array(p) for p in positions], indexing="ij")
            destination_full = np.ravel_multi_index([m.ravel() for m in mesh], info.shape)
        else:
            destination_full = np.zeros(1, dtype=np.intp)
        destination = destination_full[source]
        covers_all = (bool(grid.all()) and all(
            list(p) == list(range(len(c))) for p, c in zip(positions, element_axes)))
        return def_subs, component_shape, destination, source, covers_all

    def _build_constant(self, info: Element, element) -> None:
        parts = []
        for component in element.components:
            def_subs, shape, destination, source, _ = self._component_layout(info, component)
            value = component.ast
            if isinstance(value, np.ndarray):
                value = np.asarray(value, dtype=float).reshape((1,) + shape)
            else:
                value = float(value)
            parts.append((value, shape, destination, source))
        first = element.components[0].ast
        info.is_int = len(parts) == 1 and (
            isinstance(first, numbers.Integral)
            or (isinstance(first, np.ndarray) and first.dtype.kind in "iu"))
        if len(parts) == 1 and not info.shape:
            info.default = np.array([float(parts[0][0])])
        else:
            info.default = np.ascontiguousarray(runtime.assemble(info.shape, parts))
        info.arrayed = True

    def _build_lookup(self, info: Element, element) -> None:
        table = None
        final_coords = {dim: list(coords) for dim, coords in info.dims.items()}
        for component in element.components:
            if not isinstance(component.ast, ae.LookupsStructure):
                raise UnsupportedConstruct("GET XLS/DIRECT LOOKUPS", info.vensim_name)
            lookups = component.ast
            if lookups.type not in ("interpolate", "hold_backward"):
                raise UnsupportedConstruct(f"lookup of type '{lookups.type}'", info.vensim_name)
            coords = self.subscripts.make_coord_dict(component.subscripts[0])
            if list(coords) != list(info.dims):
                raise UnsupportedConstruct(
                    "lookup tables defined per element of a subrange", info.vensim_name,
                    f"The tables are named by range {list(coords)} but the lookup's range is "
                    f"{list(info.dims)} (PySD 3.14.3 cannot run this either); define a table "
                    f"for every element of the full range")
            x = np.array(lookups.x, dtype=float)
            y = np.array(lookups.y, dtype=float)
            if table is None:
                table = HardcodedLookups(x, y, coords, lookups.type, final_coords, info.name)
            else:
                table.add(x, y, coords)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table.initialize()
        data = table.data
        if list(data.dims[1:]) != list(info.dims):
            data = data.transpose("lookup_dim", *info.dims)
        self.lookups[info.name] = LookupTable(
            name=info.name,
            x_points=np.asarray(data["lookup_dim"].values, dtype=float),
            y_points=np.asarray(data.values, dtype=float),
            dims=dict(info.dims),
            hold_backward=(table.interp == "hold_backward"),
        )

    def _build_equation(self, info: Element, element) -> None:
        parts, refs, timed = [], set(), False
        single = None
        for component in element.components:
            def_subs, shape, destination, source, covers_all = \
                self._component_layout(info, component)
            builder = _ExpressionBuilder(self, info, def_subs, list(info.dims))
            value = builder.component_value(component)
            refs |= value.refs
            timed = timed or value.timed
            if len(element.components) == 1 and covers_all:
                single = (value, def_subs)
            parts.append((value, shape, destination, source))
        if single is not None:
            value, def_subs = single
            if not info.dims:
                info.assign = (value.code if value.arrayed
                               else f"_rt.as_sample_array({value.code})")
            elif value.arrayed and list(value.dims) == list(def_subs) and not value.partial:
                info.assign = value.code
            else:
                info.assign = f"_rt.broadcast_tail({value.code}, {info.shape!r})"
        else:
            pieces = []
            for value, shape, destination, source in parts:
                pieces.append(f"({value.code}, {shape!r}, {self._pool(destination)}, "
                              f"{self._pool(source)})")
            info.assign = f"_rt.assemble({info.shape!r}, ({', '.join(pieces)},))"
        info.refs = frozenset(refs)
        info.timed = timed
        info.arrayed = True

    # ------------------------------------------------------------------ controls
    def control_values(self, overrides: dict) -> dict:
        """Evaluate the control variables, with explicit overrides (PySD's run arguments)."""
        values: dict = {}

        def resolve(name, seen=()):
            if name in values:
                return values[name]
            if overrides.get(name) is not None:
                values[name] = overrides[name]
                return values[name]
            if name in seen:
                raise ValueError(f"control variables defined in a circle: {seen}")
            values[name] = self._eval_control(self.control_ast[name], name,
                                              lambda ref: resolve(ref, seen + (name,)))
            return values[name]

        for name in CONTROL_NAMES:
            resolve(name)
        return values

    def _eval_control(self, ast, name, resolve):
        if _is_number(ast):
            return ast
        if isinstance(ast, ae.ReferenceStructure):
            ref = self.namespace.cleanspace.get(ast.reference)
            if ref in CONTROL_NAMES:
                return resolve(ref)
        if isinstance(ast, ae.ArithmeticStructure):
            values = [self._eval_control(a, name, resolve) for a in ast.arguments]
            if ast.operators == ["negative"]:
                return -values[0]
            result = values[0]
            for op, value in zip(ast.operators, values[1:]):
                result = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
                          "*": lambda a, b: a * b, "/": lambda a, b: a / b,
                          "^": lambda a, b: a ** b}[op](result, value)
            return result
        raise UnsupportedConstruct(
            "control variable defined by a model variable", self.elements[name].vensim_name,
            "Write INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER as numbers (or in terms of "
            "each other)")

    # ------------------------------------------------------------------ graph
    def node_refs(self, node: str) -> frozenset:
        """Nodes read by ``node`` during the time loop."""
        if node.startswith("#s"):
            return self.states[int(node[2:])].step_refs - {node}
        if node.startswith("#i"):
            return frozenset()
        return self.elements[node].refs

    def init_refs(self, node: str) -> frozenset:
        """Nodes read by ``node`` at initialisation."""
        if node.startswith("#s"):
            return self.states[int(node[2:])].init_refs
        if node.startswith("#i"):
            return self.initials[int(node[2:])].value.refs
        return self.elements[node].refs

    def generate(self, inputs: frozenset, outputs: tuple, method: str = "euler") -> str:
        """Source code of ``simulate(inputs, times, rows, t0, dt, tf, sp, outputs)``.

        Parameters
        ----------
        inputs : frozenset of str
            Variables read from the ``inputs`` mapping: every constant plus any overridden
            equation (which then becomes a constant).
        outputs : tuple of str
            Variables written to the ``outputs`` mapping at the saved times.
        method : {"euler", "rk4"}
            Integration method.
        """
        elements = self.elements

        # Dependencies with overridden variables cut.
        def refs(node):
            if node in inputs:
                return frozenset()
            return self.node_refs(node)

        def init_refs(node):
            if node in inputs:
                return frozenset()
            return self.init_refs(node)

        # Which nodes change during the run.
        dynamic: dict[str, bool] = {}

        def is_dynamic(node, stack=()):
            if node in dynamic:
                return dynamic[node]
            if node.startswith("#s"):
                dynamic[node] = True
                return True
            if node.startswith("#i") or node in inputs or elements[node].kind == "constant":
                dynamic[node] = False
                return False
            if node in stack:
                return False
            result = elements[node].timed or any(
                is_dynamic(r, stack + (node,)) for r in refs(node))
            dynamic[node] = result
            return result

        # Needed nodes: the outputs and everything they depend on (states included).
        roots = list(outputs)
        needed: set = set()
        todo = list(roots)
        while todo:
            node = todo.pop()
            if node in needed:
                continue
            needed.add(node)
            todo.extend(refs(node))
            todo.extend(init_refs(node))
        for node in needed:
            is_dynamic(node)
        states = [s for s in self.states if s.node in needed]

        lines: list[str] = []
        emit = lines.append
        emit("def simulate(_inputs, _times, _rows, t0, dt, tf, sp, _outputs):")
        emit("    t = t0")
        for name in sorted(n for n in needed if n in elements and
                           (n in inputs or elements[n].kind == "constant")):
            emit(f"    v_{name} = _inputs[{name!r}]")

        # Initialisation: stocks, SMOOTH/DELAY levels and INITIAL values at the initial time.
        init_roots = {s.node for s in states} | {i.node for i in self.initials
                                                 if i.node in needed}
        init_nodes: set = set()
        todo = list(init_roots)
        while todo:
            node = todo.pop()
            if node in init_nodes:
                continue
            if node in elements and (node in inputs or elements[node].kind == "constant"):
                continue
            init_nodes.add(node)
            todo.extend(init_refs(node))
        init_order = _topological(init_nodes, init_refs, "initialisation")
        done: set = set()
        emit("    # initial values at INITIAL TIME")
        for node in init_order:
            if node.startswith("#s"):
                state = self.states[int(node[2:])]
                init = f"_rt.broadcast_tail({state.init.code}, {state.shape!r})"
                if state.kind == "delay":
                    n = state.levels
                    emit(f"    _rt_check_delay({n}, dt, {state.time_constant.code}, "
                         f"{state.variable!r})")
                    init = (f"_rt.broadcast_tail(({state.init.code}) * "
                            f"({state.time_constant.code}), {state.shape!r})")
                emit(f"    {state.level(0)} = {init}")
                for j in range(1, state.levels):
                    emit(f"    {state.level(j)} = {state.level(0)}")
            elif node.startswith("#i"):
                initial = self.initials[int(node[2:])]
                emit(f"    {initial.local} = _rt.as_sample_array({initial.value.code})")
            else:
                emit(f"    v_{node} = {elements[node].assign}")
                if not dynamic.get(node, True):
                    done.add(node)

        # Time-invariant equations, once.
        static_nodes = {n for n in needed if n in elements and n not in inputs
                        and elements[n].kind != "constant" and not dynamic[n] and n not in done}
        emit("    # time-invariant equations")
        for node in _topological(static_nodes, refs, "time-invariant equations"):
            emit(f"    v_{node} = {elements[node].assign}")

        dynamic_nodes = {n for n in needed if n in elements and n not in inputs
                         and elements[n].kind != "constant" and dynamic[n]}
        loop_order = _topological(dynamic_nodes, refs, "equations")
        aux_lines = [f"v_{node} = {elements[node].assign}" for node in loop_order]

        # Derivatives of all states (constant flows hoisted).
        rate_lines, hoisted = [], []
        derivative_names = []
        for state in states:
            names = [f"d{state.index}_{j}" for j in range(state.levels)]
            derivative_names.extend(names)
            if state.kind == "integ":
                flow_dynamic = state.rate_input.timed or any(
                    is_dynamic(r) for r in state.rate_input.refs)
                line = f"{names[0]} = {state.rate_input.code}"
                (rate_lines if flow_dynamic else hoisted).append(line)
            elif state.kind == "smooth":
                n, tc = state.levels, state.time_constant.atom()
                for j in range(n):
                    target = state.rate_input.atom() if j == 0 else state.level(j - 1)
                    rate_lines.append(f"{names[j]} = ({target} - {state.level(j)}) * {n} / {tc}")
            else:  # delay
                n, tc = state.levels, state.time_constant.atom()
                for j in range(n):
                    inflow = (state.rate_input.atom() if j == 0
                              else f"({state.level(j - 1)} / {tc})")
                    rate_lines.append(
                        f"{names[j]} = ({inflow} - {state.level(j)} / {tc}) * {n}")
        emit("    # time-invariant flows")
        for line in hoisted:
            emit("    " + line)

        outputs_dynamic = [n for n in outputs if dynamic.get(n, False)]
        outputs_static = [n for n in outputs if not dynamic.get(n, False)]
        for name in outputs:
            emit(f"    o_{name} = _outputs[{name!r}]")
        level_names = [state.level(j) for state in states for j in range(state.levels)]
        clipped = {state.level(0) for state in states if state.non_negative}

        def update(level, expression):
            if level in clipped:
                return f"{level} = _np.maximum({expression}, 0)"
            return f"{level} = {expression}"

        if method == "rk4" and level_names:
            emit(f"    def _rates(t, {', '.join(level_names)}):")
            for line in aux_lines + rate_lines:
                emit("        " + line)
            emit(f"        return ({', '.join(derivative_names)},)")
        emit("    _last = len(_times) - 1")
        emit("    for _k in range(_last + 1):")
        emit("        t = _times[_k]")
        for line in aux_lines:
            emit("        " + line)
        emit("        _r = _rows[_k]")
        emit("        if _r >= 0:")
        for name in outputs_dynamic:
            emit(f"            o_{name}[_r] = v_{name}")
        emit("            pass")
        emit("        if _k == _last:")
        emit("            break")
        for line in rate_lines:
            emit("        " + line)
        if method == "euler" or not level_names:
            for level, derivative in zip(level_names, derivative_names):
                emit("        " + update(level, f"{level} + {derivative} * dt"))
        elif method == "rk4":
            emit(f"        _k1 = ({', '.join(derivative_names)},)")
            for stage, (factor, source) in enumerate(
                    [("dt / 2", "_k1"), ("dt / 2", "_k2"), ("dt", "_k3")], start=2):
                arguments = ", ".join(f"{level} + {factor} * {source}[{i}]"
                                      for i, level in enumerate(level_names))
                emit(f"        _k{stage} = _rates(t + {factor}, {arguments})")
            for i, level in enumerate(level_names):
                emit("        " + update(level, f"{level} + dt / 6 * (_k1[{i}] + 2 * _k2[{i}] "
                                         f"+ 2 * _k3[{i}] + _k4[{i}])"))
        else:
            raise ValueError(f"unknown integration method {method!r}; use 'euler' or 'rk4'")
        for name in outputs_static:
            emit(f"    o_{name}[...] = v_{name}")
        emit("    return None")
        return "\n".join(lines) + "\n"

    def namespace_for_code(self) -> dict:
        """Globals of the generated module: numpy, the runtime helpers and pooled constants."""
        scope = {"_np": np, "_rt": runtime, "_nan": np.nan, "_inf": np.inf,
                 "_rt_check_delay": check_delay_order}
        for i, value in enumerate(self.constants_pool):
            scope[f"_c{i}"] = value
        return scope


def check_delay_order(order: int, time_step: float, delay_time, variable: str) -> None:
    """Refuse delays whose order PySD would silently lower (order x TIME STEP > delay time)."""
    if order * time_step > np.min(delay_time):
        raise ValueError(
            f"the delay in '{variable}' has order {order} but its delay time "
            f"({np.min(delay_time):g}) is shorter than order x TIME STEP ({order * time_step:g}); "
            f"PySD silently lowers the order in this case and the vectorized engine does not. "
            f"Use a smaller time_step or a longer delay time"
        )


class _ExpressionBuilder:
    """Build the numpy code of one equation (one ``AbstractComponent``).

    Parameters
    ----------
    compiler : ModelCompiler
        The model being compiled (namespace, subscripts, states...).
    element : Element
        The variable the equation defines.
    def_subs : dict
        Definition subscripts of the equation.
    element_dims : list of str
        Subscript ranges of the variable.
    """

    def __init__(self, compiler: ModelCompiler, element: Element, def_subs: dict,
                 element_dims: list):
        self.compiler = compiler
        self.element = element
        self.def_subs = def_subs
        self.element_dims = element_dims

    def fail(self, construct: str, detail: str = ""):
        raise UnsupportedConstruct(construct, self.element.vensim_name, detail)

    # ------------------------------------------------------------------ entry point
    def component_value(self, component) -> Expr:
        """The equation's value aligned to its definition subscripts."""
        ast = component.ast
        if isinstance(ast, ae.IntegStructure):
            value = self.visit_integ(ast)
        else:
            value = self.visit(ast)
        return self.to_definition(value)

    def to_definition(self, value: Expr) -> Expr:
        """Align ``value`` to the definition subscripts (PySD's final reshape)."""
        def_names = list(self.def_subs)
        def_coords = list(self.def_subs.values())
        renamed = {}
        for dim, coords in value.dims.items():
            if dim in self.def_subs:
                position = def_names.index(dim)
            elif dim in self.element_dims:
                position = self.element_dims.index(dim)
            else:
                self.fail(f"subscript range '{dim}' that is not in the variable's definition",
                          "Every subscript range of an equation must appear on its left-hand "
                          "side (or be summed with SUM(x[range!]))")
            if tuple(coords) != tuple(def_coords[position]):
                self.fail(f"subscript range '{dim}' with other elements than the definition")
            renamed[def_names[position]] = coords
        partial = frozenset(def_names[list(value.dims).index(d)] if d not in self.def_subs
                            else d for d in value.partial)
        value = Expr(value.code, value.order, renamed, value.arrayed, value.refs, value.timed,
                     partial, value.is_int)
        return self.align(value, def_names, dict(self.def_subs))

    # ------------------------------------------------------------------ alignment
    def align(self, value: Expr, target: list, target_coords: dict) -> Expr:
        """Reorder/insert axes so that ``value`` broadcasts along ``target`` dims."""
        if not value.arrayed or not target:
            return value
        own = list(value.dims)
        for dim in own:
            if dim not in target:
                raise AssertionError(f"internal error: {dim} not in {target}")
        code = value.atom()
        ordered = [d for d in target if d in own]
        if ordered != own:
            axes = (0,) + tuple(1 + own.index(d) for d in ordered)
            code = f"{code}.transpose({axes!r})"
        if len(ordered) != len(target):
            code += "[:, " + ", ".join(":" if d in own else "None" for d in target) + "]"
        dims = {d: target_coords[d] for d in target}
        partial = value.partial | frozenset(d for d in target if d not in own)
        return Expr(code, 0, dims, True, value.refs, value.timed, partial, value.is_int)

    def union(self, values: list) -> dict:
        """PySD's final subscripts of several arguments (dict union in argument order)."""
        final: dict = {}
        for value in values:
            for dim, coords in value.dims.items():
                if dim in final and tuple(final[dim]) != tuple(coords):
                    self.fail(f"subscript range '{dim}' used with different elements in one "
                              f"expression")
                final[dim] = coords
        return final

    def combine(self, values: list) -> tuple:
        """Align all ``values`` to their union; return (aligned values, union dims, arrayed)."""
        final = self.union(values)
        target = list(final)
        aligned = [self.align(v, target, final) if v.dims != final or list(v.dims) != target
                   else v for v in values]
        # arrayed values without subscripts still need axes when others have subscripts
        aligned = [self.align(v, target, final) if (v.arrayed and not v.dims and target) else v
                   for v in aligned]
        return aligned, final, any(v.arrayed for v in values)

    @staticmethod
    def merged(values: list, code: str, order: int, dims: dict, arrayed: bool,
               timed: bool = False) -> Expr:
        refs = frozenset().union(*[v.refs for v in values]) if values else frozenset()
        full = set()
        for value in values:
            full |= set(value.dims) - set(value.partial)
        partial = frozenset(d for d in dims if d not in full)
        return Expr(code, order, dims, arrayed, refs,
                    timed or any(v.timed for v in values), partial)

    # ------------------------------------------------------------------ visitor
    def visit(self, ast) -> Expr:
        if _is_number(ast):
            return Expr(_literal(ast), is_int=isinstance(ast, numbers.Integral))
        kind = type(ast).__name__
        if kind in _REJECTED_STRUCTURES:
            self.fail(_REJECTED_STRUCTURES[kind])
        if isinstance(ast, (ae.ArithmeticStructure, ae.LogicStructure)):
            return self.visit_operation(ast)
        if isinstance(ast, ae.ReferenceStructure):
            return self.visit_reference(ast)
        if isinstance(ast, ae.CallStructure):
            return self.visit_call(ast)
        if isinstance(ast, ae.GameStructure):
            return self.visit(ast.expression)
        if isinstance(ast, ae.InlineLookupsStructure):
            return self.visit_inline_lookup(ast)
        if isinstance(ast, ae.SmoothNStructure):
            return self.visit_smooth(ast, "SMOOTH N")
        if isinstance(ast, ae.SmoothStructure):
            return self.visit_smooth(ast, "SMOOTH")
        if isinstance(ast, ae.DelayStructure):
            return self.visit_delay(ast)
        if isinstance(ast, ae.InitialStructure):
            return self.visit_initial(ast)
        if isinstance(ast, ae.IntegStructure):
            self.fail("INTEG inside an expression",
                      "Write the INTEG as the whole equation of a stock")
        if isinstance(ast, np.ndarray):
            self.fail("array literal inside an expression")
        if isinstance(ast, str):
            self.fail(f"string literal '{ast}'")
        self.fail(f"expression {kind}")

    def visit_operation(self, ast) -> Expr:
        operators = list(ast.operators)
        arguments = [self.visit(a) for a in ast.arguments]
        for op in operators:
            if op not in _OPERATORS:
                self.fail(f"operator '{op}'")
        arguments, final, arrayed = self.combine(arguments)
        order = _OPERATORS[operators[-1]][1]
        if operators[-1] == "^":
            arguments[-1].lower_order(2)
        else:
            arguments[-1].lower_order(order)
        if len(arguments) == 1:
            if operators[0] == "negative":
                order = 1
            code = _OPERATORS[operators[0]][0] % arguments[0].code
            value = self.merged(arguments, code, order, final, arrayed)
            value.is_int = operators[0] == "negative" and arguments[0].is_int
            return value
        remaining = list(arguments)
        right = remaining.pop().code
        while remaining or operators:
            template = _OPERATORS[operators.pop()][0]
            left = remaining.pop()
            left.lower_order(order)
            right = template % {"left": left.code, "right": right}
        value = self.merged(arguments, right, order, final, arrayed)
        value.is_int = (all(a.is_int for a in arguments)
                        and set(ast.operators) <= {"+", "-", "*", "^"})
        return value

    def visit_reference(self, ast) -> Expr:
        compiler = self.compiler
        reference = ast.reference
        if reference == "time":
            initial_time = compiler.control_ast.get("initial_time")
            return Expr("t", timed=True, is_int=isinstance(initial_time, numbers.Integral))
        name = compiler.namespace.cleanspace.get(reference)
        if name is None:
            return self.subscript_number(reference)
        if name in CONTROL_NAMES:
            return Expr(CONTROL_LOCALS[name])
        element = compiler.elements[name]
        if element.kind == "lookup":
            self.fail(f"lookup '{element.vensim_name}' used without an argument")
        subscripts = getattr(ast.subscripts, "subscripts", None) or []
        code, dims = self.index(element.local, element.dims, subscripts, element.vensim_name)
        return Expr(code, 0, dims, element.arrayed, frozenset([name]), False,
                    is_int=element.is_int)

    def index(self, code: str, dims: dict, subscripts: list, what: str) -> tuple:
        """PySD's ``visit_loc``: select elements/subranges of a referenced array."""
        if not subscripts:
            return code, dict(dims)
        current = self.compiler.subscripts.make_coord_dict(subscripts)
        if len(current) != len(subscripts):
            self.fail(f"reference to '{what}' with a repeated subscript range")
        if len(current) != len(dims):
            self.fail(f"reference to '{what}' with {len(current)} subscripts "
                      f"(it has {len(dims)})")
        final, selections, subsets = {}, [], []
        for (dim, coords), (orig_dim, orig_coords) in zip(current.items(), dims.items()):
            coords = tuple(coords)
            if len(coords) == 1:
                if coords[0] not in orig_coords:
                    self.fail(f"reference to element '{coords[0]}' of '{what}', which is not "
                              f"in its range")
                selections.append(orig_coords.index(coords[0]))
                subsets.append(None)
                continue
            if (len(coords) > 1 and dim not in self.def_subs and not dim.endswith("!")
                    and self.compiler.subscripts.mapping.get(dim)):
                self.fail(f"subscript mapping of range '{dim}'")
            if len(coords) == len(orig_coords):
                if tuple(coords) != tuple(orig_coords):
                    self.fail(f"subscript range '{dim}' that reorders the elements of "
                              f"'{orig_dim}'")
                subsets.append(None)
            else:
                missing = [c for c in coords if c not in orig_coords]
                if missing:
                    self.fail(f"reference to elements {missing} of '{what}', which are not "
                              f"in its range")
                subsets.append(np.array([orig_coords.index(c) for c in coords], dtype=np.intp))
            selections.append(slice(None))
            final[dim] = coords
        if any(not isinstance(s, slice) for s in selections):
            code = code + "[:, " + ", ".join(
                ":" if isinstance(s, slice) else str(s) for s in selections) + "]"
        axis = 1
        for selection, subset in zip(selections, subsets):
            if not isinstance(selection, slice):
                continue
            if subset is not None:
                code = f"{code}[{':, ' * axis}{self.compiler._pool(subset)}]"
            axis += 1
        return code, final

    def subscript_number(self, reference: str) -> Expr:
        """A subscript range or element used as a value: its position(s) from 1 (PySD)."""
        manager = self.compiler.subscripts
        for main, subranges in manager.subranges.items():
            main_coords = manager.subscripts[main]
            if reference == main.replace(" ", "_").lower():
                positions = np.arange(1, len(main_coords) + 1, dtype=float)
                return Expr(self.compiler._pool(positions.reshape(1, -1)), 0,
                            {main: tuple(main_coords)}, True)
            for i, element in enumerate(main_coords, start=1):
                if reference == element.replace(" ", "_").lower():
                    return Expr(repr(i))
            for subrange in subranges:
                if reference == subrange.replace(" ", "_").lower():
                    positions = np.array([main_coords.index(s) + 1
                                          for s in manager.subscripts[subrange]], dtype=float)
                    return Expr(self.compiler._pool(positions.reshape(1, -1)), 0,
                                {subrange: tuple(manager.subscripts[subrange])}, True)
        self.fail(f"reference to unknown name '{reference}'")

    def visit_call(self, ast) -> Expr:
        compiler = self.compiler
        function = ast.function.reference
        name = compiler.namespace.cleanspace.get(function)
        if name is not None and name not in CONTROL_NAMES and name != "time":
            element = compiler.elements[name]
            if element.kind != "lookup":
                self.fail(f"call of '{element.vensim_name}', which is not a lookup")
            return self.visit_lookup_call(ast, element)
        if function in _REDUCTIONS:
            return self.visit_reduction(ast, function)
        arguments = [self.visit(a) for a in ast.arguments]
        if function in _ELEMENTWISE or function in _TIME_FUNCTIONS:
            template, n_args = (_ELEMENTWISE.get(function) or _TIME_FUNCTIONS[function])
            if len(arguments) != n_args:
                self.fail(f"{function.upper()} with {len(arguments)} arguments")
            aligned, final, arrayed = self.combine(arguments)
            code = template.format(*[a.code for a in aligned])
            return self.merged(aligned, code, 0, final, arrayed,
                               timed=function in _TIME_FUNCTIONS)
        if function == "pi" and not arguments:
            return Expr("_np.pi")
        if function == "a_function_of":
            self.fail("A FUNCTION OF (incomplete equation)")
        self.fail(function.upper().replace("_", " "))

    def visit_reduction(self, ast, function: str) -> Expr:
        if len(ast.arguments) != 1:
            self.fail(f"{function.upper()} with {len(ast.arguments)} arguments")
        value = self.visit(ast.arguments[0])
        axes = tuple(1 + i for i, dim in enumerate(value.dims) if dim.endswith("!"))
        if not axes or not value.arrayed:
            return value
        if any(d.endswith("!") for d in value.partial):
            self.fail(f"{function.upper()} over a range the argument does not vary along")
        dims = {d: c for d, c in value.dims.items() if not d.endswith("!")}
        code = f"{_REDUCTIONS[function]}({value.code}, axis={axes!r})"
        return Expr(code, 0, dims, True, value.refs, value.timed, value.partial)

    def visit_lookup_call(self, ast, element: Element) -> Expr:
        if len(ast.arguments) != 1:
            self.fail(f"lookup '{element.vensim_name}' called with {len(ast.arguments)} "
                      f"arguments")
        table = self.compiler.lookups[element.name]
        argument = self.visit(ast.arguments[0])
        subscripts = getattr(ast.function.subscripts, "subscripts", None) or []
        y_points, table_dims = table.y_points, dict(table.dims)
        if subscripts:
            current = self.compiler.subscripts.make_coord_dict(subscripts)
            if any(1 < len(c) < len(o) for c, o in zip(current.values(), table.dims.values())):
                self.fail(f"subrange reference to the subscripted lookup "
                          f"'{element.vensim_name}'",
                          "PySD 3.14.3 cannot run this either; call the lookup with its full "
                          "range or with single elements")
            # select in the table's subscript axes (the x axis stays first)
            code, table_dims = self.index("Y", table.dims, subscripts, element.vensim_name)
            y_points = eval(code, {"Y": y_points, **self.compiler.namespace_for_code()})
        hold = ", True" if table.hold_backward else ""
        x_name = self.compiler._pool(table.x_points)
        if not table_dims:
            y_name = self.compiler._pool(np.ascontiguousarray(y_points))
            code = f"_rt.lookup({argument.code}, {x_name}, {y_name}{hold})"
            return Expr(code, 0, dict(argument.dims), argument.arrayed, argument.refs,
                        argument.timed, argument.partial)
        # one table per subscript element: x's axes first, then the table's (PySD's order)
        final = self.union([argument, Expr("", dims=table_dims)])
        target = list(final)
        aligned = self.align(argument, target, final) if argument.arrayed else argument
        full_shape = tuple(len(final[d]) for d in target)
        pieces = []
        for table_index in np.ndindex(*[len(c) for c in table_dims.values()]):
            selection = [slice(None)]
            for dim in target:
                if dim in table_dims:
                    selection.append(table_index[list(table_dims).index(dim)])
                else:
                    selection.append(slice(None))
            ys = np.ascontiguousarray(y_points[(slice(None),) + tuple(table_index)])
            pieces.append((tuple(selection), ys))
        code = (f"_rt.interp_pieces({aligned.code}, {full_shape!r}, {x_name}, "
                f"{self.compiler._pool(pieces)}{hold})")
        return Expr(code, 0, final, True, argument.refs, argument.timed)

    def visit_inline_lookup(self, ast) -> Expr:
        argument = self.visit(ast.argument)
        x_name = self.compiler._pool(np.array(ast.lookups.x, dtype=float))
        y_name = self.compiler._pool(np.array(ast.lookups.y, dtype=float))
        return Expr(f"_np.interp({argument.code}, {x_name}, {y_name})", 0, dict(argument.dims),
                    argument.arrayed, argument.refs, argument.timed, argument.partial)

    # ------------------------------------------------------------------ stateful structures
    def definition_value(self, ast) -> Expr:
        """Visit ``ast`` and align it to the equation's definition subscripts."""
        return self.to_definition(self.visit(ast))

    def new_state(self, kind: str, levels: int, init: Expr, rate_input: Expr,
                  time_constant: Expr | None = None, non_negative: bool = False) -> State:
        state = State(index=len(self.compiler.states), kind=kind,
                      variable=self.element.vensim_name, dims=dict(self.def_subs), levels=levels,
                      init=init, rate_input=rate_input, time_constant=time_constant,
                      non_negative=non_negative)
        self.compiler.states.append(state)
        return state

    def visit_integ(self, ast) -> Expr:
        flow = self.definition_value(ast.flow)
        init = self.definition_value(ast.initial)
        state = self.new_state("integ", 1, init, flow, non_negative=bool(ast.non_negative))
        return Expr(state.level(0), 0, dict(self.def_subs), True, frozenset([state.node]))

    def literal_order(self, order, construct: str) -> int:
        if not _is_number(order) or int(order) != order or order < 1:
            self.fail(f"{construct} with a non-constant or non-integer order ({order!r})")
        return int(order)

    def visit_smooth(self, ast, construct: str) -> Expr:
        order = self.literal_order(ast.order, construct)
        smooth_input = self.definition_value(ast.input)
        smooth_time = self.definition_value(ast.smooth_time)
        init = self.definition_value(ast.initial)
        if init.is_int and not smooth_input.is_int:
            self.fail(
                "SMOOTHI/SMOOTH3I with an integer initial value",
                "PySD 3.14.3 then stores the smooth in an integer array and truncates its "
                "input to an integer at the first step; write the initial value as a decimal "
                "number (e.g. 2.0 instead of 2)")
        state = self.new_state("smooth", order, init, smooth_input, smooth_time)
        return Expr(state.level(order - 1), 0, dict(self.def_subs), True,
                    frozenset([state.node]))

    def visit_delay(self, ast) -> Expr:
        order = self.literal_order(ast.order, "DELAY")
        delay_input = self.definition_value(ast.input)
        delay_time = self.definition_value(ast.delay_time)
        init = self.definition_value(ast.initial)
        state = self.new_state("delay", order, init, delay_input, delay_time)
        code = f"({state.level(order - 1)} / {delay_time.atom()})"
        return Expr(code, 0, dict(self.def_subs), True,
                    frozenset([state.node]) | delay_time.refs, delay_time.timed)

    def visit_initial(self, ast) -> Expr:
        value = self.definition_value(ast.initial)
        if self.def_subs:
            value = Expr(f"_rt.broadcast_tail({value.code}, "
                         f"{tuple(len(c) for c in self.def_subs.values())!r})", 0,
                         dict(self.def_subs), True, value.refs, value.timed)
        initial = InitialValue(index=len(self.compiler.initials),
                               variable=self.element.vensim_name, value=value)
        self.compiler.initials.append(initial)
        return Expr(initial.local, 0, dict(self.def_subs), True, frozenset([initial.node]))
