"""Market (planners, cooperatives): head sold and price per township x species, 1-6 months ahead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from serving.deps import Caller, StateDep, family_access
from serving.routes.common import LangDep
from serving.schemas import (
    LOOKUP_RESPONSES,
    TOWNSHIP_PATTERN,
    MarketBatchRequest,
    MarketBatchResponse,
    MarketForecast,
    MarketHistory,
    Species,
)
from serving.scoring import market

router = APIRouter(prefix="/v1/market", tags=["market"], responses=LOOKUP_RESPONSES)
CallerDep = Annotated[Caller, Depends(family_access("market"))]
TownshipQuery = Annotated[str, Query(pattern=TOWNSHIP_PATTERN, description="Township id, e.g. T01.")]
SpeciesQuery = Annotated[Species, Query(description="yak, sheep, goat or horse.")]


@router.get("/forecast", response_model=MarketForecast)
async def market_forecast(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    township_id: TownshipQuery,
    species: SpeciesQuery = "yak",
) -> MarketForecast:
    """Head sold and price for the next 1-6 months with quantiles (M5's nine) and reasons."""
    return market.forecast(state, township_id, species, lang)


@router.post("/batch", response_model=MarketBatchResponse)
def market_batch(state: StateDep, caller: CallerDep, lang: LangDep, body: MarketBatchRequest) -> MarketBatchResponse:
    """Forecasts for a list of (township, species), at most the configured batch cap."""
    state.check_cap(len(body.items))
    return MarketBatchResponse(items=[market.forecast(state, q.township_id, q.species, lang) for q in body.items])


@router.get("/history", response_model=MarketHistory)
def market_history(
    state: StateDep,
    caller: CallerDep,
    township_id: TownshipQuery,
    species: SpeciesQuery = "yak",
    months: Annotated[int, Query(ge=1, le=240)] = 36,
) -> MarketHistory:
    """Recorded head sold and price, for drawing the history behind a forecast."""
    return market.history(state, township_id, species, months)
