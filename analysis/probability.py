"""Probabilities and quantiles of the predictive distribution: ensemble members plus observation noise.

``summary.json`` reports the probability of reaching a target as the share of members whose
urbanization rate *plus one draw of observation noise* (normal, standard deviation
``calibrated.uncertainty.observation_noise``) reaches it: the chance that the official statistic
will show the target reached. The comparison uses the same predictive distribution — an equally
weighted mixture of normals centred on the members — but evaluates it exactly instead of by one
noise draw per member:

    P(member i + noise >= target) = Phi((x_i - target) / sigma),

averaged over members. This is the expectation of summary.json's estimate (the same quantity
without the extra sampling noise), it is deterministic, and it can be recomputed from
``ensemble.nc`` and ``config.yaml`` alone. With ``sigma = 0`` it is the plain share of members.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr


def exceedance(values: np.ndarray, threshold: float, sigma: float) -> np.ndarray:
    """Per-member probability that the observed value reaches ``threshold``.

    Parameters
    ----------
    values : ndarray
        Member values (any shape) [units of the variable].
    threshold : float
        The target [same units].
    sigma : float
        Standard deviation of the observation noise [same units]; 0 for none.

    Returns
    -------
    ndarray
        ``Phi((values - threshold) / sigma)``, or ``values >= threshold`` as 0/1 if ``sigma == 0``.
    """
    values = np.asarray(values, dtype=float)
    if sigma < 0 or not np.isfinite(sigma):
        raise ValueError(f"observation noise must be a finite number >= 0, got {sigma!r}")
    if sigma == 0:
        return (values >= threshold).astype(float)
    return ndtr((values - threshold) / sigma)


def predictive_quantiles(values: np.ndarray, sigma: float, quantiles: Sequence[float],
                         axis: int = 0) -> np.ndarray:
    """Quantiles of the mixture of ``N(member, sigma^2)`` over the members along ``axis``.

    Parameters
    ----------
    values : ndarray
        Member values; members along ``axis`` [units of the variable].
    sigma : float
        Observation noise [same units]; with 0 the quantiles are those of the members'
        empirical distribution (``numpy.quantile(..., method="inverted_cdf")``).
    quantiles : sequence of float
        Probabilities in (0, 1).
    axis : int
        The member axis.

    Returns
    -------
    ndarray
        Shape ``(len(quantiles), *other axes)``.

    Notes
    -----
    Solves ``mean_i Phi((x - x_i) / sigma) = q`` (the mixture CDF is increasing). The
    root lies within 9 sigma of the members' own q-quantile ``Q`` (``inverted_cdf``): below
    ``Q - 9 sigma`` the CDF is at most ``P(x_i < Q) + Phi(-9) < q``, above ``Q + 9 sigma`` at least
    ``P(x_i <= Q) * Phi(9) >= q`` (``Phi(9)`` is 1 in double precision); members more than 9 sigma
    outside the bracket contribute exactly 1 or 0. Brent's method finds the root to ``1e-6 sigma``.
    """
    values = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
    q = np.asarray(quantiles, dtype=float)
    if np.any((q <= 0) | (q >= 1)):
        raise ValueError(f"quantiles must lie in (0, 1), got {list(quantiles)}")
    if sigma < 0 or not np.isfinite(sigma):
        raise ValueError(f"observation noise must be a finite number >= 0, got {sigma!r}")
    empirical = np.quantile(values, q, axis=0, method="inverted_cdf")
    if sigma == 0:
        return empirical
    ordered = np.sort(values.reshape(values.shape[0], -1), axis=0)
    n = ordered.shape[0]
    result = np.empty((q.size, ordered.shape[1]))
    for column in range(ordered.shape[1]):
        members = ordered[:, column]
        for k, (probability, start) in enumerate(zip(q, empirical.reshape(q.size, -1)[:, column])):
            low, high = start - 9 * sigma, start + 9 * sigma
            # members more than 9 sigma below (above) every point of the bracket count as 1 (0)
            first = int(np.searchsorted(members, low - 9 * sigma, side="left"))
            last = int(np.searchsorted(members, high + 9 * sigma, side="right"))
            window = members[first:last]
            def excess(x, window=window, first=first, probability=probability):
                return (first + ndtr((x - window) / sigma).sum()) / n - probability

            if excess(low) >= 0:  # only when float rounding puts the root on the bracket's edge
                result[k, column] = low
            elif excess(high) <= 0:
                result[k, column] = high
            else:
                result[k, column] = brentq(excess, low, high, xtol=1e-6 * sigma, rtol=1e-15)
    return result.reshape((q.size,) + values.shape[1:])
