"""Dispute risk next month (township officials, planners): grids, a ranked watch-list, offline scoring."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.bundle import TaskModel
from serving.errors import NotFound
from serving.explain import Lang
from serving.schemas import DisputeRisk, ExplanationOut, RecentLevelOut, WatchItem, Watchlist
from serving.scoring.common import (
    BAND_WORDS,
    explain_many,
    grid_name,
    in_percentage_points,
    pct,
    require_columns,
    risk_bands,
)
from serving.scoring.context import ScoringContext

FAMILY = "dispute"
TASK = "any_dispute"


def headline(p: float, band: str, lang: Lang) -> str:
    if lang == "zh":
        return f"下月发生纠纷的风险{BAND_WORDS['zh'][band]}（{pct(p)}）"
    return f"Dispute risk next month is {BAND_WORDS['en'][band]} ({pct(p)})"


def with_percentage_points(
    explanation: ExplanationOut, calibration: tuple[float, float] | None, lang: Lang
) -> ExplanationOut:
    """Each reason's words end with its push in percentage points of probability (not log-odds), the
    points :func:`in_percentage_points` gives as display fields."""
    shown = in_percentage_points(explanation, calibration)
    unit = "个百分点" if lang == "zh" else " pp"
    open_, close = ("（", "）") if lang == "zh" else (" (", ")")
    reasons = [
        r.model_copy(update={"text": f"{r.text}{open_}{r.display_contribution:+.1f}{unit}{close}"})
        for r in shown.reasons
    ]
    return shown.model_copy(update={"reasons": reasons})


def recent_level(task: TaskModel, lang: Lang) -> RecentLevelOut | None:
    """The recent level the task's risks are put at, in words (None for a model without one)."""
    level = task.level
    if level is None:
        return None
    ratio = math.exp(level.offset)
    if lang == "zh":
        way = "高于" if ratio >= 1 else "低于"
        text = (
            f"风险按最近{level.window}个已关闭月份（{level.first}至{level.last}）的实际纠纷水平校准："
            f"实际{way}模型预期，所有风险的几率×{ratio:.2f}"
        )
    else:
        way = "above" if ratio >= 1 else "below"
        text = (
            f"Risks are at the level of the last {level.window} closed months ({level.first} to {level.last}): "
            f"disputes ran {way} what the model expected, so every risk's odds are ×{ratio:.2f}"
        )
    return RecentLevelOut(first=level.first, last=level.last, odds_ratio=ratio, text=text)


def score(ctx: ScoringContext, grid_ids: list[str], lang: Lang) -> list[DisputeRisk]:
    """Probability of any dispute next month for each grid area, with band and reasons."""
    unknown = [g for g in grid_ids if g not in ctx.county.grid_ids]
    if unknown:
        raise NotFound(f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")
    model = ctx.served(FAMILY)
    bundle = model.bundle
    prep = ctx.prepared(model)
    pos = prep.rows([(g,) for g in grid_ids])
    x = prep.x[pos]
    p = prep.bundle.tasks[TASK].point(x)
    cuts = risk_bands(bundle)
    bands = [cuts.band(v) for v in p]
    explanations = explain_many(
        bundle, TASK, x, [headline(v, b, lang) for v, b in zip(p, bands, strict=True)], lang, ctx.metrics
    )
    calibration = prep.bundle.tasks[TASK].platt()  # with the recent level's offset
    explanations = [with_percentage_points(e, calibration, lang) for e in explanations]
    grids = ctx.county.grids
    months = prep.frame["month"].to_numpy()[pos]
    level = recent_level(prep.bundle.tasks[TASK], lang)
    out = [
        DisputeRisk(
            grid_id=grid_id,
            grid_name=grid_name(grids, grid_id, lang),
            township_id=str(grids.at[grid_id, "township_id"]),
            month=pd.Timestamp(months[i]).date(),
            probability=float(p[i]),
            band=bands[i],
            carried_months=ctx.county.carried_months(grid_id),
            explanation=explanations[i],
            level=level,
        )
        for i, grid_id in enumerate(grid_ids)
    ]
    ctx.metrics.rows.labels(FAMILY).inc(len(out))
    return out


def watchlist(ctx: ScoringContext, top: int, township_id: str | None, lang: Lang) -> Watchlist:
    """Grids ranked by dispute risk next month (optionally in one township), each with its main reason."""
    model = ctx.served(FAMILY)
    prep = ctx.prepared(model)
    keep = np.ones(len(prep.frame), dtype=bool)
    if township_id is not None:
        if township_id not in ctx.county.townships.index:
            raise NotFound(f"township_id: unknown township {township_id}")
        keep = (prep.frame["grid_id"].map(ctx.county.grids["township_id"]) == township_id).to_numpy()
    candidates = np.flatnonzero(keep)
    p = prep.bundle.tasks[TASK].point(prep.x[candidates])
    order = candidates[np.argsort(-p, kind="stable")[:top]]
    chosen = [str(prep.frame["grid_id"].iloc[i]) for i in order]
    risks = score(ctx, chosen, lang) if chosen else []
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
    month = pd.Timestamp(prep.frame["month"].iloc[0]).date()
    return Watchlist(month=month, items=items, level=recent_level(prep.bundle.tasks[TASK], lang))


def score_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Offline scoring: column ``grid_id``, one output row per input row."""
    require_columns(frame, ["grid_id"], FAMILY)
    risks = score(ctx, list(frame["grid_id"].astype(str)), lang)
    return pd.DataFrame(
        [
            {
                "grid_id": r.grid_id,
                "month": r.month,
                "probability": r.probability,
                "band": r.band,
                "reason": r.explanation.sentence,
            }
            for r in risks
        ]
    )
