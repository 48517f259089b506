"""Unit tests of the shared time-correct helpers on tiny hand-made panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.common import (
    Past,
    anomaly_vs_past_years,
    calendar_features,
    complete_panel,
    expanding_mean_within,
    lag_within,
    last_season_total,
    month_number,
    month_timestamp,
    months_since_event,
    past_features,
    rolling_within,
)

NAN = np.nan


@pytest.fixture
def two_groups() -> pd.DataFrame:
    """Group A over five months, group B over three, already a complete sorted panel."""
    raw = pd.DataFrame(
        {
            "g": ["A"] * 5 + ["B"] * 3,
            "month": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-02-01",
                    "2020-03-01",
                    "2020-04-01",
                    "2020-05-01",
                    "2020-01-01",
                    "2020-02-01",
                    "2020-03-01",
                ]
            ),
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0],
        }
    )
    return complete_panel(raw, ["g"])


def assert_same(actual: pd.Series, expected: list[float]) -> None:
    np.testing.assert_array_equal(actual.to_numpy(dtype=float), np.array(expected, dtype=float))


def test_month_number_round_trips_to_first_of_month() -> None:
    months = pd.to_datetime(["1970-01-15", "2024-12-01", "2025-01-31"])
    numbers = month_number(months)
    assert numbers.tolist() == [0, 659, 660]
    assert list(pd.DatetimeIndex(month_timestamp(numbers))) == list(
        pd.to_datetime(["1970-01-01", "2024-12-01", "2025-01-01"])
    )


def test_complete_panel_fills_missing_months_with_nan_and_extends(two_groups: pd.DataFrame) -> None:
    # B has no April and May: the panel gives both groups every month, plus one extra month on request.
    assert len(two_groups) == 10
    assert two_groups["x"].isna().sum() == 2
    extended = complete_panel(two_groups.drop(columns="month_n"), ["g"], extra_months=1)
    assert len(extended) == 12
    assert extended.groupby("g")["month"].max().eq(pd.Timestamp("2020-06-01")).all()


def test_lag_within_shifts_inside_each_group_only(two_groups: pd.DataFrame) -> None:
    assert_same(lag_within(two_groups, ["g"], "x", 1), [NAN, 1, 2, 3, 4, NAN, 10, 20, 30, NAN])
    assert_same(lag_within(two_groups, ["g"], "x", 2), [NAN, NAN, 1, 2, 3, NAN, NAN, 10, 20, 30])


def test_lag_within_refuses_lag_zero(two_groups: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least one"):
        lag_within(two_groups, ["g"], "x", 0)


def test_rolling_within_sums_previous_rows_only(two_groups: pd.DataFrame) -> None:
    assert_same(rolling_within(two_groups, ["g"], "x", 2, "sum"), [NAN, NAN, 3, 5, 7, NAN, NAN, 30, 50, NAN])


def test_rolling_within_mean_needs_a_full_window(two_groups: pd.DataFrame) -> None:
    assert_same(rolling_within(two_groups, ["g"], "x", 3, "mean"), [NAN, NAN, NAN, 2, 3, NAN, NAN, NAN, 20, NAN])


def test_rolling_within_never_reads_the_current_row(two_groups: pd.DataFrame) -> None:
    changed = two_groups.copy()
    changed.loc[3, "x"] = 1_000.0  # A, April
    before = rolling_within(two_groups, ["g"], "x", 2, "sum")
    after = rolling_within(changed, ["g"], "x", 2, "sum")
    assert after[3] == before[3]
    assert after[4] != before[4]  # ...but the next month sees it


def test_months_since_event_counts_from_the_last_earlier_event() -> None:
    raw = pd.DataFrame(
        {
            "g": ["A"] * 6 + ["B"] * 6,
            "month": list(pd.date_range("2020-01-01", periods=6, freq="MS")) * 2,
            "e": [0, 1, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0],
        }
    )
    panel = complete_panel(raw, ["g"])
    assert_same(months_since_event(panel, ["g"], "e"), [NAN, NAN, 1, 2, 3, 1, NAN, 1, 2, 3, 4, 5])


def test_expanding_mean_within_averages_earlier_rows(two_groups: pd.DataFrame) -> None:
    assert_same(expanding_mean_within(two_groups, ["g"], "x"), [NAN, 1, 1.5, 2, 2.5, NAN, 10, 15, 20, 20])


def test_past_features_names_each_spec() -> None:
    raw = pd.DataFrame(
        {
            "g": ["A"] * 4,
            "month": pd.date_range("2020-01-01", periods=4, freq="MS"),
            "x": [1.0, 0.0, 2.0, 0.0],
        }
    )
    panel = complete_panel(raw, ["g"])
    out = past_features(
        panel,
        ["g"],
        [Past("x", "lag", 1), Past("x", "sum", 2), Past("x", "since"), Past("x", "mean", 2, "x_recent")],
    )
    assert list(out.columns) == ["x_lag1", "x_sum2", "months_since_x", "x_recent"]
    assert_same(out["x_sum2"], [NAN, NAN, 1, 2])
    assert_same(out["months_since_x"], [NAN, 1, 2, 1])


def test_anomaly_vs_past_years_compares_same_calendar_month() -> None:
    raw = pd.DataFrame(
        {
            "g": ["A"] * 36,
            "month": pd.date_range("2020-01-01", periods=36, freq="MS"),
            "x": [10.0] * 12 + [20.0] * 12 + [45.0] * 12,
        }
    )
    panel = complete_panel(raw, ["g"])
    anomaly = anomaly_vs_past_years(panel, ["g"], "x")
    assert anomaly[:12].isna().all()
    assert_same(anomaly[12:13], [1.0])  # 20 against 10
    assert_same(anomaly[24:25], [2.0])  # 45 against mean(10, 20)


def test_last_season_total_carries_finished_season_and_counts_to_date() -> None:
    # A season of March-April; x is 1 in every month, so totals are month counts.
    raw = pd.DataFrame({"g": ["A"] * 18, "month": pd.date_range("2020-01-01", periods=18, freq="MS"), "x": [1.0] * 18})
    panel = complete_panel(raw, ["g"])
    finished = last_season_total(panel, ["g"], "x", (3, 4), to_date=False)
    to_date = last_season_total(panel, ["g"], "x", (3, 4), to_date=True)
    # Finished: the total appears on May's row (data up to April) and stays until the next one ends.
    assert_same(finished[:6], [NAN, NAN, NAN, NAN, 2, 2])
    assert_same(finished[14:17], [2, 2, 2])
    # To date: March's row still sees the last season; April's row sees March only.
    assert_same(to_date[2:6], [NAN, 1, 2, 2])
    assert_same(to_date[14:17], [2, 1, 2])


def test_calendar_features_flag_losar_spring_festival_and_the_month_before() -> None:
    # 2015: Losar and Spring Festival both on 19 February; 2014: Spring Festival 31 Jan, Losar 2 March.
    months = month_number(
        pd.to_datetime(
            ["2014-01-01", "2014-02-01", "2014-03-01", "2014-04-01", "2015-01-01", "2015-02-01", "2015-03-01"]
        )
    )
    cal = calendar_features(months)
    assert cal["month_of_year"].tolist() == [1, 2, 3, 4, 1, 2, 3]
    assert cal["losar_month"].tolist() == [0, 0, 1, 0, 0, 1, 0]
    assert cal["spring_festival_month"].tolist() == [1, 0, 0, 0, 0, 1, 0]
    assert cal["festival_window"].tolist() == [1, 1, 1, 0, 1, 1, 0]


def test_calendar_features_unknown_outside_the_festival_table() -> None:
    cal = calendar_features(month_number(pd.to_datetime(["2026-06-01", "2030-01-01"])), prefix="t_")
    assert cal["t_festival_window"].iloc[0] == 0
    assert np.isnan(cal["t_festival_window"].iloc[1])
