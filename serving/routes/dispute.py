"""Dispute risk next month: one grid, a batch, and a ranked watch-list (township officials, planners)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from serving.deps import AppState, PlannerDep, StateDep
from serving.explain import Lang
from serving.routes.common import (
    BAND_WORDS,
    band_of,
    check_cap,
    explain_many,
    pct,
    prepared,
    resolve_lang,
    served,
)
from serving.schemas import (
    GRID_PATTERN,
    TOWNSHIP_PATTERN,
    DisputeBatchRequest,
    DisputeBatchResponse,
    DisputeRisk,
    WatchItem,
    Watchlist,
)

router = APIRouter(prefix="/v1/dispute", tags=["dispute"])
LangDep = Annotated[Lang, Depends(resolve_lang)]
TASK = "any_dispute"


def headline(p: float, band: str, lang: Lang) -> str:
    if lang == "zh":
        return f"下月发生纠纷的风险{BAND_WORDS['zh'][band]}（{pct(p)}）"
    return f"Dispute risk next month is {BAND_WORDS['en'][band]} ({pct(p)})"


def score(state: AppState, grid_ids: list[str], lang: Lang) -> list[DisputeRisk]:
    unknown = [g for g in grid_ids if g not in state.county.grid_ids]
    if unknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")
    model = served(state.registry, "dispute")
    bundle = model.bundle
    prep = prepared(state, model)
    pos = prep.rows([(g,) for g in grid_ids])
    x = prep.x[pos]
    p = bundle.tasks[TASK].point(x)
    bands = [band_of(v, bundle.thresholds.get("risk_bands")) for v in p]
    explanations = explain_many(
        bundle, TASK, x, [headline(v, b, lang) for v, b in zip(p, bands, strict=True)], lang, state.metrics
    )
    grids = state.county.grids
    months = prep.frame["month"].to_numpy()[pos]
    out = []
    for i, grid_id in enumerate(grid_ids):
        out.append(
            DisputeRisk(
                grid_id=grid_id,
                grid_name=_name(grids, grid_id, lang),
                township_id=str(grids.at[grid_id, "township_id"]),
                month=pd.Timestamp(months[i]).date(),
                probability=float(p[i]),
                band=bands[i],
                explanation=explanations[i],
            )
        )
    state.metrics.rows.labels("dispute").inc(len(out))
    return out


def _name(grids: pd.DataFrame, grid_id: str, lang: Lang) -> str:
    return str(grids.at[grid_id, "grid_name_zh" if lang == "zh" else "grid_name"])


@router.get("/risk/{grid_id}", response_model=DisputeRisk)
async def dispute_risk(
    state: StateDep,
    caller: PlannerDep,
    lang: LangDep,
    grid_id: Annotated[str, Path(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.")],
) -> DisputeRisk:
    """Probability of any dispute in one grid area next month, with its reasons."""
    return score(state, [grid_id], lang)[0]


@router.post("/batch", response_model=DisputeBatchResponse)
def dispute_batch(
    state: StateDep, caller: PlannerDep, lang: LangDep, body: DisputeBatchRequest
) -> DisputeBatchResponse:
    """Dispute risk for a list of grid areas (at most the configured batch cap)."""
    check_cap(len(body.grid_ids), state.settings.batch_cap, "grid_ids")
    return DisputeBatchResponse(items=score(state, list(dict.fromkeys(body.grid_ids)), lang))


@router.get("/watchlist", response_model=Watchlist)
def dispute_watchlist(
    state: StateDep,
    caller: PlannerDep,
    lang: LangDep,
    top: Annotated[int, Query(ge=1, le=457, description="How many grids to list.")] = 20,
    township_id: Annotated[str | None, Query(pattern=TOWNSHIP_PATTERN, description="Only this township.")] = None,
) -> Watchlist:
    """Grids ranked by dispute risk next month, each with its main reason."""
    model = served(state.registry, "dispute")
    prep = prepared(state, model)
    keep = np.ones(len(prep.frame), dtype=bool)
    if township_id is not None:
        if township_id not in state.county.townships.index:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"township_id: unknown township {township_id}")
        keep = (prep.frame["grid_id"].map(state.county.grids["township_id"]) == township_id).to_numpy()
    candidates = np.flatnonzero(keep)
    p = model.bundle.tasks[TASK].point(prep.x[candidates])
    order = candidates[np.argsort(-p, kind="stable")[:top]]
    chosen = [str(prep.frame["grid_id"].iloc[i]) for i in order]
    risks = score(state, chosen, lang) if chosen else []
    items = [
        WatchItem(
            rank=k + 1,
            grid_id=r.grid_id,
            grid_name=r.grid_name,
            township_id=r.township_id,
            probability=r.probability,
            band=r.band,
            reason=r.explanation.sentence,
        )
        for k, r in enumerate(risks)
    ]
    month = pd.Timestamp(state.county.forecasts["dispute"].frame["month"].iloc[0]).date()
    return Watchlist(month=month, items=items)
