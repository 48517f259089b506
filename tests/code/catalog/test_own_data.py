"""Bringing one's own data (issue 13): plausible ranges warn and keep the row, hard limits refuse, dates fit
the data, a family needs only its own tables, and a catalog extension adds a field without a code change."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from muzhang.catalog import (
    Catalog,
    CatalogExtensionError,
    FieldSpec,
    catalog_for,
    extend_catalog,
    load_catalog,
)
from muzhang.catalog.rules import FUTURE_MARGIN_DAYS
from muzhang.catalog.validate import Violation, validate_path, validate_table
from muzhang.paths import SAMPLE_COUNTY

GLUCOSE = {
    "name": "glucose_mmol_l",
    "unit": "mmol/L",
    "type": "float",
    "min": 0.5,
    "max": 60,
    "plausible_min": 2.5,
    "plausible_max": 25,
    "nullable": True,
    "personal": True,
    "tables": ["patients"],
    "families": ["disease"],
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def health_check() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first 20 people of the sample's health check, and their outcomes."""
    patients = pd.read_parquet(SAMPLE_COUNTY / "patients.parquet").head(20)
    outcomes = pd.read_parquet(SAMPLE_COUNTY / "patient_outcomes.parquet").head(20)
    return patients, outcomes


def test_unusual_but_possible_values_are_warnings_that_keep_the_row(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog
) -> None:
    patients = health_check[0].copy()
    patients.loc[3, "bmi"] = 67.1
    patients.loc[5, "diastolic_bp"] = 24

    found = validate_table(patients, "patients", catalog)

    kept = "kept, check the record"
    assert found == [
        Violation("patients", 3, "bmi", "67.1", f"outside the plausible range 12 to 60 kg/m2; {kept}", "warning"),
        Violation(
            "patients", 5, "diastolic_bp", "24", f"outside the plausible range 30 to 160 mmHg; {kept}", "warning"
        ),
    ]


def test_impossible_values_are_still_refused_by_the_hard_limits(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog
) -> None:
    patients = health_check[0].copy()
    patients.loc[2, "bmi"] = 400.0
    patients.loc[4, "diastolic_bp"] = 5

    found = validate_table(patients, "patients", catalog)

    assert found == [
        Violation("patients", 2, "bmi", "400", "must be <= 150"),
        Violation("patients", 4, "diastolic_bp", "5", "must be >= 10"),
    ]


def test_health_checks_of_the_1990s_are_accepted_and_future_ones_refused(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog
) -> None:
    patients = health_check[0].copy()
    patients["check_date"] = pd.Timestamp("1994-06-15")
    patients.loc[1, "check_date"] = pd.Timestamp("1899-12-31")
    patients.loc[2, "check_date"] = pd.Timestamp(date.today()) + pd.Timedelta(days=FUTURE_MARGIN_DAYS + 1)
    patients.loc[3, "check_date"] = pd.Timestamp(date.today())

    found = validate_table(patients, "patients", catalog)

    assert [(v.row, v.field, v.rule.split(" (")[0]) for v in found] == [
        (1, "check_date", "must be >= 1900-01-01"),
        (2, "check_date", "must not be in the future"),
    ]


def test_a_plausible_range_outside_the_hard_limits_is_refused_when_the_catalog_loads() -> None:
    with pytest.raises(ValidationError, match=r"plausible_max 70\.0 is above the hard max 60\.0"):
        FieldSpec(
            name="x", zh="x", description="x", type="float", min=0, max=60, plausible_max=70,
            tables=("patients",), display="x", display_zh="x",
        )  # fmt: skip


