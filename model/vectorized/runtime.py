"""Numerical helpers called by the generated ensemble code.

Every helper reproduces, element by element, the scalar function PySD 3.14.3 uses for the same
Vensim construct (``pysd/py_backend/functions.py``), with the samples (and subscripts) on array
axes. Array layout everywhere: axis 0 is the sample axis (length ``n_samples`` or 1), the
following axes are the subscript ranges of the value. A *bare* value (a Python float or a 0-d
array) has no sample axis; it comes from expressions of numeric literals and time only.

Nothing here keeps state between calls.
"""
from __future__ import annotations

import numpy as np

#: What Vensim (and PySD) consider zero in XIDZ, ZIDZ, RAMP, PULSE and QUANTUM.
SMALL_VENSIM = 1e-6


def xidz(numerator, denominator, value_if_zero):
    """Vensim XIDZ: ``numerator/denominator``, or ``value_if_zero`` where ``|denominator| < 1e-6``."""
    return np.where(np.abs(denominator) < SMALL_VENSIM, value_if_zero,
                    np.divide(numerator, denominator))


def zidz(numerator, denominator):
    """Vensim ZIDZ: ``numerator/denominator``, or 0 where ``|denominator| < 1e-6``."""
    return np.where(np.abs(denominator) < SMALL_VENSIM, 0.0, np.divide(numerator, denominator))


def integer(value):
    """Vensim INTEGER: the integer part (truncation towards zero, like Python ``int``)."""
    return np.trunc(value)


def quantum(value, quantum_size):
    """Vensim QUANTUM: ``q*INTEGER(x/q)``, or ``x`` where ``q < 1e-6``."""
    return np.where(np.less(quantum_size, SMALL_VENSIM), value,
                    quantum_size * np.trunc(np.divide(value, quantum_size)))


def modulo(value, modulus):
    """Vensim MODULO: ``x - QUANTUM(x, m)`` (PySD's definition)."""
    return value - quantum(value, modulus)


def pulse(time, start, width):
    """Vensim PULSE(start, width): 1 for ``start - 1e-6 <= Time < start + width``, else 0."""
    return np.where(np.logical_and(np.less_equal(np.subtract(start, SMALL_VENSIM), time),
                                   np.less(time, np.add(start, width))), 1.0, 0.0)


def pulse_train(time, start, repeat_time, width, end):
    """Vensim PULSE TRAIN(start, width, repeat, end), as PySD's ``pulse`` with ``repeat_time``."""
    single = pulse(time, start, width)
    with np.errstate(all="ignore"):
        phase = np.mod(time - np.asarray(start) + SMALL_VENSIM, repeat_time)
    in_train = np.logical_and(np.less_equal(start, time), np.less(time, end))
    train = np.where(in_train, np.where(phase < width, 1.0, 0.0), 0.0)
    return np.where(np.equal(repeat_time, 0), single, train)


def broadcast_tail(value, tail_shape):
    """Broadcast ``value`` to ``(n_samples, *tail_shape)`` keeping its own sample axis length.

    Bare values get a sample axis of length 1. The result may be a read-only view.
    """
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return np.broadcast_to(value, (1,) + tuple(tail_shape))
    return np.broadcast_to(value, value.shape[:1] + tuple(tail_shape))


def as_sample_array(value):
    """Give a bare scalar a sample axis of length 1 (shape ``(1,)``); arrays pass through."""
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return value.reshape(1)
    return value


def assemble(tail_shape, parts):
    """Assemble a variable defined by several equations (one per subscript subset).

    Parameters
    ----------
    tail_shape : tuple of int
        Subscript shape of the variable.
    parts : sequence of (value, component_shape, destination, source)
        ``value`` is the equation's value, broadcastable to ``(n, *component_shape)``;
        ``destination`` are flat indices into the variable's subscript grid and ``source``
        the matching flat indices into the component's grid (EXCEPT removes some).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, *tail_shape)``; elements no equation defines are NaN, as in PySD.
    """
    pieces = [broadcast_tail(value, shape) for value, shape, _, _ in parts]
    n_rows = max(piece.shape[0] for piece in pieces)
    size = int(np.prod(tail_shape, dtype=int))
    out = np.full((n_rows, size), np.nan)
    for piece, (_, shape, destination, source) in zip(pieces, parts):
        flat = piece.reshape(piece.shape[0], -1)
        out[:, destination] = flat[:, source]
    return out.reshape((n_rows,) + tuple(tail_shape))


def interp_pieces(x, full_shape, x_points, pieces, hold_backward=False):
    """Interpolate a subscripted lookup: one table per subscript element.

    Parameters
    ----------
    x : array_like
        Input aligned to the result's axes (sample axis first).
    full_shape : tuple of int
        Subscript shape of the result.
    x_points : numpy.ndarray
        Common, sorted x values of all tables (PySD merges and fills them the same way).
    pieces : sequence of (index, y_points)
        ``index`` selects the result elements that use table ``y_points``.
    hold_backward : bool
        Step interpolation (Vensim ``hold_backward`` lookups) instead of linear.
    """
    x = broadcast_tail(x, full_shape)
    out = np.empty(x.shape)
    for index, y_points in pieces:
        out[index] = lookup(x[index], x_points, y_points, hold_backward)
    return out


def lookup(x, x_points, y_points, hold_backward=False):
    """One lookup table: linear interpolation holding the end values (PySD, ``np.interp``)."""
    if not hold_backward:
        return np.interp(x, x_points, y_points)
    position = np.searchsorted(x_points, x, side="right") - 1
    return np.asarray(y_points)[np.clip(position, 0, len(x_points) - 1)]
