"""docs/bring-your-own-data.md, "A sales series alone": the market family trains from the sales table only.

The example is the sample county's market table cut to two townships (eight series, ten years), written to a
temporary directory as a data scientist would bring it: head sold and price per township, species and month,
the herd and revenue columns left empty (declared nullable in the directory's catalog.yaml), and no other
county table (no grids, no monthly reports, no townships). In its barest form the herd and revenue columns
are left out altogether (no catalog.yaml): they are optional columns of the catalog, so the directory
validates with a warning for each, reads them as missing, and training drops the inputs built from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.paths import DATA_SAMPLES
from muzhang.settings import Settings, get_settings

EXTENSION = """fields:
  - name: herd_head       # not counted in these townships: left empty
    nullable: true
  - name: revenue_yuan
    nullable: true
"""
# The hybrid's inputs a sales series cannot give: the herd (empty column) and the weather (no grids' reports).
ABSENT = (
    "herd_head_at_origin",
    "herd_head_change12",
    "summer_precip_anomaly",
    "summer_rain_to_date_anomaly",
    "winter_snow_days",
    "herd_vs_classical_head_sold",
)

HERD_INPUTS = ("herd_head_at_origin", "herd_head_change12", "herd_vs_classical_head_sold")


def write_sales_series(directory: Path) -> Path:
    """Two townships' sales (head sold, price) from the sample county, as a CSV with months as YYYY-MM."""
    directory.mkdir()
    sales = pd.read_parquet(DATA_SAMPLES / "county" / "market_monthly.parquet")
    sales = sales[sales["township_id"].isin(["T01", "T02"])].copy()
    sales["month"] = sales["month"].dt.strftime("%Y-%m")
    sales["herd_head"] = np.nan
    sales["revenue_yuan"] = np.nan
    sales.to_csv(directory / "market_monthly.csv", index=False)
    (directory / "catalog.yaml").write_text(EXTENSION)
    return directory


def write_bare_sales(directory: Path) -> Path:
    """Two townships' head sold and price, months as YYYY-MM: what a market office would export."""
    directory.mkdir()
    sales = pd.read_parquet(DATA_SAMPLES / "county" / "market_monthly.parquet")
    sales = sales[sales["township_id"].isin(["T01", "T02"])]
    sales = sales[["township_id", "species", "month", "head_sold", "price_yuan_per_head"]].copy()
    sales["month"] = sales["month"].dt.strftime("%Y-%m")
    sales.to_csv(directory / "market_monthly.csv", index=False)
    return directory


@pytest.fixture
def work(make_settings: Callable[..., Settings], tracking_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = make_settings("work")
    monkeypatch.setenv("MUZHANG_WORK_DIR", str(settings.work_dir))
    assert get_settings().tracking_uri() == settings.tracking_uri()
    return tracking_client(settings)


def test_train_market_from_a_sales_series_alone(work: Any, tmp_path: Path) -> None:
    data = write_sales_series(tmp_path / "sales")

    result = CliRunner().invoke(app, ["train", "market", "--data", str(data)])

    assert result.exit_code == 0, result.output
    assert "(family market needs market_monthly)" in result.output
    assert all(f"[market] dropped feature {f}: all missing in the training rows" in result.output for f in ABSENT)
    assert "market: run " in result.output and "-> version 1 (PROMOTED to champion" in result.output
    run = work.get_run(work.get_model_version("muzhang-market", "1").run_id)
    dropped = {f.strip() for f in run.data.tags["dropped_features"].split(",")}
    assert dropped >= set(ABSENT), dropped
    metrics = run.data.metrics
    # Held-out year, eight series: the hybrid (the classical forecast plus a calendar correction) beats the
    # per-series seasonal naive on both headline metrics.
    assert 0 < metrics["test_mase"] < metrics["baseline_seasonal_naive_mase"], metrics
    assert 0 < metrics["test_spl"] < metrics["baseline_seasonal_naive_spl"], metrics


def test_the_sales_table_is_named_when_missing(work: Any, tmp_path: Path) -> None:
    data = tmp_path / "no_sales"
    data.mkdir()
    (data / "townships.csv").write_bytes((DATA_SAMPLES / "county" / "townships.csv").read_bytes())

    result = CliRunner().invoke(app, ["train", "market", "--data", str(data)])

    assert result.exit_code == 2, result.output
    assert "nothing was trained" in result.output
    assert (
        "family market needs this table: file missing (market_monthly.parquet or market_monthly.csv)" in result.output
    )


def test_train_market_from_head_sold_and_price_alone(work: Any, tmp_path: Path) -> None:
    data = write_bare_sales(tmp_path / "sales")

    result = CliRunner().invoke(app, ["train", "market", "--data", str(data)])

    assert result.exit_code == 0, result.output
    assert "2 data warning(s), rows kept" in result.output
    for column in ("herd_head", "revenue_yuan"):
        assert f"field {column}  warning: optional column is missing: read as empty" in result.output
    assert all(f"[market] dropped feature {f}: all missing in the training rows" in result.output for f in HERD_INPUTS)
    assert "-> version 1 (PROMOTED to champion" in result.output
    run = work.get_run(work.get_model_version("muzhang-market", "1").run_id)
    assert set(HERD_INPUTS) <= {f.strip() for f in run.data.tags["dropped_features"].split(",")}
    assert run.data.tags["data_warnings"] == "2"
