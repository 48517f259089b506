"""Market (planners, cooperatives): head sold and price per township x species, 1-6 months ahead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from features.market import HORIZONS
from models.bundle import ModelBundle
from serving.deps import AppState, Caller, StateDep, family_access
from serving.errors import TooMany
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


def forecast_values(bundle: ModelBundle, items: int) -> int:
    """What a market batch costs: items x series x horizons x (median + quantiles), each value explained."""
    per_horizon = sum(1 + len(task.quantile_boosters) for task in bundle.tasks.values())
    return items * len(HORIZONS) * per_horizon


def check_cost(state: AppState, items: int) -> None:
    """Refuse a batch whose answer would hold more forecast values than ``market_batch_cost_cap``."""
    bundle = state.served("market").bundle
    cost, cap = forecast_values(bundle, items), state.settings.market_batch_cost_cap
    if cost > cap:
        per_item = forecast_values(bundle, 1)
        raise TooMany(
            f"items: {items} items ask for {cost:,} forecast values ({per_item} each: series x horizons x "
            f"quantiles); at most {cap:,} per request (market_batch_cost_cap), so at most {cap // per_item} "
            "items: split the batch"
        )


@router.post("/batch", response_model=MarketBatchResponse)
def market_batch(state: StateDep, caller: CallerDep, lang: LangDep, body: MarketBatchRequest) -> MarketBatchResponse:
    """Forecasts for a list of (township, species), capped by cost (items x series x horizons x quantiles)."""
    state.check_cap(len(body.items))
    check_cost(state, len(body.items))
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
