"""Grazing: each grid's season yield, forecast before the season starts; capacity, pressure, status follow.

Rows are grid x season x season year. The target ``forage_yield_kg_ha`` is the season's peak observed
yield (see :mod:`features.pasture`). Features use data up to the month before the season's first month:
grid statics, the grid's history of the same season, its level against the county from its monthly
record (:mod:`features.grazing_level`), recent weather, NDVI, herd, rest and feed.

The model predicts yield only; the decision is code (:func:`assess_grazing`): NY/T 635 capacity from
the yield, pressure = stocking / capacity, status by the domain's balance band. The decision columns
(``stocking_su_season``, ``area_ha_season``, ``pasture_type``, ``season``, ``drought``) are what was
actually grazed that season, so training scores actual against predicted status. Yield is constrained to
fall as stocking (and last year's pressure) rises, so predicted pressure never falls as the herd grows.

Every row also carries what a forecast knows of the season's use at its decision month
(:data:`FORECAST_USE_COLUMNS`): the herd projected month by month from births, deaths and sales by calendar
month with the heavy-snow effect, and the season's rest programme, each with its 80 % range
(:mod:`features.herd`); and the county's drought-year yield ratios. Forecast rows (``forecast=True``) are the
next season of each kind (warm, cold, transition) that starts after the data; their decision columns are
the forecast herd on the forecast pasture, no drought. If the data stop before that season's month before
(e.g. data to December, season from May), its features are taken as of the last month of data.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.common import (
    Past,
    calendar_year,
    expanding_mean_within,
    lag_within,
    month_number,
    month_of_year,
    month_timestamp,
    past_features,
)
from features.featureset import FeatureSet, ordered_columns, vocabulary
from features.grazing_level import LEVEL_FEATURES, with_level_features
from features.herd import forecast_rest, project_stocking
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
GROUP_SEPARATOR = "|"  # interval groups nest as "season|lead" (models.conformal.SEPARATOR; features may not import it)
# The grid's rest in recent seasons of the same kind, for the season's rest programme (not model inputs).
REST_HISTORY = ["rest_recent_mean", "rest_recent_max"]
RECENT_SEASONS = 3
FEATURES = [
    "lead_months",
    "season",
    "pasture_type",
    "area_km2",
    "elevation_m",
    "season_share",
    *SEASON_HISTORY,
    *LEVEL_FEATURES,
    *(p.output for p in PAST),
]
MONOTONE = {"stocking_su_last": -1, "pressure_last_year": -1}
DECISION_COLUMNS = ["stocking_su_season", "area_ha_season", "pasture_type", "season", "drought"]
# What a forecast knows of the season's use at its decision month (features.herd): the herd projected and
# the rest programme expected, each with its 80 % range; the grid's yield ratio in the county's drought years.
FORECAST_USE_COLUMNS = [
    "stocking_su_forecast",
    "stocking_su_low",
    "stocking_su_high",
    "rested_share_forecast",
    "rested_share_low",
    "rested_share_high",
    "area_ha_forecast",
    "area_ha_full",
    "drought_ratio_low",
    "drought_ratio_mid",
    "drought_ratio_high",
]
DROUGHT_RATIO_LEVELS = (0.1, 0.5, 0.9)  # the range of the county's drought-year yield ratios shown
# The season year's realised weather, known only afterwards: never a feature, read only to score forecasts
# against what a forecaster who knew each grid but not the weather could do (the fair limit, training).
HINDSIGHT_COLUMNS = ["realised_rain_ratio", "realised_temp_anomaly"]


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
    rows = with_level_features(rows, panel, domain)
    rows["season_share"] = season_share(rows)
    rows["season_start"] = month_timestamp(rows["start_n"])
    rows["as_of_month"] = month_timestamp(rows["decision_n"] - 1)
    rows = _forecast_use(rows, panel, drought, domain)
    rows = _with_drought_ratios(rows, seasons, forecast=forecast)
    rows = _with_realised_weather(rows, tables.grid_monthly, domain)
    if forecast:
        rows = _assume_forecast_use(rows)
    frame = rows[
        ordered_columns(
            KEYS,
            ["season_start", "as_of_month"],
            FEATURES,
            [TARGET],
            DECISION_COLUMNS,
            FORECAST_USE_COLUMNS,
            HINDSIGHT_COLUMNS,
        )
    ]
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
        decision_columns=[*DECISION_COLUMNS, *FORECAST_USE_COLUMNS],
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
        lagged = out.groupby(by, sort=False)["rested_share_season"].shift(k)
        recent = lagged.groupby([out[c] for c in by], sort=False).rolling(RECENT_SEASONS, min_periods=1)
        out[f"rest_recent_mean_{k}"] = recent.mean().reset_index(level=[0, 1], drop=True)
        out[f"rest_recent_max_{k}"] = recent.max().reset_index(level=[0, 1], drop=True)
    return out


def _history_known_at_decision(rows: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Season history as known at the decision month: last year's same season counts only if it had
    ended by then (a warm season ends in September, so a June decision a year ahead cannot see it)."""
    length = rows["season"].map({s: len(m) for s, m in domain.season_months.items()})
    last_year_ended = rows["lead_months"] <= 13 - length
    out = rows.copy()
    for name in [*SEASON_HISTORY, *REST_HISTORY]:
        out[name] = np.where(last_year_ended, rows[f"{name}_1"], rows[f"{name}_2"])
    return out.drop(columns=[f"{n}_{k}" for n in [*SEASON_HISTORY, *REST_HISTORY] for k in (1, 2)])


