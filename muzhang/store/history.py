"""What was reported and changed: the reports of open months, the submissions, who reports a grid, the audit."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from muzhang.store import frames as fr
from muzhang.store.base import REPORT_TABLE, StoreBase, narrowed
from muzhang.store.cells import month_start
from muzhang.store.schema import county_tables, submissions, value_audit


class ReportHistory(StoreBase):
    """Reads of the reports, the submissions and the value audit."""

    def reports_after(self, month: str | date | pd.Timestamp | None) -> pd.DataFrame:
        """The grid_monthly rows of the months after ``month`` (every row for None), canonical: the open months'
        reports that a county read at its last closed month does not hold."""
        table = county_tables[REPORT_TABLE]
        specs = self.catalog.fields_of(REPORT_TABLE)
        query = sa.select(*(table.c[s.name] for s in specs))
        if month is not None:
            query = query.where(table.c.month > month_start(month))
        with self._read() as conn:
            rows = conn.execute(query).all()
        grid = np.array(rows, dtype=object) if rows else np.empty((0, len(specs)), dtype=object)
        return pd.DataFrame({s.name: fr.canonical_from_stored(grid[:, i], s) for i, s in enumerate(specs)})

    def submissions(self, month: str | date | pd.Timestamp | None = None, *, source: str | None = None) -> pd.DataFrame:
        """Submissions (of one month, or all; of one source, or every), oldest first; payload and problems are
        JSON text."""
        query = sa.select(submissions).order_by(submissions.c.received_at, submissions.c.submission_id)
        query = narrowed(query, submissions, month=month, source=source)
        return self._frame(query, submissions, dates=("month",), stamps=("received_at",))

    def report_senders(self, until: str | date | pd.Timestamp | None = None) -> pd.DataFrame:
        """grid_id, submitted_by of each grid's latest accepted report (up to ``until``'s month): who reports
        the grid. Carried months are no one's report and are left out."""
        query = (
            sa.select(submissions.c.grid_id, submissions.c.submitted_by)
            .where(submissions.c.status.in_(("accepted", "partial")), submissions.c.source != "carry")
            .order_by(submissions.c.received_at, submissions.c.submission_id)
        )
        if until is not None:
            query = query.where(submissions.c.month <= month_start(until))
        with self._read() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["grid_id", "submitted_by"])
        return frame.drop_duplicates("grid_id", keep="last").reset_index(drop=True)

    def value_history(self, grid_id: str, month: str | date | pd.Timestamp) -> pd.DataFrame:
        """Every audited change of one grid-month's values, oldest first."""
        key = fr.key_text(["grid_id", "month"], [grid_id, month_start(month)])
        query = (
            sa.select(value_audit)
            .where(value_audit.c.table_name == REPORT_TABLE, value_audit.c.key == key)
            .order_by(value_audit.c.id)
        )
        return self._frame(query, value_audit, stamps=("changed_at",))

    def audit(self, table: str | None = None) -> pd.DataFrame:
        """The value audit (of one table, or all), oldest first."""
        query = narrowed(sa.select(value_audit).order_by(value_audit.c.id), value_audit, table_name=table)
        return self._frame(query, value_audit, stamps=("changed_at",))
