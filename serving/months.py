"""Closing a month: missing reports carried openly, the month closed, every answer moved to it. No HTTP.

A month closes on demand (staff), or by itself once its reporting rate reaches ``close_at_completeness`` or
the calendar passes ``close_on_day`` of the following month (settings; :func:`due_to_close`). On close, each
grid area whose report never came gets its previous month's values carried, recorded as a ``carry``
submission (never counted as received) with a ``carried`` flag for follow-up; answers then list the months
of their inputs that were carried.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from muzhang.catalog import load_catalog
from serving.county import refresh_county
from serving.errors import Conflict
from serving.monitoring.cycle import log_and_join
from serving.monitoring.report import memo_of, monitoring_report, update_gauges
from serving.scoring.context import ScoringContext

CARRY_WHO = "muzhang (carried at month close)"
CARRY_REASON = {
    "en": "no report when the month closed: last month's values carried",
    "zh": "月结时未收到报表：沿用上月数值",
}


@dataclass(frozen=True)
class CloseResult:
    month: pd.Timestamp
    closed: bool  # False: it was closed already
    carried: list[str]  # grid areas whose values were carried
    as_of: pd.Timestamp
    seconds: float
    monitoring: dict[str, Any] = field(default_factory=dict)  # forecasts logged, outcomes joined (issue 11)


def received_grids(ctx: ScoringContext, month: pd.Timestamp) -> set[str]:
    """Grid areas with a report for ``month`` in the store (an arrived report or a history import)."""
    subs = ctx.store.submissions(month)
    arrived = subs[(subs["status"].isin(["accepted", "partial"])) & (subs["source"] != "carry")]
    monthly = ctx.county.tables.grid_monthly
    imported = monthly.loc[pd.to_datetime(monthly["month"]) == month, "grid_id"]
    return set(arrived["grid_id"].astype(str)) | set(imported.astype(str))


def carry_rows(ctx: ScoringContext, month: pd.Timestamp, grids: list[str]) -> pd.DataFrame:
    """The previous month's report of each grid, moved to ``month``, with its values of the fields a catalog
    extension added to grid_monthly that the store keeps (so a carried month does not lose them).

    Months close in order, so the county in memory holds the previous month as it closed (a correction of it
    sent after its close is in the store and audited, and reaches the county when this month closes).
    """
    previous = month - pd.DateOffset(months=1)
    monthly = ctx.county.tables.grid_monthly
    rows = monthly[(pd.to_datetime(monthly["month"]) == previous) & monthly["grid_id"].isin(grids)].copy()
    rows["month"] = month
    rows["submission_id"] = [f"carry-{g}-{month:%Y-%m}" for g in rows["grid_id"]]
    added = [name for name in ctx.store.report_added_fields() if name in rows.columns]
    return rows[[*load_catalog().columns("grid_monthly"), *added, "submission_id"]].reset_index(drop=True)


def close_month(
    ctx: ScoringContext, month: pd.Timestamp, *, who: str, lang: str = "en", monitor: bool = True
) -> CloseResult:
    """Carry the missing reports, close ``month`` and move the county to it; then (``monitor``) keep its
    forecasts and join its outcomes (:func:`monitor_closed_month`). The HTTP close passes ``monitor=False``
    and runs that step after its answer, so staff do not wait for it; the CLI and the replay wait.

    Raises:
        Conflict: the month is not the one after the last closed month (months close in order), or no
            report of it has arrived at all.
    """
    start = time.perf_counter()
    store = ctx.store
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    last_closed = store.last_closed_month()
    if last_closed is not None and month <= last_closed:
        return CloseResult(month, False, [], ctx.county.last_month, time.perf_counter() - start)
    expected_next = None if last_closed is None else last_closed + pd.DateOffset(months=1)
    if expected_next is not None and month != expected_next:
        raise Conflict(f"month: {month:%Y-%m} cannot close before {expected_next:%Y-%m} (months close in order)")
    received = received_grids(ctx, month)
    if not received:
        raise Conflict(f"month: no report for {month:%Y-%m} has arrived; nothing to close")
    missing = sorted(ctx.county.grid_ids - received)
    carried: list[str] = []
    if missing:
        rows = carry_rows(ctx, month, missing)
        outcomes = store.apply_reports(rows, who=CARRY_WHO, role="system", source="carry", reason="carried")
        carried = sorted(outcomes.loc[outcomes["outcome"].isin(["inserted", "updated"]), "grid_id"].astype(str))
        if carried:
            reason = CARRY_REASON["zh" if lang == "zh" else "en"]
            store.add_flags(
                pd.DataFrame(
                    {
                        "grid_id": carried,
                        "month": month,
                        "field": "*",
                        "rule": "carried",
                        "value": "",
                        "detail": reason,
                        "submission_id": [f"carry-{g}-{month:%Y-%m}" for g in carried],
                    }
                )
            )
    closed = store.close_month(month, who=who, reason=f"closed; {len(carried)} report(s) carried")
    refresh_county(ctx)
    monitoring = monitor_closed_month(ctx) if monitor else {}
    return CloseResult(month, closed, carried, ctx.county.last_month, time.perf_counter() - start, monitoring)


def monitor_closed_month(ctx: ScoringContext) -> dict[str, Any]:
    """Keep the new month's forecasts and join the outcomes it brought (issue 11). The month is closed
    already: a failure here is logged and caught up by the next close or `muzhang retrain` (both idempotent)."""
    try:
        done = log_and_join(ctx)
        update_gauges(ctx.metrics, monitoring_report(ctx, memo_of(ctx)))
        return done
    except Exception as exc:  # never undo or fail a close that happened; the log catches up next time
        logging.getLogger("muzhang.monitoring").warning("forecast log / outcome join failed: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def due_to_close(
    ctx: ScoringContext, today: pd.Timestamp, *, completeness: float | None, close_on_day: int | None
) -> pd.Timestamp | None:
    """The month that should close by itself now, if any: the one after the last closed month, once its
    reporting rate reaches ``completeness`` or ``today`` is past day ``close_on_day`` of the month after it."""
    last_closed = ctx.store.last_closed_month()
    if last_closed is None:
        return None
    month = last_closed + pd.DateOffset(months=1)
    if close_on_day is not None and today >= month + pd.DateOffset(months=1) + pd.Timedelta(days=close_on_day - 1):
        return month if received_grids(ctx, month) else None
    if completeness is not None:
        rate = len(received_grids(ctx, month)) / max(len(ctx.county.grid_ids), 1)
        return month if rate >= completeness else None
    return None
