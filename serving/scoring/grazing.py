"""Grazing (planners): season assessment, what-if scenarios, the county rotation plan, offline scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features import assess_grazing
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, grazing_advice, must_rest, sheep_units
from serving.errors import InvalidInput, NotFound
from serving.explain import Lang
from serving.rotation import RotationConfig, plan_rotation
from serving.schemas import (
    AdviceOut,
    GrazingAssessment,
    RotationGridOut,
    RotationMoveOut,
    RotationPlanOut,
    ShortfallOut,
    YieldOut,
)
from serving.scoring.common import explain_many, require_columns
from serving.scoring.context import ScoringContext

FAMILY = "grazing"
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


def scenario_of(add_head: Mapping[str, int], rest: bool = False, drought: bool = False) -> Scenario:
    """A scenario from head added (negative: removed) per species, resting and drought."""
    heads: dict[str, Any] = {s: int(add_head.get(s, 0)) for s in SPECIES}
    return Scenario(
        add_su=float(sheep_units(heads)),
        rest=rest,
        drought=drought,
        described={"add_head": {k: v for k, v in heads.items() if v}, "rest": rest, "drought": drought},
    )


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


def _headline(season: str, status: str, yield_kg_ha: float, pressure: float, lang: Lang) -> str:
    season_word = SEASON_WORDS[lang][season]
    status_word = STATUS_WORDS[lang][status]
    if lang == "zh":
        return (
            f"预计{season_word}产草量为每公顷{yield_kg_ha:,.0f}千克干物质，载畜压力指数{pressure:.2f}（{status_word}）"
        )
    return (
        f"Forecast {season_word} yield is {yield_kg_ha:,.0f} kg DM/ha, grazing pressure {pressure:.2f} ({status_word})"
    )


def check_grids(ctx: ScoringContext, grid_ids: Sequence[str]) -> None:
    unknown = sorted({g for g in grid_ids if g not in ctx.county.grid_ids})
    if unknown:
        raise NotFound(f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")


def assess(
    ctx: ScoringContext, queries: Sequence[tuple[str, str]], scenarios: list[Scenario], lang: Lang
) -> list[GrazingAssessment]:
    """Yield, NY/T 635 capacity, pressure, status and advice for each (grid area, season), explained."""
    check_grids(ctx, [g for g, _ in queries])
    model = ctx.served(FAMILY)
    bundle = model.bundle
    prep = ctx.prepared(model)
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
    pressure = now["pressure"].to_numpy(dtype=float)
    status = now["status"].to_numpy()
    seasons = rows["season"].to_numpy()
    headlines = [_headline(seasons[i], status[i], predicted[i], pressure[i], lang) for i in range(len(rows))]
    explanations = explain_many(bundle, TASK, x, headlines, lang, ctx.metrics)
    grids = ctx.county.grids
    name_col = "grid_name_zh" if lang == "zh" else "grid_name"
    out = []
    for i, row in enumerate(rows[["grid_id", "season", "season_year", "as_of_month"]].to_dict("records")):
        out.append(
            GrazingAssessment(
                grid_id=row["grid_id"],
                grid_name=str(grids.at[row["grid_id"], name_col]),
                township_id=str(grids.at[row["grid_id"], "township_id"]),
                season=row["season"],
                season_year=int(row["season_year"]),
                as_of_month=pd.Timestamp(row["as_of_month"]).date(),
                yield_kg_ha=YieldOut(predicted=float(predicted[i]), low=float(low[i]), high=float(high[i])),
                capacity_su=float(now["capacity_su"].iloc[i]),
                capacity_range_su=(float(cap_low[i]), float(cap_high[i])),
                stocking_su=float(stocking[i]),
                pressure=float(pressure[i]),
                status=status[i],
                advice=AdviceOut(
                    action=action[i],
                    su_to_move=float(move[i]),
                    text=advice_text(str(action[i]), float(move[i]), lang),
                ),
                overrides=scenarios[i].described,
                carried_months=ctx.county.carried_months(row["grid_id"]),
                explanation=explanations[i],
            )
        )
    ctx.metrics.rows.labels(FAMILY).inc(len(out))
    return out


def rotation_plan(ctx: ScoringContext, season: str, reserve_per_township: int, lang: Lang) -> RotationPlanOut:
    """County rotation plan for a season: who rests, what moves where, least total distance (HiGHS LP)."""
    model = ctx.served(FAMILY)
    prep = ctx.prepared(model)
    pos = np.flatnonzero((prep.frame["season"] == season).to_numpy())
    rows = prep.frame.iloc[pos].reset_index(drop=True)
    predicted = model.bundle.tasks[TASK].point(prep.x[pos])
    now = assess_grazing(rows, predicted)
    ratio = predicted / rows["yield_mean_past"].to_numpy(dtype=float)
    action, _ = grazing_advice(now["pressure"], rows["stocking_su_season"], now["capacity_su"], ratio)
    grids = ctx.county.grids.loc[rows["grid_id"]]
    plan_input = pd.DataFrame(
        {
            "grid_id": rows["grid_id"],
            "township_id": grids["township_id"].to_numpy(),
            "x_km": grids["x_km"].to_numpy(),
            "y_km": grids["y_km"].to_numpy(),
            "capacity_su": np.nan_to_num(now["capacity_su"].to_numpy(), nan=0.0),
            "stocking_su": rows["stocking_su_season"].fillna(0).to_numpy(),
            "must_rest": must_rest(action, ratio, rows["rested_share_last"].to_numpy(dtype=float)),
        }
    )
    config = RotationConfig(reserve_per_township=reserve_per_township, season_days=DEFAULT_DOMAIN.season_days[season])
    plan = plan_rotation(plan_input, config)
    return RotationPlanOut(
        season=season,  # type: ignore[arg-type]
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
            for r in plan.grids.to_dict("records")
        ],
        shortfall=[
            ShortfallOut(**{k: s[k] for k in ShortfallOut.model_fields}) for s in plan.shortfall.to_dict("records")
        ],
        solve_seconds=plan.solve_seconds,
    )


def score_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Offline scoring: columns ``grid_id[,season]`` (warm by default), one output row per input row."""
    require_columns(frame, ["grid_id"], FAMILY)
    seasons = frame["season"] if "season" in frame else pd.Series("warm", index=frame.index)
    queries = list(zip(frame["grid_id"].astype(str), seasons.astype(str), strict=True))
    bad = sorted({s for _, s in queries if s not in DEFAULT_DOMAIN.season_months})
    if bad:
        raise InvalidInput(f"season: unknown season(s) {', '.join(bad[:5])}; use warm, cold or transition")
    results = assess(ctx, queries, [Scenario()] * len(queries), lang)
    return pd.DataFrame(
        [
            {
                "grid_id": r.grid_id,
                "season": r.season,
                "season_year": r.season_year,
                "yield_kg_ha": r.yield_kg_ha.predicted,
                "yield_low": r.yield_kg_ha.low,
                "yield_high": r.yield_kg_ha.high,
                "capacity_su": r.capacity_su,
                "stocking_su": r.stocking_su,
                "pressure": r.pressure,
                "status": r.status,
                "advice": r.advice.action,
                "su_to_move": r.advice.su_to_move,
                "reason": r.explanation.sentence,
            }
            for r in results
        ]
    )
