"""The grid x month panel and its grazing seasons, shared by the grazing and dispute builders.

Seasons follow :attr:`Domain.season_months`: warm = Jun-Sep, transition = May, cold = Oct-Apr. A season
that crosses the new year belongs to the year it starts in (cold 2020 = Oct 2020 - Apr 2021). A season's
yield is the largest monthly observed ``forage_yield_kg_ha`` over its months (the season's peak standing
forage, the NY/T 635 input), known only once every month of the season has been observed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.common import EPOCH_YEAR, calendar_year, complete_panel, month_number, month_of_year
from features.tables import CountyTables, require_columns
from muzhang.domain import (
    DEFAULT_DOMAIN,
    SEASONS,
    SPECIES,
    Domain,
    grazing_pressure,
    nyt635_capacity_su,
    sheep_units,
)

GRID_STATICS = [
    "grid_id",
    "township_id",
    "area_km2",
    "elevation_m",
    "pasture_type",
    "boundary_ambiguity",
    "distance_to_seat_km",
    *(f"{s}_share" for s in SEASONS),
]
MONTHLY_COLUMNS = [
    "grid_id",
    "month",
    "precip_mm",
    "temp_mean_c",
    "snow_days",
    "ndvi",
    "forage_yield_kg_ha",
    "households",
    "new_households",
    *SPECIES,
    "rest_status",
    "rested_share",
    "supplementary_feed_t",
    "disputes",
]


def label_seasons(month_n: npt.ArrayLike, domain: Domain) -> pd.DataFrame:
    """Season, season year and the season's first month (``start_n``) of months since 1970-01."""
    n = np.asarray(month_n, dtype=np.int64)
    moy = month_of_year(n)
    by_month = np.array([domain.season_of_month(m) for m in range(1, 13)], dtype=object)
    first_by_month = np.array([domain.season_start_month(s) for s in by_month])
    season = by_month[moy - 1]
    first = first_by_month[moy - 1]
    season_year = calendar_year(n) - (moy < first)
    start_n = (season_year - EPOCH_YEAR) * 12 + first - 1
    return pd.DataFrame({"season": season.astype(str), "season_year": season_year, "start_n": start_n})


def grid_panel(tables: CountyTables, domain: Domain, *, extra_months: int = 1) -> pd.DataFrame:
    """grid_monthly completed to one row per grid and month (plus ``extra_months`` empty months after
    the data, the decision rows of a forecast), with grid statics, stocking in sheep units and seasons."""
    require_columns(tables.grid_monthly, MONTHLY_COLUMNS, "grid_monthly")
    require_columns(tables.grids, GRID_STATICS, "grids")
    monthly = tables.grid_monthly.loc[tables.grid_monthly["grid_id"].isin(tables.grids["grid_id"]), MONTHLY_COLUMNS]
    panel = complete_panel(monthly, ["grid_id"], extra_months=extra_months)
    panel["stocking_su"] = sheep_units({sp: panel[sp].to_numpy(dtype=float) for sp in SPECIES}, domain)
    panel = panel.merge(tables.grids[GRID_STATICS], on="grid_id", how="left", validate="many_to_one")
    return pd.concat([panel, label_seasons(panel["month_n"], domain)], axis=1)


