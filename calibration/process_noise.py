"""Process noise of the rates that move, estimated from the 2010-2020 record (issue 10 item 6).

``python -m calibration.process_noise`` prints the estimates; ``scenarios/bands/default.yaml``
holds them (a test checks that the two agree). The model draws one shock per calendar year and
rate: the rate is multiplied by exp(shock), the shocks an AR(1) series with stationary standard
deviation ``sigma`` [log units, i.e. relative] and lag-1 autocorrelation ``phi``.

Estimators (calibration/README.md, "Process noise", gives the reasoning and the caveats):

- **migration** (``migration_shock``): the bulletin's yearly urbanization increments 2011-2019
  (pre-census basis; the 2010 figure is the census-2010 basis the bulletins continue, 2020 is left
  out because of the census re-basing). A reporting bias growing linearly (the observation model of
  the calibration) adds a constant to the increments and leaves their scatter unchanged. Relative
  residuals of a straight line through the increments, minus the rounding variance of the
  published figures, with n - 2 degrees of freedom. All of the scatter is put on migration
  (the largest part of the increments; reclassification and natural increase differ too), so the
  figure is an upper bound for the migration rate's own variation.
- **out-migration** (``out_migration_shock``): the bulletin's net migration, population change
  minus natural growth (rate x mean population), 2011 and 2015-2019; its standard deviation
  relative to the census-basis out-migration of the model in 2015 (``base out migration rate`` x
  the 2015 population). The bulletins missed most of the out-migration the 2020 census revealed,
  so this is the scatter of what they recorded: a weak basis, said so.
- **fertility** (``fertility_shock``) and **mortality** (``mortality_shock``): log bulletin crude
  birth (death) rates 2011 and 2015-2019 around a straight line in time (births: plus the two-child
  pulse of the .mdl, s/T exp(1 - s/T), at the calibrated catch-up time, as a regressor), residual
  standard deviation with n - k degrees of freedom. The bulletin rates are sample-survey ratios, so
  the scatter includes survey error: an upper bound of the true year-to-year variation.

``phi``: the lag-1 autocorrelation of the residuals is reported; with 4-9 residuals it is kept as
0 (iid shocks) unless it exceeds 2/sqrt(n) in absolute value.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from base.census import POPULATION_2015
from base.paramfile import DEFAULT_PARAMETER_FILE, load_uncertainty
from base.paths import DATA_PATH

REGION = "Inner Mongolia"
#: Policy start of the two-child pulse (model time 2015 = 1 Jan 2016).
PULSE_START = 2015.0


def calibrated_value(name: str, parameter_file: Path = DEFAULT_PARAMETER_FILE) -> float:
    """A point estimate of the committed parameter file (``params.<name>``) [its .mdl units]."""
    params = load_uncertainty(parameter_file).params
    if name not in params:
        raise KeyError(f"{parameter_file} has no params.{name}: regenerate it with python -m calibration")
    return float(params[name])


def catch_up_time(parameter_file: Path = DEFAULT_PARAMETER_FILE) -> float:
    """Calibrated catch-up time of the two-child pulse [Year] (posterior median)."""
    return calibrated_value("two_child_catch_up_time", parameter_file)


def out_migration_2015(parameter_file: Path = DEFAULT_PARAMETER_FILE) -> float:
    """Census-basis net out-migration of 2015 [persons/Year]: the calibrated base out migration rate x
    the 2015 population of the .mdl (base.census.POPULATION_2015)."""
    return calibrated_value("base_out_migration_rate", parameter_file) * POPULATION_2015


@dataclass(frozen=True)
class ShockEstimate:
    """One process-noise estimate.

    Attributes
    ----------
    sigma : float
        Stationary standard deviation of the log shock [Dmnl].
    phi : float
        Lag-1 autocorrelation used (0 = iid).
    r1 : float
        Lag-1 autocorrelation of the residuals.
    n : int
        Number of residuals.
    basis : str
        What the estimate rests on.
    """

    sigma: float
    phi: float
    r1: float
    n: int
    basis: str


def _series(frame: pd.DataFrame, variable: str) -> pd.Series:
    part = frame[(frame["region"] == REGION) & (frame["variable"] == variable)]
    return pd.Series(part["value"].astype(float).to_numpy(), index=part["year"].astype(int).to_numpy()).sort_index()


def _lag1(residuals: np.ndarray) -> float:
    r = residuals - residuals.mean()
    return float(np.sum(r[1:] * r[:-1]) / np.sum(r * r)) if r.size > 2 else 0.0


def _phi(r1: float, n: int) -> float:
    return r1 if abs(r1) > 2 / np.sqrt(n) else 0.0


def _regression(y: np.ndarray, columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit; returns (fitted values, residuals)."""
    design = np.column_stack([np.ones_like(y)] + columns)
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ coefficients
    return fitted, y - fitted


