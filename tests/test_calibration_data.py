"""The statistics loader: the real file loads and tags; malformed files fail with clear messages."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from base.observations import DataFileError, load_observations, parse_basis
from base.paths import DATA_PATH
from model.cache import file_sha256

SHARED_SHA256 = "a466300b25d5f1b36001a3db56e2694a0e3a1966b498acec6d493c8627af4b59"  # data/README.md


def _rows() -> list[list[str]]:
    with open(DATA_PATH, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "broken.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_the_copied_file_is_unchanged_and_loads():
    assert file_sha256(DATA_PATH) == SHARED_SHA256
    frame = load_observations()
    assert len(frame) == 255
    im = frame[frame["region"] == "Inner Mongolia"]
    row = im[(im["variable"] == "resident_population") & (im["year"] == 2019)].iloc[0]
    assert row["value_model"] == pytest.approx(25_396_000.0)
    assert row["basis"] == "pre-census" and not row["unverified"]
    assert im[(im["variable"] == "resident_population") & (im["year"] == 2020)].iloc[0]["basis"] == "post-census"
    assert set(im.loc[im["unverified"], "variable"]) == {"resident_population", "total_water_use"}
    assert set(im.loc[im["unverified"] & (im["variable"] == "resident_population"), "year"]) == {2012, 2013}
    rate = im[(im["variable"] == "birth_rate_permille") & (im["year"] == 2016)].iloc[0]
    assert rate["value_model"] == pytest.approx(0.00903) and rate["unit_model"] == "1/Year"


@pytest.mark.parametrize("note, tag", [
    ("[pre-census basis: original bulletin series, not revised after 7th census] confirmed; high", "pre-census"),
    ("[census-2010, 2010-11-01] confirmed 24,706,321 persons; high", "census-2010"),
    ("[census-2010 basis] confirmed", "census-2010"),
    ("[census-2020] derived: urban/total; high", "census-2020"),
    ("[post-census basis] year-end; high", "post-census"),
    ("[hukou basis] confirmed; high", "hukou"),
    ("[revised post-census basis] derived: 67.48 - 5.39", "revised-post-census"),
    ("UNVERIFIED (memory only); verify before use", "untagged"),
])
def test_basis_tags_are_parsed(note, tag):
    assert parse_basis(note) == tag


def test_missing_column(tmp_path):
    rows = [[c for i, c in enumerate(r) if i != 4] for r in _rows()]  # drop "unit"
    with pytest.raises(DataFileError, match=r"broken\.csv, line 1, column 'unit': missing column.*Fix: add"):
        load_observations(_write(tmp_path, rows))


def test_non_numeric_value(tmp_path):
    rows = _rows()
    rows[10][3] = "2,470.63"
    with pytest.raises(DataFileError, match=r"broken\.csv, line 11, column 'value': value '2,470.63' is not a "
                                            r"finite number\. Fix: write a plain decimal number"):
        load_observations(_write(tmp_path, rows))


def test_duplicate_key(tmp_path):
    rows = _rows()
    rows.append(list(rows[5]))
    n = len(rows)
    with pytest.raises(DataFileError, match=rf"line {n}, column 'variable': duplicate key \(year={rows[5][0]}, "
                                            rf"region='{rows[5][1]}', variable='{rows[5][2]}'\), already on line 6\. "
                                            r"Fix: keep one row"):
        load_observations(_write(tmp_path, rows))


def test_unknown_unit(tmp_path):
    rows = _rows()
    rows[3][4] = "万人"
    with pytest.raises(DataFileError, match=r"line 4, column 'unit': unknown unit '万人'\. Fix: use one of"):
        load_observations(_write(tmp_path, rows))


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(DataFileError, match=r"does not exist\. Fix: pass the path"):
        load_observations(tmp_path / "nope.csv")
