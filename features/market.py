"""Livestock market: head sold and price per township and species, 1-6 months ahead.

Rows are township x species x origin month ``t0`` x horizon ``h``; the targets are the values at the
target month ``t0 + h``. A forecast is made at the end of ``t0``, so every feature uses data up to ``t0``
(the decision month of :mod:`features.common` is ``t0 + 1``): values at and before the origin, seasonal
lags of the target month (12 and 24 months before it, both at or before ``t0`` for ``h <= 12``), rolling
means, the township's herd and its change, and the township's last summer rain and this/last winter's
snow. Only the sales table is required: without the herd (an empty ``herd_head``) or the grids' monthly
reports, those inputs are missing and training drops them with a note. ``seasonal_naive_*`` (the value
12 months before the target month) is both a feature and the baseline every forecast is compared with (MASE).

``time_col`` is the *target* month: a time split on it keeps every training target before the held-out
months (splitting on the origin would let training rows see targets inside the test window).

Training rows stop where the data stop; ``forecast=True`` gives the rows of the latest origin instead,
targets NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from features.classical import pooled_seasonal_trend_parts, seasonal_trend_parts
from features.common import (
    EPOCH_YEAR,
    Past,
    anomaly_vs_past_years,
    calendar_features,
    calendar_year,
    complete_panel,
    last_season_total,
    month_of_year,
    month_timestamp,
    past_features,
)
from features.featureset import FeatureSet, ordered_columns, vocabulary
from features.tables import CountyTables, require_columns
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, Domain

HORIZONS = (1, 2, 3, 4, 5, 6)
SEASONAL_LAGS = (12, 24)  # months before the target month; each must be >= max(HORIZONS)
SERIES = {"head_sold": "target_head_sold", "price_yuan_per_head": "target_price"}
SHORT = {"head_sold": "head_sold", "price_yuan_per_head": "price"}
KEYS = ["township_id", "species", "origin_month", "horizon"]
PAST = (
    *(Past(col, "lag", 1, f"{SHORT[col]}_at_origin") for col in SERIES),
    *(Past(col, "lag", 2, f"{SHORT[col]}_before_origin") for col in SERIES),
    *(Past(col, "mean", w, f"{SHORT[col]}_mean{w}") for col in SERIES for w in (3, 12)),
    Past("herd_head", "lag", 1, "herd_head_at_origin"),
    Past("herd_head", "lag", 13, "herd_head_year_before"),
)
SEASONAL = [
    f"seasonal_naive_{SHORT[c]}" if lag == 12 else f"{SHORT[c]}_seasonal{lag}" for c in SERIES for lag in SEASONAL_LAGS
]
WEATHER = ["summer_precip_anomaly", "summer_rain_to_date_anomaly", "winter_snow_days"]
# The classical seasonal-trend forecast of each series for the row's target month (features.classical), in
# the series' unit: a feature, and the base the boosters learn a correction to (training.families.market).
CLASSICAL = {c: f"classical_{SHORT[c]}" for c in SERIES}
# Its three terms on the log scale (level, trend, season; they add up to it): columns of the rows, not model
# inputs, so an answer can say how much of the forecast is the series' level, its trend and its season.
PARTS = ("level", "trend", "season")
CLASSICAL_PARTS = [f"{name}_{part}" for name in CLASSICAL.values() for part in PARTS]
LOG_SCALE = {"head_sold": "log1p", "price_yuan_per_head": "log"}
# Price's classical forecast is made from the species' mean over its townships (features.classical.
# pooled_seasonal_trend_parts): prices share a county-wide shock per species, which the mean shows through far
# less township noise; the latest month's move from the six-month level carries into the forecast as
# PRICE_PERSISTENCE ** h. 0.8 was chosen on the sample's validation year (MASE of the forecast alone there:
# 0.614 at 0.8, 0.614 at 0.85, 0.620 at 0.7, 0.616 at 0.9; 0.679 for the township's own series).
POOLED_BY = {"price_yuan_per_head": "species"}
PRICE_PERSISTENCE = 0.8
# What the classical forecast of head sold cannot see, without units (so a correction learned in earlier
# years still applies to a grown herd): whether the target month is a festival month more or less often
# than in the years its season was learned from; the herd against the forecast sales (offtake pressure);
# the same month a year earlier against the forecast (log1p scale).
CORRECTIONS = ["target_festival_vs_usual", "herd_vs_classical_head_sold", "seasonal_naive_vs_classical_head_sold"]
# The series' recent departure from its own classical forecast (log scale): the origin month's value against
# the forecast made for it a month before, and the mean of the last three such one-month-ahead errors. A
# deviation that persists (a short run of good sales) carries into the next months, most at horizon 1.
# Head sold's last-month departure also as a horizon-1 input alone (NaN at longer horizons), so trees can
# carry it into the next month without spreading it over six (chosen on validation).
DEVIATIONS = [*(f"{SHORT[c]}_origin_vs_classical{w}" for c in SERIES for w in (1, 3)), "head_sold_h1_deviation"]
# Head sold as the herd at the origin times what the same months sold per head of the herd in the last
# OFFTAKE_YEARS years (log1p(sold at the target month k years back) - log(herd at the origin k years back),
# averaged), against the classical forecast: sales are a share of the herd, which the classical forecast of
# the sales series alone sees only through their past.
OFFTAKE_YEARS = 3
OFFTAKE = ["offtake_vs_classical_head_sold"]
FEATURES = [
    "horizon",
    "species",
    "township_id",
    "target_month_of_year",
    "target_festival",
    *(p.output for p in PAST if p.output != "herd_head_year_before"),
    "herd_head_change12",
    *SEASONAL,
    *WEATHER,
    *CLASSICAL.values(),
    *CORRECTIONS,
    *DEVIATIONS,
    *OFFTAKE,
]
TARGETS = list(SERIES.values())


def build_market_features(
    tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False
) -> FeatureSet:
    """Origin x horizon rows with known targets, or the latest origin's rows (``forecast``)."""
    if max(HORIZONS) > min(SEASONAL_LAGS):
        raise ValueError("a seasonal lag shorter than the horizon would read beyond the origin")
    require_columns(tables.market_monthly, ["township_id", "species", "month", *SERIES], "market_monthly")
    by = ["township_id", "species"]
    sales = tables.market_monthly
    if "herd_head" not in sales.columns:  # a sales series alone: the herd inputs are missing (dropped in training)
        sales = sales.assign(herd_head=np.nan)
    series = complete_panel(sales[[*by, "month", *SERIES, "herd_head"]], by, extra_months=1)
    series = pd.concat([series, past_features(series, by, PAST)], axis=1)
    series["herd_head_change12"] = series["herd_head_at_origin"] / series["herd_head_year_before"] - 1
    series = series.merge(_township_weather(tables, domain), on=["township_id", "month_n"], how="left")

    last_n = int(series["month_n"].max()) - 1  # the panel runs one month past the data
    origins = series[series["month_n"] == last_n + 1] if forecast else series[series["month_n"] <= last_n]
    rows = origins.merge(pd.DataFrame({"horizon": HORIZONS}), how="cross")
    rows["origin_n"] = rows["month_n"] - 1
    rows["target_n"] = rows["origin_n"] + rows["horizon"]
    first_n = int(series["month_n"].min())  # an origin is a month with data
    rows = rows[(rows["origin_n"] >= first_n) & (forecast | (rows["target_n"] <= last_n))]
    rows = _join_series(rows, series, by, 0, {c: t for c, t in SERIES.items()})
    classical = _classical_forecasts(series, by)
    rows = rows.merge(classical, on=[*by, "origin_n", "horizon"], how="left")
    rows = rows.merge(_recent_deviations(series, classical, by), on=[*by, "origin_n"], how="left")
    rows = rows.merge(_offtake_forecasts(series, by), on=[*by, "origin_n", "horizon"], how="left")
    for lag in SEASONAL_LAGS:
        names = {c: (f"seasonal_naive_{SHORT[c]}" if lag == 12 else f"{SHORT[c]}_seasonal{lag}") for c in SERIES}
        rows = _join_series(rows, series, by, lag, names)
    calendar = calendar_features(rows["target_n"], prefix="target_")
    rows["target_month_of_year"] = calendar["target_month_of_year"].to_numpy()
    rows["target_festival"] = calendar["target_festival_window"].to_numpy()
    rows["target_festival_vs_usual"] = rows["target_festival"] - _usual_festival_share(rows["target_n"], first_n)
    rows["herd_vs_classical_head_sold"] = np.log1p(rows["herd_head_at_origin"]) - np.log1p(rows["classical_head_sold"])
    rows["seasonal_naive_vs_classical_head_sold"] = np.log1p(rows["seasonal_naive_head_sold"]) - np.log1p(
        rows["classical_head_sold"]
    )
    rows["offtake_vs_classical_head_sold"] = rows.pop("offtake_log_head_sold") - np.log1p(rows["classical_head_sold"])
    rows["head_sold_h1_deviation"] = rows["head_sold_origin_vs_classical1"].where(rows["horizon"] == 1)
    rows["origin_month"] = month_timestamp(rows["origin_n"])
    rows["target_month"] = month_timestamp(rows["target_n"])
    frame = rows[ordered_columns(KEYS, ["target_month"], FEATURES, CLASSICAL_PARTS, TARGETS)]
    frame = frame.sort_values(KEYS, ignore_index=True)
    return FeatureSet(
        family="market",
        frame=frame,
        keys=KEYS,
        time_col="target_month",
        features=FEATURES,
        categorical={
            "species": vocabulary(frame["species"], SPECIES),
            "township_id": vocabulary(frame["township_id"], tables.townships["township_id"]),
        },
        targets=TARGETS,
        as_of_col="origin_month",
    )


