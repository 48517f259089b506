"""Validation names the table, row, field, value and rule of every problem, and never raises on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.catalog import Catalog, load_catalog
from muzhang.catalog.validate import (
    MAX_STORED_PER_RULE,
    ValidationReport,
    Violation,
    format_report,
    validate_path,
    validate_table,
)
from muzhang.paths import SAMPLE_COUNTY

N_ROWS = 3  # rows taken from each large sample table


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def county(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """A tiny valid county: the sample's grids and townships, and the first rows of every other table."""
    tables = {}
    for table in catalog.table_names:
        path = SAMPLE_COUNTY / catalog.table(table).file
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        tables[table] = frame if table in ("grids", "townships") else frame.head(N_ROWS)
    return tables


@pytest.fixture
def tables(county: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A fresh copy for one test to break."""
    return {name: frame.copy() for name, frame in county.items()}


def write_county(folder: Path, tables: dict[str, pd.DataFrame], catalog: Catalog) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in tables.items():
        path = folder / catalog.table(table).file
        frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)
    return folder


def errors(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.severity == "error"]


def test_valid_rows_give_no_violation(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    known = {
        "grid_id": set(tables["grids"]["grid_id"]),
        "township_id": set(tables["townships"]["township_id"]),
    }
    for name, frame in tables.items():
        assert validate_table(frame, name, catalog, known_ids=known) == [], name


def test_validate_negative_count_names_row_field_and_rule(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    monthly = tables["grid_monthly"]
    monthly.loc[1, "yak"] = -3
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 1, "yak", "-3", "must be >= 0")
    ]


def test_validate_nan_in_required_field_says_must_not_be_empty(
    tables: dict[str, pd.DataFrame], catalog: Catalog
) -> None:
    monthly = tables["grid_monthly"]
    monthly.loc[2, "ndvi"] = np.nan
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 2, "ndvi", "NaN", "must not be empty (NaN)")
    ]


def test_validate_nan_in_nullable_outcome_is_allowed(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    outcomes = tables["patient_outcomes"]
    outcomes["hypertension_5y"] = pd.array([pd.NA, 1, 0], dtype="Int8")
    outcomes["brucellosis"] = pd.array([pd.NA, 1, 0], dtype="Int8")
    assert validate_table(outcomes, "patient_outcomes", catalog) == [
        Violation("patient_outcomes", 0, "brucellosis", "NaN", "must not be empty (NaN)")
    ]


def test_validate_text_in_numeric_column_says_must_be_a_number(
    tables: dict[str, pd.DataFrame], catalog: Catalog
) -> None:
    monthly = tables["grid_monthly"]
    monthly["precip_mm"] = ["12.5", "heavy", "3"]
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 1, "precip_mm", "heavy", "must be a number")
    ]


def test_validate_fraction_in_integer_column_says_must_be_an_integer(
    tables: dict[str, pd.DataFrame], catalog: Catalog
) -> None:
    monthly = tables["grid_monthly"]
    monthly["disputes"] = [0.0, 1.5, 2.0]
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 1, "disputes", "1.5", "must be an integer")
    ]


def test_validate_infinite_value_says_must_be_finite(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    monthly = tables["grid_monthly"]
    monthly.loc[0, "forage_yield_kg_ha"] = np.inf
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 0, "forage_yield_kg_ha", "inf", "must be finite (not inf)")
    ]


def test_validate_unknown_category_lists_the_allowed_values(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    grids = tables["grids"]
    grids.loc[4, "pasture_type"] = "desert"
    assert validate_table(grids, "grids", catalog) == [
        Violation("grids", 4, "pasture_type", "desert", "must be one of alpine_meadow, alpine_steppe, swamp_meadow")
    ]


def test_validate_word_in_boolean_column_says_true_or_false(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    patients = tables["patients"]
    patients["raw_milk"] = ["true", "False", "sometimes"]
    assert validate_table(patients, "patients", catalog) == [
        Violation("patients", 2, "raw_milk", "sometimes", "must be true or false")
    ]


def test_validate_text_that_is_not_a_date(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    market = tables["market_monthly"]
    market["month"] = ["2015-01-01", "January", "2015-03-01"]
    assert validate_table(market, "market_monthly", catalog) == [
        Violation("market_monthly", 1, "month", "January", "must be a date (YYYY-MM-DD)")
    ]


def test_validate_malformed_id_says_must_match_pattern(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    patients = tables["patients"]
    patients.loc[0, "patient_id"] = "Tashi"
    assert validate_table(patients, "patients", catalog) == [
        Violation("patients", 0, "patient_id", "Tashi", r"must match ^P\d{5,6}$")
    ]


def test_validate_out_of_range_elevation_names_the_bound(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    grids = tables["grids"]
    grids.loc[7, "elevation_m"] = 8848
    grids.loc[8, "elevation_m"] = 120
    assert validate_table(grids, "grids", catalog) == [
        Violation("grids", 7, "elevation_m", "8848", "must be <= 6000"),
        Violation("grids", 8, "elevation_m", "120", "must be >= 3000"),
    ]


def test_validate_missing_column_is_a_table_level_violation(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    grids = tables["grids"].drop(columns="boundary_ambiguity")
    assert validate_table(grids, "grids", catalog) == [
        Violation("grids", None, "boundary_ambiguity", None, "required column is missing")
    ]


def test_validate_extra_column_is_a_warning_not_an_error(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    townships = tables["townships"].assign(mayor="x")
    found = validate_table(townships, "townships", catalog)
    assert [(v.field, v.severity) for v in found] == [("mayor", "warning")]


def test_validate_unknown_grid_id_against_known_ids(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    monthly = tables["grid_monthly"]
    monthly.loc[2, "grid_id"] = "G999"
    known = {"grid_id": set(tables["grids"]["grid_id"])}
    assert validate_table(monthly, "grid_monthly", catalog, known_ids=known) == [
        Violation("grid_monthly", 2, "grid_id", "G999", "unknown grid_id (not in grids table)")
    ]
    assert validate_table(monthly, "grid_monthly", catalog) == []  # without known ids, nothing to check against


def test_validate_duplicate_key_names_the_key_columns(tables: dict[str, pd.DataFrame], catalog: Catalog) -> None:
    monthly = pd.concat([tables["grid_monthly"], tables["grid_monthly"].iloc[[0]]], ignore_index=True)
    assert validate_table(monthly, "grid_monthly", catalog) == [
        Violation("grid_monthly", 3, "grid_id, month", "G001, 2015-01-01", "duplicate key (grid_id, month)")
    ]


def test_validate_table_with_unknown_table_name_raises_key_error(
    tables: dict[str, pd.DataFrame], catalog: Catalog
) -> None:
    with pytest.raises(KeyError, match="grid_monthy"):
        validate_table(tables["grid_monthly"], "grid_monthy", catalog)


def test_validate_path_garbage_parquet_reports_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "grid_monthly.parquet"
    path.write_bytes(b"\x00\x01 not a parquet file \xff")
    report = validate_path(path)
    assert not report.ok
    assert [(v.table, v.rule.split(":")[0]) for v in report.violations] == [
        ("grid_monthly", "file cannot be read as parquet")
    ]


def test_validate_path_empty_csv_reports_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "grids.csv"
    path.write_text("")
    assert validate_path(path).violations == [Violation("grids", None, None, None, "file is empty")]


def test_validate_path_header_only_csv_reports_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "townships.csv"
    path.write_text("township_id,township_name\n")
    assert validate_path(path).violations == [Violation("townships", None, None, None, "table has no rows")]


def test_validate_path_unknown_file_name_lists_the_expected_tables(tmp_path: Path) -> None:
    path = tmp_path / "herds.csv"
    path.write_text("a\n1\n")
    (violation,) = validate_path(path).violations
    assert violation.table == "herds.csv"
    assert violation.rule.startswith("unknown table file name; expected one of grids, townships")


def test_validate_path_missing_path_is_a_violation(tmp_path: Path) -> None:
    report = validate_path(tmp_path / "nowhere")
    assert [v.rule for v in report.violations] == ["path does not exist"]


def test_validate_path_csv_with_text_in_numeric_column_names_the_data_row(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    path = tmp_path / "grid_monthly.csv"
    tables["grid_monthly"].to_csv(path, index=False)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("sheep")] = "lots"
    path.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    report = validate_path(path)
    assert report.violations == [Violation("grid_monthly", 1, "sheep", "lots", "must be an integer")]
    assert report.rows == {"grid_monthly": N_ROWS}


def test_validate_path_accepts_csv_for_a_parquet_table(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    tables["patients"].to_csv(path, index=False)
    report = validate_path(path)
    assert report.ok, format_report(report)


def test_validate_path_directory_reports_missing_required_table(
    tables: dict[str, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    del tables["market_monthly"]
    report = validate_path(write_county(tmp_path / "county", tables, catalog))
    assert report.violations == [
        Violation("market_monthly", None, None, None, "required table file is missing (market_monthly.parquet)")
    ]


def test_validate_path_directory_checks_foreign_keys_against_sibling_tables(
    tables: dict[str, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    tables["grid_neighbours"].loc[0, "neighbour_id"] = "G998"
    tables["market_monthly"].loc[1, "township_id"] = "T42"
    tables["patient_outcomes"].loc[2, "patient_id"] = "P99999"
    report = validate_path(write_county(tmp_path / "county", tables, catalog))
    assert [(v.table, v.row, v.field, v.rule) for v in report.violations] == [
        ("grid_neighbours", 0, "neighbour_id", "unknown grid_id (not in grids table)"),
        ("market_monthly", 1, "township_id", "unknown township_id (not in townships table)"),
        ("patient_outcomes", 2, "patient_id", "unknown patient_id (not in patients table)"),
    ]


def test_validate_path_directory_ignores_oracle_and_manifest(
    tables: dict[str, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    folder = write_county(tmp_path / "county", tables, catalog)
    (folder / "oracle").mkdir()
    (folder / "oracle" / "grid_monthly_oracle.parquet").write_bytes(b"garbage")
    (folder / "manifest.json").write_text("{not json")
    report = validate_path(folder)
    assert report.ok, format_report(report)
    assert report.violations == []


def test_validate_path_directory_checks_the_geojson_has_every_grid(
    tables: dict[str, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    folder = write_county(tmp_path / "county", tables, catalog)
    ids = [*tables["grids"]["grid_id"][1:], "G999"]
    features = [{"type": "Feature", "id": i, "properties": {"grid_id": i}, "geometry": None} for i in ids]
    (folder / "grids.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = validate_path(folder)
    assert [(v.table, v.rule) for v in report.violations] == [
        ("grids.geojson", "1 grids have no feature: G001"),
        ("grids.geojson", "unknown grid_id (not in grids table)"),
    ]


def test_validate_path_stores_a_capped_number_of_violations_but_counts_all(
    county: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    n_bad = MAX_STORED_PER_RULE + 50
    monthly = pd.concat([county["grid_monthly"]] * n_bad, ignore_index=True)
    monthly["month"] = pd.date_range("1960-01-01", periods=len(monthly), freq="MS")  # 1960s data is fine
    monthly["yak"] = -1
    monthly.to_parquet(tmp_path / "grid_monthly.parquet")
    report = validate_path(tmp_path / "grid_monthly.parquet")
    assert len(report.violations) == MAX_STORED_PER_RULE
    assert report.truncated == {("grid_monthly", "yak"): len(monthly) - MAX_STORED_PER_RULE}
    assert report.problems("grid_monthly") == len(monthly)


def test_format_report_lists_row_field_value_rule_and_how_many_more() -> None:
    bad = [Violation("grid_monthly", i, "yak", "-3", "must be >= 0") for i in range(25)]
    report = ValidationReport(
        path="county",
        tables=["grid_monthly"],
        violations=bad,
        rows={"grid_monthly": 100},
        files={"grid_monthly": "grid_monthly.parquet"},
        truncated={("grid_monthly", "yak"): 7},
    )
    lines = format_report(report).splitlines()
    assert lines[1] == "grid_monthly  32 problems  (grid_monthly.parquet, 100 rows)"
    assert lines[2] == "  row 0  field yak  value -3  rule: must be >= 0"
    assert lines[22] == "  ... and 12 more (yak)"
    assert lines[-1] == "FAILED: 32 problems"


def test_format_report_says_ok_for_a_clean_table(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    tables["townships"].to_csv(tmp_path / "townships.csv", index=False)
    text = format_report(validate_path(tmp_path / "townships.csv"))
    assert "townships  OK  (townships.csv, 10 rows)" in text
    assert text.endswith("OK: no problems found")


def test_cli_validate_broken_file_exits_1_and_names_the_field(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    grids = tables["grids"]
    grids.loc[0, "area_km2"] = -5.0
    grids.to_csv(tmp_path / "grids.csv", index=False)
    result = CliRunner().invoke(app, ["data", "validate", str(tmp_path / "grids.csv")])
    assert result.exit_code == 1
    assert "row 0  field area_km2  value -5.0  rule: must be >= 0.01" in result.output


def test_cli_validate_sample_county_exits_0() -> None:
    result = CliRunner().invoke(app, ["data", "validate", str(SAMPLE_COUNTY)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("OK: no problems found")
