"""The ensemble engine: the ``.mdl`` compiled to numpy, with the samples on an array axis."""
from __future__ import annotations

import difflib
import threading
import time as _time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import MODEL_PATH
from ..cache import abstract_model, file_sha256
from ..result import RunResult
from .compiler import CONTROL_NAMES, ModelCompiler

#: PySD's relative precision of the final time and of the saved times (``Time.rprec``).
TIME_PRECISION = 1e-5
#: Number of compiled ``simulate`` functions kept per model.
COMPILED_VARIANTS = 64
#: Largest number of array elements (samples x subscript cells of the largest variable) one call of
#: the generated code works on; larger ensembles run in chunks of samples whose arrays stay in the
#: caches (measured on the 546-cell population chain, 10,000 members: one call 41 s, chunks of 480
#: members 21 s, on a loaded 2-core machine). Models without subscripts are never chunked below
#: 262,144 members.
CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class EngineVariable:
    """A model variable as the vectorized engine sees it.

    Attributes
    ----------
    name : str
        Python name (the same as in :class:`model.spec.ModelSpec`).
    vensim_name : str
        Name in the ``.mdl``.
    kind : str
        ``"stock"``, ``"constant"``, ``"auxiliary"`` (flows included), ``"lookup"`` or
        ``"control"``. Constants are equations made only of numbers (also per subscript
        element or as a list).
    units : str
        Units from the ``.mdl``.
    dims : tuple of str
        Subscript ranges, in the order of the result's trailing axes.
    coords : dict of str to tuple of str
        Elements of each subscript range.
    """

    name: str
    vensim_name: str
    kind: str
    units: str
    dims: tuple
    coords: dict

    @property
    def shape(self) -> tuple:
        """Subscript shape (empty for scalars)."""
        return tuple(len(self.coords[d]) for d in self.dims)


@dataclass(frozen=True)
class TimeGrid:
    """The time steps of one run, computed exactly as PySD does.

    Attributes
    ----------
    times : tuple of float
        Model time at every step [Year], from ``t += dt`` repeated (PySD's ``Time.update``).
    rows : tuple of int
        Output row saved at each step, or -1 when the step is not saved.
    saved_times : numpy.ndarray
        The saved times, rounded as PySD rounds its output index [Year].
    """

    times: tuple
    rows: tuple
    saved_times: np.ndarray


def time_grid(initial_time, final_time, time_step, saveper) -> TimeGrid:
    """PySD's integration loop (``Model._integrate`` and ``Time.in_bounds``/``in_return``).

    Parameters
    ----------
    initial_time, final_time, time_step, saveper : float
        Control values [Year].
    """
    if not time_step > 0:
        raise ValueError(f"time_step must be positive, got {time_step!r}")
    if not saveper > 0:
        raise ValueError(f"saveper must be positive, got {saveper!r}")
    precision = time_step * TIME_PRECISION

    def in_return(t):
        delay = t - initial_time
        return delay % saveper < precision or -delay % saveper < precision

    times, rows, saved = [], [], []
    t = initial_time
    while True:
        times.append(t)
        if in_return(t):
            rows.append(len(saved))
            saved.append(t)
        else:
            rows.append(-1)
        if not t + time_step * TIME_PRECISION < final_time:
            break
        t = t + time_step
    decimals = -int(np.log10(time_step * TIME_PRECISION))
    saved_times = np.array([np.round(s, decimals) for s in saved], dtype=float)
    return TimeGrid(tuple(times), tuple(rows), saved_times)


