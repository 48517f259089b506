"""Dispute risk next month: one grid, a batch, and a ranked watch-list (township officials, planners)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serving.deps import Caller, StateDep, family_access
from serving.routes.common import LangDep
from serving.schemas import (
    GRID_PATTERN,
    LOOKUP_RESPONSES,
    TOWNSHIP_PATTERN,
    DisputeBatchRequest,
    DisputeBatchResponse,
    DisputeRisk,
    Watchlist,
)
from serving.scoring import dispute

router = APIRouter(prefix="/v1/dispute", tags=["dispute"], responses=LOOKUP_RESPONSES)
CallerDep = Annotated[Caller, Depends(family_access("dispute"))]


@router.get("/risk/{grid_id}", response_model=DisputeRisk)
async def dispute_risk(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    grid_id: Annotated[str, Path(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.")],
) -> DisputeRisk:
    """Probability of any dispute in one grid area next month, with its reasons."""
    return dispute.score(state, [grid_id], lang)[0]


@router.post("/batch", response_model=DisputeBatchResponse)
def dispute_batch(state: StateDep, caller: CallerDep, lang: LangDep, body: DisputeBatchRequest) -> DisputeBatchResponse:
    """Dispute risk for a list of grid areas (at most the configured batch cap)."""
    state.check_cap(len(body.grid_ids), "grid_ids")
    return DisputeBatchResponse(items=dispute.score(state, list(dict.fromkeys(body.grid_ids)), lang))


@router.get("/watchlist", response_model=Watchlist)
def dispute_watchlist(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    top: Annotated[int, Query(ge=1, le=457, description="How many grids to list.")] = 20,
    township_id: Annotated[str | None, Query(pattern=TOWNSHIP_PATTERN, description="Only this township.")] = None,
) -> Watchlist:
    """Grids ranked by dispute risk next month, each with its main reason."""
    return dispute.watchlist(state, top, township_id, lang)
