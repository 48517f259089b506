"""``muzhang data import DIR``: validates, imports into the settings' store, prints the summary; files not yet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.settings import STORE_ENV_VARS, get_settings
from muzhang.store import dispose_engine, open_store


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in STORE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MUZHANG_WORK_DIR", str(tmp_path / "work"))
    url = get_settings().county_store_url()
    yield url
    dispose_engine(url)


def test_store_url_defaults_to_work_dir_and_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "MUZHANG_STORE_URL" in STORE_ENV_VARS
    for name in STORE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    settings = get_settings(work_dir=tmp_path / "w")
    assert settings.county_store_url() == f"sqlite:///{(tmp_path / 'w' / 'county.db').resolve()}"
    monkeypatch.setenv("MUZHANG_STORE_URL", "postgresql+psycopg://u@127.0.0.1/county")
    assert get_settings().county_store_url() == "postgresql+psycopg://u@127.0.0.1/county"


def test_import_a_county_directory_twice(store_env: str, tiny_county: Path) -> None:
    first = CliRunner().invoke(app, ["data", "import", str(tiny_county), "--who", "clerk"])
    assert first.exit_code == 0, first.output
    assert "as clerk" in first.output and "grid_monthly" in first.output
    second = CliRunner().invoke(app, ["data", "import", str(tiny_county), "--who", "clerk"])
    assert second.exit_code == 0, second.output
    assert "0 changed values audited, 0 months closed" in second.output
    store = open_store(store_env)
    assert len(store.read_tables()["grid_monthly"]) == len(pd.read_parquet(tiny_county / "grid_monthly.parquet"))


def test_a_file_that_is_not_a_file_of_reports_is_refused_naming_its_columns(store_env: str, tiny_county: Path) -> None:
    """A file is read as grid reports (serving.reports); a table of the county directory is not one."""
    CliRunner().invoke(app, ["data", "import", str(tiny_county)])
    result = CliRunner().invoke(app, ["data", "import", str(tiny_county / "grids.csv")])
    assert result.exit_code == 2 and "unknown column(s)" in result.output and "'area_km2'" in result.output


def test_a_missing_path_exits_2(store_env: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "import", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such directory" in result.output


def test_an_invalid_directory_is_refused_before_the_store(store_env: str, tiny_county: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(tiny_county, bad)
    grids = pd.read_csv(bad / "grids.csv")
    grids.loc[0, "elevation_m"] = 99_999
    grids.to_csv(bad / "grids.csv", index=False)
    result = CliRunner().invoke(app, ["data", "import", str(bad)])
    assert result.exit_code == 2 and "elevation_m" in result.output and "not imported" in result.output
    assert not Path(store_env.removeprefix("sqlite:///")).exists()


def with_meetings(tiny_county: Path, folder: Path, extension: str) -> Path:
    """The tiny county with a grid-month column ``herder_meetings`` and a catalog extension (YAML text)."""
    shutil.copytree(tiny_county, folder)
    monthly = pd.read_parquet(folder / "grid_monthly.parquet")
    monthly["herder_meetings"] = 2
    monthly.loc[5, "herder_meetings"] = 75
    monthly.to_parquet(folder / "grid_monthly.parquet", index=False)
    (folder / "catalog.yaml").write_text(extension, encoding="utf-8")
    return folder


MEETINGS = "fields:\n  - {name: herder_meetings, type: integer, min: 0, max: 50, tables: [grid_monthly]}\n"


def test_an_added_value_breaking_its_rule_is_refused_by_validation_naming_row_and_rule(
    store_env: str, tiny_county: Path, tmp_path: Path
) -> None:
    folder = with_meetings(tiny_county, tmp_path / "own", MEETINGS)
    result = CliRunner().invoke(app, ["data", "import", str(folder)])
    assert result.exit_code == 2, result.output
    assert "row 5  field herder_meetings  value 75  rule: must be <= 50" in result.output
    assert not Path(store_env.removeprefix("sqlite:///")).exists()


def test_a_catalog_extension_that_does_not_fit_is_refused_naming_the_file(
    store_env: str, tiny_county: Path, tmp_path: Path
) -> None:
    folder = with_meetings(tiny_county, tmp_path / "own", MEETINGS.replace("max: 50", "max: -1"))
    result = CliRunner().invoke(app, ["data", "import", str(folder)])
    assert result.exit_code == 2 and "cannot import" in result.output and "catalog.yaml" in result.output
    assert "herder_meetings: min 0.0 is above max -1.0" in result.output
