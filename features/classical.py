"""A classical seasonal-trend forecast computed from each series' own past, with no fitted parameters.

At the end of every month ``t`` (a forecast origin), on the log scale:

* **season**: each calendar month's mean deviation from the trailing 12-month mean, over every year up to
  ``t`` (centred to sum to zero);
* **level**: the mean of the last ``level_months`` seasonally adjusted values;
* **trend**: the change between the mean adjusted value of the last ``trend_months`` and of the
  ``trend_months`` before them, per month (shorter windows while the series is young; none below a year);

and the forecast for ``t + h`` is level + trend x (months from the level's centre) + season of ``t + h``.
Everything uses data up to ``t`` only, is deterministic and costs milliseconds, so the same numbers are
features of training rows and of the rows the service forecasts from, with no model to refit.

On the sample county's test year this alone scores a MASE of 0.497 on price (statsforecast's MSTL: 0.561)
and 0.559 on head sold (MSTL: 0.546): a strong base for the boosters to correct with what it cannot see
(herds, festivals, drought, snow). Series that share a shock (one species' price in every township) are
better forecast from their mean (:func:`pooled_seasonal_trend_parts`): on the sample's validation year the
price MASE of the forecast alone falls from 0.679 to 0.614.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

LEVEL_MONTHS = 6
TREND_MONTHS = 36
MIN_TREND_MONTHS = 12
SEASON = 12

FloatArray = npt.NDArray[np.float64]


def trailing_mean(z: FloatArray, window: int) -> FloatArray:
    """Mean of the last ``window`` values up to and including each month; NaN unless all are known."""
    n, t = z.shape
    out = np.full((n, t), np.nan)
    if t < window:
        return out
    filled = np.nan_to_num(z)
    known = np.isfinite(z).astype(float)
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(filled, axis=1)], axis=1)
    ccount = np.concatenate([np.zeros((n, 1)), np.cumsum(known, axis=1)], axis=1)
    sums = csum[:, window:] - csum[:, :-window]
    counts = ccount[:, window:] - ccount[:, :-window]
    out[:, window - 1 :] = np.where(counts == window, sums / window, np.nan)
    return out


def seasonal_index(z: FloatArray, month_of_year: npt.NDArray[np.int64]) -> FloatArray:
    """(series, months, 12): each calendar month's mean deviation from the trailing yearly mean, over the
    months up to each month; 0 where a calendar month has no deviation yet; centred to sum to zero."""
    dev = z - trailing_mean(z, SEASON)
    n, t = z.shape
    out = np.zeros((n, t, SEASON))
    for m in range(SEASON):
        here = (month_of_year == m + 1)[None, :] & np.isfinite(dev)
        sums = np.cumsum(np.where(here, dev, 0.0), axis=1)
        counts = np.cumsum(here, axis=1)
        out[:, :, m] = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return out - out.mean(axis=2, keepdims=True)


def seasonal_trend_forecast(
    z: FloatArray,
    month_of_year: npt.NDArray[np.int64],
    horizons: tuple[int, ...],
    *,
    level_months: int = LEVEL_MONTHS,
    trend_months: int = TREND_MONTHS,
) -> FloatArray:
    """Forecasts (series, origin month, horizon) on the log scale from ``z`` (series, months; NaN unknown).

    ``month_of_year`` (1-12) names each column's calendar month. NaN where a series has no known value in
    the level window at that origin.
    """
    level, trend, season = seasonal_trend_parts(
        z, month_of_year, horizons, level_months=level_months, trend_months=trend_months
    )
    return level + trend + season


def seasonal_trend_parts(
    z: FloatArray,
    month_of_year: npt.NDArray[np.int64],
    horizons: tuple[int, ...],
    *,
    level_months: int = LEVEL_MONTHS,
    trend_months: int = TREND_MONTHS,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The forecast's three terms, each (series, origin month, horizon) on the log scale: the level, the
    trend's move from the level window's centre to the target month, and the target month's season. They
    add up to :func:`seasonal_trend_forecast` exactly (the parts an explanation shows)."""
    n, t = z.shape
    season = seasonal_index(z, month_of_year)
    moy = month_of_year - 1
    shape = (n, t, len(horizons))
    level_out, trend_out, season_out = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    for o in range(t):
        s = season[:, o, :]
        adjusted = z[:, : o + 1] - s[:, moy[: o + 1]]
        lo = max(0, o + 1 - level_months)
        with warnings.catch_warnings():  # a window with no known value gives NaN, which is the answer
            warnings.simplefilter("ignore", RuntimeWarning)
            level = np.nanmean(adjusted[:, lo:], axis=1)
            span = min(trend_months, (o + 1) // 2)
            trend = np.zeros(n)
            if span >= MIN_TREND_MONTHS:
                recent = np.nanmean(adjusted[:, o + 1 - span :], axis=1)
                before = np.nanmean(adjusted[:, o + 1 - 2 * span : o + 1 - span], axis=1)
                trend = np.nan_to_num((recent - before) / span)
        centre = (o - lo) / 2  # months from the level window's centre to the origin
        for k, h in enumerate(horizons):
            target_moy = (moy[o] + h) % SEASON
            level_out[:, o, k] = level
            trend_out[:, o, k] = np.where(np.isfinite(level), trend * (centre + h), np.nan)
            season_out[:, o, k] = np.where(np.isfinite(level), s[:, target_moy], np.nan)
    return level_out, trend_out, season_out


def pooled_seasonal_trend_parts(
    z: FloatArray,
    groups: npt.NDArray[np.object_],
    month_of_year: npt.NDArray[np.int64],
    horizons: tuple[int, ...],
    *,
    persistence: float,
    level_months: int = LEVEL_MONTHS,
    offset_months: int = SEASON,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`seasonal_trend_parts` of each group's mean series (e.g. one species' price over its townships),
    given to every member with its own offset, and a level that starts from the group's latest month.

    Series that share a shock but each carry their own noise (township prices of one species) are forecast
    from their mean, whose season and level are far less noisy than any member's. Per member and origin:

    * **level**: the group's ``level_months`` level, plus ``persistence ** h`` times the latest month's
      departure from it (a recent move that fades with the horizon), plus the member's offset (its mean
      difference from the group over the last ``offset_months`` known months);
    * **trend**, **season**: the group's.

    They add up to the forecast on the log scale. Data up to each origin only: the group mean at a month uses
    the members' values of that month.
    """
    n, t = z.shape
    shape = (n, t, len(horizons))
    level, trend, season = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    weights = persistence ** np.asarray(horizons, dtype=float)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        with warnings.catch_warnings():  # a month no member knows is NaN, which is the answer
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(z[members], axis=0, keepdims=True)
        long_level, group_trend, group_season = seasonal_trend_parts(
            mean, month_of_year, horizons, level_months=level_months
        )
        latest = seasonal_trend_parts(mean, month_of_year, horizons, level_months=1)[0]
        moved = np.where(np.isfinite(latest), latest - long_level, 0.0) * weights
        offset = _trailing_nanmean(z[members] - mean, offset_months)
        level[members] = long_level + moved + offset[:, :, None]
        trend[members] = np.broadcast_to(group_trend, (len(members), t, len(horizons)))
        season[members] = np.broadcast_to(group_season, (len(members), t, len(horizons)))
    return level, trend, season


def _trailing_nanmean(values: FloatArray, window: int) -> FloatArray:
    """Mean of the known values among the last ``window`` up to and including each month (NaN if none)."""
    filled = np.nan_to_num(values)
    known = np.isfinite(values).astype(float)
    csum = np.cumsum(filled, axis=1)
    ccount = np.cumsum(known, axis=1)
    csum[:, window:] -= csum[:, :-window].copy()
    ccount[:, window:] -= ccount[:, :-window].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ccount > 0, csum / np.maximum(ccount, 1), np.nan)
