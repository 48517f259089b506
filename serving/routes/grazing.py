"""Grazing (planners): season assessment, what-if, batch, and the county rotation plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from features import assess_grazing
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, grazing_advice, sheep_units
from serving.deps import AppState, PlannerDep, StateDep
from serving.explain import Lang
from serving.rotation import RotationConfig, plan_rotation
from serving.routes.common import check_cap, explain_many, prepared, resolve_lang, served
from serving.schemas import (
    GRID_PATTERN,
    AdviceOut,
    GrazingAssessment,
    GrazingBatchRequest,
    GrazingBatchResponse,
    RotationGridOut,
    RotationMoveOut,
    RotationPlanOut,
    Season,
    ShortfallOut,
    WhatIfRequest,
    YieldOut,
)

router = APIRouter(prefix="/v1/grazing", tags=["grazing"])
LangDep = Annotated[Lang, Depends(resolve_lang)]
TASK = "yield"
SEASON_WORDS = {
    "en": {"warm": "warm-season", "cold": "cold-season", "transition": "transition-season"},
    "zh": {"warm": "暖季", "cold": "冷季", "transition": "过渡季"},
}
STATUS_WORDS = {
    "en": {"under": "under-stocked", "balanced": "balanced", "over": "over-stocked"},
    "zh": {"under": "载畜不足", "balanced": "草畜平衡", "over": "超载"},
}


@dataclass(frozen=True)
class Scenario:
    """What-if changes to one grid's season."""

    add_su: float = 0.0
    rest: bool = False
    drought: bool = False
    described: dict[str, Any] = field(default_factory=dict)


