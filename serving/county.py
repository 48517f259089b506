"""The county's data, read once at start-up and kept in memory, with the forecast rows of every family.

The same feature code as training builds the rows (``build_features(..., forecast=True)``), so a
served prediction sees exactly what a trained model saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features import FeatureSet, build_features, load_county
from features.tables import CountyTables
from muzhang.catalog import load_catalog
from muzhang.families import family_specs


@dataclass(frozen=True)
class CountyState:
    """Tables, grid and township lookups, and the next-period rows of every family that serves forecasts."""

    data_dir: Path
    tables: CountyTables
    grids: pd.DataFrame  # indexed by grid_id
    townships: pd.DataFrame  # indexed by township_id
    forecasts: dict[str, FeatureSet]
    geojson: dict[str, Any] | None
    grid_ids: frozenset[str]

    @property
    def last_month(self) -> pd.Timestamp:
        return pd.Timestamp(self.tables.grid_monthly["month"].max())

    def market_history(self, township_id: str, species: str, months: int = 36) -> pd.DataFrame:
        m = self.tables.market_monthly
        rows = m[(m["township_id"] == township_id) & (m["species"] == species)].sort_values("month")
        return rows.tail(months)


def load_county_state(data_dir: Path) -> CountyState:
    """Read a county directory and build the forecast rows (about a second for the sample)."""
    tables = load_county(data_dir)
    forecasts = {s.name: build_features(s.name, tables, forecast=True) for s in family_specs() if s.serves_forecasts}
    geojson_path = Path(data_dir) / load_catalog().layout.geojson
    geojson = json.loads(geojson_path.read_text(encoding="utf-8")) if geojson_path.exists() else None
    return CountyState(
        data_dir=Path(data_dir),
        tables=tables,
        grids=tables.grids.set_index("grid_id", drop=False),
        townships=tables.townships.set_index("township_id", drop=False),
        forecasts=forecasts,
        geojson=geojson,
        grid_ids=frozenset(tables.grids["grid_id"].astype(str)),
    )
