"""The replay's shocks, table and drawing (issue 11, section 5); the replay itself runs in benchmarks/replay.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from cli.replay import Shocks, draw_png, headline_table, shock_reports

SHOCKS = Shocks(drought_year=2025, market_from=pd.Timestamp("2025-07-01"))


def month_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reports = pd.DataFrame({"grid_id": ["G001"], "forage_yield_kg_ha": [800.0], "precip_mm": [50.0], "ndvi": [0.6]})
    market = pd.DataFrame({"price_yuan_per_head": [4000.0], "head_sold": pd.array([100], dtype="Int64")})
    return reports, market


def test_a_drought_summer_cuts_the_reported_yield_rain_and_ndvi_of_its_warm_months_only() -> None:
    for month, expected in (("2025-07-01", 360.0), ("2025-05-01", 800.0), ("2026-07-01", 800.0)):
        reports, market = month_frames()
        shock_reports(reports, market, pd.Timestamp(month), SHOCKS)
        assert reports.at[0, "forage_yield_kg_ha"] == expected, month


def test_a_market_shock_lowers_prices_and_raises_sales_from_its_month_on() -> None:
    reports, market = month_frames()
    shock_reports(reports, market, pd.Timestamp("2025-06-01"), SHOCKS)
    assert market.at[0, "price_yuan_per_head"] == 4000.0
    shock_reports(reports, market, pd.Timestamp("2025-08-01"), SHOCKS)
    assert market.at[0, "price_yuan_per_head"] == 2600.0 and market.at[0, "head_sold"] == 140
    calm_reports, calm_market = month_frames()
    shock_reports(calm_reports, calm_market, pd.Timestamp("2025-08-01"), Shocks(None, None))
    assert calm_market.at[0, "price_yuan_per_head"] == 4000.0 and calm_reports.at[0, "ndvi"] == 0.6


def live_rows() -> pd.DataFrame:
    rows = []
    for k, (value, worse) in enumerate(((0.06, False), (0.09, True))):
        rows.append(
            {
                "family": "dispute",
                "model_version": "1",
                "target_period": f"2025-0{k + 1}-01",
                "metric": "brier",
                "value": value,
                "low": value - 0.01,
                "high": value + 0.01,
                "n": 40,
                "test": 0.062,
                "worse": worse,
            }
        )
    rows.append(
        {
            "family": "dispute",
            "model_version": "1",
            "target_period": "2025-01-01",
            "metric": "auroc",
            "value": 0.8,
            "low": 0.7,
            "high": 0.9,
            "n": 40,
            "test": 0.82,
            "worse": False,
        }
    )
    return pd.DataFrame(rows)


def test_the_table_shows_the_headline_metric_by_month_and_marks_worse_than_test(tmp_path: Path) -> None:
    table = headline_table(live_rows())
    assert table.loc["dispute"].tolist() == ["0.06", "0.09*"]
    assert draw_png(live_rows(), tmp_path / "replay.png", "test").read_bytes()[:4] == b"\x89PNG"


def test_replay_refuses_an_unknown_policy_before_any_work() -> None:
    result = CliRunner().invoke(app, ["replay", "--policy", "sometimes"])
    assert result.exit_code == 2 and "policy must be one of none, monthly, triggered" in result.output
