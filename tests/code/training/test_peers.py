"""The market family's classical peers (training/peers.py): fitted once, applied at each origin, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.peers import (
    forecast_rows,
    in_unit,
    level_of,
    peer_factories,
    seasonal_naive_log_quantiles,
    series_history,
)

QUANTILES = [0.025, 0.5, 0.975]
MONTHS = pd.date_range("2015-01-01", periods=60, freq="MS")


def seasonal_series(months: pd.DatetimeIndex, level: float = 100.0) -> np.ndarray:
    """A clean yearly cycle on a gentle upward trend, with a little deterministic wobble."""
    t = np.arange(len(months))
    season = np.sin(2 * np.pi * months.month.to_numpy() / 12)
    return level * (1 + 0.01 * t / 12) * (1 + 0.3 * season) + np.cos(t)


def feature_rows(values: np.ndarray, origins: list[pd.Timestamp], horizons=(1, 2, 3)) -> pd.DataFrame:
    """Market-like rows (series, origin, horizon, target month) with the value at origin and the target."""
    by_month = pd.Series(values, index=MONTHS)
    rows = []
    for origin in origins:
        for h in horizons:
            target = origin + pd.DateOffset(months=h)
            rows.append(
                {
                    "township_id": "T01",
                    "species": "yak",
                    "origin_month": origin,
                    "horizon": h,
                    "target_month": target,
                    "value_at_origin": by_month[origin],
                    "target": by_month.get(target, np.nan),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("q", "expected"), [(0.025, ("lo", 95)), (0.975, ("hi", 95)), (0.165, ("lo", 67))])
def test_quantile_maps_to_the_statsforecast_interval(q: float, expected: tuple[str, int]) -> None:
    assert level_of(q) == expected


def test_history_holds_every_month_the_rows_know() -> None:
    values = seasonal_series(MONTHS)
    rows = feature_rows(values, list(MONTHS[:-3]))
    history = series_history(
        rows, ["township_id", "species"], "target", "value_at_origin", "origin_month", "target_month"
    )
    assert list(history.columns) == list(MONTHS)
    np.testing.assert_allclose(history.loc[("T01", "yak")].to_numpy(), values)


def test_peer_forecast_reads_no_month_after_its_origin() -> None:
    """Changing every value after the origin leaves the forecast made at that origin unchanged."""
    values = seasonal_series(MONTHS)
    origin = MONTHS[48]
    later = values.copy()
    later[49:] *= 3.0
    fit_end = MONTHS[36]
    out = []
    for series in (values, later):
        rows = feature_rows(series, list(MONTHS[:57]))
        history = series_history(
            rows, ["township_id", "species"], "target", "value_at_origin", "origin_month", "target_month"
        )
        at_origin = rows[rows["origin_month"] == origin].reset_index(drop=True)
        forecast = forecast_rows(
            history,
            at_origin,
            series=["township_id", "species"],
            make_model=peer_factories()["autoets"],
            fit_end=fit_end,
            transform="log",
            quantiles=QUANTILES,
        )
        out.append(in_unit(forecast, "log"))
    np.testing.assert_allclose(out[0].point, out[1].point)
    # And on a clean seasonal series the peer is close to the truth, inside its own 95 % interval.
    truth = values[49:52]
    assert np.max(np.abs(out[0].point / truth - 1)) < 0.05
    assert np.all((out[0].quantiles[0.025] <= truth) & (truth <= out[0].quantiles[0.975]))


def test_peer_needs_two_seasons_before_the_fit_end() -> None:
    values = seasonal_series(MONTHS)
    rows = feature_rows(values, [MONTHS[20]])
    history = series_history(
        rows, ["township_id", "species"], "target", "value_at_origin", "origin_month", "target_month"
    )
    with pytest.raises(ValueError, match="needs 24"):
        forecast_rows(
            history,
            rows,
            series=["township_id", "species"],
            make_model=peer_factories()["autoets"],
            fit_end=MONTHS[20],
            transform="log",
            quantiles=QUANTILES,
        )


def test_seasonal_naive_intervals_are_each_series_own_on_the_log_scale() -> None:
    """A small series keeps small intervals (a pooled raw-unit offset gave horse -306 head)."""
    naive_train = np.array([2.0, 3.0, 1.0, 2.0, 500.0, 520.0, 480.0, 510.0])
    y_train = np.array([3.0, 2.0, 2.0, 1.0, 600.0, 430.0, 560.0, 450.0])
    series = pd.Series(["horse"] * 4 + ["yak"] * 4)
    out = seasonal_naive_log_quantiles(
        naive_train, y_train, series, np.array([2.0, 500.0]), pd.Series(["horse", "yak"]), QUANTILES, "log1p"
    )
    assert np.all(out[0.025] >= 0)  # a count forecast never goes below zero
    assert out[0.975][0] < 10 and out[0.025][1] > 300  # each series' own spread, not a pooled one
    assert np.all(out[0.025] <= out[0.5]) and np.all(out[0.5] <= out[0.975])
