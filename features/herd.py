"""The season's herd and rest, forecast from what is known at the decision month.

A season's stocking is the mean SU over its months, months after the forecast is made; December's herd is
not the warm season's (calves and lambs come in April-June, sales peak September-December, a heavy-snow
winter kills 13-24 % and halves births). Each grid's herd is projected month by month from its last
reported herd with the expected monthly log change of its calendar month:

    log SU(n) - log SU(n - 1) = a_m + b_m * snow_to_date(n) + c_m * drought_summer(n) + grid effect

where ``m`` is the calendar month of ``n`` (births, deaths and sales together: their net change in SU),
``snow_to_date`` the mean snow days of the winter so far in the grid's township (after the winter, the
whole winter's: the heavy-snow effect on deaths, births and spring sales; a township's mean, as one grid's
snow days are a Poisson count whose noise would weaken the fitted effect), ``drought_summer`` whether the
last growing season was a drought (sales after a drought summer). The county's coefficients are least
squares over every grid-month up to the decision month; the grid's own effect is its mean departure from
the county's monthly change up to then, shrunk toward 0 (:data:`GRID_SHRINK_MONTHS`). A snow or drought
figure not yet observed at the decision month (a winter that has not started) takes its historical mean.
The range comes from the residual variance per calendar month, summed over the projected months.

The season's rest programme (share of the grid rested) is the larger of the share rested now (a grazing ban
carries on) and the grid's mean share in the same season of its recent past years (seasonal rests are
decided every January); its range runs from the share rested now to the largest recent same-season share.

Everything reads months up to the decision month only (the sufficient statistics are cumulative in time),
so rows built before a month never change when later months change (``tests/data`` check it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.common import calendar_year, month_of_year
from muzhang.domain import DEFAULT_DOMAIN, Domain

GRID_SHRINK_MONTHS = 24.0  # a grid's own effect counts half once it has two years of months (assumption)
RIDGE = 1e-3  # keeps the per-month fit solvable where a covariate never varies (no snow in summer)
Z80 = 1.2815515655446004  # standard normal 90 % quantile: the 80 % range
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def winter_months(domain: Domain = DEFAULT_DOMAIN) -> tuple[int, ...]:
    """The calendar months whose snow counts (the cold season's)."""
    return tuple(domain.season_months["cold"])


def monthly_herd_change(panel: pd.DataFrame, drought: pd.Series, domain: Domain = DEFAULT_DOMAIN) -> pd.DataFrame:
    """Per grid and month: log SU change, snow of the winter to date, last summer's drought flag.

    Args:
        panel: :func:`features.pasture.grid_panel` rows (``grid_id``, ``month_n``, ``stocking_su``,
            ``snow_days``), sorted or not.
        drought: drought flag per year (:func:`features.pasture.drought_years`).
        domain: the season calendar.
    """
    p = panel[["grid_id", "township_id", "month_n", "stocking_su", "snow_days"]].sort_values(["grid_id", "month_n"])
    n = p["month_n"].to_numpy(dtype=np.int64)
    moy = month_of_year(n)
    su = p["stocking_su"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_su = np.where(su > 0, np.log(np.where(su > 0, su, 1.0)), np.nan)
    same_grid = p["grid_id"].eq(p["grid_id"].shift(1)).to_numpy() & (np.diff(n, prepend=n[0] - 2) == 1)
    change = np.where(same_grid, log_su - np.roll(log_su, 1), np.nan)
    first = domain.season_start_month("cold")
    in_winter = np.isin(moy, winter_months(domain))
    winter_id = np.where(moy >= first, calendar_year(n), calendar_year(n) - 1)
    snow = p["snow_days"].where(in_winter)
    # The winter's mean so far per grid (an expanding mean skipping months without a report).
    keys = [p["grid_id"].to_numpy(), winter_id]
    seen = snow.notna().astype(float).groupby(keys).cumsum()
    own = snow.fillna(0.0).groupby(keys).cumsum().div(seen.where(seen > 0))
    # The township's mean: one grid's snow days are a Poisson count, whose noise would attenuate the effect.
    snow_to_date = own.groupby([p["township_id"].to_numpy(), n]).transform("mean")
    summer_year = np.where(moy > max(domain.drought_growing_months), calendar_year(n), calendar_year(n) - 1)
    return pd.DataFrame(
        {
            "grid_id": p["grid_id"].to_numpy(),
            "month_n": n,
            "log_su": log_su,
            "change": change,
            "snow_to_date": snow_to_date.to_numpy(dtype=float),
            "drought_summer": pd.Series(summer_year).map(drought).fillna(0.0).to_numpy(dtype=float),
        }
    )


def _cumulative_fit_stats(changes: pd.DataFrame, months: IntArray) -> dict[str, np.ndarray]:
    """County sums (X'X, X'y, y'y, n) per month, cumulated over months of the same calendar month,
    indexed by month number minus ``months[0]``."""
    ok = np.isfinite(changes["change"].to_numpy())
    c = changes[ok]
    x = np.column_stack([np.ones(len(c)), c["snow_to_date"].to_numpy(), c["drought_summer"].to_numpy()])
    y = c["change"].to_numpy()
    pos = c["month_n"].to_numpy() - months[0]
    size = len(months)
    xx = np.zeros((size, 3, 3))
    xy = np.zeros((size, 3))
    yy = np.zeros(size)
    np.add.at(xx, pos, x[:, :, None] * x[:, None, :])
    np.add.at(xy, pos, x * y[:, None])
    np.add.at(yy, pos, y * y)
    # Cumulate within each calendar month: position i adds position i - 12.
    for i in range(12, size):
        xx[i] += xx[i - 12]
        xy[i] += xy[i - 12]
        yy[i] += yy[i - 12]
    return {"xx": xx, "xy": xy, "yy": yy}


def _grid_effects(changes: pd.DataFrame) -> pd.DataFrame:
    """Each grid's departure from the county's mean change, summed and counted up to each month."""
    county = changes.groupby("month_n")["change"].transform("mean")
    dev = (changes["change"] - county).to_numpy()
    ok = np.isfinite(dev)
    out = changes[["grid_id", "month_n"]].copy()
    out["dev_sum"] = pd.Series(np.where(ok, dev, 0.0), index=changes.index).groupby(changes["grid_id"]).cumsum()
    out["dev_n"] = pd.Series(ok.astype(float), index=changes.index).groupby(changes["grid_id"]).cumsum()
    return out


def project_stocking(
    panel: pd.DataFrame,
    drought: pd.Series,
    rows: pd.DataFrame,
    domain: Domain = DEFAULT_DOMAIN,
) -> pd.DataFrame:
    """Forecast mean SU over each row's season from data up to its decision month, with an 80 % range.

    Args:
        panel: :func:`features.pasture.grid_panel` rows.
        drought: drought flag per year (observed; a year's flag is used only once its summer is over).
        rows: ``grid_id``, ``as_of_n`` (last month of data the forecast may read), ``start_n`` and
            ``end_n`` (first and last month of the season; months up to ``as_of_n`` are taken as observed).
        domain: the season calendar.

    Returns:
        ``stocking_su_forecast``, ``stocking_su_low``, ``stocking_su_high`` aligned with ``rows``.
    """
    changes = monthly_herd_change(panel, drought, domain)
    months = np.arange(changes["month_n"].min(), changes["month_n"].max() + 1)
    stats = _cumulative_fit_stats(changes, months)
    effects = _grid_effects(changes).set_index(["grid_id", "month_n"])
    by_month = changes.set_index(["grid_id", "month_n"])
    level = by_month["log_su"].groupby(level="grid_id").ffill()  # a missing report: the last herd known

    grid = rows["grid_id"].to_numpy()
    as_of = rows["as_of_n"].to_numpy(dtype=np.int64)
    start = rows["start_n"].to_numpy(dtype=np.int64)
    end = rows["end_n"].to_numpy(dtype=np.int64)
    keys = pd.MultiIndex.from_arrays([grid, as_of])
    log_now = level.reindex(keys).to_numpy(dtype=float)
    snow_now = by_month["snow_to_date"].reindex(keys).to_numpy(dtype=float)
    eff = effects.reindex(keys)
    grid_eff = (eff["dev_sum"] / (eff["dev_n"] + GRID_SHRINK_MONTHS)).fillna(0.0).to_numpy()
    moy_now = month_of_year(as_of)
    first_cold = domain.season_start_month("cold")
    winter_now = np.where(moy_now >= first_cold, calendar_year(as_of), calendar_year(as_of) - 1)
    last_summer_done = np.where(
        moy_now > max(domain.drought_growing_months), calendar_year(as_of), calendar_year(as_of) - 1
    )

    mu = np.zeros(len(rows))
    var = np.zeros(len(rows))
    total = np.zeros(len(rows))
    low = np.zeros(len(rows))
    high = np.zeros(len(rows))
    count = np.zeros(len(rows))
    horizon = int(max(0, (end - as_of).max())) if len(rows) else 0
    for h in range(0, horizon + 1):
        n = as_of + h
        live = n <= end
        if h > 0:
            m = month_of_year(n)
            beta, sigma2, mean_x = _fit_at(stats, months, as_of, m)
            winter_n = np.where(m >= first_cold, calendar_year(n), calendar_year(n) - 1)
            snow_known = (winter_n == winter_now) & np.isfinite(snow_now)
            snow = np.where(snow_known, snow_now, mean_x[:, 1])
            summer_n = np.where(m > max(domain.drought_growing_months), calendar_year(n), calendar_year(n) - 1)
            flag = pd.Series(summer_n).map(drought).to_numpy(dtype=float)
            dry = np.where((summer_n <= last_summer_done) & np.isfinite(flag), flag, mean_x[:, 2])
            step = beta[:, 0] + beta[:, 1] * snow + beta[:, 2] * dry + grid_eff
            mu = np.where(live, mu + step, mu)
            var = np.where(live, var + sigma2, var)
        in_season = live & (n >= start)
        sd = np.sqrt(var)
        total += np.where(in_season, np.exp(log_now + mu), 0.0)
        low += np.where(in_season, np.exp(log_now + mu - Z80 * sd), 0.0)
        high += np.where(in_season, np.exp(log_now + mu + Z80 * sd), 0.0)
        count += in_season
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "stocking_su_forecast": total / count,
                "stocking_su_low": low / count,
                "stocking_su_high": high / count,
            },
            index=rows.index,
        )
    return out


