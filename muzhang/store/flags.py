"""Data-quality flags: raised on a grid-month's value, resolved as confirmed or corrected."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from muzhang.store import frames as fr
from muzhang.store.base import StoreBase, narrowed
from muzhang.store.cells import aware_datetime, given_or_none, month_start, now_utc, plain_value
from muzhang.store.schema import FLAG_STATUSES, flags


class QualityFlags(StoreBase):
    """Flags: add, list, resolve."""

    def add_flags(self, new: pd.DataFrame) -> list[int]:
        """Raise flags (one transaction); returns their ids in row order.

        Columns: grid_id, month, rule (required); field, value, detail, submission_id, status (``open``
        by default), raised_at (tz-aware, default now) optional.
        """
        missing = [c for c in ("grid_id", "month", "rule") if c not in new.columns]
        if missing:
            raise ValueError(f"flags lack required column(s): {', '.join(missing)}")
        if new.empty:
            return []
        now = now_utc()
        entries = []
        for row, record in enumerate(new.reset_index(drop=True).to_dict("records")):
            get = {str(k): given_or_none(v) for k, v in record.items()}.get
            grid_id, month, rule = get("grid_id"), get("month"), get("rule")
            if grid_id is None or month is None or rule is None:
                raise ValueError(f"flag row {row}: grid_id, month and rule may not be empty")
            status = get("status") or "open"
            if status not in FLAG_STATUSES:
                raise ValueError(f"flag status {status!r} is not one of {', '.join(FLAG_STATUSES)}")
            raised = get("raised_at")
            entries.append(
                {
                    "grid_id": str(grid_id),
                    "month": month_start(month),
                    "field": None if get("field") is None else str(get("field")),
                    "rule": str(rule),
                    "value": None if get("value") is None else fr.text_value(plain_value(get("value"))),
                    "detail": None if get("detail") is None else str(get("detail")),
                    "status": status,
                    "raised_at": now if raised is None else aware_datetime(raised),
                    "submission_id": None if get("submission_id") is None else str(get("submission_id")),
                }
            )
        with self._write() as conn:
            result = conn.execute(sa.insert(flags).returning(flags.c.id, sort_by_parameter_order=True), entries)
            return [int(r[0]) for r in result]

    def flags(self, month: str | date | pd.Timestamp | None = None, status: str | None = None) -> pd.DataFrame:
        """Flags (of one month and/or status), in the order they were raised."""
        query = narrowed(sa.select(flags).order_by(flags.c.id), flags, month=month, status=status)
        return self._frame(query, flags, dates=("month",), stamps=("raised_at", "resolved_at"))

    def resolve_flag(self, flag_id: int, status: str, who: str, reason: str | None = None) -> None:
        """Mark a flag ``confirmed`` (the value stands) or ``corrected`` (a new report replaced it).

        Raises:
            ValueError: another status. KeyError: no such flag.
        """
        if status not in ("confirmed", "corrected"):
            raise ValueError(f"a flag is resolved as confirmed or corrected, not {status!r}")
        with self._write() as conn:
            done = conn.execute(
                sa.update(flags)
                .where(flags.c.id == int(flag_id))
                .values(status=status, resolved_by=who, resolved_at=now_utc(), resolution=reason)
            )
            if done.rowcount == 0:
                raise KeyError(f"no flag {flag_id}")
