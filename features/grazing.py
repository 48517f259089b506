"""Grazing: each grid's season yield, forecast before the season starts; capacity, pressure, status follow.

Rows are grid x season x season year. The target ``forage_yield_kg_ha`` is the season's peak observed
yield (see :mod:`features.pasture`). Features use data up to the month before the season's first month:
grid statics, the grid's history of the same season, recent weather, NDVI, herd, rest and feed.

The model predicts yield only; the decision is code (:func:`assess_grazing`): NY/T 635 capacity from
the yield, pressure = stocking / capacity, status by the domain's balance band. The decision columns
(``stocking_su_season``, ``area_ha_season``, ``pasture_type``, ``season``, ``drought``) are what was
actually grazed that season, so training scores actual against predicted status. Yield is constrained to
fall as stocking (and last year's pressure) rises, so predicted pressure never falls as the herd grows.

Forecast rows (``forecast=True``) are the next season of each kind (warm, cold, transition) that starts
after the data. If the data stop
before that season's month before (e.g. data to December, season from May), its features are taken as
of the last month of data, and its decision columns assume the current herd and rest continue, no drought.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.common import Past, expanding_mean_within, lag_within, month_timestamp, past_features
from features.featureset import FeatureSet, ordered_columns, vocabulary
from features.pasture import (
    GRID_STATICS,
    capacity_su,
    drought_years,
    grid_panel,
    label_seasons,
    pressure_index,
    season_share,
    summarise_seasons,
)
from features.tables import CountyTables
from muzhang.domain import DEFAULT_DOMAIN, PASTURE_TYPES, SEASONS, Domain, grazing_pressure, grazing_status

TARGET = "forage_yield_kg_ha"
SEASON_KEYS = ["grid_id", "season", "season_year"]
KEYS = [*SEASON_KEYS, "lead_months"]
# Forecasts are made 1 to 12 months before a season starts (planners plan the year in winter).
LEADS = tuple(range(1, 13))
PAST = (
    Past("precip_mm", "sum", 3),
    Past("precip_mm", "sum", 12),
    Past("temp_mean_c", "mean", 3),
    Past("temp_mean_c", "mean", 12),
    Past("snow_days", "sum", 3),
    Past("snow_days", "sum", 12),
    Past("ndvi", "lag", 1, "ndvi_last"),
    Past("stocking_su", "lag", 1, "stocking_su_last"),
    Past("rested_share", "lag", 1, "rested_share_last"),
    Past("rested_share", "since", name="months_since_rested"),
    Past("supplementary_feed_t", "sum", 6),
)
SEASON_HISTORY = ["yield_last_year", "yield_mean_past", "pressure_last_year"]
FEATURES = [
    "lead_months",
    "season",
    "pasture_type",
    "area_km2",
    "elevation_m",
    "season_share",
    *SEASON_HISTORY,
    *(p.output for p in PAST),
]
MONOTONE = {"stocking_su_last": -1, "pressure_last_year": -1}
DECISION_COLUMNS = ["stocking_su_season", "area_ha_season", "pasture_type", "season", "drought"]


def build_grazing_features(
    tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False
) -> FeatureSet:
    """Season-yield rows for every grid: complete seasons (training) or the next season (``forecast``)."""
    panel = grid_panel(tables, domain)
    last_n = int(panel["month_n"].max()) - 1  # the panel runs one month past the data
    drought = drought_years(tables.grid_monthly, domain)
    seasons = _with_next_seasons(summarise_seasons(panel, drought, domain), last_n, domain)
    seasons = _add_season_history(seasons, domain)
    next_starts = _next_season_starts(last_n, domain)
    if forecast:
        rows = seasons[seasons["start_n"].isin(next_starts)]
        rows = rows.assign(decision_n=np.minimum(rows["start_n"], last_n + 1))
    else:  # one row per lead time, so a forecast made months ahead meets rows like itself
        done = seasons[seasons[TARGET].notna()]
        rows = pd.concat([done.assign(decision_n=done["start_n"] - (lead - 1)) for lead in LEADS], ignore_index=True)
    rows = _history_known_at_decision(rows.assign(lead_months=rows["start_n"] - rows["decision_n"] + 1), domain)
    past = pd.concat([panel[["grid_id", "month_n"]], past_features(panel, ["grid_id"], PAST)], axis=1)
    rows = rows.merge(past.rename(columns={"month_n": "decision_n"}), on=["grid_id", "decision_n"], how="left")
    rows["season_share"] = season_share(rows)
    rows["season_start"] = month_timestamp(rows["start_n"])
    rows["as_of_month"] = month_timestamp(rows["decision_n"] - 1)
    if forecast:
        rows = _assume_current_use(rows)
    frame = rows[ordered_columns(KEYS, ["season_start", "as_of_month"], FEATURES, [TARGET], DECISION_COLUMNS)]
    return FeatureSet(
        family="grazing",
        frame=frame.sort_values(KEYS, ignore_index=True),
        keys=KEYS,
        time_col="season_start",
        features=FEATURES,
        categorical={
            "season": vocabulary(frame["season"], SEASONS),
            "pasture_type": vocabulary(frame["pasture_type"], PASTURE_TYPES),
        },
        targets=[TARGET],
        monotone=MONOTONE,
        decision_columns=DECISION_COLUMNS,
        as_of_col="as_of_month",
    )


def assess_grazing(
    frame: pd.DataFrame, yield_kg_ha: np.ndarray | pd.Series, domain: Domain = DEFAULT_DOMAIN
) -> pd.DataFrame:
    """Capacity (SU), pressure and status of each row for a given season yield (actual or predicted).

    The one grazing decision: serving's assessments and training's status metrics both call it, so both
    apply the drought cut (the ``drought`` column) and the domain's balance band the same way.

    Args:
        frame: rows with the grazing decision columns.
        yield_kg_ha: the season's yield per row.
        domain: figures to use.
    """
    capacity = capacity_su(np.asarray(yield_kg_ha, dtype=float), frame, domain)
    pressure = grazing_pressure(frame["stocking_su_season"].to_numpy(dtype=float), capacity)
    return pd.DataFrame(
        {"capacity_su": capacity, "pressure": pressure, "status": grazing_status(pressure, domain)},
        index=frame.index,
    )


def _next_season_starts(last_n: int, domain: Domain) -> list[int]:
    """First month (months since 1970-01) of the next season of each kind starting after month ``last_n``."""
    year = (last_n + 1) // 12
    starts = []
    for season in SEASONS:
        first = domain.season_start_month(season)
        starts.append(min(s for s in ((year + dy) * 12 + first - 1 for dy in (0, 1)) if s > last_n))
    return sorted(starts)


def _with_next_seasons(seasons: pd.DataFrame, last_n: int, domain: Domain) -> pd.DataFrame:
    """Add the (empty) rows of the next season of each kind, so their history lags line up."""
    statics = seasons.drop_duplicates("grid_id")[GRID_STATICS]
    parts = [seasons]
    for start in _next_season_starts(last_n, domain):
        label = label_seasons([start], domain).iloc[0]
        have = (seasons["season"] == label["season"]) & (seasons["season_year"] == label["season_year"])
        if have.any():
            continue
        parts.append(
            statics.assign(
                season=label["season"],
                season_year=int(label["season_year"]),
                start_n=start,
                observed_months=0,
                drought=0,
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values(SEASON_KEYS, ignore_index=True)


def _add_season_history(seasons: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Last year's yield and pressure in the same season, and the mean yield of all earlier years.

    A season of the same kind a year earlier has ended before this one starts, so all three are known
    at the decision month.
    """
    by = ["grid_id", "season"]
    capacity = capacity_su(seasons[TARGET], seasons, domain)
    out = seasons.assign(pressure=pressure_index(seasons["stocking_su_season"], capacity))
    for k in (1, 2):  # one and two seasons of the same kind back; which is known depends on the lead
        out[f"yield_last_year_{k}"] = lag_within(out, by, TARGET, k)
        out[f"yield_mean_past_{k}"] = expanding_mean_within(out, by, TARGET, lag=k)
        out[f"pressure_last_year_{k}"] = lag_within(out, by, "pressure", k)
    return out


def _history_known_at_decision(rows: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Season history as known at the decision month: last year's same season counts only if it had
    ended by then (a warm season ends in September, so a June decision a year ahead cannot see it)."""
    length = rows["season"].map({s: len(m) for s, m in domain.season_months.items()})
    last_year_ended = rows["lead_months"] <= 13 - length
    out = rows.copy()
    for name in SEASON_HISTORY:
        out[name] = np.where(last_year_ended, rows[f"{name}_1"], rows[f"{name}_2"])
    return out.drop(columns=[f"{n}_{k}" for n in SEASON_HISTORY for k in (1, 2)])


def _assume_current_use(rows: pd.DataFrame) -> pd.DataFrame:
    """Decision columns of a season not yet grazed: current herd and rest continue, no drought."""
    rested = rows["rested_share_last"].fillna(0.0)
    return rows.assign(
        stocking_su_season=rows["stocking_su_last"],
        area_ha_season=rows["area_km2"] * 100 * rows["season_share"] * (1 - rested),
        drought=0,
    )
