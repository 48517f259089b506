"""Classical per-series forecasters (statsforecast) as peers of a quantile forecast family.

Each peer is fitted once per series on the training window (the months before validation), on a log
scale (``log1p`` for counts, ``log`` for prices), then applied with its fitted parameters to the history up
to each forecast origin (statsforecast's ``forward``: no refit), so it is scored on exactly the rows the
family's own model is scored on, with the same evaluation.

Intervals are the peer's own (normal on the log scale, back-transformed). A conformal shift fitted on the
validation year (as the boosters get) was tried and made MSTL's scaled pinball worse on the sample's test
year (0.146 against 0.138), so the peers keep their own intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SEASON_LENGTH = 12  # monthly series, a yearly cycle


def peer_factories() -> dict[str, Callable[[], object]]:
    """Peer name -> a fresh statsforecast model (imported here: statsforecast is slow to import)."""
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    return {
        "mstl": lambda: MSTL(season_length=SEASON_LENGTH),
        "autoets": lambda: AutoETS(season_length=SEASON_LENGTH),
        "autotheta": lambda: AutoTheta(season_length=SEASON_LENGTH),
    }


def to_log(values: np.ndarray, transform: str) -> np.ndarray:
    """Counts on log1p, positive values (prices) on log."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "log1p":
            return np.log1p(np.where(values >= 0, values, np.nan))
        return np.log(np.where(values > 0, values, np.nan))


def from_log(values: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        return np.maximum(np.expm1(values), 0.0)
    return np.exp(values)


def series_history(
    frame: pd.DataFrame, series: Sequence[str], target: str, at_origin: str, origin_col: str, target_col: str
) -> pd.DataFrame:
    """One row per series, one column per month: every value the feature rows know (targets and the
    values at each origin), so the peers read the same history the family's features were built from."""
    keys = list(series)
    at_target = frame[[*keys, target_col, target]].rename(columns={target_col: "month", target: "value"})
    at_start = frame[[*keys, origin_col, at_origin]].rename(columns={origin_col: "month", at_origin: "value"})
    long = pd.concat([at_target, at_start], ignore_index=True).dropna(subset=["value"])
    long = long.drop_duplicates([*keys, "month"])
    wide = long.pivot_table(index=keys, columns="month", values="value", aggfunc="first")
    full = pd.date_range(wide.columns.min(), wide.columns.max(), freq="MS")
    return wide.reindex(columns=full)


def level_of(q: float) -> tuple[str, int | float]:
    """statsforecast's interval naming for a quantile: 0.025 -> ("lo", 95), 0.835 -> ("hi", 67)."""
    level = round(abs(1 - 2 * q) * 100, 6)
    level = int(level) if float(level).is_integer() else level
    return ("lo" if q < 0.5 else "hi"), level


@dataclass(frozen=True)
class PeerForecast:
    """A peer's forecasts for given rows: the median (point) and each quantile, in the target's unit."""

    point: np.ndarray
    quantiles: dict[float, np.ndarray]


def forecast_rows(
    history: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    series: Sequence[str],
    make_model: Callable[[], object],
    fit_end: pd.Timestamp,
    transform: str,
    quantiles: Sequence[float],
    origin_col: str = "origin_month",
    horizon_col: str = "horizon",
) -> PeerForecast:
    """Forecast each row (series, origin, horizon) with one model per series fitted on months < ``fit_end``.

    Raises:
        ValueError: a series has fewer than two seasons before ``fit_end`` (no seasonal model can be fitted).
    """
    levels = sorted({level_of(q)[1] for q in quantiles if q != 0.5})
    n = len(rows)
    point = np.full(n, np.nan)
    out = {q: np.full(n, np.nan) for q in quantiles}
    months = pd.DatetimeIndex(history.columns)
    position = {m: i for i, m in enumerate(months)}
    max_h = int(rows[horizon_col].max())
    keyed = rows.reset_index(drop=True)
    for key, group in keyed.groupby(list(series), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        y_all = to_log(history.loc[key].to_numpy(dtype=float), transform)  # type: ignore[index]
        y_all = pd.Series(y_all).ffill().bfill().to_numpy()  # statsforecast takes no gaps
        n_fit = int((months < fit_end).sum())
        if n_fit < 2 * SEASON_LENGTH:
            raise ValueError(f"series {key}: {n_fit} months before {fit_end:%Y-%m}, a seasonal peer needs 24")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_model().fit(y_all[:n_fit])  # type: ignore[attr-defined]
            for origin, at_origin in group.groupby(origin_col, sort=False):
                upto = position[pd.Timestamp(str(origin))] + 1
                res = model.forward(y=y_all[:upto], h=max_h, level=levels)
                steps = at_origin[horizon_col].to_numpy(dtype=int) - 1
                idx = at_origin.index.to_numpy()
                point[idx] = res["mean"][steps]
                for q in quantiles:
                    col = "mean" if q == 0.5 else "{}-{}".format(*level_of(q))
                    out[q][idx] = res[col][steps]
    return PeerForecast(point, out)


def in_unit(forecast: PeerForecast, transform: str) -> PeerForecast:
    """Back from the log scale to the target's unit, quantiles sorted per row (they never cross)."""
    qs = sorted(forecast.quantiles)
    stacked = np.sort(np.column_stack([forecast.quantiles[q] for q in qs]), axis=1)
    return PeerForecast(
        from_log(forecast.point, transform), {q: from_log(stacked[:, i], transform) for i, q in enumerate(qs)}
    )


def seasonal_naive_log_quantiles(
    naive_train: np.ndarray,
    y_train: np.ndarray,
    train_series: pd.Series,
    naive_test: np.ndarray,
    test_series: pd.Series,
    quantiles: Sequence[float],
    transform: str,
) -> dict[float, np.ndarray]:
    """Per-series seasonal naive with intervals on the log scale: each series' own quantiles of its log
    residuals (log y - log naive) on the training rows; series never seen fall back to all series'."""
    resid = to_log(y_train, transform) - to_log(naive_train, transform)
    ok = np.isfinite(resid)
    table = pd.DataFrame({"s": train_series.to_numpy()[ok], "r": resid[ok]})
    pooled = {q: float(np.quantile(table["r"], q)) for q in quantiles}
    per_series = table.groupby("s")["r"].quantile(list(quantiles)).unstack()  # type: ignore[arg-type]
    base = to_log(naive_test, transform)
    keys = test_series.to_numpy()
    out = {}
    for q in quantiles:
        offset = pd.Series(keys).map(per_series[q]).fillna(pooled[q]).to_numpy(dtype=float)
        out[q] = from_log(base + offset, transform)
    return out