def _join_series(
    rows: pd.DataFrame, series: pd.DataFrame, by: list[str], lag: int, names: dict[str, str]
) -> pd.DataFrame:
    """Add each series' value ``lag`` months before the target month, under the given names."""
    values = series[[*by, "month_n", *names]].rename(columns={"month_n": "target_n", **names})
    values["target_n"] = values["target_n"] + lag
    return rows.merge(values, on=[*by, "target_n"], how="left", validate="many_to_one")


def _township_weather(tables: CountyTables, domain: Domain) -> pd.DataFrame:
    """Per township and decision month: last finished summer's rain anomaly, this (or the last)
    winter's snow days so far; grid means of ``grid_monthly``, data up to the month before. Without grids or
    their monthly reports (a sales series brought alone) there are no rows: the weather inputs are missing,
    and training drops them with a note."""
    if tables.grid_monthly.empty or tables.grids.empty:
        return pd.DataFrame({"township_id": pd.Series(dtype=object), "month_n": pd.Series(dtype="int64")}).assign(
            **{c: pd.Series(dtype=float) for c in WEATHER}
        )
    require_columns(tables.grid_monthly, ["grid_id", "month", "precip_mm", "snow_days"], "grid_monthly")
    town = tables.grid_monthly["grid_id"].map(tables.grids.set_index("grid_id")["township_id"])
    weather = (
        tables.grid_monthly.assign(township_id=town)
        .groupby(["township_id", "month"], as_index=False)[["precip_mm", "snow_days"]]
        .mean()
    )
    panel = complete_panel(weather, ["township_id"], extra_months=1)
    panel["summer_precip"] = last_season_total(
        panel, ["township_id"], "precip_mm", domain.season_months["warm"], to_date=False
    )
    panel["summer_precip_anomaly"] = anomaly_vs_past_years(panel, ["township_id"], "summer_precip")
    # This summer's rain so far against the same months of earlier summers (a drought shows by August and
    # drives autumn destocking); outside the summer, the last summer's whole rain.
    panel["summer_rain_to_date"] = last_season_total(
        panel, ["township_id"], "precip_mm", domain.season_months["warm"], to_date=True
    )
    panel["summer_rain_to_date_anomaly"] = anomaly_vs_past_years(panel, ["township_id"], "summer_rain_to_date")
    panel["winter_snow_days"] = last_season_total(
        panel, ["township_id"], "snow_days", domain.season_months["cold"], to_date=True
    )
    return panel[["township_id", "month_n", *WEATHER]]