class VectorizedModel:
    """A ``.mdl`` compiled to numpy: runs many parameter sets in one call.

    Build it with :meth:`from_mdl`. The equations are generated from PySD's parsed model of the
    ``.mdl`` (never written by hand), so an edit of the ``.mdl`` is followed automatically.
    Results agree with :class:`model.pysd_engine.PySDEngine` to rounding (Euler, same time
    grid, same STEP/RAMP/lookup/XIDZ conventions).

    Parameters
    ----------
    compiler : ModelCompiler
        The compiled intermediate representation.
    mdl_sha256 : str
        Hash of the ``.mdl`` the model was compiled from.

    Notes
    -----
    One object can be used for any number of runs, also from several threads: a run never
    changes the object except for adding a compiled variant to its internal cache (keyed by
    the set of overridden equations, the outputs and the method).
    """

    def __init__(self, compiler: ModelCompiler, mdl_sha256: str):
        self._compiler = compiler
        self.mdl_path = compiler.mdl_path
        self.mdl_sha256 = mdl_sha256
        self.variables: dict[str, EngineVariable] = {
            name: EngineVariable(
                name=name, vensim_name=element.vensim_name, kind=element.kind,
                units=element.units, dims=tuple(element.dims),
                coords={d: tuple(c) for d, c in element.dims.items()},
            )
            for name, element in compiler.elements.items()
        }
        self.control = compiler.control_values({})
        self._defaults = {name: element.default for name, element in compiler.elements.items()
                          if element.kind == "constant"}
        self._largest_variable = max([int(np.prod(var.shape, dtype=np.int64))
                                      for var in self.variables.values()] + [1])
        self._default_columns = tuple(name for name, var in self.variables.items()
                                      if var.kind in ("stock", "auxiliary", "constant"))
        self._variants: OrderedDict = OrderedDict()
        self._grids: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        #: Seconds spent generating and compiling code, per variant key.
        self.compile_seconds: dict = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mdl(cls, mdl_path: str | Path = MODEL_PATH) -> "VectorizedModel":
        """Compile ``mdl_path`` (cached in-process per file hash; cheap to call again)."""
        path = Path(mdl_path).resolve()
        return _compiled_model(str(path), file_sha256(path))

    # ------------------------------------------------------------------ inspection
    @property
    def parameters(self) -> dict:
        """Default values of the constants, shape ``(*dims)`` (scalars as floats)."""
        return {name: (float(value[0]) if value.shape == (1,) else value[0].copy())
                for name, value in self._defaults.items()}

    def source(self, params: Sequence[str] = (), return_columns: Sequence[str] | None = None,
               method: str = "euler") -> str:
        """The generated source of the ``simulate`` function for these arguments."""
        inputs, outputs = self._variant_key(params, return_columns)
        return self._compiler.generate(inputs, outputs, method)

    # ------------------------------------------------------------------ running
    def run(
        self,
        params: Mapping[str, object] | None = None,
        n_samples: int | None = None,
        *,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        method: str = "euler",
        return_columns: Sequence[str] | None = None,
        initial_time: float | None = None,
    ) -> RunResult:
        """Run ``n_samples`` parameter sets at once.

        Parameters
        ----------
        params : mapping of str to float or numpy.ndarray, optional
            Overrides by Python name. Scalars apply to every sample; a 1-D array of length
            ``n_samples`` gives one value per sample; a subscripted variable takes an array
            shaped ``(*dims)`` (same for every sample), ``(n_samples, *dims)``, or
            ``(n_samples,)`` (one value per sample for every element; an array shaped like
            ``dims`` is always read as per element). Values are not range-checked (use
            ``ModelSpec.validate`` for user input). Overriding an equation (not only a
            constant) replaces it by the given constant, as PySD does.
        n_samples : int, optional
            Number of samples; inferred from the arrays in ``params`` (1 if all are scalars).
        final_time, time_step, saveper : float, optional
            Control values [Year]; default to the ``.mdl``'s.
        initial_time : float, optional
            Start of the run [Year] (default the ``.mdl``'s ``INITIAL TIME``). Every equation keeps
            its calendar meaning (``Time`` is the calendar year); the stocks start from their
            initial-value expressions at this time, so pass the initial state of that year as the
            constants those expressions read (``calibration.backcast`` starts the model in 2010 so).
            PySD has no counterpart here.
        method : {"euler", "rk4"}
            Integration method. ``"euler"`` is PySD's; ``"rk4"`` (classic Runge-Kutta, 4th
            order) is for integration-error checks and has no PySD counterpart.
        return_columns : sequence of str, optional
            Variables to return; default: every stock, auxiliary (flows included) and constant.

        Returns
        -------
        RunResult
            ``time`` [Year] of shape ``(n_time,)`` and ``values[name]`` of shape
            ``(n_time, n_samples, *subscript shape)``.

        Raises
        ------
        KeyError
            Unknown variable names in ``params`` or ``return_columns``.
        ValueError
            Overrides of stocks, lookups or control variables; arrays of the wrong shape.
        """
        if method not in ("euler", "rk4"):
            raise ValueError(f"unknown integration method {method!r}; use 'euler' or 'rk4'")
        params = dict(params or {})
        self._check_names(params, "parameter")
        for name in params:
            kind = self.variables[name].kind
            if kind in ("stock", "lookup", "control"):
                hint = {
                    "stock": "override the constant that sets its initial value instead",
                    "lookup": "lookup tables cannot be overridden by this engine; edit the .mdl",
                    "control": "pass final_time=, time_step= or saveper= instead",
                }[kind]
                raise ValueError(f"'{name}' is a {kind} and cannot be set as a parameter: {hint}")
        inputs, n_samples = self._inputs(params, n_samples)
        control = self._compiler.control_values(
            {"initial_time": initial_time, "final_time": final_time, "time_step": time_step,
             "saveper": saveper})
        if initial_time is not None and not control["initial_time"] < control["final_time"]:
            raise ValueError(f"initial_time {control['initial_time']:g} is not before final_time "
                             f"{control['final_time']:g}; pass an earlier initial_time or a later final_time")
        grid = self._grid(control)
        key_inputs, outputs = self._variant_key(params, return_columns)
        simulate = self._variant(key_inputs, outputs, method)
        values = self._allocate(outputs, len(grid.saved_times), n_samples)
        rows = self.chunk_rows(n_samples)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            for start in range(0, n_samples, rows):
                stop = min(start + rows, n_samples)
                if rows >= n_samples:
                    chunk_inputs, chunk_values = inputs, values
                else:
                    chunk_inputs = {name: (value[start:stop] if value.shape[0] == n_samples else value)
                                    for name, value in inputs.items()}
                    chunk_values = {name: value[:, start:stop] for name, value in values.items()}
                simulate(chunk_inputs, grid.times, grid.rows, control["initial_time"],
                         control["time_step"], control["final_time"], control["saveper"],
                         chunk_values)
        ordered = {name: values[name] for name in
                   (return_columns if return_columns is not None else self._default_columns)}
        dims = {name: self.variables[name].dims for name in ordered if self.variables[name].dims}
        coords = {dim: coords for name in dims for dim, coords in self.variables[name].coords.items()}
        return RunResult(time=grid.saved_times.copy(), values=ordered, dims=dims, coords=coords)

    # ------------------------------------------------------------------ helpers
    def chunk_rows(self, n_samples: int) -> int:
        """Samples per call of the generated code: all of them unless the model's largest variable
        times ``n_samples`` exceeds :data:`CHUNK_ELEMENTS` (large subscripted models run faster in
        chunks whose arrays stay in the caches; the members are independent, so the result is the
        same to the last bit)."""
        return max(1, min(n_samples, CHUNK_ELEMENTS // self._largest_variable))

    def _allocate(self, outputs: tuple, n_saved: int, n_samples: int) -> dict:
        """Output arrays ``(n_saved, n_samples, *shape)``, as views of one allocation.

        One large block is several times faster to fill than one allocation per variable (the
        kernel maps it with huge pages instead of faulting in 4 KiB pages).
        """
        shapes = {name: (n_saved, n_samples) + self.variables[name].shape for name in outputs}
        sizes = {name: int(np.prod(shape, dtype=np.int64)) for name, shape in shapes.items()}
        block = np.empty(sum(sizes.values()))
        values, offset = {}, 0
        for name in outputs:
            values[name] = block[offset:offset + sizes[name]].reshape(shapes[name])
            offset += sizes[name]
        return values

    def _check_names(self, names, what: str) -> None:
        unknown = [name for name in names if name not in self.variables]
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, list(self.variables), n=3, cutoff=0.5)
                if close:
                    hints.append(f"'{name}' (did you mean {', '.join(close)}?)")
                else:
                    hints.append(f"'{name}'")
            raise KeyError(
                f"unknown {what} names: {', '.join(hints)}; use the Python names of the "
                f"variables of {self.mdl_path.name} (VectorizedModel.variables)"
            )

    def _variant_key(self, params, return_columns) -> tuple:
        overridden = frozenset(name for name in params
                               if self.variables[name].kind != "constant")
        inputs = frozenset(self._defaults) | overridden
        if return_columns is None:
            outputs = self._default_columns
        else:
            if isinstance(return_columns, str):
                raise TypeError("return_columns must be a sequence of names, not a string")
            self._check_names(return_columns, "return column")
            bad = [n for n in return_columns if self.variables[n].kind in ("lookup", "control")]
            if bad:
                raise ValueError(f"cannot return lookups or control variables: {bad}; the "
                                 f"time axis is RunResult.time")
            outputs = tuple(dict.fromkeys(return_columns))
        return inputs, outputs

    def _variant(self, inputs: frozenset, outputs: tuple, method: str):
        key = (inputs, outputs, method)
        with self._lock:
            simulate = self._variants.get(key)
            if simulate is not None:
                self._variants.move_to_end(key)
                return simulate
        start = _time.perf_counter()
        source = self._compiler.generate(inputs, outputs, method)
        scope = self._compiler.namespace_for_code()
        code = compile(source, f"<vectorized {self.mdl_path.name} {method}>", "exec")
        exec(code, scope)
        simulate = scope["simulate"]
        with self._lock:
            self.compile_seconds[key] = _time.perf_counter() - start
            self._variants[key] = simulate
            while len(self._variants) > COMPILED_VARIANTS:
                self._variants.popitem(last=False)
        return simulate

    def _grid(self, control: dict) -> TimeGrid:
        key = tuple(control[name] for name in CONTROL_NAMES)
        with self._lock:
            grid = self._grids.get(key)
        if grid is None:
            grid = time_grid(control["initial_time"], control["final_time"],
                             control["time_step"], control["saveper"])
            with self._lock:
                self._grids[key] = grid
                while len(self._grids) > COMPILED_VARIANTS:
                    self._grids.popitem(last=False)
        return grid

    def _inputs(self, params: dict, n_samples: int | None) -> tuple:
        """Constant arrays shaped ``(1 or n_samples, *dims)`` and the number of samples."""
        converted = {}
        inferred = set()
        for name, value in params.items():
            shape = self.variables[name].shape
            array = np.asarray(value, dtype=float)
            if array.ndim == 0:
                converted[name] = ("scalar", array)
            elif array.shape == shape:
                converted[name] = ("elements", array)
            elif array.ndim == len(shape) + 1 and array.shape[1:] == shape:
                converted[name] = ("samples", array)
                inferred.add(array.shape[0])
            elif shape and array.ndim == 1:
                converted[name] = ("samples-broadcast", array)
                inferred.add(array.shape[0])
            else:
                raise ValueError(
                    f"parameter '{name}' has shape {array.shape}; expected a scalar, "
                    + (f"an array shaped {shape} (one value per element), " if shape else "")
                    + f"or an array shaped (n_samples,{' ' if shape else ''}"
                    + ", ".join(str(s) for s in shape) + ")"
                )
        inferred.discard(1)
        if n_samples is None:
            if len(inferred) > 1:
                raise ValueError(f"parameter arrays have different numbers of samples: "
                                 f"{sorted(inferred)}")
            n_samples = inferred.pop() if inferred else 1
        else:
            n_samples = int(n_samples)
            if n_samples < 1:
                raise ValueError(f"n_samples must be at least 1, got {n_samples}")
            if inferred - {n_samples}:
                raise ValueError(f"n_samples={n_samples} but parameter arrays have "
                                 f"{sorted(inferred)} samples")
        inputs = dict(self._defaults)
        for name, (form, array) in converted.items():
            shape = self.variables[name].shape
            if form == "scalar":
                inputs[name] = np.full((1,) + shape, float(array))
            elif form == "elements":
                inputs[name] = array.reshape((1,) + shape)
            elif form == "samples":
                inputs[name] = array
            else:
                inputs[name] = array.reshape((-1,) + (1,) * len(shape)) * np.ones(shape)
        return inputs, n_samples


@lru_cache(maxsize=8)
def _compiled_model(mdl_path: str, digest: str) -> VectorizedModel:
    return VectorizedModel(ModelCompiler(abstract_model(mdl_path), mdl_path), digest)
