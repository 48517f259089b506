"""The raw tables of one county directory, read once and kept in memory.

Builders are pure functions of a :class:`CountyTables`; serving keeps one in memory and rebuilds request
features with the same code, so nothing below ``load_county`` touches the disk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, load_catalog


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


def load_county(
    data_dir: Path | str, *, tables: Collection[str] | None = None, catalog: Catalog | None = None
) -> CountyTables:
    """Read the tables of a county data directory (file names as the data catalog declares them, or
    ``<table>.csv`` / ``<table>.parquet``).

    Args:
        data_dir: the directory.
        tables: the tables that must be there (default: every table). Others are read when present and
            are empty frames with the catalog's columns otherwise, so a family trains from just the tables it
            needs (:meth:`muzhang.catalog.Catalog.tables_for`).
        catalog: the catalog (default: the shipped one); an extended catalog adds its columns' types.

    Raises:
        FileNotFoundError: naming the first required table whose file is missing.
    """
    root = Path(data_dir)
    catalog = catalog or load_catalog()
    required = set(catalog.table_names if tables is None else tables)
    frames: dict[str, pd.DataFrame] = {}
    for name in catalog.table_names:
        spec = catalog.table(name)
        path = spec.find_file(root)
        if path is None:
            if name in required:
                raise FileNotFoundError(f"county table {name!r} not found: {spec.file} in {root}")
            frames[name] = empty_table(name, catalog)
        elif path.suffix == ".csv":
            frames[name] = with_omitted_columns(typed_columns(pd.read_csv(path), name, catalog), name, catalog)
        else:
            frames[name] = with_omitted_columns(pd.read_parquet(path), name, catalog)
    return CountyTables.from_mapping(frames)


def with_omitted_columns(frame: pd.DataFrame, table: str, catalog: Catalog) -> pd.DataFrame:
    """The table with each nullable or optional column its file left out, as all missing (a family's own
    directory may omit them, e.g. the herd beside a sales series: validation warned)."""
    omitted = [f for f in catalog.fields_of(table) if (f.nullable or f.optional) and f.name not in frame.columns]
    if not omitted:
        return frame
    dtypes = {"float": "float64", "integer": "float64", "boolean": "float64", "date": "datetime64[ns]"}
    return frame.assign(**{f.name: pd.Series(index=frame.index, dtype=dtypes.get(f.type, "object")) for f in omitted})


def empty_table(table: str, catalog: Catalog) -> pd.DataFrame:
    """A table with the catalog's columns and no rows (a table a family does not need and was not given)."""
    dtypes = {"integer": "int64", "float": "float64", "boolean": "bool", "date": "datetime64[ns]"}
    return pd.DataFrame({f.name: pd.Series(dtype=dtypes.get(f.type, "object")) for f in catalog.fields_of(table)})


def typed_columns(frame: pd.DataFrame, table: str, catalog: Catalog) -> pd.DataFrame:
    """A csv table with its catalog's dates as timestamps and booleans as true/false (1.0/0.0 with NaN
    where a nullable one is empty); other columns as the csv reader typed them. Values were validated."""
    out = frame.copy()
    for spec in catalog.fields_of(table):
        if spec.name not in out.columns:
            continue
        column = out[spec.name]
        if spec.type == "date" and not pd.api.types.is_datetime64_any_dtype(column):
            out[spec.name] = pd.to_datetime(column.astype("string").str.strip(), format="ISO8601")
        elif spec.type == "boolean" and not pd.api.types.is_bool_dtype(column):
            words = column.astype("string").str.strip().str.lower()
            flags = words.map({"true": 1.0, "1": 1.0, "1.0": 1.0, "false": 0.0, "0": 0.0, "0.0": 0.0})
            values = pd.to_numeric(flags, errors="coerce").astype("float64")
            out[spec.name] = values.astype(bool) if not np.isnan(values).any() else values
    return out


def latest_date(tables: CountyTables, names: Iterable[str], catalog: Catalog | None = None) -> pd.Timestamp | None:
    """The latest date in the date columns of the named tables (a run's data cut-off), ``None`` if none."""
    catalog = catalog or load_catalog()
    found = [
        pd.to_datetime(getattr(tables, name)[f.name], errors="coerce").max()
        for name in names
        for f in catalog.fields_of(name)
        if f.type == "date" and f.name in getattr(tables, name).columns
    ]
    found = [d for d in found if pd.notna(d)]
    return max(found) if found else None


def require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Fail early, naming the table and the columns a builder needs but the table lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {table!r} lacks column(s): {', '.join(missing)}")