def interval_group(frame: pd.DataFrame) -> npt.NDArray[np.str_]:
    """Each row's group for interval calibration (:mod:`models.conformal`): season, then lead time."""
    lead = frame["lead_months"].to_numpy(dtype=np.int64).astype(str)
    return np.char.add(np.char.add(frame["season"].to_numpy(dtype=str), GROUP_SEPARATOR), lead)


def _forecast_use(rows: pd.DataFrame, panel: pd.DataFrame, drought: pd.Series, domain: Domain) -> pd.DataFrame:
    """The season's herd and rest as forecast at each row's decision month (:mod:`features.herd`)."""
    length = rows["season"].map({s: len(m) for s, m in domain.season_months.items()}).to_numpy(dtype=np.int64)
    when = pd.DataFrame(
        {
            "grid_id": rows["grid_id"].to_numpy(),
            "as_of_n": rows["decision_n"].to_numpy(dtype=np.int64) - 1,
            "start_n": rows["start_n"].to_numpy(dtype=np.int64),
            "end_n": rows["start_n"].to_numpy(dtype=np.int64) + length - 1,
        }
    )
    # Only what was observed by each decision month: a drought flag is read once its summer has ended.
    herd = project_stocking(panel, drought, when, domain)
    rest = forecast_rest(rows["rested_share_last"], rows["rest_recent_mean"], rows["rest_recent_max"])
    full = rows["area_km2"].to_numpy(dtype=float) * 100 * rows["season_share"].to_numpy(dtype=float)
    out = rows.copy()
    for frame in (herd, rest):
        for col in frame.columns:
            out[col] = frame[col].to_numpy()
    out["area_ha_full"] = full
    out["area_ha_forecast"] = full * (1 - out["rested_share_forecast"])
    return out


def drought_yield_ratios(seasons: pd.DataFrame) -> pd.DataFrame:
    """Per season, the county's drought-year yield ratios at :data:`DROUGHT_RATIO_LEVELS`.

    A ratio is a grid's yield in a drought season over its mean yield in the same season of non-drought
    years: the county's own record of what a drought does, as a distribution over grids and drought years.
    A season kind with no drought year observed (or never cut: transition) has ratio 1.
    """
    done = seasons[seasons[TARGET].notna()]
    normal = done[done["drought"] == 0].groupby(["grid_id", "season"])[TARGET].mean().rename("normal")
    dry = done[done["drought"] == 1].join(normal, on=["grid_id", "season"])
    ratio = (dry[TARGET] / dry["normal"]).replace([np.inf, -np.inf], np.nan)
    out = pd.DataFrame(1.0, index=pd.Index(SEASONS, name="season"), columns=["low", "mid", "high"])
    for season, values in ratio.groupby(dry["season"]):
        values = values.dropna()
        if len(values):
            out.loc[season] = np.quantile(values, DROUGHT_RATIO_LEVELS)
    return out


def _with_drought_ratios(rows: pd.DataFrame, seasons: pd.DataFrame, *, forecast: bool) -> pd.DataFrame:
    """Each row's drought-year yield ratios from seasons it could know: every complete season for a
    forecast (they ended before the data's last month), seasons two or more years earlier for a training
    row (ended before any of its decision months)."""
    out = rows.copy()
    years = [None] if forecast else sorted(rows["season_year"].unique())
    for year in years:
        known = seasons if year is None else seasons[seasons["season_year"] <= year - 2]
        table = drought_yield_ratios(known)
        mask = np.ones(len(rows), dtype=bool) if year is None else (rows["season_year"] == year).to_numpy()
        for level in ("low", "mid", "high"):
            out.loc[mask, f"drought_ratio_{level}"] = rows.loc[mask, "season"].map(table[level]).to_numpy()
    return out