def migration(frame: pd.DataFrame) -> ShockEstimate:
    """Relative scatter of the yearly urbanization increments 2011-2019 (see the module docstring)."""
    u = _series(frame, "urbanization_rate_pct").loc[2010:2019]
    years = u.index.to_numpy()[1:]
    increments = np.diff(u.to_numpy())
    fitted, residuals = _regression(increments, [years - years.mean()])
    # rounding: 2010-2014 published to 0.01 pp, 2015-2019 to 0.1 pp; an increment's rounding
    # variance is the sum of its two ends' (step^2/12 each)
    step = np.where(u.index.to_numpy() >= 2015, 0.1, 0.01)
    rounding = (step[1:] ** 2 + step[:-1] ** 2) / 12
    relative = residuals / fitted
    n = relative.size
    variance = np.sum(relative ** 2) / (n - 2) - np.mean(rounding / fitted ** 2)
    r1 = _lag1(relative)
    return ShockEstimate(float(np.sqrt(max(variance, 0.0))), _phi(r1, n), r1, n,
                         "bulletin urbanization increments 2011-2019, relative residuals of a linear trend, "
                         "rounding variance removed (upper bound: all scatter put on migration)")


def out_migration(frame: pd.DataFrame) -> ShockEstimate:
    """Scatter of the bulletin's net migration relative to the census-basis out-migration."""
    population = _series(frame, "resident_population").loc[2010:2019] * 1e4
    growth = _series(frame, "natural_growth_permille") / 1e3
    net = []
    for year in growth.index:
        if year - 1 in population.index and year in population.index:
            mean = 0.5 * (population[year] + population[year - 1])
            net.append(population[year] - population[year - 1] - growth[year] * mean)
    net = np.asarray(net)
    n = net.size
    r1 = _lag1(net)
    return ShockEstimate(float(np.std(net, ddof=1) / out_migration_2015()), _phi(r1, n), r1, n,
                         "bulletin net migration (population change - natural growth) 2011, 2015-2019, "
                         "sd over the model's 2015 census-basis out-migration (weak: the bulletins missed "
                         "most out-migration)")


def _log_rate(frame: pd.DataFrame, variable: str, pulse: bool) -> ShockEstimate:
    rate = _series(frame, variable).loc[2011:2019]
    years = rate.index.to_numpy(dtype=float)
    columns = [years - years.mean()]
    if pulse:
        s = np.maximum(0.0, years - 0.5 - PULSE_START)  # mid-year of the calendar year
        time = catch_up_time()
        columns.append(s / time * np.exp(1 - s / time))
    _, residuals = _regression(np.log(rate.to_numpy()), columns)
    n, k = residuals.size, len(columns) + 1
    r1 = _lag1(residuals)
    what = "birth" if pulse else "death"
    return ShockEstimate(float(np.sqrt(np.sum(residuals ** 2) / (n - k))), _phi(r1, n), r1, n,
                         f"log bulletin crude {what} rates 2011, 2015-2019 around a linear trend"
                         + (" plus the two-child pulse" if pulse else "")
                         + " (upper bound: includes survey error)")


def fertility(frame: pd.DataFrame) -> ShockEstimate:
    """Scatter of the log bulletin birth rates around trend and two-child pulse."""
    return _log_rate(frame, "birth_rate_permille", pulse=True)


def mortality(frame: pd.DataFrame) -> ShockEstimate:
    """Scatter of the log bulletin death rates around a trend."""
    return _log_rate(frame, "death_rate_permille", pulse=False)


def estimate(frame: pd.DataFrame | None = None) -> dict[str, ShockEstimate]:
    """Every shock's estimate, keyed by the .mdl constant it is drawn for (Python name)."""
    frame = frame if frame is not None else pd.read_csv(DATA_PATH)
    return {"migration_shock": migration(frame), "out_migration_shock": out_migration(frame),
            "fertility_shock": fertility(frame), "mortality_shock": mortality(frame)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.process_noise", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_PATH, help="statistics file (default: data/)")
    args = parser.parse_args(argv)
    for name, value in estimate(pd.read_csv(args.data)).items():
        print(f"{name}: sigma {value.sigma:.4f}, phi {value.phi:.3f} (lag-1 r {value.r1:+.3f}, n {value.n}): {value.basis}")
    print(json.dumps({name: asdict(value) for name, value in estimate(pd.read_csv(args.data)).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
