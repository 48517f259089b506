"""A fresh SQLite store per test, and the tiny county's tables as ``load_county`` reads them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from features.tables import load_county
from muzhang.store import Store, dispose_engine, open_store


def county_frames(folder: Path) -> dict[str, pd.DataFrame]:
    county = load_county(folder)
    return {f.name: getattr(county, f.name) for f in fields(county)}


@pytest.fixture(scope="session")
def tiny_tables(tiny_county: Path) -> dict[str, pd.DataFrame]:
    return county_frames(tiny_county)


@pytest.fixture
def tables(tiny_tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies a test may change."""
    return {name: frame.copy() for name, frame in tiny_tables.items()}


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture
def store(store_url: str) -> Store:
    return open_store(store_url)


@pytest.fixture(scope="session")
def filled_file(tmp_path_factory: pytest.TempPathFactory, tiny_tables: dict[str, pd.DataFrame]) -> Path:
    """A SQLite store holding the tiny county, imported once per session (tests get a copy)."""
    path = tmp_path_factory.mktemp("filled") / "county.db"
    url = f"sqlite:///{path}"
    open_store(url).import_tables(tiny_tables, who="loader", source="tiny")
    dispose_engine(url)  # the last connection to close folds the WAL into the file
    return path


@pytest.fixture
def filled(filled_file: Path, tmp_path: Path) -> Iterator[Store]:
    """A store holding the tiny county (imported by ``loader`` from source ``tiny``), the test's own copy."""
    path = tmp_path / "filled.db"
    shutil.copyfile(filled_file, path)
    url = f"sqlite:///{path}"
    yield open_store(url)
    dispose_engine(url)
