"""Leakage and sense of the grazing season's forecast herd and rest (data tier; issue 12)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features import CountyTables, FeatureSet, build_features
from features.grazing import FORECAST_USE_COLUMNS

CUTOFFS = ("2017-01-01", "2017-06-01", "2017-10-01")


def scale_from(small_tables: CountyTables, cutoff: pd.Timestamp) -> CountyTables:
    """Every herd, rest, snow and rain figure from ``cutoff`` on changed."""
    out = small_tables.grid_monthly.copy()
    later = out["month"] >= cutoff
    for col in ("yak", "sheep", "goat", "horse"):
        out.loc[later, col] = np.round(out.loc[later, col] * 1.7).astype(out[col].dtype) + 3
    for col in ("rested_share", "snow_days", "precip_mm", "forage_yield_kg_ha"):
        out.loc[later, col] = (out.loc[later, col] * 0.5 + 0.3).astype(out[col].dtype)
    return dataclasses.replace(small_tables, grid_monthly=out)


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_forecast_herd_and_rest_read_only_months_up_to_the_decision(
    small_tables: CountyTables, small_grazing: FeatureSet, cutoff: str
) -> None:
    """Risk: a season's herd forecast that reads the herd it forecasts. Changing every month from ``cutoff``
    on must leave the forecast use of every row decided before it unchanged, and change later rows."""
    when = pd.Timestamp(cutoff)
    changed = build_features("grazing", scale_from(small_tables, when))
    columns = [*small_grazing.keys, *FORECAST_USE_COLUMNS]

    def part(fs: FeatureSet, before: bool) -> pd.DataFrame:
        seen = fs.frame[fs.as_of_col] < when
        rows = fs.frame.loc[seen if before else ~seen, columns]
        return rows.sort_values(fs.keys, ignore_index=True)

    pd.testing.assert_frame_equal(part(small_grazing, True), part(changed, True))
    assert not part(small_grazing, False).equals(part(changed, False))


def test_forecast_herd_range_holds_the_forecast_and_covers_most_seasons(small_grazing: FeatureSet) -> None:
    frame = small_grazing.frame.dropna(subset=["stocking_su_forecast"])  # rows decided before the first month have none
    assert len(frame) > 0.8 * len(small_grazing.frame)
    assert (frame["stocking_su_low"] <= frame["stocking_su_forecast"]).all()
    assert (frame["stocking_su_forecast"] <= frame["stocking_su_high"]).all()
    # forecasts with two years of history behind them, made up to a quarter ahead
    near = frame[(frame["lead_months"] <= 3) & (frame["season_year"] >= frame["season_year"].min() + 2)]
    inside = near["stocking_su_season"].between(near["stocking_su_low"], near["stocking_su_high"])
    assert inside.mean() > 0.6
    # December's herd carried forward is the error the forecast removes: the warm season is after the births
    warm = near[near["season"] == "warm"]
    err_forecast = (warm["stocking_su_forecast"] / warm["stocking_su_season"] - 1).abs().median()
    err_carried = (warm["stocking_su_last"] / warm["stocking_su_season"] - 1).abs().median()
    assert err_forecast < err_carried


def test_forecast_rows_graze_the_forecast_herd_on_the_forecast_pasture(small_tables: CountyTables) -> None:
    rows = build_features("grazing", small_tables, forecast=True).frame
    assert np.allclose(rows["stocking_su_season"], rows["stocking_su_forecast"])
    assert np.allclose(rows["area_ha_season"], rows["area_ha_full"] * (1 - rows["rested_share_forecast"]))
    assert (rows["rested_share_forecast"] >= rows["rested_share_last"].fillna(0) - 1e-12).all()
    assert (rows["drought_ratio_low"] <= rows["drought_ratio_mid"]).all()
    assert (rows["drought_ratio_mid"] <= rows["drought_ratio_high"]).all()
