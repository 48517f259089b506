"""Market inputs the township's own sales or price series cannot give: price forecast from the species' mean
over its townships (features.classical.pooled_seasonal_trend_parts), and head sold from the herd times the
usual sales per head (features.market._offtake_forecasts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.classical import pooled_seasonal_trend_parts, seasonal_trend_parts
from features.market import HORIZONS, _offtake_forecasts

MONTHS = np.arange(96)
MOY = MONTHS % 12 + 1
SEASON = 0.05 * np.sin(MONTHS * np.pi / 6)


def township_prices(seed: int, n_towns: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log prices of one species in ``n_towns`` townships: a shared level, season and persistent shock, a fixed
    discount per township, and each township's own noise. Returns (z, shared log price, discounts)."""
    rng = np.random.default_rng(seed)
    shock = np.zeros(len(MONTHS))
    for t in range(1, len(MONTHS)):
        shock[t] = 0.85 * shock[t - 1] + rng.normal(0, 0.025)
    shared = np.log(3000) + 0.002 * MONTHS + SEASON + shock
    discount = -rng.uniform(0, 0.1, n_towns)
    z = shared[None, :] + discount[:, None] + rng.normal(0, 0.02, (n_towns, len(MONTHS)))
    return z, shared, discount


def test_pooled_terms_add_up_and_members_share_trend_and_season() -> None:
    z, _, _ = township_prices(1)
    groups = np.array(["yak"] * 5 + ["sheep"] * 5, dtype=object)
    level, trend, season = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.8)
    assert np.isfinite(level + trend + season)[:, 24:].all()
    np.testing.assert_array_equal(trend[0], trend[4])
    np.testing.assert_array_equal(season[0], season[4])
    assert not np.array_equal(season[0], season[5])  # another group, its own season


def test_latest_move_fades_as_persistence_to_the_horizon() -> None:
    z, _, _ = township_prices(2)
    groups = np.array(["yak"] * len(z), dtype=object)
    level_half = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.5)[0]
    level_none = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.0)[0]
    moved = level_half - level_none  # 0.5 ** h times the latest month's move
    ratio = moved[:, 60, 1:] / moved[:, 60, :-1]
    np.testing.assert_allclose(ratio, 0.5)


def test_offsets_recover_each_townships_fixed_discount() -> None:
    z, _, discount = township_prices(3)
    groups = np.array(["yak"] * len(z), dtype=object)
    level = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.8)[0]
    between = level[:, 80, 0] - level[:, 80, 0].mean()  # a year of 2 % noise each: within 0.02 of the truth
    np.testing.assert_allclose(between, discount - discount.mean(), atol=0.02)


def test_pooled_forecast_beats_each_townships_own_at_one_month() -> None:
    errors_pooled, errors_own = [], []
    for seed in range(4):
        z, shared, discount = township_prices(10 + seed)
        truth = shared[None, :] + discount[:, None]  # the noise-free price of each township
        groups = np.array(["yak"] * len(z), dtype=object)
        pooled = np.sum(pooled_seasonal_trend_parts(z, groups, MOY, (1,), persistence=0.8), axis=0)
        own = np.sum(seasonal_trend_parts(z, MOY, (1,)), axis=0)
        errors_pooled.append(np.abs(pooled[:, 48:-1, 0] - truth[:, 49:]).mean())
        errors_own.append(np.abs(own[:, 48:-1, 0] - truth[:, 49:]).mean())
    assert np.mean(errors_pooled) < 0.8 * np.mean(errors_own)


def test_pooled_forecast_at_an_origin_reads_nothing_after_it() -> None:
    z, _, _ = township_prices(4)
    groups = np.array(["yak"] * len(z), dtype=object)
    later = z.copy()
    later[:, 61:] += 0.5
    before = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.8)
    after = pooled_seasonal_trend_parts(later, groups, MOY, HORIZONS, persistence=0.8)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a[:, :61], b[:, :61])


def test_a_missing_township_month_leaves_the_others_forecast() -> None:
    z, _, _ = township_prices(5)
    z[3, 70] = np.nan
    groups = np.array(["yak"] * len(z), dtype=object)
    parts = pooled_seasonal_trend_parts(z, groups, MOY, HORIZONS, persistence=0.8)
    assert np.isfinite(np.sum(parts, axis=0)[:, 70]).all()


def herd_panel(months: int = 60) -> pd.DataFrame:
    """One series whose herd grows 1 % a month and sells a fixed share of the herd per calendar month."""
    rate = np.array([0.06, 0.05, 0.02, 0.02, 0.02, 0.03, 0.04, 0.06, 0.15, 0.20, 0.20, 0.15])
    herd = 50_000 * 1.01 ** np.arange(months)
    sold = rate[np.arange(months) % 12] * herd
    return pd.DataFrame(
        {
            "township_id": "T1",
            "species": "yak",
            "month_n": np.arange(months),
            "head_sold": sold,
            "herd_head": herd,
        }
    )


def test_offtake_forecast_is_the_herd_times_the_usual_sales_per_head() -> None:
    panel = herd_panel()
    out = _offtake_forecasts(panel, ["township_id", "species"])
    actual = np.log1p(panel.set_index("month_n")["head_sold"])
    known = out.dropna(subset=["offtake_log_head_sold"])
    known = known[known["origin_n"] + known["horizon"] < len(panel)]
    assert known["origin_n"].min() == 12  # one year back is the first it can read
    expected = actual.reindex(known["origin_n"] + known["horizon"]).to_numpy()
    np.testing.assert_allclose(known["offtake_log_head_sold"].to_numpy(), expected, atol=1e-3)


@pytest.mark.parametrize("column", ["head_sold", "herd_head"])
def test_offtake_forecast_at_an_origin_reads_nothing_after_it(column: str) -> None:
    panel = herd_panel()
    changed = panel.copy()
    changed.loc[changed["month_n"] > 40, column] *= 3
    a = _offtake_forecasts(panel, ["township_id", "species"])
    b = _offtake_forecasts(changed, ["township_id", "species"])
    upto = a["origin_n"] <= 40
    pd.testing.assert_frame_equal(a[upto], b[upto])
