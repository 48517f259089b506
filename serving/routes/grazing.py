"""Grazing (planners): season assessment, what-if, batch, and the county rotation plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serving.deps import Caller, StateDep, family_access
from serving.routes.common import LangDep
from serving.schemas import (
    GRID_PATTERN,
    LOOKUP_RESPONSES,
    GrazingBatchRequest,
    Season,
)
from serving.schemas_grazing import (
    RISK_HIGH,
    RISK_LOW,
    RISK_TEXT,
    GrazingAssessmentOut,
    GrazingBatchOut,
    RotationPlanDetail,
    SeasonInProgressList,
    WhatIfIn,
)
from serving.scoring import grazing

router = APIRouter(prefix="/v1/grazing", tags=["grazing"], responses=LOOKUP_RESPONSES)
CallerDep = Annotated[Caller, Depends(family_access("grazing"))]
GridPath = Annotated[str, Path(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.")]
SeasonQuery = Annotated[Season, Query(description="warm (Jun-Sep), cold (Oct-Apr) or transition (May).")]
RiskQuery = Annotated[float | None, Query(ge=RISK_LOW, le=RISK_HIGH, description=RISK_TEXT)]


@router.get("/assessment/{grid_id}", response_model=GrazingAssessmentOut)
async def grazing_assessment(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    grid_id: GridPath,
    season: SeasonQuery = "warm",
    risk: RiskQuery = None,
) -> GrazingAssessmentOut:
    """Yield, NY/T 635 capacity, the season's herd, pressure, status and advice for one grid area's next season."""
    return grazing.assess(state, [(grid_id, season)], [grazing.Scenario()], lang, risk)[0]


@router.post("/what-if", response_model=GrazingAssessmentOut)
def grazing_what_if(state: StateDep, caller: CallerDep, lang: LangDep, body: WhatIfIn) -> GrazingAssessmentOut:
    """The same assessment with changes: livestock added or removed, rest this season, a drought year."""
    scenario = grazing.scenario_of(
        body.add_head.model_dump(), rest=body.rest, drought=body.drought, rest_share=body.rest_share
    )
    return grazing.assess(state, [(body.grid_id, body.season)], [scenario], lang, body.risk)[0]


@router.post("/batch", response_model=GrazingBatchOut)
def grazing_batch(
    state: StateDep, caller: CallerDep, lang: LangDep, body: GrazingBatchRequest, risk: RiskQuery = None
) -> GrazingBatchOut:
    """Assessments for a list of (grid area, season), at most the configured batch cap."""
    state.check_cap(len(body.items))
    queries = [(q.grid_id, q.season) for q in body.items]
    return GrazingBatchOut(items=grazing.assess(state, queries, [grazing.Scenario()] * len(queries), lang, risk))


@router.get("/rotation-plan", response_model=RotationPlanDetail)
def rotation_plan(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    season: SeasonQuery = "warm",
    reserve_per_township: Annotated[int, Query(ge=0, le=2, description="Reserve grids held back per township.")] = 1,
    risk: RiskQuery = None,
    drought: Annotated[bool, Query(description="Plan for a drought year (this county's drought-year yields).")] = False,
) -> RotationPlanDetail:
    """County rotation plan for a season: who rests, what moves where, least total distance (HiGHS LP)."""
    return grazing.rotation_plan(state, season, reserve_per_township, lang, risk, drought)


@router.get("/in-progress", response_model=SeasonInProgressList)
def grazing_in_progress(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    grid_id: Annotated[str | None, Query(pattern=GRID_PATTERN, description="One grid area (default: all).")] = None,
) -> SeasonInProgressList:
    """The season under way (e.g. the winter in progress): forage left, herd forecast and advice for its months left."""
    return grazing.season_in_progress(state, grid_id, lang)
