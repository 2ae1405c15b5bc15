"""The outputs of a model, declared once: ``<model>.outputs.yaml`` next to its ``.mdl``.

The declaration says what each output is used for (kept per ensemble member, banded, needed by
the comparison, a constant the comparison reads, a default sensitivity output, reported in the
summary) and gives its units and an English and Chinese label. Dimensions are never declared
here: they are the subscripts of the ``.mdl`` (:attr:`model.spec.Variable.dims`), and every
result carries them (:class:`model.result.RunResult`).

>>> outputs = load_outputs()
>>> outputs.names("band")
('urbanization_rate', 'total_population')

A model without a declaration file (e.g. a test model) gets a default one: every stock is kept
per member and needed by the comparison; nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Mapping

import yaml

from . import MODEL_PATH
from .cache import file_sha256
from .spec import ModelSpec, load_spec

#: The uses an output can have (a boolean each), and ``summary`` (the key in ``summary.json``).
FLAGS = ("ensemble", "band", "compare", "constant", "sensitivity")
FIELDS = set(FLAGS) | {"units", "label", "summary"}


class OutputsError(ValueError):
    """A declaration that does not fit its model (unknown name, units that differ, unknown key)."""


@dataclass(frozen=True)
class Output:
    """One declared output.

    Attributes
    ----------
    name : str
        Python name of the model variable.
    units : str
        Units (as in the ``.mdl``).
    label : str
        English label.
    label_zh : str
        Chinese label.
    ensemble, band, compare, constant, sensitivity : bool
        Its uses (see the module docstring and the header of the YAML file).
    summary : str or None
        Key of ``summary.json`` under which its province total at the report years is written.
    """

    name: str
    units: str = ""
    label: str = ""
    label_zh: str = ""
    ensemble: bool = False
    band: bool = False
    compare: bool = False
    constant: bool = False
    sensitivity: bool = False
    summary: str | None = None


class Outputs(Mapping):
    """The declared outputs of one model, in declaration order (a read-only mapping by name)."""

    def __init__(self, outputs: Mapping[str, Output], path: Path | None):
        self._outputs = dict(outputs)
        #: The declaration file (``None``: the default declaration of a model without one).
        self.path = path

    def __getitem__(self, name: str) -> Output:
        return self._outputs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def names(self, use: str) -> tuple[str, ...]:
        """Names of the outputs with ``use`` (one of :data:`FLAGS`, or ``"summary"``), in order."""
        if use not in FLAGS and use != "summary":
            raise ValueError(f"unknown output use {use!r}; use one of {', '.join(FLAGS)} or summary")
        return tuple(name for name, out in self._outputs.items() if getattr(out, use))

    def label(self, name: str) -> tuple[str, str]:
        """English and Chinese label of ``name`` (its name when it is not declared)."""
        out = self._outputs.get(name)
        if out is None or not out.label:
            return name.replace("_", " "), ""
        return out.label, out.label_zh

    def check(self, spec: ModelSpec) -> "Outputs":
        """Check the declaration against the model; return it.

        Raises
        ------
        OutputsError
            For a name the model does not have or units that differ from the ``.mdl``.
        """
        where = self.path or spec.mdl_path
        for name, out in self._outputs.items():
            if name not in spec.variables:
                raise OutputsError(f"{where}: output '{name}' is not a variable of {spec.mdl_path.name}; "
                                   f"remove it or fix the name")
            if out.units and out.units != (spec.variables[name].units or ""):
                raise OutputsError(f"{where}: output '{name}' has units '{out.units}' but the .mdl says "
                                   f"'{spec.variables[name].units}'; write the .mdl's units")
        return self


def outputs_path(mdl_path: str | Path = MODEL_PATH) -> Path:
    """Where the declaration of ``mdl_path`` lives: ``<model>.outputs.yaml`` next to it."""
    mdl_path = Path(mdl_path)
    return mdl_path.with_name(mdl_path.stem + ".outputs.yaml")


def _parse(path: Path) -> dict[str, Output]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise OutputsError(f"{path}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None
    entries = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise OutputsError(f"{path}: must hold a mapping 'outputs: {{name: {{...}}}}'")
    outputs = {}
    for name, entry in entries.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise OutputsError(f"{path}: output '{name}' must be a mapping of its uses")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise OutputsError(f"{path}: output '{name}' has unknown key(s) {', '.join(unknown)}; "
                               f"use {', '.join(sorted(FIELDS))}")
        for flag in FLAGS:
            if not isinstance(entry.get(flag, False), bool):
                raise OutputsError(f"{path}: output '{name}': {flag} must be true or false")
        label = entry.get("label") or {}
        if isinstance(label, str):
            label = {"en": label}
        outputs[str(name)] = Output(
            name=str(name), units=str(entry.get("units", "")), label=str(label.get("en", "")),
            label_zh=str(label.get("zh", "")), summary=entry.get("summary"),
            **{flag: bool(entry.get(flag, False)) for flag in FLAGS})
    return outputs


def default_outputs(spec: ModelSpec) -> dict[str, Output]:
    """The declaration of a model without a file: every stock, per member and for the comparison."""
    return {name: Output(name=name, units=var.units, ensemble=True, compare=True)
            for name, var in spec.variables.items() if var.kind == "stock"}


@lru_cache(maxsize=16)
def _load_cached(path: str, digest: str) -> dict[str, Output]:
    return _parse(Path(path))


def load_outputs(mdl_path: str | Path = MODEL_PATH, spec: ModelSpec | None = None) -> Outputs:
    """The declared outputs of ``mdl_path`` (``<model>.outputs.yaml``), checked against ``spec`` if given.

    Without a declaration file the default declaration (:func:`default_outputs`) is used, which
    needs ``spec``.
    """
    path = outputs_path(mdl_path)
    if path.is_file():
        outputs = Outputs(_load_cached(str(path.resolve()), file_sha256(path)), path)
        return outputs.check(spec) if spec is not None else outputs
    return Outputs(default_outputs(spec if spec is not None else load_spec(mdl_path)), None)
