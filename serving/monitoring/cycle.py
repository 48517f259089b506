"""One monitoring step after a month closes: keep the new forecasts, join the outcomes that came in."""

from __future__ import annotations

import time
from typing import Any

from serving.monitoring.forecasts import log_county_forecasts
from serving.monitoring.outcomes import join_outcomes
from serving.scoring.context import ScoringContext


def log_and_join(ctx: ScoringContext, families: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log the county's forecasts (the served champions', or ``families``') and join every outcome now known.

    Returns ``{"logged": {family: rows}, "joined": {family: rows}, "seconds": s}``; nothing without a store.
    """
    if ctx.store is None:
        return {}
    start = time.perf_counter()
    county = ctx.county
    logged = log_county_forecasts(ctx, families)
    joined = join_outcomes(
        ctx.store,
        county.tables,
        county.carried,
        up_to=county.last_month,
        window_months=ctx.settings.monitor_outcome_window_months,
    )
    return {"logged": logged, "joined": joined, "seconds": round(time.perf_counter() - start, 3)}