def apply_scenarios(
    rows: pd.DataFrame, x: np.ndarray, features: list[str], scenarios: list[Scenario]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Herd changes move both the model's input and the stock on the pasture; drought cuts capacity."""
    add = np.array([s.add_su for s in scenarios])
    drought = np.array([s.drought for s in scenarios])
    if not add.any() and not drought.any():
        return rows, x
    out, x = rows.copy(), x.copy()
    out["stocking_su_last"] = np.clip(out["stocking_su_last"] + add, 0, None)
    out["stocking_su_season"] = np.clip(out["stocking_su_season"] + add, 0, None)
    out["drought"] = np.where(drought, 1, out["drought"])
    if "stocking_su_last" in features:
        j = features.index("stocking_su_last")
        x[:, j] = out["stocking_su_last"].to_numpy(dtype=float)
    return out, x


def advice_text(action: str, move: float, lang: Lang) -> str:
    if lang == "zh":
        return {
            "graze": "宜牧：载畜量在合理承载力之内，可正常放牧",
            "rotate": f"轮牧：需将{move:,.0f}个羊单位转移到其他网格",
            "rest": f"宜休：本季休牧，需转移全部{move:,.0f}个羊单位",
        }[action]
    return {
        "graze": "Graze: stocking is within the reasonable carrying capacity",
        "rotate": f"Rotate: move {move:,.0f} SU to other grid areas",
        "rest": f"Rest this season: move all {move:,.0f} SU off the pasture",
    }[action]


def assess(
    state: AppState, queries: Sequence[tuple[str, str]], scenarios: list[Scenario], lang: Lang
) -> list[GrazingAssessment]:
    unknown = sorted({g for g, _ in queries if g not in state.county.grid_ids})
    if unknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")
    model = served(state.registry, "grazing")
    bundle = model.bundle
    prep = prepared(state, model)
    pos = prep.rows(queries)
    rows, x = apply_scenarios(prep.frame.iloc[pos].reset_index(drop=True), prep.x[pos], bundle.features, scenarios)
    task = bundle.tasks[TASK]
    predicted = task.point(x)
    quantiles = task.quantiles(x)
    # The point forecast and the quantile models are fitted apart; the interval shown always holds the point.
    low = np.minimum(quantiles.get(0.1, predicted), predicted)
    high = np.maximum(quantiles.get(0.9, predicted), predicted)
    now = assess_grazing(rows, predicted)
    cap_low = assess_grazing(rows, low)["capacity_su"].to_numpy()
    cap_high = assess_grazing(rows, high)["capacity_su"].to_numpy()
    stocking = rows["stocking_su_season"].to_numpy(dtype=float)
    ratio = predicted / rows["yield_mean_past"].to_numpy(dtype=float)
    action, move = grazing_advice(now["pressure"], stocking, now["capacity_su"], ratio)
    resting = np.array([s.rest for s in scenarios])
    action = np.where(resting, "rest", action)
    move = np.where(resting, stocking, move)
    headlines = []
    for i, (_, row) in enumerate(rows.iterrows()):  # i: an int position (iterrows gives a Hashable label)
        season_word = SEASON_WORDS[lang][row["season"]]
        status_word = STATUS_WORDS[lang][now["status"].iloc[i]]
        p = float(now["pressure"].iloc[i])
        headlines.append(
            f"预计{season_word}产草量为每公顷{predicted[i]:,.0f}千克干物质，载畜压力指数{p:.2f}（{status_word}）"
            if lang == "zh"
            else f"Forecast {season_word} yield is {predicted[i]:,.0f} kg DM/ha, "
            f"grazing pressure {p:.2f} ({status_word})"
        )
    explanations = explain_many(bundle, TASK, x, headlines, lang, state.metrics)
    name_col = "grid_name_zh" if lang == "zh" else "grid_name"
    out = []
    for i, (_, row) in enumerate(rows.iterrows()):  # i: an int position (iterrows gives a Hashable label)
        out.append(
            GrazingAssessment(
                grid_id=row["grid_id"],
                grid_name=str(state.county.grids.at[row["grid_id"], name_col]),
                township_id=str(state.county.grids.at[row["grid_id"], "township_id"]),
                season=row["season"],
                season_year=int(row["season_year"]),
                as_of_month=pd.Timestamp(row["as_of_month"]).date(),
                yield_kg_ha=YieldOut(predicted=float(predicted[i]), low=float(low[i]), high=float(high[i])),
                capacity_su=float(now["capacity_su"].iloc[i]),
                capacity_range_su=(float(cap_low[i]), float(cap_high[i])),
                stocking_su=float(stocking[i]),
                pressure=float(now["pressure"].iloc[i]),
                status=now["status"].iloc[i],
                advice=AdviceOut(
                    action=action[i],
                    su_to_move=float(move[i]),
                    text=advice_text(str(action[i]), float(move[i]), lang),
                ),
                overrides=scenarios[int(i)].described,
                explanation=explanations[int(i)],
            )
        )
    state.metrics.rows.labels("grazing").inc(len(out))
    return out


GridPath = Annotated[str, Path(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.")]
SeasonQuery = Annotated[Season, Query(description="warm (Jun-Sep), cold (Oct-Apr) or transition (May).")]


@router.get("/assessment/{grid_id}", response_model=GrazingAssessment)
async def grazing_assessment(
    state: StateDep, caller: PlannerDep, lang: LangDep, grid_id: GridPath, season: SeasonQuery = "warm"
) -> GrazingAssessment:
    """Yield, NY/T 635 capacity, pressure, status and advice for one grid area's next season."""
    return assess(state, [(grid_id, season)], [Scenario()], lang)[0]


@router.post("/what-if", response_model=GrazingAssessment)
def grazing_what_if(state: StateDep, caller: PlannerDep, lang: LangDep, body: WhatIfRequest) -> GrazingAssessment:
    """The same assessment with changes: livestock added or removed, rest this season, a drought year."""
    heads = body.add_head.model_dump()
    scenario = Scenario(
        add_su=float(sheep_units({s: heads[s] for s in SPECIES})),
        rest=body.rest,
        drought=body.drought,
        described={
            "add_head": {k: v for k, v in heads.items() if v},
            "rest": body.rest,
            "drought": body.drought,
        },
    )
    return assess(state, [(body.grid_id, body.season)], [scenario], lang)[0]


@router.post("/batch", response_model=GrazingBatchResponse)
def grazing_batch(
    state: StateDep, caller: PlannerDep, lang: LangDep, body: GrazingBatchRequest
) -> GrazingBatchResponse:
    """Assessments for a list of (grid area, season), at most the configured batch cap."""
    check_cap(len(body.items), state.settings.batch_cap)
    queries = [(q.grid_id, q.season) for q in body.items]
    return GrazingBatchResponse(items=assess(state, queries, [Scenario()] * len(queries), lang))


@router.get("/rotation-plan", response_model=RotationPlanOut)
def rotation_plan(
    state: StateDep,
    caller: PlannerDep,
    lang: LangDep,
    season: SeasonQuery = "warm",
    reserve_per_township: Annotated[int, Query(ge=0, le=2, description="Reserve grids held back per township.")] = 1,
) -> RotationPlanOut:
    """County rotation plan for a season: who rests, what moves where, least total distance (HiGHS LP)."""
    model = served(state.registry, "grazing")
    prep = prepared(state, model)
    pos = np.flatnonzero((prep.frame["season"] == season).to_numpy())
    rows = prep.frame.iloc[pos].reset_index(drop=True)
    predicted = model.bundle.tasks[TASK].point(prep.x[pos])
    now = assess_grazing(rows, predicted)
    ratio = predicted / rows["yield_mean_past"].to_numpy(dtype=float)
    action, _ = grazing_advice(now["pressure"], rows["stocking_su_season"], now["capacity_su"], ratio)
    grids = state.county.grids.loc[rows["grid_id"]]
    degraded = np.nan_to_num(ratio, nan=1.0) <= 1 - DEFAULT_DOMAIN.degradation_moderate
    banned = rows["rested_share_last"].fillna(0).to_numpy() >= 0.5
    plan_input = pd.DataFrame(
        {
            "grid_id": rows["grid_id"],
            "township_id": grids["township_id"].to_numpy(),
            "x_km": grids["x_km"].to_numpy(),
            "y_km": grids["y_km"].to_numpy(),
            "capacity_su": np.nan_to_num(now["capacity_su"].to_numpy(), nan=0.0),
            "stocking_su": rows["stocking_su_season"].fillna(0).to_numpy(),
            "must_rest": (action == "rest") & (degraded | banned),
        }
    )
    config = RotationConfig(reserve_per_township=reserve_per_township, season_days=DEFAULT_DOMAIN.season_days[season])
    plan = plan_rotation(plan_input, config)
    g = plan.grids
    return RotationPlanOut(
        season=season,
        season_year=int(rows["season_year"].iloc[0]),
        feasible=plan.feasible,
        summary=plan.summary(lang),
        totals={k: float(v) for k, v in plan.totals.items()},
        moves=[
            RotationMoveOut(**{k: m[k] for k in RotationMoveOut.model_fields}) for m in plan.moves.to_dict("records")
        ],
        grids=[
            RotationGridOut(
                grid_id=r["grid_id"],
                township_id=r["township_id"],
                action=r["action"],
                su_before=r["su_before"],
                su_after=r["su_after"],
                capacity_su=r["capacity_su"],
                pressure_after=None if pd.isna(r["pressure_after"]) else float(r["pressure_after"]),
            )
            for r in g.to_dict("records")
        ],
        shortfall=[
            ShortfallOut(**{k: s[k] for k in ShortfallOut.model_fields}) for s in plan.shortfall.to_dict("records")
        ],
        solve_seconds=plan.solve_seconds,
    )
