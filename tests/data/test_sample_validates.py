"""The shipped sample county passes the catalog's checks (each test names the risk it guards)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from muzhang.catalog import Catalog, load_catalog
from muzhang.catalog.validate import ValidationReport, format_report, validate_path
from muzhang.paths import SAMPLE_COUNTY

# Storage dtypes each catalog type may be written with (outcomes are nullable 0/1 integers).
DTYPE_CHECKS = {
    "integer": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "boolean": lambda s: pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s),
    "date": pd.api.types.is_datetime64_any_dtype,
    "string": pd.api.types.is_string_dtype,
    "category": pd.api.types.is_string_dtype,
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    return validate_path(SAMPLE_COUNTY)


def test_sample_county_validates_without_problems_or_warnings(report: ValidationReport) -> None:
    """Risk: the simulator writes values the catalog calls impossible, and every consumer inherits them."""
    assert report.ok, format_report(report)
    assert report.violations == [], format_report(report)


def test_sample_row_counts_match_the_manifest(report: ValidationReport, catalog: Catalog) -> None:
    """Risk: a table is truncated or duplicated after generation (manifest and files disagree)."""
    manifest = json.loads((SAMPLE_COUNTY / "manifest.json").read_text(encoding="utf-8"))
    assert {t: report.rows[t] for t in catalog.table_names} == {t: manifest["rows"][t] for t in catalog.table_names}


def test_sample_parquet_dtypes_match_catalog_types(catalog: Catalog) -> None:
    """Risk: counts stored as floats or dates as text, so feature code silently gets the wrong dtype."""
    wrong = []
    for table in catalog.tables:
        if not table.file.endswith(".parquet"):
            continue
        frame = pd.read_parquet(SAMPLE_COUNTY / table.file)
        wrong += [
            f"{table.name}.{f.name}: {frame[f.name].dtype} for {f.type}"
            for f in catalog.fields_of(table.name)
            if not DTYPE_CHECKS[f.type](frame[f.name])
        ]
    assert wrong == []


def test_sample_onset_outcomes_are_empty_exactly_for_baseline_conditions() -> None:
    """Risk: label leakage, an onset outcome recorded for someone who had the condition at baseline."""
    patients = pd.read_parquet(SAMPLE_COUNTY / "patients.parquet")
    outcomes = pd.read_parquet(SAMPLE_COUNTY / "patient_outcomes.parquet")
    both = patients.merge(outcomes, on="patient_id", validate="one_to_one")
    assert (both["hypertension_5y"].isna() == both["baseline_hypertension"]).all()
    assert (both["cms_5y"].isna() == both["baseline_cms"]).all()