def test_a_family_directory_needs_only_the_tables_the_family_declares(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    patients, outcomes = health_check
    patients.to_csv(tmp_path / "patients.csv", index=False)
    outcomes.to_parquet(tmp_path / "patient_outcomes.parquet", index=False)

    assert catalog.tables_for("disease") == ("patients", "patient_outcomes")
    assert validate_path(tmp_path, catalog, tables=catalog.tables_for("disease"), needed_by="disease").ok
    assert not validate_path(tmp_path, catalog).ok  # the whole county needs every table


def test_a_missing_table_the_family_needs_is_one_error_naming_family_and_table(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog, tmp_path: Path
) -> None:
    health_check[0].to_csv(tmp_path / "patients.csv", index=False)

    report = validate_path(tmp_path, catalog, tables=catalog.tables_for("disease"), needed_by="disease")

    assert [(v.table, v.rule) for v in report.violations if v.severity == "error"] == [
        (
            "patient_outcomes",
            "family disease needs this table: file missing (patient_outcomes.parquet or patient_outcomes.csv)",
        )
    ]


def test_an_extension_adds_a_measurement_that_validation_then_checks(
    health_check: tuple[pd.DataFrame, pd.DataFrame], catalog: Catalog
) -> None:
    extended = extend_catalog(catalog, {"fields": [GLUCOSE]})
    patients = health_check[0].copy()
    patients["glucose_mmol_l"] = 5.4
    patients.loc[0, "glucose_mmol_l"] = 31.0  # unusual: kept
    patients.loc[1, "glucose_mmol_l"] = -2.0  # impossible: refused

    found = validate_table(patients, "patients", extended)
    unknown_to_the_shipped_catalog = validate_table(patients, "patients", catalog)

    assert [(v.row, v.severity, v.rule) for v in found] == [
        (0, "warning", "outside the plausible range 2.5 to 25 mmol/L; kept, check the record"),
        (1, "error", "must be >= 0.5"),
    ]
    assert [(v.field, v.rule) for v in unknown_to_the_shipped_catalog] == [
        ("glucose_mmol_l", "unknown column for this table (ignored)")
    ]
    assert [f.name for f in extended.added_fields()] == ["glucose_mmol_l"]
    assert extended.field("glucose_mmol_l").display == "glucose_mmol_l"  # labels default to the name


def test_an_extension_entry_with_a_known_name_changes_only_the_keys_given(catalog: Catalog) -> None:
    extended = extend_catalog(catalog, {"fields": [{"name": "heart_rate", "nullable": True}]})

    assert extended.field("heart_rate").nullable
    assert extended.field("heart_rate").model_dump(exclude={"nullable"}) == catalog.field("heart_rate").model_dump(
        exclude={"nullable"}
    )
    assert extended.added_fields() == ()


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ({"tables": []}, "expected a mapping with the key 'fields'"),
        ({"fields": [{"type": "float"}]}, "each with a name"),
        ({"fields": [{**GLUCOSE, "tables": ["blood"]}]}, "lists unknown tables: blood"),
        ({"fields": [{**GLUCOSE, "families": ["diabetes"]}]}, "unknown model families"),
    ],
)
def test_a_bad_extension_names_its_file_and_the_problem(catalog: Catalog, extension: dict, message: str) -> None:
    with pytest.raises(CatalogExtensionError, match=message) as caught:
        extend_catalog(catalog, extension, source="my/catalog.yaml")
    assert str(caught.value).startswith("my/catalog.yaml: ")


def test_catalog_for_reads_the_directory_extension_then_the_file_given(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text("fields:\n  - {name: heart_rate, nullable: true}\n", encoding="utf-8")
    given = tmp_path / "more.yaml"
    given.write_text(
        "fields:\n  - {name: glucose_mmol_l, type: float, tables: [patients], families: [disease]}\n", encoding="utf-8"
    )

    assert catalog_for(tmp_path).field("heart_rate").nullable
    assert [f.name for f in catalog_for(tmp_path, given).added_fields()] == ["glucose_mmol_l"]
    assert catalog_for(None) is load_catalog()
    with pytest.raises(CatalogExtensionError, match="cannot read catalog extension"):
        catalog_for(None, tmp_path / "absent.yaml")


def test_validate_command_reads_a_catalog_given_with_catalog_and_requires_a_familys_tables_only(
    health_check: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    patients, outcomes = health_check[0].copy(), health_check[1]
    patients["glucose_mmol_l"] = 31.0
    patients.to_csv(tmp_path / "patients.csv", index=False)
    outcomes.to_csv(tmp_path / "patient_outcomes.csv", index=False)
    extension = tmp_path.parent / f"{tmp_path.name}-glucose.yaml"
    extension.write_text("fields:\n  - " + str(GLUCOSE).replace("'", "") + "\n", encoding="utf-8")

    plain = CliRunner().invoke(app, ["data", "validate", str(tmp_path), "--family", "disease"])
    extended = CliRunner().invoke(
        app, ["data", "validate", str(tmp_path), "--family", "disease", "--catalog", str(extension)]
    )

    assert plain.exit_code == 0 and "field glucose_mmol_l  warning: unknown column for this table" in plain.output
    assert extended.exit_code == 0, extended.output
    assert "row 0  field glucose_mmol_l  value 31.0  warning: outside the plausible range 2.5 to 25 mmol/L" in (
        extended.output
    )
