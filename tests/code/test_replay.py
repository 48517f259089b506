"""The replay's scenario, table and drawing (issue 11, section 5); the replay itself runs in benchmarks/replay.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from cli.replay import draw_png, headline_table, replay_scenario
from muzhang.simulate.scenario import Scenario


def test_the_shocked_replay_has_a_drought_in_its_first_year_and_a_market_shock_from_its_seventh_month() -> None:
    shocked = replay_scenario(pd.Timestamp("2025-01-01"), shocked=True)
    assert shocked == Scenario(drought_year=2025, market_shock_from=pd.Timestamp("2025-07-01"))
    assert replay_scenario(pd.Timestamp("2025-01-01"), shocked=False) == Scenario()


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
