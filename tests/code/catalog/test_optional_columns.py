"""A sales series brought alone (issue 13): a family's own directory may leave out the columns it can do
without (the herd and revenue beside head sold and price, or any nullable field): each is a warning, read as
empty; the store, which keeps whole counties, still asks for every column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.tables import load_county
from muzhang.catalog import catalog_for, load_catalog
from muzhang.catalog.validate import OMITTED_COLUMN, validate_path
from muzhang.paths import SAMPLE_COUNTY


def sales_only(folder: Path, *, drop: tuple[str, ...] = ("herd_head", "revenue_yuan")) -> Path:
    """Two townships' sales as a CSV without the herd and revenue columns, and no other table."""
    folder.mkdir()
    sales = pd.read_parquet(SAMPLE_COUNTY / "market_monthly.parquet")
    sales = sales[sales["township_id"].isin(["T01", "T02"])].drop(columns=list(drop))
    sales["month"] = sales["month"].dt.strftime("%Y-%m")
    sales.to_csv(folder / "market_monthly.csv", index=False)
    return folder


def test_herd_and_revenue_are_optional_columns_of_the_sales_table() -> None:
    catalog = load_catalog()
    optional = {f.name for f in catalog.fields_of("market_monthly") if f.optional}
    assert optional == {"herd_head", "revenue_yuan"}
    assert not any(f.nullable for f in catalog.fields_of("market_monthly"))  # the store's columns unchanged


def test_a_sales_table_without_herd_and_revenue_validates_for_the_market_with_warnings(tmp_path: Path) -> None:
    folder = sales_only(tmp_path / "sales")

    report = validate_path(folder, tables=("market_monthly",), needed_by="market")

    assert report.ok, report.violations
    warned = {(v.field, v.rule) for v in report.warnings()}
    assert warned == {("herd_head", OMITTED_COLUMN), ("revenue_yuan", OMITTED_COLUMN)}


def test_head_sold_and_price_stay_required(tmp_path: Path) -> None:
    folder = sales_only(tmp_path / "sales", drop=("herd_head", "price_yuan_per_head"))

    report = validate_path(folder, tables=("market_monthly",), needed_by="market")

    assert not report.ok
    errors = {(v.field, v.rule) for v in report.violations if v.severity == "error"}
    assert errors == {("price_yuan_per_head", "required column is missing")}


def test_the_store_still_asks_for_every_column(tmp_path: Path) -> None:
    """`muzhang data import` validates without a family: a county for the store carries herd and revenue."""
    folder = sales_only(tmp_path / "sales")

    report = validate_path(folder / "market_monthly.csv")

    errors = {(v.field, v.rule) for v in report.violations if v.severity == "error"}
    assert errors == {("herd_head", "required column is missing"), ("revenue_yuan", "required column is missing")}


def test_an_optional_column_may_be_partly_empty_in_a_familys_directory(tmp_path: Path) -> None:
    folder = tmp_path / "sales"
    sales_only(folder, drop=())
    sales = pd.read_csv(folder / "market_monthly.csv")
    sales.loc[sales.index[:10], "herd_head"] = np.nan  # not counted those months
    sales.to_csv(folder / "market_monthly.csv", index=False)

    assert validate_path(folder, tables=("market_monthly",), needed_by="market").ok
    whole = validate_path(folder / "market_monthly.csv")  # the store: a missing count is an error
    assert {(v.field, v.rule) for v in whole.violations if v.severity == "error"} == {
        ("herd_head", "must not be empty (NaN)")
    }


def test_an_omitted_column_is_read_as_missing(tmp_path: Path) -> None:
    folder = sales_only(tmp_path / "sales")

    tables = load_county(folder, tables=("market_monthly",))

    sales = tables.market_monthly
    assert {"herd_head", "revenue_yuan"} <= set(sales.columns)
    assert sales["herd_head"].isna().all() and sales["revenue_yuan"].isna().all()
    assert sales["head_sold"].notna().all() and len(sales) == 960


def test_a_nullable_field_may_be_left_out_of_a_familys_directory(tmp_path: Path) -> None:
    """The health check without a heart-rate column: the directory's catalog.yaml lets it be empty, so the
    column may be left out altogether."""
    folder = tmp_path / "check"
    folder.mkdir()
    (folder / "catalog.yaml").write_text("fields:\n  - {name: heart_rate, nullable: true}\n", encoding="utf-8")
    patients = pd.read_parquet(SAMPLE_COUNTY / "patients.parquet").head(30)
    patients.drop(columns=["heart_rate"]).to_csv(folder / "patients.csv", index=False)
    pd.read_parquet(SAMPLE_COUNTY / "patient_outcomes.parquet").head(30).to_csv(
        folder / "patient_outcomes.csv", index=False
    )
    catalog = catalog_for(folder)
    tables = ("patients", "patient_outcomes")

    report = validate_path(folder, catalog, tables=tables, needed_by="disease")

    assert report.ok, report.violations
    assert [(v.field, v.rule) for v in report.warnings()] == [("heart_rate", OMITTED_COLUMN)]
    assert load_county(folder, tables=tables, catalog=catalog).patients["heart_rate"].isna().all()
    strict = validate_path(folder, load_catalog(), tables=tables, needed_by="disease")  # not nullable: required
    assert ("heart_rate", "required column is missing") in {(v.field, v.rule) for v in strict.violations}