def _fit_at(
    stats: dict[str, np.ndarray], months: IntArray, as_of: IntArray, moy: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per row: county coefficients, residual variance and covariate means of calendar month ``moy``,
    from the months of that calendar month up to ``as_of``."""
    last = as_of - ((month_of_year(as_of) - moy) % 12)
    pos = np.clip(last - months[0], -1, len(months) - 1)
    # Rows share few distinct month positions: fit each once, then hand the fit to its rows.
    unique, back = np.unique(pos, return_inverse=True)
    beta, sigma2, mean_x = _fit_positions(stats, unique)
    return beta[back], sigma2[back], mean_x[back]


def _fit_positions(stats: dict[str, np.ndarray], pos: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_fit_at`'s fit at each month position (-1: no month of that calendar month yet)."""
    have = pos >= 0
    idx = np.where(have, pos, 0)
    xx = np.where(have[:, None, None], stats["xx"][idx], 0.0)
    xy = np.where(have[:, None], stats["xy"][idx], 0.0)
    yy = np.where(have, stats["yy"][idx], 0.0)
    n = xx[:, 0, 0]
    ridge = RIDGE * np.maximum(n, 1.0)[:, None, None] * np.diag([0.0, 1.0, 1.0])[None]
    ridge = ridge + 1e-9 * np.eye(3)[None]
    beta = np.linalg.solve(xx + ridge, xy[:, :, None])[:, :, 0]
    rss = yy - 2 * np.einsum("ij,ij->i", beta, xy) + np.einsum("ij,ijk,ik->i", beta, xx, beta)
    sigma2 = np.where(n > 3, np.clip(rss, 0, None) / np.maximum(n - 3, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x = np.where(n[:, None] > 0, xx[:, 0, :] / np.maximum(n, 1.0)[:, None], 0.0)
    return np.asarray(beta, dtype=float), np.asarray(sigma2, dtype=float), np.asarray(mean_x, dtype=float)


def forecast_rest(
    rested_now: npt.ArrayLike, recent_same_season: npt.ArrayLike, recent_max: npt.ArrayLike
) -> pd.DataFrame:
    """The season's rested share: expected, low and high (see the module doc).

    Args:
        rested_now: share rested in the decision month (NaN: unknown, taken as 0).
        recent_same_season: mean rested share of the grid's recent seasons of the same kind (NaN: none).
        recent_max: the largest of those (NaN: none).
    """
    now = np.nan_to_num(np.asarray(rested_now, dtype=float), nan=0.0)
    mean = np.nan_to_num(np.asarray(recent_same_season, dtype=float), nan=0.0)
    top = np.nan_to_num(np.asarray(recent_max, dtype=float), nan=0.0)
    expected = np.clip(np.maximum(now, mean), 0.0, 1.0)
    return pd.DataFrame(
        {
            "rested_share_forecast": expected,
            "rested_share_low": np.minimum(now, expected),
            "rested_share_high": np.clip(np.maximum(expected, top), 0.0, 1.0),
        }
    )
