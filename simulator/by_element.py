"""Levers by league or group: a subscripted parameter set for some of its elements by name (issue 12).

A scenario file or the command line may give a subscripted parameter as a mapping from names to
values instead of one number::

    python sim.py params.settlement_ease.cluster=0.8 params.settlement_ease.Alxa=0.2
    python sim.py 'params.settlement_ease={cluster: 0.8, Alxa: 0.2}'
    # scenarios/scenario/<name>.yaml
    params:
      settlement_ease: {cluster: 0.8, Alxa: 0.2}

A name is an element of one of the parameter's subscript ranges (``Hohhot``) or, on a range of
leagues (``league`` or a copy of it such as ``destination``), a group of ``base/leagues.yaml`` (``cluster``, ``poles``, ``east``, ``yellow_river``...). The
names are applied in the order given (a later one wins where they overlap); elements not named keep the
value of the layer below (the scenario, the calibrated value or the ``.mdl``). Every value is checked
against the parameter's documented range. The result is the parameter's whole array, as a nested list
shaped like its subscripts (the engines take it as one value per element, the same in every member; a
calibrated parameter set this way is fixed in every member).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from base.leagues import LeagueNameError, load_leagues
from model.spec import ModelSpec, ParameterError
from model.vectorized import VectorizedModel


def split_name(name: str) -> tuple[str, str | None]:
    """``"settlement_ease.cluster"`` -> ``("settlement_ease", "cluster")``; no dot -> ``(name, None)``."""
    base, _, key = name.partition(".")
    return base, (key or None)


def element_mask(spec: ModelSpec, name: str, key: str) -> np.ndarray:
    """Boolean mask over the elements of parameter ``name`` selected by ``key`` (element or group).

    Raises
    ------
    model.spec.ParameterError
        If the parameter has no subscripts, or ``key`` is no element of its ranges nor a league group
        (one line naming the key and the valid names).
    """
    var = spec.check_name(name)
    dims = var.dims
    if not dims:
        raise ParameterError(f"parameter '{name}' has no subscripts, so '{name}.{key}' cannot set one element; "
                             f"give a number: params.{name}=VALUE")
    shape = tuple(len(spec.coords[d]) for d in dims)
    for axis, dim in enumerate(dims):
        coords = [str(c) for c in spec.coords[dim]]
        selected = None
        if key in coords:
            selected = np.array([c == key for c in coords])
        elif key in load_leagues().groups and set(coords) <= set(load_leagues().names):  # league or a copy
            selected = load_leagues().mask(key, coords)
        if selected is not None:
            index = [1] * len(dims)
            index[axis] = len(coords)
            return np.broadcast_to(selected.reshape(index), shape)
    valid = "; ".join(f"{dim}: {', '.join(str(c) for c in spec.coords[dim])}" for dim in dims)
    if any(set(map(str, spec.coords[d])) <= set(load_leagues().names) for d in dims):
        try:
            load_leagues().members(key)
        except LeagueNameError as error:
            raise ParameterError(f"parameter '{name}': {error}") from None
    raise ParameterError(f"parameter '{name}': '{key}' is not an element of its subscripts ({valid})")


def default_array(spec: ModelSpec, name: str) -> np.ndarray:
    """The ``.mdl`` value of subscripted parameter ``name`` for every element."""
    value = VectorizedModel.from_mdl(spec.mdl_path).parameters[name]
    shape = tuple(len(spec.coords[d]) for d in spec.variables[name].dims)
    return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()


def by_element(spec: ModelSpec, name: str, values: Mapping[str, Any], below: Any = None) -> list:
    """The whole array of parameter ``name`` with the named elements or groups set.

    Parameters
    ----------
    spec : model.spec.ModelSpec
        The run's model.
    name : str
        A subscripted parameter.
    values : mapping of str to number
        Element or group name -> value (applied in order).
    below : float or array-like, optional
        The value of the layer below (default: the ``.mdl`` value).

    Returns
    -------
    list
        Nested list shaped like the parameter's subscripts.

    Raises
    ------
    model.spec.ParameterError
        Naming a bad key, a malformed value or one outside the documented range.
    """
    var = spec.check_name(name)
    if not var.dims:
        raise ParameterError(f"parameter '{name}' has no subscripts: give a number, not a mapping "
                             f"{dict(values)!r}")
    shape = tuple(len(spec.coords[d]) for d in var.dims)
    array = (default_array(spec, name) if below is None
             else np.broadcast_to(np.asarray(below, dtype=float), shape).copy())
    problems = []
    for key, value in values.items():
        try:
            mask = element_mask(spec, name, str(key))
            array[mask] = spec.check_value(name, value)
        except ParameterError as error:
            problems.append(f"{error} (at '{name}.{key}')" if "documented range" in str(error) or "must be" in str(error)
                            else str(error))
    if problems:
        raise ParameterError("\n".join(problems))
    return array.tolist()