def season_share(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Each row's share of the grid used in the row's season (``warm_share`` for a warm row, ...)."""
    out = np.full(len(frame), np.nan)
    for season in SEASONS:
        mask = (frame["season"] == season).to_numpy()
        out[mask] = frame.loc[mask, f"{season}_share"].to_numpy(dtype=float)
    return out


def drought_years(grid_monthly: pd.DataFrame, domain: Domain = DEFAULT_DOMAIN) -> pd.Series:
    """Observed drought flag per year (index: year): county growing-season rain
    (:attr:`Domain.drought_growing_months`) below :attr:`Domain.drought_rain_ratio` of the mean of earlier
    years. Years whose growing season is not fully observed, and the first year, are 0.

    Reads every grid of the county (not only the grids being built), so a subset gives the same flags.
    """
    n = month_number(grid_monthly["month"])
    grow = np.isin(month_of_year(n), domain.drought_growing_months)
    per_month = grid_monthly.loc[grow, "precip_mm"].groupby(n[grow]).mean()
    years = pd.Series(calendar_year(per_month.index.to_numpy()), index=per_month.index)
    observed = per_month.groupby(years.to_numpy()).agg(["sum", "count"])
    rain = observed["sum"].where(observed["count"] == len(set(domain.drought_growing_months)))
    normal = rain.shift(1).expanding().mean()
    return (rain < domain.drought_rain_ratio * normal).astype(np.int64)


def summarise_seasons(panel: pd.DataFrame, drought: pd.Series, domain: Domain) -> pd.DataFrame:
    """One row per grid x season x season year present in the panel, sorted by grid, season, year.

    Columns: ``forage_yield_kg_ha`` (the season's peak; NaN unless every month observed),
    ``stocking_su_season`` (mean SU over the season's observed months), ``rested_share_season``,
    ``area_ha_season`` (grazed area: area x season share x (1 - mean rested share)) and ``drought``
    (from :func:`drought_years`, passed in as ``drought``, in :attr:`Domain.drought_seasons` only).
    """
    keys = ["grid_id", "season", "season_year"]
    grouped = panel.groupby(keys, sort=True)
    seasons = grouped.agg(
        start_n=("start_n", "first"),
        forage_yield_kg_ha=("forage_yield_kg_ha", "max"),
        observed_months=("forage_yield_kg_ha", "count"),
        stocking_su_season=("stocking_su", "mean"),
        rested_share_season=("rested_share", "mean"),
    ).reset_index()
    length = seasons["season"].map({s: len(domain.season_months[s]) for s in SEASONS})
    seasons.loc[seasons["observed_months"] < length, "forage_yield_kg_ha"] = np.nan
    statics = panel.drop_duplicates("grid_id").set_index("grid_id")
    for col in GRID_STATICS[1:]:
        seasons[col] = seasons["grid_id"].map(statics[col])
    seasons["area_ha_season"] = seasons["area_km2"] * 100 * season_share(seasons) * (1 - seasons["rested_share_season"])
    seasons["drought"] = (
        seasons["season_year"].map(drought).fillna(0).astype(np.int64) * seasons["season"].isin(domain.drought_seasons)
    ).astype(np.int64)
    return seasons


def capacity_su(
    yield_kg_ha: npt.ArrayLike,
    frame: pd.DataFrame,
    domain: Domain,
    *,
    area_col: str = "area_ha_season",
    drought_col: str | None = "drought",
) -> npt.NDArray[np.float64]:
    """NY/T 635 capacity (SU) for rows of mixed seasons (``season``, ``pasture_type`` and area columns)."""
    y = np.asarray(yield_kg_ha, dtype=float)
    out = np.full(len(frame), np.nan)
    for season in SEASONS:
        mask = (frame["season"] == season).to_numpy()
        if not mask.any():
            continue
        rows = frame.loc[mask]
        drought = rows[drought_col].to_numpy(dtype=float) if drought_col else 0.0
        out[mask] = nyt635_capacity_su(
            y[mask],
            rows[area_col].to_numpy(dtype=float),
            rows["pasture_type"].to_numpy(),
            season,
            drought=drought,
            domain=domain,
        )
    return out


def pressure_index(stocking_su: npt.ArrayLike, capacity: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Grazing pressure (stocking / capacity) as a feature: NaN where either is unknown or capacity is 0."""
    cap = np.asarray(capacity, dtype=float)
    pressure = grazing_pressure(np.nan_to_num(np.asarray(stocking_su, dtype=float)), cap)
    unknown = np.isnan(np.asarray(stocking_su, dtype=float)) | np.isnan(cap) | ~np.isfinite(pressure)
    return np.where(unknown, np.nan, pressure)
