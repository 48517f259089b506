"""A family's features from just its own tables, with a data scientist's declared measurements passed through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import build_features, load_county
from features.featureset import add_measurements, all_missing, declared_measurements
from features.tables import latest_date
from muzhang.catalog import catalog_for, extend_catalog, load_catalog
from muzhang.paths import SAMPLE_COUNTY

GLUCOSE = {"name": "glucose_mmol_l", "type": "float", "nullable": True, "tables": ["patients"], "families": ["disease"]}


@pytest.fixture(scope="module")
def health_check_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Thirty people of the sample as csv files, with a glucose reading (two missing): no other table."""
    folder = tmp_path_factory.mktemp("health")
    patients = pd.read_parquet(SAMPLE_COUNTY / "patients.parquet").head(30)
    patients["glucose_mmol_l"] = np.linspace(4.0, 9.0, len(patients))
    patients.loc[[3, 7], "glucose_mmol_l"] = np.nan
    patients.to_csv(folder / "patients.csv", index=False)
    pd.read_parquet(SAMPLE_COUNTY / "patient_outcomes.parquet").head(30).to_csv(
        folder / "patient_outcomes.csv", index=False
    )
    (folder / "catalog.yaml").write_text(
        "fields:\n  - {name: glucose_mmol_l, type: float, nullable: true, tables: [patients], families: [disease]}\n",
        encoding="utf-8",
    )
    return folder


def test_load_county_reads_only_the_tables_required_and_leaves_the_others_empty(health_check_dir: Path) -> None:
    catalog = load_catalog()

    tables = load_county(health_check_dir, tables=catalog.tables_for("disease"))

    assert len(tables.patients) == 30 and len(tables.patient_outcomes) == 30
    assert tables.grid_monthly.empty and list(tables.grid_monthly.columns) == catalog.columns("grid_monthly")
    assert pd.api.types.is_datetime64_any_dtype(tables.patients["check_date"])  # csv dates typed as the catalog says
    assert tables.patients["raw_milk"].dtype == bool
    assert latest_date(tables, catalog.tables_for("disease")) == tables.patients["check_date"].max()
    with pytest.raises(FileNotFoundError, match="county table 'grids' not found"):
        load_county(health_check_dir)


def test_a_declared_measurement_becomes_a_feature_joined_by_the_rows_key(health_check_dir: Path) -> None:
    catalog = catalog_for(health_check_dir)
    tables = load_county(health_check_dir, tables=catalog.tables_for("disease"), catalog=catalog)

    plain = build_features("disease", tables)
    extended = build_features("disease", tables, catalog=catalog)

    assert "glucose_mmol_l" not in plain.features
    assert extended.features == [*plain.features, "glucose_mmol_l"]
    by_person = extended.frame.set_index("patient_id")["glucose_mmol_l"]
    expected = tables.patients.set_index("patient_id")["glucose_mmol_l"]
    pd.testing.assert_series_equal(by_person, expected.loc[by_person.index], check_names=False)
    assert [f.name for f in declared_measurements(catalog, "disease")] == ["glucose_mmol_l"]
    assert declared_measurements(catalog, "market") == []


def test_a_measurement_missing_from_its_table_names_field_table_and_family(health_check_dir: Path) -> None:
    tables = load_county(health_check_dir, tables=("patients", "patient_outcomes"))
    fs = build_features("disease", tables)
    catalog = extend_catalog(load_catalog(), {"fields": [GLUCOSE]})
    without = {"patients": tables.patients.drop(columns="glucose_mmol_l")}

    with pytest.raises(ValueError, match=r"disease: measurement glucose_mmol_l \(tables patients\) cannot be joined"):
        add_measurements(fs, without, catalog)


def test_all_missing_lists_features_with_no_value_in_the_rows_given() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan], "b": [np.nan, np.nan, 2.0], "c": [np.nan] * 3})

    assert all_missing(frame, ["a", "b", "c"], np.array([0, 1])) == ["b", "c"]
    assert all_missing(frame, ["a", "b", "c"], np.array([1, 2])) == ["a", "c"]
