"""Lay out the Vensim sketch (stock-and-flow diagram) of the ``.mdl`` from its equations.

Vensim draws a model from the sketch section at the end of the ``.mdl``. Writing coordinates by
hand for ~150 variables is error-prone, so this tool derives the diagram from the equations:
one view per group of the ``.mdl`` (``.Population``, ``.Land``...), stocks as boxes, every
flow of a stock as a valve with pipes (from a cloud when the flow enters from outside the model),
every other variable as text, an arrow for every dependency, and grey shadow variables for
variables defined in another view. The diagram is meant as a correct starting point that opens
in Vensim; a modeller can then move things around.

``python -m model.sketch``          rewrite the sketch section of ``model/inner_mongolia.mdl``
``python -m model.sketch --check``  exit 1 if the sketch is missing a variable, flow or link
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

from . import MODEL_PATH
from .cache import abstract_model
from .spec import signed_flow_terms

from pysd.builders.python.namespace import NamespaceManager
from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.structures import abstract_model as am

SKETCH_MARKER = "\\\\\\---/// Sketch information - do not modify anything except names"
VIEW_HEADER = ("$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0")
SKETCH_END = "///---\\\\\\"
GROUP_PATTERN = re.compile(r"^\*{20,}\s*\n\s*\.(?P<name>[^\n]+)\n\*{20,}~", re.MULTILINE)
BUILTIN_REFERENCES = {"time": "Time", "time_step": "TIME STEP", "initial_time": "INITIAL TIME",
                      "final_time": "FINAL TIME"}
GRID_DX, GRID_DY, GRID_COLUMNS = 190, 55, 6


@dataclass
class Element:
    """One model element as the sketch needs it."""

    name: str            # Vensim name
    python_name: str
    group: str
    stock: bool
    inflows: list = field(default_factory=list)    # python names of INTEG inflows
    outflows: list = field(default_factory=list)   # python names of INTEG outflows
    references: set = field(default_factory=set)   # python names this element's equation uses


def _collect_references(node, found: set) -> None:
    """Add every ReferenceStructure name under ``node`` (a PySD AST) to ``found``."""
    if isinstance(node, ae.ReferenceStructure):
        found.add(node.reference)
        return
    if isinstance(node, (list, tuple)):
        for item in node:
            _collect_references(item, found)
        return
    if is_dataclass(node):
        for item in fields(node):
            _collect_references(getattr(node, item.name), found)


def _groups(mdl_text: str) -> list[tuple[int, str]]:
    return [(match.start(), match.group("name").strip()) for match in GROUP_PATTERN.finditer(mdl_text)]


def read_elements(mdl_path: Path = MODEL_PATH) -> list[Element]:
    """The elements of ``mdl_path`` with group, stock flows and references."""
    text = Path(mdl_path).read_text(encoding="utf-8")
    groups = _groups(text)
    namespace = NamespaceManager()
    elements = []
    for section in abstract_model(mdl_path).sections:
        for element in section.elements:
            namespace.add_to_namespace(element.name)
            if isinstance(element, am.AbstractControlElement):
                continue
            position = re.search(r"^" + re.escape(element.name) + r"\s*(\(|=)", text, re.MULTILINE | re.IGNORECASE)
            offset = position.start() if position else 0
            group = "Model"
            for start, name in groups:
                if start <= offset:
                    group = name
            ast = element.components[0].ast
            item = Element(element.name, namespace.namespace[element.name], group,
                           isinstance(ast, ae.IntegStructure))
            _collect_references(ast, item.references)
            if item.stock:
                terms = signed_flow_terms(ast.flow) or []
                item.inflows = [name for sign, name in terms if sign > 0]
                item.outflows = [name for sign, name in terms if sign < 0]
            elements.append(item)
    return elements


class ViewWriter:
    """Accumulates the objects of one Vensim view."""

    def __init__(self, number: int, title: str):
        self.lines = [f"*{title}", VIEW_HEADER]
        self.next_id = 1
        self.ids: dict[str, int] = {}        # python name -> object id (variable or shadow)
        self.positions: dict[int, tuple[int, int]] = {}

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def variable(self, key: str, name: str, x: int, y: int, *, stock=False, shadow=False) -> int:
        object_id = self._id()
        width = max(30, int(len(name) * 3.3))
        if stock:
            self.lines.append(f"10,{object_id},{name},{x},{y},{width},22,3,3,0,0,0,0,0,0")
        elif shadow:
            self.lines.append(f"10,{object_id},{name},{x},{y},{width},11,8,2,0,3,-1,0,0,0,"
                              "128-128-128,0-0-0,|12||128-128-128")
        else:
            self.lines.append(f"10,{object_id},{name},{x},{y},{width},11,8,3,0,0,0,0,0,0")
        self.ids[key] = object_id
        self.positions[object_id] = (x, y)
        return object_id

    def cloud(self, x: int, y: int) -> int:
        object_id = self._id()
        self.lines.append(f"12,{object_id},48,{x},{y},10,8,0,3,0,0,-1,0,0,0")
        self.positions[object_id] = (x, y)
        return object_id

    def flow(self, key: str, name: str, source: int, target: int, x: int, y: int) -> int:
        """A valve at (x, y) with its flow name, and the pipes source -> valve -> target."""
        valve = self._id()
        pipe_in, pipe_out = self._id(), self._id()
        self.lines.append(f"1,{pipe_out},{valve},{target},4,0,0,22,0,0,0,-1--1--1,,1|({x},{y})|")
        self.lines.append(f"1,{pipe_in},{valve},{source},100,0,0,22,0,0,0,-1--1--1,,1|({x},{y})|")
        self.lines.append(f"11,{valve},48,{x},{y},6,8,34,3,0,0,1,0,0,0")
        label = self._id()
        self.lines.append(f"10,{label},{name},{x},{y + 18},{max(30, int(len(name) * 3.3))},11,40,3,0,0,-1,0,0,0")
        self.ids[key] = label
        self.positions[label] = (x, y + 18)
        self.positions[valve] = (x, y)
        return label

    def arrow(self, source: int, target: int) -> None:
        (x1, y1), (x2, y2) = self.positions[source], self.positions[target]
        self.lines.append(f"1,{self._id()},{source},{target},1,0,0,0,0,64,0,-1--1--1,,1|"
                          f"({(x1 + x2) // 2},{(y1 + y2) // 2})|")


def build_sketch(elements: list[Element]) -> str:
    """The sketch section (views) for ``elements``."""
    by_name = {e.python_name: e for e in elements}
    flow_owner: dict[str, str] = {}
    for element in elements:
        if element.stock:
            for flow in element.inflows + element.outflows:
                flow_owner.setdefault(flow, element.group)
    groups: list[str] = []
    for element in elements:
        home = flow_owner.get(element.python_name, element.group)
        if home not in groups:
            groups.append(home)
    home_of = {e.python_name: flow_owner.get(e.python_name, e.group) for e in elements}
    lines = [SKETCH_MARKER, "V300  Do not put anything below this section - it will be ignored"]
    for number, group in enumerate(groups, start=1):
        view = ViewWriter(number, f"View {number}" if number == 1 else group)
        view.lines[0] = f"*{group}"
        members = [e for e in elements if home_of[e.python_name] == group]
        stocks = [e for e in members if e.stock]
        # stocks in a row, flows between them or to clouds
        placed_flows: set[str] = set()
        for index, stock in enumerate(stocks):
            view.variable(stock.python_name, stock.name, 260 + 420 * index, 320, stock=True)
        for index, stock in enumerate(stocks):
            sx = 260 + 420 * index
            offsets = {"in": 0, "out": 0}
            for flow in stock.inflows + stock.outflows:
                if flow in placed_flows or flow not in by_name or home_of.get(flow) != group:
                    continue
                source_stock = next((s for s in stocks if flow in s.outflows), None)
                target_stock = next((s for s in stocks if flow in s.inflows), None)
                if source_stock and target_stock:
                    tx = 260 + 420 * stocks.index(target_stock)
                    lane = offsets["in"]
                    offsets["in"] += 1
                    y = 300 + 40 * lane
                    view.flow(flow, by_name[flow].name, view.ids[source_stock.python_name],
                              view.ids[target_stock.python_name], (sx + tx) // 2, y)
                elif target_stock:
                    lane = offsets["in"]
                    offsets["in"] += 1
                    x, y = sx - 60 + 60 * lane, 180
                    cloud = view.cloud(x, 90)
                    view.flow(flow, by_name[flow].name, cloud, view.ids[stock.python_name], x, y)
                else:
                    lane = offsets["out"]
                    offsets["out"] += 1
                    x, y = sx - 60 + 60 * lane, 460
                    cloud = view.cloud(x, 550)
                    view.flow(flow, by_name[flow].name, view.ids[stock.python_name], cloud, x, y)
                placed_flows.add(flow)
        top = 640 if stocks else 120
        others = [e for e in members if not e.stock and e.python_name not in placed_flows]
        for index, element in enumerate(others):
            x = 120 + GRID_DX * (index % GRID_COLUMNS)
            y = top + GRID_DY * (index // GRID_COLUMNS)
            view.variable(element.python_name, element.name, x, y)
        # shadows for references defined elsewhere, then the arrows
        needed = sorted({ref for e in members for ref in e.references
                         if (ref in by_name or ref in BUILTIN_REFERENCES) and ref not in view.ids})
        shadow_top = top + GRID_DY * (len(others) // GRID_COLUMNS + 2)
        for index, ref in enumerate(needed):
            name = by_name[ref].name if ref in by_name else BUILTIN_REFERENCES[ref]
            view.variable(ref, name, 120 + GRID_DX * (index % GRID_COLUMNS),
                          shadow_top + GRID_DY * (index // GRID_COLUMNS), shadow=True)
        for element in members:
            for ref in sorted(element.references):
                if ref in view.ids and ref != element.python_name:
                    if element.stock and (ref in element.inflows or ref in element.outflows):
                        continue  # drawn as a pipe
                    view.arrow(view.ids[ref], view.ids[element.python_name])
        lines += view.lines
    lines.append(SKETCH_END)
    return "\n".join(lines) + "\n"


def split_mdl(text: str) -> tuple[str, str, str]:
    """Split a ``.mdl`` into (equations, sketch, settings after the sketch)."""
    start = text.find(SKETCH_MARKER)
    if start < 0:
        return text, "", ""
    end = text.find(SKETCH_END, start)
    if end < 0:
        raise ValueError("the sketch section has no end marker ///---\\\\\\")
    end += len(SKETCH_END)
    return text[:start], text[start:end] + "\n", text[end:].lstrip("\n")


def check_sketch(mdl_path: Path = MODEL_PATH) -> list[str]:
    """Problems of the sketch: variables not drawn, flows without valves, links without arrows."""
    elements = read_elements(mdl_path)
    _, sketch, _ = split_mdl(Path(mdl_path).read_text(encoding="utf-8"))
    if not sketch:
        return ["the .mdl has no sketch section; run `python -m model.sketch`"]
    drawn, valves = set(), set()
    for line in sketch.splitlines():
        parts = line.split(",")
        if parts[0] == "10" and len(parts) > 8:
            name = parts[2]
            if parts[8] != "2":
                drawn.add(name)
            if parts[7] == "40":
                valves.add(name)
    problems = [f"'{e.name}' is not drawn" for e in elements if e.name not in drawn]
    names = {e.python_name: e.name for e in elements}
    for element in elements:
        for flow in element.inflows + element.outflows:
            if names.get(flow) not in valves:
                problems.append(f"flow '{names.get(flow, flow)}' of stock '{element.name}' has no valve")
    if sketch != build_sketch(elements):
        problems.append("the sketch is not the layout of the current equations; run `python -m model.sketch`")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mdl", nargs="?", default=str(MODEL_PATH), help="the .mdl file")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on problems")
    args = parser.parse_args(argv)
    path = Path(args.mdl)
    if args.check:
        problems = check_sketch(path)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    equations, _, settings = split_mdl(path.read_text(encoding="utf-8"))
    sketch = build_sketch(read_elements(path))
    path.write_text(equations + sketch + settings, encoding="utf-8")
    print(f"wrote the sketch of {path} ({sketch.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
