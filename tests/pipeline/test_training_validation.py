"""Training refuses a county that fails validation, names the bad field, and logs nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.settings import STORE_ENV_VARS
from training.pipeline import DataValidationError, run_training

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county_with_negative_yak(tiny_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny county with one impossible value: -5 yak held by a grid at the end of a month."""
    folder = tmp_path_factory.mktemp("bad") / "county"
    shutil.copytree(tiny_county, folder)
    monthly = pd.read_parquet(folder / "grid_monthly.parquet")
    monthly.loc[3, "yak"] = -5
    monthly.to_parquet(folder / "grid_monthly.parquet", index=False)
    return folder


def test_run_training_on_negative_yak_raises_data_validation_error_before_any_run(
    county_with_negative_yak: Path, make_settings: Any
) -> None:
    settings = make_settings()
    logged: list[str] = []

    with pytest.raises(DataValidationError, match=r"field yak\s+value -5"):
        run_training("dispute", settings, data_dir=county_with_negative_yak, log=logged.append)

    assert not settings.work_dir.exists(), "an MLflow store was created for data that failed validation"
    assert not any("training" in line for line in logged)


def test_cli_train_on_negative_yak_exits_2_and_names_the_field(
    county_with_negative_yak: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in STORE_ENV_VARS:  # any of these would point the CLI at another store
        monkeypatch.delenv(name, raising=False)
    work_dir = tmp_path / "cli-work"
    args = ["train", "dispute", "--data", str(county_with_negative_yak)]

    result = CliRunner().invoke(app, args, env={"MUZHANG_WORK_DIR": str(work_dir)})

    assert result.exit_code == 2, result.output
    assert "yak" in result.output and "-5" in result.output
    assert not work_dir.exists()
