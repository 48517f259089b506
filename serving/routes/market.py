"""Market (planners, cooperatives): head sold and price per township x species, 1-6 months ahead."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, status

from models.bundle import quantile_label
from serving.deps import AppState, PlannerDep, StateDep
from serving.explain import Lang
from serving.routes.common import check_cap, explain_many, prepared, resolve_lang, served
from serving.schemas import (
    TOWNSHIP_PATTERN,
    ForecastPoint,
    HistoryPoint,
    MarketBatchRequest,
    MarketBatchResponse,
    MarketForecast,
    MarketHistory,
    Species,
)

router = APIRouter(prefix="/v1/market", tags=["market"])
LangDep = Annotated[Lang, Depends(resolve_lang)]
SPECIES_ZH = {"yak": "牦牛", "sheep": "藏羊", "goat": "山羊", "horse": "马"}
UNITS = {"head_sold": ("head", "头"), "price": ("yuan per head", "元/头")}
TownshipQuery = Annotated[str, Query(pattern=TOWNSHIP_PATTERN, description="Township id, e.g. T01.")]
SpeciesQuery = Annotated[Species, Query(description="yak, sheep, goat or horse.")]


def _check_township(state: AppState, township_id: str) -> None:
    if township_id not in state.county.townships.index:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"township_id: unknown township {township_id}")


def _headline(task: str, species: str, month: pd.Timestamp, median: float, lo: float, hi: float, lang: Lang) -> str:
    if lang == "zh":
        what = "出栏" if task == "head_sold" else "价格"
        unit = UNITS[task][1]
        return (
            f"预计{month.year}年{month.month}月{SPECIES_ZH[species]}{what}为{median:,.0f}{unit}"
            f"（95%区间{lo:,.0f}–{hi:,.0f}）"
        )
    what = "sales" if task == "head_sold" else "price"
    return (
        f"Expected {species} {what} in {month:%B %Y}: {median:,.0f} {UNITS[task][0]} (95% interval {lo:,.0f}-{hi:,.0f})"
    )


def forecast(state: AppState, township_id: str, species: str, lang: Lang) -> MarketForecast:
    model = served(state.registry, "market")
    bundle = model.bundle
    _check_township(state, township_id)
    prep = prepared(state, model)
    if (township_id, species) not in prep.index:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no market records for {township_id} {species}")
    pos = prep.rows([(township_id, species)])
    pos = pos[np.argsort(prep.frame["horizon"].to_numpy()[pos])]
    rows = prep.frame.iloc[pos].reset_index(drop=True)
    x = prep.x[pos]
    out: dict[str, list[ForecastPoint]] = {}
    for task_name, task in bundle.tasks.items():
        median = task.point(x)
        quantiles = task.quantiles(x)
        lo = quantiles.get(0.025, quantiles.get(0.1, median))
        hi = quantiles.get(0.975, quantiles.get(0.9, median))
        months = pd.to_datetime(rows["target_month"])
        headlines = [_headline(task_name, species, months[i], median[i], lo[i], hi[i], lang) for i in range(len(rows))]
        explanations = explain_many(bundle, task_name, x, headlines, lang, state.metrics)
        out[task_name] = [
            ForecastPoint(
                target_month=months[i].date(),
                horizon=int(rows["horizon"].iloc[i]),
                median=float(median[i]),
                quantiles={quantile_label(q): float(v[i]) for q, v in quantiles.items()},
                explanation=explanations[i],
            )
            for i in range(len(rows))
        ]
    state.metrics.rows.labels("market").inc(len(rows))
    return MarketForecast(
        township_id=township_id,
        species=species,  # type: ignore[arg-type]
        origin_month=pd.Timestamp(rows["origin_month"].iloc[0]).date(),
        head_sold=out["head_sold"],
        price=out["price"],
    )


@router.get("/forecast", response_model=MarketForecast)
async def market_forecast(
    state: StateDep,
    caller: PlannerDep,
    lang: LangDep,
    township_id: TownshipQuery,
    species: SpeciesQuery = "yak",
) -> MarketForecast:
    """Head sold and price for the next 1-6 months with quantiles (M5's nine) and reasons."""
    return forecast(state, township_id, species, lang)


@router.post("/batch", response_model=MarketBatchResponse)
def market_batch(state: StateDep, caller: PlannerDep, lang: LangDep, body: MarketBatchRequest) -> MarketBatchResponse:
    """Forecasts for a list of (township, species), at most the configured batch cap."""
    check_cap(len(body.items), state.settings.batch_cap)
    return MarketBatchResponse(items=[forecast(state, q.township_id, q.species, lang) for q in body.items])


@router.get("/history", response_model=MarketHistory)
def market_history(
    state: StateDep,
    caller: PlannerDep,
    township_id: TownshipQuery,
    species: SpeciesQuery = "yak",
    months: Annotated[int, Query(ge=1, le=240)] = 36,
) -> MarketHistory:
    """Recorded head sold and price, for drawing the history behind a forecast."""
    _check_township(state, township_id)
    rows = state.county.market_history(township_id, species, months)
    points = [
        HistoryPoint(month=pd.Timestamp(m).date(), head_sold=int(h), price_yuan_per_head=float(p))
        for m, h, p in zip(rows["month"], rows["head_sold"], rows["price_yuan_per_head"], strict=True)
        if np.isfinite(p)
    ]
    return MarketHistory(township_id=township_id, species=species, points=points)
