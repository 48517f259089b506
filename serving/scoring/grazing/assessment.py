"""Grazing assessment per (grid area, season), explained, and its offline scoring table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from muzhang.domain import DEFAULT_DOMAIN
from serving.errors import InvalidInput
from serving.explain import Lang
from serving.schemas import AdviceOut, YieldOut
from serving.schemas_grazing import GrazingAssessmentOut
from serving.scoring.common import explain_many, require_columns
from serving.scoring.context import ScoringContext
from serving.scoring.grazing.common import FAMILY, PRESSURE_SHOWN_MAX, TASK, check_grids, finite
from serving.scoring.grazing.explanations import (
    QUESTION_FEATURES,
    advice_text,
    headline,
    in_kg,
    own_past,
    period_text,
)
from serving.scoring.grazing.numbers import drought_factors, season_numbers
from serving.scoring.grazing.scenarios import Scenario, apply_scenarios


def assess(
    ctx: ScoringContext,
    queries: Sequence[tuple[str, str]],
    scenarios: list[Scenario],
    lang: Lang,
    risk: float | None = None,
) -> list[GrazingAssessmentOut]:
    """Yield, NY/T 635 capacity, the season's herd, pressure, status and advice for each (grid area,
    season), explained; the advice at the ``risk`` yield quantile (default :attr:`Domain.plan_risk`)."""
    check_grids(ctx, [g for g, _ in queries])
    model = ctx.served(FAMILY)
    bundle = model.bundle
    prep = ctx.prepared(model)
    pos = prep.rows(queries)
    x = prep.x[pos]
    rows = apply_scenarios(prep.frame.iloc[pos].reset_index(drop=True), scenarios)
    level = DEFAULT_DOMAIN.plan_risk if risk is None else float(risk)
    n = season_numbers(bundle, rows, x, level)
    seasons = rows["season"].to_numpy()
    years = rows["season_year"].to_numpy()
    as_of = [pd.Timestamp(v) for v in rows["as_of_month"]]
    periods = [period_text(seasons[i], int(years[i]), as_of[i], lang) for i in range(len(rows))]
    headlines = [
        headline(seasons[i], n.status[i], n.yield_point[i], n.pressure[i], periods[i], lang) for i in range(len(rows))
    ]
    task = bundle.tasks[TASK]
    expected = x[:, task.base_index] if task.base_index is not None else np.full(len(x), np.nan)
    explanations = explain_many(
        bundle,
        TASK,
        x,
        headlines,
        lang,
        ctx.metrics,
        question=QUESTION_FEATURES,
        other_item=True,
        references=own_past(rows, task.transform, expected, drought_factors(rows)[1], lang),
    )
    explanations = [in_kg(e, task.transform, float(v)) for e, v in zip(explanations, expected, strict=True)]
    grids = ctx.county.grids
    name_col = "grid_name_zh" if lang == "zh" else "grid_name"
    out = []
    for i, row in enumerate(rows[["grid_id", "season", "season_year", "as_of_month"]].to_dict("records")):
        out.append(
            GrazingAssessmentOut(
                grid_id=row["grid_id"],
                grid_name=str(grids.at[row["grid_id"], name_col]),
                township_id=str(grids.at[row["grid_id"], "township_id"]),
                season=row["season"],
                season_year=int(row["season_year"]),
                as_of_month=as_of[i].date(),
                yield_kg_ha=YieldOut(
                    predicted=float(n.yield_point[i]), low=float(n.yield_low[i]), high=float(n.yield_high[i])
                ),
                capacity_su=finite(n.capacity[i]),
                capacity_range_su=(finite(n.capacity_low[i]), finite(n.capacity_high[i])),
                stocking_su=finite(n.stocking[i]),
                pressure=finite(n.pressure[i], PRESSURE_SHOWN_MAX),
                status=n.status[i],
                advice=AdviceOut(
                    action=n.action[i],
                    su_to_move=float(n.su_to_move[i]),
                    text=advice_text(str(n.action[i]), float(n.su_to_move[i]), lang),
                ),
                overrides=scenarios[i].described,
                carried_months=ctx.county.carried_months(row["grid_id"]),
                explanation=explanations[i],
                stocking_range_su=(finite(n.stocking_low[i]), finite(n.stocking_high[i])),
                rested_share=finite(rows["rested_share_forecast"].iloc[i]),
                pressure_range=(
                    finite(n.pressure_low[i], PRESSURE_SHOWN_MAX),
                    finite(n.pressure_high[i], PRESSURE_SHOWN_MAX),
                ),
                risk=level,
                capacity_at_risk_su=finite(n.capacity_at_risk[i]),
                pressure_at_risk=finite(n.pressure_at_risk[i], PRESSURE_SHOWN_MAX),
                period=periods[i],
            )
        )
    ctx.metrics.rows.labels(FAMILY).inc(len(out))
    return out


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
