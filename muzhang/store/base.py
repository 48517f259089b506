"""What every part of the store shares: its engine and catalog, its transactions and the raw table read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import Catalog
from muzhang.store import frames as fr
from muzhang.store.cells import month_start, typed_frame
from muzhang.store.engine import WRITE_OPTION
from muzhang.store.schema import CATALOG, county_tables

REPORT_TABLE = "grid_monthly"
MONTHLY_TABLES = ("grid_monthly", "market_monthly")  # the tables a cut-off month applies to
Cutoff = str | date | pd.Timestamp | None


class StoreError(Exception):
    """A write the store refused as a whole (nothing was changed)."""


def load_order(catalog: Catalog) -> tuple[str, ...]:
    """Catalog tables with every table after the tables its foreign keys refer to (catalog order otherwise).

    The catalog lists ``grids`` before ``townships`` although grids refer to townships, so catalog order
    alone cannot be the insert order.
    """
    placed: list[str] = []
    pending = list(catalog.table_names)
    while pending:
        for name in pending:
            parents = set(catalog.table(name).foreign_keys.values()) - {name}
            if parents <= set(placed):
                placed.append(name)
                pending.remove(name)
                break
        else:
            raise ValueError(f"foreign keys of the catalog form a cycle among: {', '.join(pending)}")
    return tuple(placed)


def narrowed(query: sa.Select, table: sa.Table, *, month: Cutoff = None, **equal: Any) -> sa.Select:
    """``query`` narrowed to the rows of ``month`` (any day of it) and to the rows whose columns equal the values
    given; a None narrows nothing."""
    if month is not None:
        query = query.where(table.c.month == month_start(month))
    for column, value in equal.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    return query


class StoreBase:
    """The engine, the catalog and the transactions that the store's parts (see :class:`Store`) build on."""

    def __init__(self, engine: sa.Engine, catalog: Catalog = CATALOG) -> None:
        self.engine = engine
        self.catalog = catalog
        self.order = load_order(catalog)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- transactions ---------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); rolled back on any exception."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """One read transaction: every table read inside sees the same snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _read_canonical(self, conn: sa.Connection, name: str, cutoff: date | None = None) -> pd.DataFrame:
        """A catalog table (its months up to ``cutoff``), canonical. Rows come straight from the driver:
        SQLAlchemy's per-value result processing would double the time of a full read."""
        table = county_tables[name]
        specs = self.catalog.fields_of(name)
        query = sa.select(*(table.c[s.name] for s in specs))
        if cutoff is not None and name in MONTHLY_TABLES:
            query = query.where(table.c.month <= sa.literal(cutoff, sa.Date()))
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = conn.connection.cursor()  # the DBAPI cursor, on this transaction's connection
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        grid = np.array(rows, dtype=object) if rows else np.empty((0, len(specs)), dtype=object)
        return pd.DataFrame({s.name: fr.canonical_from_stored(grid[:, i], s) for i, s in enumerate(specs)})

    def _frame(
        self, query: sa.Select, table: sa.Table, *, dates: Sequence[str] = (), stamps: Sequence[str] = ()
    ) -> pd.DataFrame:
        """The rows of ``query`` (every column of ``table``) as a frame, with its dates and timestamps typed."""
        with self._read() as conn:
            rows = conn.execute(query).all()
        return typed_frame(pd.DataFrame(rows, columns=list(table.c.keys())), dates=dates, stamps=stamps)
