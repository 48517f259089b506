"""docs/bring-your-own-data.md, "A sales series alone", in its barest form: the sales table with head sold and
price only (no herd or revenue column at all, no catalog.yaml, no other table). The herd and revenue are
optional columns of the catalog, so the directory validates with a warning for each, reads them as missing,
and training drops the inputs built from them with its usual note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.paths import DATA_SAMPLES
from muzhang.settings import Settings, get_settings

HERD_INPUTS = ("herd_head_at_origin", "herd_head_change12", "herd_vs_classical_head_sold")


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
