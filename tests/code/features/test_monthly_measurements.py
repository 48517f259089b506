"""A measurement added to a monthly table joins each row at its as-of month, never the month it forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import build_features
from features.tables import CountyTables
from muzhang.catalog import extend_catalog, load_catalog
from muzhang.simulate.county import generate_county

FIELD = "herder_meetings"


@pytest.fixture(scope="module")
def county() -> tuple[CountyTables, pd.DataFrame]:
    tables = dict(generate_county(11, n_grids=20, last_month="2016-12-01").tables)
    monthly = tables["grid_monthly"].copy()
    monthly[FIELD] = np.arange(len(monthly)) % 37  # a different value in every grid-month nearby
    tables["grid_monthly"] = monthly
    return CountyTables.from_mapping(tables), monthly


def declared(*families: str) -> object:
    entry = {"name": FIELD, "type": "integer", "min": 0, "tables": ["grid_monthly"], "families": list(families)}
    return extend_catalog(load_catalog(), {"fields": [entry]})


def expected_at(monthly: pd.DataFrame, rows: pd.DataFrame, month_col: str) -> np.ndarray:
    values = monthly.assign(month=pd.to_datetime(monthly["month"])).set_index(["grid_id", "month"])[FIELD]
    keys = pd.MultiIndex.from_arrays([rows["grid_id"], pd.to_datetime(rows[month_col])])
    return values.reindex(keys).astype(float).to_numpy()


@pytest.mark.parametrize("family", ["dispute", "grazing"])
def test_a_grid_month_field_is_the_value_of_the_rows_as_of_month(
    family: str, county: tuple[CountyTables, pd.DataFrame]
) -> None:
    tables, monthly = county
    fs = build_features(family, tables, catalog=declared(family))
    assert FIELD in fs.features and FIELD in fs.measurements
    np.testing.assert_array_equal(fs.frame[FIELD].to_numpy(), expected_at(monthly, fs.frame, "as_of_month"))
    if family == "dispute":  # the month the row forecasts is never read
        same_month = expected_at(monthly, fs.frame, "month")
        assert not np.array_equal(fs.frame[FIELD].to_numpy(), same_month, equal_nan=True)


def test_the_forecast_rows_carry_the_last_months_value(county: tuple[CountyTables, pd.DataFrame]) -> None:
    tables, monthly = county
    rows = build_features("dispute", tables, forecast=True, catalog=declared("dispute")).frame
    assert rows[FIELD].notna().all()
    np.testing.assert_array_equal(rows[FIELD].to_numpy(), expected_at(monthly, rows, "as_of_month"))