def _usual_festival_share(target_n: pd.Series, first_n: int) -> np.ndarray:
    """Per target month: the share of earlier years, from the first year of data, in which the same calendar
    month was a festival month (what a season learned from those years expects); 0 in the first year."""
    n = target_n.to_numpy(dtype=np.int64)
    first_year = int(calendar_year(first_n))
    out = np.zeros(len(n))
    for value in np.unique(n):
        years = np.arange(first_year, int(calendar_year(value)))
        if len(years):
            earlier = (years - EPOCH_YEAR) * 12 + int(month_of_year(value)) - 1
            flags = calendar_features(earlier)["festival_window"].to_numpy(dtype=float)
            out[n == value] = float(np.nanmean(flags)) if np.isfinite(flags).any() else 0.0
    return out


def _classical_forecasts(series: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per series, origin month and horizon: the classical seasonal-trend forecast of each value, made with
    the data up to the origin (``series`` is a complete panel, sorted by series then month), and its level,
    trend and season terms (log scale)."""
    keys = series[by].drop_duplicates()
    months = np.sort(series["month_n"].unique())
    shape = (len(keys), len(months))
    out = pd.DataFrame(
        {
            **{c: np.repeat(keys[c].to_numpy(), len(months) * len(HORIZONS)) for c in by},
            "origin_n": np.tile(np.repeat(months, len(HORIZONS)), len(keys)),
            "horizon": np.tile(np.array(HORIZONS), len(keys) * len(months)),
        }
    )
    for column, name in CLASSICAL.items():
        values = series[column].to_numpy(dtype=float).reshape(shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (
                np.log1p(np.where(values >= 0, values, np.nan))
                if LOG_SCALE[column] == "log1p"
                else np.log(np.where(values > 0, values, np.nan))
            )
        if column in POOLED_BY:
            groups = keys[POOLED_BY[column]].to_numpy()
            parts = pooled_seasonal_trend_parts(
                z, groups, month_of_year(months), HORIZONS, persistence=PRICE_PERSISTENCE
            )
        else:
            parts = seasonal_trend_parts(z, month_of_year(months), HORIZONS)
        forecast = (parts[0] + parts[1] + parts[2]).reshape(-1)
        out[name] = np.maximum(np.expm1(forecast), 0.0) if LOG_SCALE[column] == "log1p" else np.exp(forecast)
        for part, values in zip(PARTS, parts, strict=True):
            out[f"{name}_{part}"] = values.reshape(-1)
    return out


def _recent_deviations(series: pd.DataFrame, classical: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per series and origin month: the origin month's value against its one-month-ahead classical forecast
    (made at the month before, log scale), and the mean of that error over the origin and the two months
    before it (NaN unless all three are known). Data up to the origin only."""
    one_ahead = classical.loc[classical["horizon"] == 1, [*by, "origin_n", *CLASSICAL.values()]]
    one_ahead = one_ahead.assign(origin_n=one_ahead["origin_n"] + 1)  # the forecast made for the next month
    frame = series[[*by, "month_n", *SERIES]].rename(columns={"month_n": "origin_n"})
    frame = frame.merge(one_ahead, on=[*by, "origin_n"], how="left").sort_values([*by, "origin_n"])
    out = frame[[*by, "origin_n"]].copy()
    for column, name in CLASSICAL.items():
        log = np.log1p if LOG_SCALE[column] == "log1p" else np.log
        with np.errstate(divide="ignore", invalid="ignore"):
            error = pd.Series(log(frame[column].to_numpy(dtype=float)) - log(frame[name].to_numpy(dtype=float)))
        error = error.where(np.isfinite(error)).set_axis(frame.index)
        out[f"{SHORT[column]}_origin_vs_classical1"] = error
        out[f"{SHORT[column]}_origin_vs_classical3"] = error.groupby([frame[c] for c in by]).transform(
            lambda v: v.rolling(3, min_periods=3).mean()
        )
    return out


def _offtake_forecasts(series: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per series, origin month and horizon: log1p head sold forecast as the herd at the origin times the
    sales per head of the same months in the last :data:`OFFTAKE_YEARS` years (mean over the years known;
    NaN without a herd). ``series`` is a complete panel sorted by series then month; data up to the origin
    only (the target month ``k`` years back is at or before the origin for horizons up to 12)."""
    keys = series[by].drop_duplicates()
    months = np.sort(series["month_n"].unique())
    shape = (len(keys), len(months))
    sold = series["head_sold"].to_numpy(dtype=float).reshape(shape)
    herd = series["herd_head"].to_numpy(dtype=float).reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_sold = np.log1p(np.where(sold >= 0, sold, np.nan))
        log_herd = np.log(np.where(herd > 0, herd, np.nan))
    out = np.full((*shape, len(HORIZONS)), np.nan)
    for k, h in enumerate(HORIZONS):
        per_year = []
        for years in range(1, OFFTAKE_YEARS + 1):
            back = 12 * years
            ratio = np.full(shape, np.nan)  # at origin o: log1p sold(o + h - back) - log herd(o - back)
            if back < len(months):
                ratio[:, back:] = log_sold[:, h : len(months) + h - back] - log_herd[:, : len(months) - back]
            per_year.append(ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[:, :, k] = log_herd + np.nanmean(np.stack(per_year), axis=0)
    return pd.DataFrame(
        {
            **{c: np.repeat(keys[c].to_numpy(), len(months) * len(HORIZONS)) for c in by},
            "origin_n": np.tile(np.repeat(months, len(HORIZONS)), len(keys)),
            "horizon": np.tile(np.array(HORIZONS), len(keys) * len(months)),
            "offtake_log_head_sold": out.reshape(-1),
        }
    )
