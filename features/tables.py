"""The raw tables of one county directory, read once and kept in memory.

Builders are pure functions of a :class:`CountyTables`; serving keeps one in memory and rebuilds request
features with the same code, so nothing below ``load_county`` touches the disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pandas as pd

from muzhang.catalog import load_catalog


@dataclass(frozen=True)
class CountyTables:
    """Every table a feature builder may read (never the oracle)."""

    grids: pd.DataFrame
    townships: pd.DataFrame
    grid_neighbours: pd.DataFrame
    grid_monthly: pd.DataFrame
    market_monthly: pd.DataFrame
    patients: pd.DataFrame
    patient_outcomes: pd.DataFrame

    @classmethod
    def from_mapping(cls, tables: Mapping[str, pd.DataFrame]) -> CountyTables:
        """Pick the known tables from a mapping (e.g. ``generate_county(...).tables``), ignoring others.

        Raises:
            KeyError: naming the tables the mapping lacks.
        """
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in tables]
        if missing:
            raise KeyError(f"county tables missing: {', '.join(missing)}")
        return cls(**{n: tables[n] for n in names})

    def for_grids(self, grid_ids: Iterable[str]) -> CountyTables:
        """The county seen from a few grids: builders then make rows for those grids only.

        Monthly records stay whole, because some features read beyond a grid's own rows (neighbours'
        disputes, the county's drought years, township weather): the grid families (grazing, dispute)
        give the same features for these grids as a whole-county build, at a fraction of the cost.
        Market features average every grid of a township: build them from the whole county.
        """
        wanted = set(grid_ids)
        nb = self.grid_neighbours
        return replace(
            self,
            grids=self.grids[self.grids["grid_id"].isin(wanted)].reset_index(drop=True),
            grid_neighbours=nb[nb["grid_id"].isin(wanted)].reset_index(drop=True),
        )


def load_county(data_dir: Path | str) -> CountyTables:
    """Read the tables of a county data directory (file names as the data catalog declares them).

    Raises:
        FileNotFoundError: naming the first table file that is missing.
    """
    root = Path(data_dir)
    frames: dict[str, pd.DataFrame] = {}
    for name, file_name in load_catalog().table_files().items():
        path = root / file_name
        if not path.is_file():
            raise FileNotFoundError(f"county table {name!r} not found: {file_name} in {root}")
        frames[name] = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    return CountyTables.from_mapping(frames)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Fail early, naming the table and the columns a builder needs but the table lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {table!r} lacks column(s): {', '.join(missing)}")
