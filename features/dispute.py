"""Disputes: will a grid area report any dispute in month ``t``? Rows are grid x month.

Every feature of the row for month ``t`` uses data up to ``t - 1`` (the month's own report is what is
forecast). Drivers follow DOMAIN.md: dispute history (own and neighbours'), vague boundaries, rest
programmes (trespass after bans), pressure on pasture, new households, camp-moving months, festivals,
snow and rain. Past dispute counts and last months' snow may only raise the risk (monotone +1).

Forecast rows (``forecast=True``) are the month after the data, with the target unknown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.common import (
    Past,
    anomaly_vs_past_years,
    calendar_features,
    month_number,
    month_timestamp,
    past_features,
)
from features.featureset import FeatureSet, ordered_columns, vocabulary
from features.pasture import (
    capacity_su,
    drought_years,
    grid_panel,
    pressure_index,
    season_share,
    summarise_seasons,
)
from features.tables import CountyTables, require_columns
from muzhang.domain import DEFAULT_DOMAIN, Domain

TARGET = "any_dispute"
KEYS = ["grid_id", "month"]
# Households move camp 5+ times a year (DOMAIN.md), most in the months they change seasonal pasture.
MOVING_MONTHS = (5, 6, 9, 10, 11)
PAST = (
    Past("disputes", "sum", 1),
    Past("disputes", "sum", 3),
    Past("disputes", "sum", 6),
    Past("disputes", "sum", 12),
    Past("disputes", "since"),
    Past("neighbour_disputes", "sum", 3),
    Past("neighbour_disputes", "sum", 6),
    Past("rested_share", "lag", 1, "rested_share_last"),
    Past("rest_status", "lag", 1, "rest_status_last"),
    Past("stocking_su", "lag", 1, "stocking_su_last"),
    Past("new_households", "sum", 3),
    Past("new_households", "sum", 12),
    Past("households", "lag", 1, "households_last"),
    Past("snow_days", "sum", 3),
    Past("precip_mm", "sum", 3),
)
FEATURES = [
    "township_id",
    "boundary_ambiguity",
    "distance_to_seat_km",
    "month_of_year",
    "moving_season",
    "festival_window",
    *(p.output for p in PAST if p.output != "precip_mm_sum3"),
    "precip_anomaly_3m",
    "pressure_proxy",
]
# Past disputes, and snow (a heavy-snow winter makes pasture scarce: DOMAIN.md), may only raise the risk.
# Snow's direction also keeps a winter snowier than any in training from lowering it (issue 13: 2024).
MONOTONE = {
    **{p.output: 1 for p in PAST if p.column in ("disputes", "neighbour_disputes") and p.how == "sum"},
    "snow_days_sum3": 1,
}
REST_STATUSES = ("grazing", "seasonal_rest", "grazing_ban")


def build_dispute_features(
    tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False
) -> FeatureSet:
    """Grid x month rows with a target for every month of data, or the next month only (``forecast``)."""
    panel = grid_panel(tables, domain)
    panel["neighbour_disputes"] = _neighbour_disputes(tables, panel)
    past = past_features(panel, ["grid_id"], PAST)
    panel = pd.concat([panel, past], axis=1)
    panel["precip_anomaly_3m"] = anomaly_vs_past_years(panel, ["grid_id"], "precip_mm_sum3")
    panel["pressure_proxy"] = _pressure_proxy(panel, drought_years(tables.grid_monthly, domain), domain)
    calendar = calendar_features(panel["month_n"])
    panel["month_of_year"] = calendar["month_of_year"].to_numpy()
    panel["festival_window"] = calendar["festival_window"].to_numpy()
    panel["moving_season"] = np.isin(panel["month_of_year"], MOVING_MONTHS).astype(np.int64)

    last_n = int(panel["month_n"].max()) - 1  # the panel runs one month past the data
    rows = panel[panel["month_n"] == last_n + 1] if forecast else panel[panel["month_n"] <= last_n]
    rows = rows.assign(as_of_month=month_timestamp(rows["month_n"] - 1))
    target = rows["disputes"].gt(0).astype(np.int64)
    rows = rows.assign(**{TARGET: target.where(rows["disputes"].notna()) if forecast else target})
    frame = rows[ordered_columns(KEYS, ["as_of_month"], FEATURES, [TARGET])]
    return FeatureSet(
        family="dispute",
        frame=frame.reset_index(drop=True),
        keys=KEYS,
        time_col="month",
        features=FEATURES,
        categorical={
            "township_id": vocabulary(frame["township_id"], tables.townships["township_id"]),
            "rest_status_last": vocabulary(frame["rest_status_last"], REST_STATUSES),
        },
        targets=[TARGET],
        monotone=MONOTONE,
        as_of_col="as_of_month",
    )


def _neighbour_disputes(tables: CountyTables, panel: pd.DataFrame) -> pd.Series:
    """Disputes reported by each grid's neighbours in the same month (from the whole county's records)."""
    require_columns(tables.grid_neighbours, ["grid_id", "neighbour_id"], "grid_neighbours")
    monthly = tables.grid_monthly[["grid_id", "month", "disputes"]]
    monthly = pd.DataFrame(
        {
            "neighbour_id": monthly["grid_id"],
            "month_n": month_number(monthly["month"]),
            "disputes": monthly["disputes"],
        }
    )
    pairs = tables.grid_neighbours[["grid_id", "neighbour_id"]].merge(monthly, on="neighbour_id")
    total = pairs.groupby(["grid_id", "month_n"])["disputes"].sum()
    index = pd.MultiIndex.from_frame(panel[["grid_id", "month_n"]])
    summed = pd.Series(total.reindex(index).to_numpy(), index=panel.index)
    return summed.fillna(0.0).where(panel["disputes"].notna())


def _pressure_proxy(panel: pd.DataFrame, drought: pd.Series, domain: Domain) -> np.ndarray:
    """Last month's stocking over this season's capacity, estimated from the grid's yield in the same
    season a year earlier (a finished season, so known) on the area not rested last month."""
    seasons = summarise_seasons(panel, drought, domain)
    previous = seasons[["grid_id", "season", "season_year", "forage_yield_kg_ha"]].assign(
        season_year=seasons["season_year"] + 1
    )
    ref = panel[["grid_id", "season", "season_year"]].merge(
        previous, on=["grid_id", "season", "season_year"], how="left"
    )
    frame = pd.DataFrame(
        {
            "season": panel["season"].to_numpy(),
            "pasture_type": panel["pasture_type"].to_numpy(),
            "area_ha": panel["area_km2"].to_numpy()
            * 100
            * season_share(panel)
            * (1 - panel["rested_share_last"].fillna(0.0).to_numpy()),
        }
    )
    capacity = capacity_su(ref["forage_yield_kg_ha"].to_numpy(), frame, domain, area_col="area_ha", drought_col=None)
    return pressure_index(panel["stocking_su_last"].to_numpy(), capacity)
