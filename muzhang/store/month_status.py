"""Which months are open or closed: a closed month's values feed decisions; every change is audited."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from muzhang.store import frames as fr
from muzhang.store.base import REPORT_TABLE, StoreBase
from muzhang.store.cells import month_start, now_utc
from muzhang.store.schema import county_tables, months, value_audit


class MonthStatus(StoreBase):
    """Months, their status, closing and reopening."""

    def months(self) -> pd.DataFrame:
        """Every month the store knows: month, status (open/closed), closed_at, closed_by, reason."""
        return self._frame(sa.select(months).order_by(months.c.month), months, dates=("month",), stamps=("closed_at",))

    def last_month(self) -> pd.Timestamp | None:
        """The latest month with grid_monthly rows (None for an empty store)."""
        table = county_tables[REPORT_TABLE]
        with self._read() as conn:
            value = conn.execute(sa.select(sa.func.max(table.c.month))).scalar()
        return None if value is None else pd.Timestamp(value)

    def last_closed_month(self) -> pd.Timestamp | None:
        """The latest closed month (None if no month is closed)."""
        with self._read() as conn:
            value = conn.execute(sa.select(sa.func.max(months.c.month)).where(months.c.status == "closed")).scalar()
        return None if value is None else pd.Timestamp(value)

    def _set_month(self, month: str | date | pd.Timestamp, status: str, *, who: str, reason: str) -> bool:
        day = month_start(month)
        now = now_utc()
        with self._write() as conn:
            before = conn.execute(sa.select(months.c.status).where(months.c.month == day)).scalar()
            if before == status:
                return False
            values = {
                "status": status,
                "closed_at": now if status == "closed" else None,
                "closed_by": who if status == "closed" else None,
                "reason": reason,
            }
            if before is None:
                conn.execute(sa.insert(months).values(month=day, **values))
            else:
                conn.execute(sa.update(months).where(months.c.month == day).values(**values))
            conn.execute(
                sa.insert(value_audit).values(
                    table_name="months",
                    key=fr.key_text(["month"], [day]),
                    field="status",
                    old_value=before,
                    new_value=status,
                    changed_by=who,
                    changed_at=now,
                    reason=reason,
                )
            )
        return True

    def close_month(self, month: str | date | pd.Timestamp, *, who: str, reason: str) -> bool:
        """Close a month (its values then feed decisions); False if it was closed already. Audited."""
        return self._set_month(month, "closed", who=who, reason=reason)

    def reopen_month(self, month: str | date | pd.Timestamp, *, who: str, reason: str) -> bool:
        """Open a month again; False if it was open already. Audited."""
        return self._set_month(month, "open", who=who, reason=reason)
