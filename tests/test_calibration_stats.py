"""Fit statistics against hand-computed values, and the forecasting baselines."""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.baselines import constant_growth, linear_trend, un_wup_share
from calibration.stats import fit_statistics, theil_decomposition


def test_statistics_match_hand_computation():
    # A = 1, 2, 3, 4 ; S = 2, 2, 4, 5
    # errors 1, 0, 1, 1 -> MSE 3/4, RMSE sqrt(0.75); MAPE = 100/4 (1 + 0 + 1/3 + 1/4) = 39.5833...
    # means: A 2.5, S 3.25 -> bias (0.75)^2 = 0.5625
    # population sd: A sqrt(1.25); S: deviations -1.25, -1.25, 0.75, 1.75 -> var (1.5625*2 + 0.5625 + 3.0625)/4 = 1.6875
    # cov = mean((A-2.5)(S-3.25)) = (1.875 + 0.625 + 0.375 + 2.625)/4 = 1.375 ; r = 1.375 / sqrt(1.25*1.6875)
    stats = fit_statistics([2, 2, 4, 5], [1, 2, 3, 4])
    s_a, s_s = math.sqrt(1.25), math.sqrt(1.6875)
    r = 1.375 / (s_a * s_s)
    assert stats.n == 4
    assert stats.mse == pytest.approx(0.75)
    assert stats.rmse == pytest.approx(math.sqrt(0.75))
    assert stats.mape == pytest.approx(100 / 4 * (1 + 0 + 1 / 3 + 1 / 4))
    assert stats.u_bias == pytest.approx(0.5625 / 0.75)
    assert stats.u_variance == pytest.approx((s_s - s_a) ** 2 / 0.75)
    assert stats.u_covariance == pytest.approx(2 * (1 - r) * s_s * s_a / 0.75)
    assert stats.u_bias + stats.u_variance + stats.u_covariance == pytest.approx(1.0, abs=1e-12)
    assert stats.theil_u == pytest.approx(math.sqrt(0.75) / (math.sqrt(30 / 4) + math.sqrt(49 / 4)))
    assert stats.r2_levels == pytest.approx(r ** 2)
    # changes: dA = 1, 1, 1 (constant) -> r undefined
    assert math.isnan(stats.r2_changes)
    # changes with variation: dS = 1, 3, 2 ; dA = 2, 2, 3  -> r = cov / (sd sd)
    stats = fit_statistics([1, 2, 5, 7], [1, 3, 5, 8])
    ds, da = np.array([1, 3, 2.0]), np.array([2, 2, 3.0])
    r = np.mean((ds - ds.mean()) * (da - da.mean())) / (ds.std() * da.std())
    assert stats.r2_changes == pytest.approx(r ** 2)


@pytest.mark.parametrize("seed", range(5))
def test_theil_components_sum_to_one(seed):
    rng = np.random.default_rng(seed)
    observed = np.cumsum(rng.normal(1, 0.3, 12)) + 50
    simulated = observed * rng.uniform(0.9, 1.1) + rng.normal(0, 0.5, 12)
    mse, u_m, u_s, u_c = theil_decomposition(simulated, observed)
    assert mse == pytest.approx(np.mean((simulated - observed) ** 2))
    assert u_m + u_s + u_c == pytest.approx(1.0, abs=1e-12)
    assert min(u_m, u_s, u_c) >= 0


def test_perfect_fit_and_bad_input():
    stats = fit_statistics([1, 2, 3], [1, 2, 3])
    assert stats.rmse == 0 and stats.mape == 0 and math.isnan(stats.u_bias)
    with pytest.raises(ValueError, match="same length"):
        fit_statistics([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="non-zero"):
        fit_statistics([1, 2], [0, 2])


def test_un_wup_method_is_the_logistic_through_two_points():
    # 50 % -> 60 % over 10 years: d = (ln(60/40) - 0) / 10 ; after 20 years logit = 2 ln 1.5 -> 69.23 %
    projected = un_wup_share([2000, 2005, 2010], [50.0, 57.0, 60.0], [2010, 2020])
    assert projected[0] == pytest.approx(60.0)
    assert projected[1] == pytest.approx(100 * 2.25 / 3.25)
    with pytest.raises(ValueError, match="strictly between"):
        un_wup_share([2000, 2010], [0.0, 50.0], [2020])


def test_linear_and_constant_growth_baselines():
    assert linear_trend([2015, 2016, 2017], [1.0, 2.0, 3.5], [2018])[0] == pytest.approx(4.6666666667)
    assert constant_growth([2015, 2017], [100.0, 121.0], [2018])[0] == pytest.approx(133.1)
    with pytest.raises(ValueError, match="at least 2"):
        linear_trend([2015], [1.0], [2016])
