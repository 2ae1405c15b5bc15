"""The league building blocks of issue 12: the initial state by league x age x sex x residence, the league
calibration targets from the one loader, and the distances between league seats (base/league_state.py,
base/leagues.py)."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from base import demography as demo
from base.census import census_2010, census_2015, census_2020
from base.league_state import (NON_HUKOU_SHARE_RANGE, STATE_YEARS, LeagueStateError, league_state)
from base.leagues import (LEAGUES_PATH, LeagueFileError, league_census, league_distances, league_targets,
                          load_leagues)

PROVINCE = {2010: census_2010, 2015: census_2015, 2020: census_2020}


@pytest.fixture(scope="module")
def states():
    return {year: league_state(year) for year in STATE_YEARS}


@pytest.mark.parametrize("year", STATE_YEARS)
def test_leagues_sum_to_the_province_in_every_cell(states, year):
    state = states[year]
    province = PROVINCE[year]().counts
    assert state.counts.shape == (12,) + province.shape
    assert state.leagues == load_leagues().names
    np.testing.assert_allclose(state.counts.sum(axis=0), province, rtol=1e-9, atol=1e-6)
    assert np.all(state.counts >= 0)


@pytest.mark.parametrize("year", (2010, 2020))
def test_league_totals_match_the_census(states, year):
    state, census = states[year], league_census(year)
    counts = state.counts
    # 2010: the leagues sum to 26 persons less than the province; those are shared out among the rural
    np.testing.assert_allclose(counts.sum(axis=(1, 2, 3)), census["population"].values, rtol=0, atol=10)
    np.testing.assert_allclose(counts[..., 1:].sum(axis=(1, 2, 3)), census["urban_population"].values,
                               rtol=0, atol=10)
    np.testing.assert_allclose(counts[..., 0].sum(axis=(1, 2)), census["rural_population"].values,
                               rtol=0, atol=10)


@pytest.mark.parametrize("year", (2010, 2020))
def test_league_age_shares_and_sex_ratio_match_the_census(states, year):
    """Within the rounding of the data (shares to 0.01 pp summing to 99.99-100.02; ratios to 0.01)."""
    counts, census = states[year].counts, league_census(year)
    total = counts.sum(axis=(1, 2, 3))
    ages = demo.AGE_LOWER
    for name, lower, upper in (("0_14", 0, 15), ("15_59", 15, 60), ("60plus", 60, 999), ("65plus", 65, 999)):
        share = 100 * counts[:, (ages >= lower) & (ages < upper)].sum(axis=(1, 2, 3)) / total
        np.testing.assert_allclose(share, census[f"share_age_{name}"].values, rtol=0, atol=0.05)
    ratio = 100 * counts[:, :, 0].sum(axis=(1, 2)) / counts[:, :, 1].sum(axis=(1, 2))
    np.testing.assert_allclose(ratio, census["sex_ratio"].values, rtol=0, atol=0.1)
    assert float(states[year].misfit.filter(like="share_").abs().max().max()) < 0.05


def test_leagues_differ_where_the_censuses_do(states):
    """The fit is not the province pattern scaled: Ulanqab is old and Ordos young, Wuhai urban."""
    state = states[2020].to_dataarray()
    old = state.sel(age=[a for a in demo.AGE_LABELS if int(a.rstrip("+")) >= 65]).sum(("age", "sex", "residence"))
    share = old / state.sum(("age", "sex", "residence"))
    assert float(share.sel(league="Ulanqab")) > 0.20 > 0.10 > float(share.sel(league="Ordos"))
    urban = state.sel(residence=["urban non hukou", "urban hukou"]).sum() / state.sum()
    wuhai = state.sel(league="Wuhai")
    assert float(wuhai.sel(residence=["urban non hukou", "urban hukou"]).sum() / wuhai.sum()) > 0.95 > float(urban)


def test_2015_lies_between_the_censuses(states):
    first, last, mid = (states[y].counts.sum(axis=(1, 2, 3)) for y in (2010, 2020, 2015))
    low, high = np.minimum(first, last), np.maximum(first, last)
    assert np.all((mid > 0.97 * low) & (mid < 1.03 * high))
    rate = states[2015].counts[..., 1:].sum() / states[2015].counts.sum()
    assert abs(rate - 0.6209) < 1e-6


def test_non_hukou_shares(states):
    misfit = states[2020].misfit.set_index("league")
    # Chifeng from its 2019 hukou-basis rate (30.98 %), the others share the rest of the province's
    assert 0.40 < misfit.loc["Chifeng", "non_hukou_share"] < 0.43
    others = misfit.drop("Chifeng")["non_hukou_share"]
    assert others.nunique() == 1 and NON_HUKOU_SHARE_RANGE[0] < others.iloc[0] < NON_HUKOU_SHARE_RANGE[1]
    state = league_state(2020, non_hukou_share={"Hohhot": 0.5})
    hohhot = state.counts[state.leagues.index("Hohhot")]
    assert abs(hohhot[..., 1].sum() / hohhot[..., 1:].sum() - 0.5) < 1e-6
    np.testing.assert_allclose(state.counts.sum(axis=0), census_2020().counts, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("kwargs, words", [
    ({"year": 2016}, ["2016", "2010, 2015, 2020"]),
    ({"year": 2020, "non_hukou_share": {"Paris": 0.3}}, ["Paris", "Hohhot"]),
    ({"year": 2020, "non_hukou_share": {"Hohhot": 0.9}}, ["0.9", "range"]),
])
def test_bad_input_is_one_clear_line(kwargs, words):
    with pytest.raises(LeagueStateError) as error:
        league_state(**kwargs)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words)


# ---------------------------------------------------------------------- targets
def test_league_targets_one_table_flagged_by_basis():
    table = league_targets()
    census = table[table["kind"] == "census"]
    for year in (2010, 2020):
        expected = league_census(year)
        rows = census[(census["year"] == year) & (census["variable"] == "urban_population")]
        np.testing.assert_allclose(rows.set_index("league").loc[list(expected["league"].values), "value"],
                                   expected["urban_population"].values)
    assert table["year"].max() <= 2020 and table["source_url"].str.len().min() > 0
    spot = table[table["kind"] == "spot"]
    assert not spot[spot["basis"] == "pre-census"]["consistent"].any()
    assert spot[spot["basis"].isin(["census-2010", "census-2020"])]["consistent"].all()
    assert {"hukou", "pre-census"} <= set(spot["basis"])
    chifeng = spot[(spot["league"] == "Chifeng") & (spot["variable"] == "hukou_urbanization_rate_pct")]
    assert set(chifeng["year"]) == {2017, 2018, 2019} and not chifeng["consistent"].any()
    consistent = league_targets(consistent_only=True)
    assert consistent["consistent"].all() and len(consistent) < len(table)


# ---------------------------------------------------------------------- distances
def test_league_distances():
    km = league_distances()
    values = km.values
    assert km.dims == ("league", "destination") and values.shape == (12, 12)
    np.testing.assert_allclose(values, values.T, rtol=0, atol=1e-9)
    assert np.all(np.diag(values) == 0) and np.all(values[~np.eye(12, dtype=bool)] > 50)
    assert 150 < float(km.sel(league="Hohhot", destination="Baotou")) < 200
    assert float(km.sel(league="Hulunbuir", destination="Alxa")) > 1500
    assert values.max() < 2500  # the region spans about 2,400 km
    # triangle inequality (great circles)
    assert np.all(values[:, None, :] <= values[:, :, None] + values[None, :, :] + 1e-6)
    assert "UNVERIFIED" in km.attrs["note"]


def test_a_league_without_a_seat_is_a_clear_error(tmp_path):
    raw = yaml.safe_load(LEAGUES_PATH.read_text(encoding="utf-8"))
    del raw["leagues"]["Wuhai"]["seat"]
    path = tmp_path / "leagues.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LeagueFileError, match="no seat for Wuhai.*base/leagues.yaml"):
        league_distances(load_leagues(path))
    raw["leagues"]["Wuhai"]["seat"] = {"name": "Wuhai", "lat": 3.9, "lon": 106.8}
    path = tmp_path / "typo.yaml"  # another file: load_leagues caches by path
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LeagueFileError, match="outside Inner Mongolia"):
        load_leagues(path)
