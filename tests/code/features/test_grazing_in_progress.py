"""The season under way after the data (the winter in progress): forage left, herd over the months left."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features import CountyTables
from features.grazing import assess_season_in_progress
from muzhang.simulate.county import generate_county


@pytest.fixture(scope="module")
def tables() -> CountyTables:
    return CountyTables.from_mapping(generate_county(7, n_grids=20, last_month="2018-12-01").tables)


def test_winter_in_progress_has_its_months_left_and_the_forage_left(tables: CountyTables) -> None:
    rows = assess_season_in_progress(tables)

    assert len(rows) == 20 and set(rows["season"]) == {"cold"} and set(rows["season_year"]) == {2018}
    assert (rows["months_done"] == 3).all() and (rows["months_left"] == 4).all()
    assert (rows["days_left"] == 31 + 28 + 31 + 30).all()
    season_days = 31 + 30 + 31 + 31 + 28 + 31 + 30
    left = (rows["capacity_season_su"] * season_days - rows["eaten_su_days"]) / rows["days_left"]
    assert np.allclose(rows["capacity_left_su"], left.clip(lower=0))
    assert (rows["stocking_su_low"] <= rows["stocking_su_forecast"]).all()
    assert (rows["stocking_su_forecast"] <= rows["stocking_su_high"]).all()


def test_more_grazed_so_far_leaves_less_forage(tables: CountyTables) -> None:
    base = assess_season_in_progress(tables).set_index("grid_id")
    grid = str(base["capacity_left_su"].idxmax())
    monthly = tables.grid_monthly.copy()
    autumn = (monthly["grid_id"] == grid) & (monthly["month"] >= pd.Timestamp("2018-10-01"))
    monthly.loc[autumn, "yak"] = monthly.loc[autumn, "yak"] * 2
    heavier = assess_season_in_progress(dataclasses.replace(tables, grid_monthly=monthly)).set_index("grid_id")

    assert heavier.at[grid, "eaten_su_days"] > base.at[grid, "eaten_su_days"]
    assert heavier.at[grid, "capacity_left_su"] < base.at[grid, "capacity_left_su"]
    assert heavier.at[grid, "stocking_su_forecast"] > base.at[grid, "stocking_su_forecast"]
    assert heavier.drop(index=grid)["capacity_left_su"].equals(base.drop(index=grid)["capacity_left_su"])


def test_nothing_in_progress_when_the_next_month_starts_a_season(tables: CountyTables) -> None:
    to_april = tables.grid_monthly[tables.grid_monthly["month"] <= pd.Timestamp("2018-04-01")]
    rows = assess_season_in_progress(dataclasses.replace(tables, grid_monthly=to_april))
    assert rows.empty  # May starts the transition season
