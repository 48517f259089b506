"""Grazing (planners): season assessment, what-if, batch, and the county rotation plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serving.deps import Caller, StateDep, family_access
from serving.routes.common import LangDep
from serving.schemas import (
    GRID_PATTERN,
    LOOKUP_RESPONSES,
    GrazingAssessment,
    GrazingBatchRequest,
    GrazingBatchResponse,
    RotationPlanOut,
    Season,
    WhatIfRequest,
)
from serving.scoring import grazing

router = APIRouter(prefix="/v1/grazing", tags=["grazing"], responses=LOOKUP_RESPONSES)
CallerDep = Annotated[Caller, Depends(family_access("grazing"))]
GridPath = Annotated[str, Path(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.")]
SeasonQuery = Annotated[Season, Query(description="warm (Jun-Sep), cold (Oct-Apr) or transition (May).")]


@router.get("/assessment/{grid_id}", response_model=GrazingAssessment)
async def grazing_assessment(
    state: StateDep, caller: CallerDep, lang: LangDep, grid_id: GridPath, season: SeasonQuery = "warm"
) -> GrazingAssessment:
    """Yield, NY/T 635 capacity, pressure, status and advice for one grid area's next season."""
    return grazing.assess(state, [(grid_id, season)], [grazing.Scenario()], lang)[0]


@router.post("/what-if", response_model=GrazingAssessment)
def grazing_what_if(state: StateDep, caller: CallerDep, lang: LangDep, body: WhatIfRequest) -> GrazingAssessment:
    """The same assessment with changes: livestock added or removed, rest this season, a drought year."""
    scenario = grazing.scenario_of(body.add_head.model_dump(), rest=body.rest, drought=body.drought)
    return grazing.assess(state, [(body.grid_id, body.season)], [scenario], lang)[0]


@router.post("/batch", response_model=GrazingBatchResponse)
def grazing_batch(state: StateDep, caller: CallerDep, lang: LangDep, body: GrazingBatchRequest) -> GrazingBatchResponse:
    """Assessments for a list of (grid area, season), at most the configured batch cap."""
    state.check_cap(len(body.items))
    queries = [(q.grid_id, q.season) for q in body.items]
    return GrazingBatchResponse(items=grazing.assess(state, queries, [grazing.Scenario()] * len(queries), lang))


@router.get("/rotation-plan", response_model=RotationPlanOut)
def rotation_plan(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    season: SeasonQuery = "warm",
    reserve_per_township: Annotated[int, Query(ge=0, le=2, description="Reserve grids held back per township.")] = 1,
) -> RotationPlanOut:
    """County rotation plan for a season: who rests, what moves where, least total distance (HiGHS LP)."""
    return grazing.rotation_plan(state, season, reserve_per_township, lang)
