"""Drift against the training reference: a synthetic shift is detected, no shift is not (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.reference import bin_edges, bin_shares, profile_rows
from serving.monitoring.drift import DriftThresholds, drift_table, psi

RNG = np.random.default_rng(11)


def training_rows(n: int = 6000) -> pd.DataFrame:
    months = pd.to_datetime(RNG.choice(pd.date_range("2015-01-01", "2019-12-01", freq="MS"), n))
    winter = months.month.isin([11, 12, 1, 2, 3])
    return pd.DataFrame(
        {
            "as_of_month": months,
            "rain": RNG.gamma(2.0, 20.0, n),
            "snow": np.where(winter, RNG.poisson(8, n), RNG.poisson(1, n)).astype(float),  # seasonal by nature
            "township": RNG.choice(["T01", "T02", "T03"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> dict:
    rows = training_rows()
    return profile_rows(
        rows,
        ["rain", "snow", "township"],
        {"township": []},
        {"p": rows["rain"].to_numpy() / 100},
        period_col="as_of_month",
    )


def current(n: int = 457, *, rain_shift: float = 0.0, towns: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "as_of_month": pd.Timestamp("2020-01-01"),
            "rain": RNG.gamma(2.0, 20.0, n) + rain_shift,
            "snow": RNG.poisson(8, n).astype(float),  # a January like the Januaries of training
            "township": RNG.choice(["T01", "T02", "T03"], n, p=towns or [0.5, 0.3, 0.2]),
        }
    )


def test_psi_is_zero_for_equal_shares_and_grows_with_the_gap() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert 0 < psi([0.5, 0.5], [0.6, 0.4]) < psi([0.5, 0.5], [0.9, 0.1])
    assert np.isfinite(psi([0.0, 1.0], [1.0, 0.0]))  # an empty bin is floored, never infinite


def test_bins_hold_every_value_and_count_missing_apart() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    shares = bin_shares(values, bin_edges(values[:4], bins=4))
    assert sum(shares) == pytest.approx(1.0) and shares[-1] == pytest.approx(0.2)


def test_no_shift_raises_no_alarm(reference: dict) -> None:
    frame = current()
    table = drift_table(reference, frame, {"p": frame["rain"].to_numpy() / 100}, DriftThresholds())
    assert (table["status"] != "drifted").all(), table
    assert set(table["period"]) == {"1"}  # compared with the Januaries, so winter snow is no drift
    assert set(table["what"]) == {"rain", "snow", "township", "p"}


def test_a_shift_in_a_numeric_feature_and_its_predictions_is_detected(reference: dict) -> None:
    frame = current(rain_shift=60.0)
    table = drift_table(reference, frame, {"p": frame["rain"].to_numpy() / 100}).set_index("what")
    assert table.at["rain", "status"] == "drifted" and table.at["rain", "psi"] > 0.25 and table.at["rain", "ks"] > 0.3
    assert table.at["rain", "wasserstein"] > 1.0  # more than an interquartile range away
    assert table.at["p", "status"] == "drifted" and table.at["p", "target"] == "prediction"
    assert table.at["snow", "status"] != "drifted"


def test_a_shift_in_category_shares_is_detected(reference: dict) -> None:
    table = drift_table(reference, current(towns=[0.1, 0.2, 0.7])).set_index("what")
    assert table.at["township", "status"] == "drifted"
    assert table.at["rain", "status"] != "drifted"


def test_a_month_never_seen_falls_back_to_every_row(reference: dict) -> None:
    ref = {**reference, "features": {k: v for k, v in reference["features"].items()}}
    for profile in ref["features"].values():
        profile["by_period"] = {k: v for k, v in profile["by_period"].items() if k != "1"}
    assert set(drift_table(ref, current())["period"]) == {"all"}


def test_a_month_as_unusual_as_training_months_were_is_no_drift() -> None:
    """One county month is one draw of the weather: the bar is what single training months already reached."""
    months = pd.date_range("2010-01-01", "2019-12-01", freq="MS")
    offsets = dict(zip(months, RNG.normal(0, 15, len(months)), strict=True))  # a county-wide draw per month
    rows = pd.DataFrame({"as_of_month": np.repeat(months, 100)})
    rows["rain"] = RNG.gamma(2.0, 20.0, len(rows)) + rows["as_of_month"].map(offsets).to_numpy()
    reference = profile_rows(rows, ["rain"], {}, period_col="as_of_month")
    january = pd.DataFrame({"as_of_month": pd.Timestamp("2020-01-01"), "rain": RNG.gamma(2.0, 20.0, 457) + 15})
    row = drift_table(reference, january).iloc[0]
    assert row["psi"] > 0.25 and row["psi_bar"] > row["psi"]  # past the textbook threshold, not past the bar
    assert row["status"] != "drifted"
    far = january.assign(rain=january["rain"] + 80)
    assert drift_table(reference, far).iloc[0]["status"] == "drifted"


def test_the_training_reference_ks_distance_is_scipys() -> None:
    from scipy import stats

    from models.reference import ks_statistic

    rng = np.random.default_rng(3)
    for n, m, digits in ((1, 1, 1), (7, 21, 0), (300, 21, 2), (50, 5, 1)):
        sample, reference = np.round(rng.normal(size=n), digits), np.round(rng.normal(0.4, 1, size=m), 1)
        assert ks_statistic(sample, reference) == pytest.approx(stats.ks_2samp(sample, reference).statistic, abs=1e-12)
