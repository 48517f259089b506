"""The county's database of record: catalog tables, reports, the value audit, flags and months.

Every write is one transaction: an import, one report row, a flag batch, a month closing. Nothing is ever
deleted: a report that changes a grid-month supersedes the old values and each changed value leaves an
audit row (old, new, who, when, which submission).
"""

from __future__ import annotations

from muzhang.store.engine import migrated_engine
from muzhang.store.flags import QualityFlags
from muzhang.store.history import ReportHistory
from muzhang.store.month_status import MonthStatus
from muzhang.store.reports import ReportIntake
from muzhang.store.table_import import TableImports
from muzhang.store.table_read import TableReads


class Store(TableImports, TableReads, MonthStatus, ReportIntake, ReportHistory, QualityFlags):
    """One county store (use :func:`open_store`). Stateless apart from its engine: share it freely.

    Its parts, one module each: catalog-table imports, table reads, month status, report intake, report
    history and audit, data-quality flags.
    """


def open_store(url: str) -> Store:
    """The store at ``url`` (``sqlite:///ABS/PATH/county.db``, ``postgresql+psycopg://...``), migrated to head.

    One engine per URL per process; migrations run once per URL per process.
    """
    return Store(migrated_engine(url))
