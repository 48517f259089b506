"""The county store (基层数据库): the database of record behind training and serving.

``open_store(url)`` gives a :class:`Store` over SQLite or PostgreSQL, migrated to head (Alembic, run from
code). It keeps the catalog tables (one SQL table per catalog table), the herder chiefs' submissions, an
audit row for every changed value, data-quality flags and which months are closed; ``read_tables(cutoff)``
gives the same frames as ``features.tables.load_county`` would for the same data. Fields a directory's
catalog extension adds to its tables are kept beside them (``muzhang.store.added``) and read back as columns.

Ground floor: imports nothing but ``muzhang`` core modules (tests/code/test_import_rules.py).
"""

from __future__ import annotations

from muzhang.store.added import AddedFieldConflict
from muzhang.store.base import StoreError, load_order
from muzhang.store.cells import month_start
from muzhang.store.engine import dispose_engine, migrate
from muzhang.store.store import Store, open_store
from muzhang.store.table_import import ImportSummary, TableCounts

__all__ = [
    "AddedFieldConflict",
    "ImportSummary",
    "Store",
    "StoreError",
    "TableCounts",
    "dispose_engine",
    "load_order",
    "migrate",
    "month_start",
    "open_store",
]