def _with_realised_weather(rows: pd.DataFrame, grid_monthly: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """The season year's growing-season rain over the grid's mean of every observed year, and the county's
    temperature that year minus its mean over all months (NaN where the growing season is not complete)."""
    n = month_number(grid_monthly["month"])
    year = calendar_year(n)
    grow = np.isin(month_of_year(n), domain.drought_growing_months)
    by = [grid_monthly.loc[grow, "grid_id"].to_numpy(), year[grow]]
    totals = grid_monthly.loc[grow, "precip_mm"].groupby(by).agg(["sum", "count"])
    rain = totals["sum"].where(totals["count"] == len(set(domain.drought_growing_months)))
    ratio = rain / rain.groupby(level=0).transform("mean")
    temp = grid_monthly["temp_mean_c"]
    anomaly = temp.groupby(year).mean() - temp.mean()
    keys = pd.MultiIndex.from_arrays([rows["grid_id"], rows["season_year"]])
    return rows.assign(
        realised_rain_ratio=ratio.reindex(keys).to_numpy(dtype=float),
        realised_temp_anomaly=rows["season_year"].map(anomaly).to_numpy(dtype=float),
    )


def _assume_forecast_use(rows: pd.DataFrame) -> pd.DataFrame:
    """Decision columns of a season not yet grazed: the forecast herd and rest programme, no drought."""
    return rows.assign(
        stocking_su_season=rows["stocking_su_forecast"],
        area_ha_season=rows["area_ha_forecast"],
        drought=0,
    )


IN_PROGRESS_COLUMNS = [
    "grid_id",
    "season",
    "season_year",
    "as_of_month",
    "months_done",
    "months_left",
    "days_left",
    "yield_so_far_kg_ha",
    "capacity_season_su",
    "eaten_su_days",
    "capacity_left_su",
    "stocking_su_forecast",
    "stocking_su_low",
    "stocking_su_high",
]


def assess_season_in_progress(tables: CountyTables, domain: Domain = DEFAULT_DOMAIN) -> pd.DataFrame:
    """The season under way after the last month of data (the winter in progress), per grid: what is left.

    The season's yield is its peak standing forage so far (for the cold season, October's: standing forage
    only declines through the winter; for a warm season still growing, a lower bound). NY/T 635 gives the
    season's capacity C (SU over its D days) on the pasture grazed so far (its mean rested share, the
    observed drought flag); the forage eaten so far is each observed month's SU x its days. What is left
    carries ``(C x D - eaten) / days left`` SU over the remaining months, against the herd projected over
    them (:func:`features.herd.project_stocking`). Empty when the next month starts a new season.

    Returns:
        One row per grid with :data:`IN_PROGRESS_COLUMNS` (numbers; capacity at least 0).
    """
    panel = grid_panel(tables, domain)
    last_n = int(panel["month_n"].max()) - 1
    label = label_seasons([last_n + 1], domain).iloc[0]
    start = int(label["start_n"])
    if start > last_n:
        return pd.DataFrame(columns=IN_PROGRESS_COLUMNS)
    season = str(label["season"])
    length = len(domain.season_months[season])
    end = start + length - 1
    done = panel[(panel["month_n"] >= start) & (panel["month_n"] <= last_n)].copy()
    days = pd.Series(month_timestamp(done["month_n"])).dt.days_in_month.to_numpy()
    done["su_days"] = done["stocking_su"].to_numpy(dtype=float) * days
    per_grid = done.groupby("grid_id").agg(
        yield_so_far_kg_ha=("forage_yield_kg_ha", "max"),
        rested=("rested_share", "mean"),
        eaten_su_days=("su_days", "sum"),
    )
    statics = panel.drop_duplicates("grid_id").set_index("grid_id").loc[per_grid.index, GRID_STATICS[1:]]
    rows = pd.concat([per_grid, statics], axis=1).reset_index()
    rows["season"] = season
    rows["season_year"] = int(label["season_year"])
    rows["area_ha_season"] = rows["area_km2"] * 100 * season_share(rows) * (1 - rows["rested"].fillna(0.0))
    drought = drought_years(tables.grid_monthly, domain)
    dry = int(drought.get(int(label["season_year"]), 0)) if season in domain.drought_seasons else 0
    rows["drought"] = dry
    capacity = capacity_su(rows["yield_so_far_kg_ha"], rows, domain)
    all_days = pd.Series(month_timestamp(np.arange(start, end + 1))).dt.days_in_month.to_numpy()
    days_left = int(all_days[last_n + 1 - start :].sum())
    when = pd.DataFrame({"grid_id": rows["grid_id"], "as_of_n": last_n, "start_n": last_n + 1, "end_n": end})
    herd = project_stocking(panel, drought, when, domain)
    # SU-days of forage in the season (its calendar days; NY/T 635's grazing days scale both sides alike).
    forage = capacity * all_days.sum()
    capacity_left = np.clip((forage - rows["eaten_su_days"].to_numpy(dtype=float)) / days_left, 0, None)
    return pd.DataFrame(
        {
            "grid_id": rows["grid_id"],
            "season": season,
            "season_year": int(label["season_year"]),
            "as_of_month": month_timestamp(np.full(len(rows), last_n)),
            "months_done": last_n - start + 1,
            "months_left": end - last_n,
            "days_left": days_left,
            "yield_so_far_kg_ha": rows["yield_so_far_kg_ha"].to_numpy(dtype=float),
            "capacity_season_su": capacity,
            "eaten_su_days": rows["eaten_su_days"].to_numpy(dtype=float),
            "capacity_left_su": capacity_left,
            "stocking_su_forecast": herd["stocking_su_forecast"].to_numpy(),
            "stocking_su_low": herd["stocking_su_low"].to_numpy(),
            "stocking_su_high": herd["stocking_su_high"].to_numpy(),
        }
    )
