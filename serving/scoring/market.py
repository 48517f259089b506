"""Market (planners, cooperatives): head sold and price per township x species, 1-6 months ahead."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import ModelBundle, TaskModel, quantile_label
from models.linear import LinearBooster
from serving.errors import NotFound
from serving.explain import Explanation, Lang, Reason, feature_label, format_value
from serving.observability import Metrics
from serving.schemas import ExplanationOut, ForecastPoint, HistoryPoint, MarketForecast, MarketHistory
from serving.scoring.common import explain_many, require_columns, to_schema
from serving.scoring.context import ScoringContext

FAMILY = "market"
SPECIES_ZH = {"yak": "牦牛", "sheep": "藏羊", "goat": "山羊", "horse": "马"}
UNITS = {"head_sold": ("head", "头"), "price": ("yuan per head", "元/头")}
# Each task's log scale (features.market: log1p for a count that may be 0, log for a price).
LOG_SCALE = {"head_sold": np.log1p, "price": np.log}
FROM_LOG = {"head_sold": np.expm1, "price": np.exp}
# The classical forecast's terms (features.market.CLASSICAL_PARTS: level, trend, season on the log scale).
PART_TEXT = {
    "trend": {"en": "the series' trend", "zh": "本系列趋势"},
    "season": {"en": "the season of the month", "zh": "该月季节性"},
}


def check_township(ctx: ScoringContext, township_id: str) -> None:
    if township_id not in ctx.county.townships.index:
        raise NotFound(f"township_id: unknown township {township_id}")


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


def is_classical(task: TaskModel) -> bool:
    """The task serves the classical seasonal-trend forecast itself (a zero correction: every contribution
    of its model is 0, so the model's own terms say nothing about why)."""
    return isinstance(task.booster, LinearBooster) and task.booster.kind == "classical"


def is_hybrid(task: TaskModel, features: list[str]) -> bool:
    """The task serves LightGBM's correction of the classical forecast: its base input is the classical
    forecast, so the median is the classical forecast times exp(the trees' sum)."""
    return (
        not isinstance(task.booster, LinearBooster)
        and task.base_index is not None
        and features[task.base_index] == f"classical_{task.name}"
    )


def explain_hybrid(
    bundle: ModelBundle,
    task: str,
    x: np.ndarray,
    headlines: list[str],
    lang: Lang,
    metrics: Metrics,
    rows: pd.DataFrame | None = None,
) -> list[ExplanationOut]:
    """Exact reasons for a corrected classical forecast, on the task's log scale: the base is the classical
    forecast (the series' own level, trend and season) plus the trees' average correction, and the TreeSHAP
    contributions of the inputs the classical forecast cannot see (festival months, rain, snow, the herd)
    move it to the median: base + contributions = log(median) (log1p for head sold). With ``rows`` holding
    the classical forecast's terms, the base is the series' level and its trend and season come first among
    the reasons."""
    model = bundle.tasks[task]
    assert model.base_index is not None
    with np.errstate(divide="ignore", invalid="ignore"):
        start = LOG_SCALE[task](x[:, model.base_index])
    name = "本系列自身水平、趋势与季节的推算" if lang == "zh" else "the series' own level, trend and season"
    out = explain_many(
        bundle,
        task,
        x,
        headlines,
        lang,
        metrics,
        other_item=True,
        references=[(float(v), name) for v in start],
        base_shift=start,
    )
    if rows is not None:
        out = [with_parts(task, e, rows.iloc[i], lang) for i, e in enumerate(out)]
    return out


def with_parts(task: str, expl: ExplanationOut, row: pd.Series, lang: Lang) -> ExplanationOut:
    """Move the classical forecast's trend and season out of the base into the reasons (still exact)."""
    parts = classical_parts(task, row)
    if parts is None:
        return expl
    _, trend, season = parts
    reasons = to_schema(Explanation(0.0, 0.0, part_reasons(task, trend, season, lang), "")).reasons
    update = {"base_value": expl.base_value - trend - season, "reasons": [*reasons, *expl.reasons]}
    return expl.model_copy(update=update)


def classical_parts(task: str, row: pd.Series) -> tuple[float, float, float] | None:
    """The classical forecast's level, trend and season terms (log scale) for a row, if all are known."""
    values = tuple(float(row.get(f"classical_{task}_{part}", np.nan)) for part in ("level", "trend", "season"))
    return values if all(np.isfinite(v) for v in values) else None  # type: ignore[return-value]


def part_reasons(task: str, trend: float, season: float, lang: Lang) -> list[Reason]:
    """The trend and season terms as reasons (log-scale contributions; shown as a percentage change)."""
    out = []
    for part, value in (("trend", trend), ("season", season)):
        pct = 100 * (math.exp(value) - 1)
        text = PART_TEXT[part][lang]
        out.append(
            Reason(
                feature=f"classical_{task}_{part}",
                label=text,
                value=value,
                display_value=f"{pct:+.0f}%",
                contribution=value,
                direction="up" if value >= 0 else "down",
                text=text,
            )
        )
    return out


def explain_classical_parts(
    task: str, parts: tuple[float, float, float], median: float, headline: str, lang: Lang
) -> Explanation:
    """The classical forecast from its terms, exactly on the task's log scale: the series' recent level
    (seasonally adjusted; the base), plus its trend to the target month, plus the month's season."""
    level, trend, season = parts
    reasons = part_reasons(task, trend, season, lang)
    with np.errstate(over="ignore", invalid="ignore"):
        level_value = format_value(f"classical_{task}", float(max(FROM_LOG[task](level), 0.0)), lang)
    t, s = (f"{100 * (math.exp(v) - 1):+.0f}%" for v in (trend, season))
    if lang == "zh":
        where = (
            "近期水平（全县各乡镇该畜种价格，按本乡镇惯常差价，已除季节）"
            if task == "price"
            else "本系列近期水平（已除季节）"
        )
        sentence = f"{headline}：{where}为{level_value}，趋势{t}，该月季节性{s}。"
    else:
        where = (
            "the recent level is {} (the species' price across the county's townships, at this township's usual "
            "difference, seasonally adjusted)"
            if task == "price"  # features.market.POOLED_BY: price is forecast from the species' townships
            else "the series' recent level is {} (seasonally adjusted)"
        )
        sentence = f"{headline}: {where.format(level_value)}, its trend {t}, the season of the month {s}."
    raw = level + trend + season
    del median  # the parts add up to the log of the median (the classical forecast itself)
    return Explanation(level, raw, reasons, sentence)


def explain_classical_row(task: str, row: pd.Series, median: float, headline: str, lang: Lang) -> ExplanationOut:
    """The classical forecast split into level, trend and season when the row has them, else from the
    same month a year earlier."""
    parts = classical_parts(task, row)
    if parts is not None and math.isclose(sum(parts), LOG_SCALE[task](median), abs_tol=1e-9):
        return to_schema(explain_classical_parts(task, parts, median, headline, lang))
    return to_schema(explain_classical(task, row, median, headline, lang))


def explain_classical(task: str, row: pd.Series, median: float, headline: str, lang: Lang) -> Explanation:
    """Why the classical forecast says what it says, exactly, on the task's log scale: from the same month a
    year earlier (the base; the value at origin when that is unknown) to the forecast, the series' own level,
    trend and season move it by the one reason's contribution (base + contribution = log of the median)."""
    z = LOG_SCALE[task]
    forecast_col = f"classical_{task}"
    ref_col = f"seasonal_naive_{task}"
    if not np.isfinite(row.get(ref_col, np.nan)):
        ref_col = f"{task}_at_origin"
    ref = float(row.get(ref_col, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = float(z(median))
        base = float(z(ref)) if np.isfinite(ref) else float("nan")
    if not (np.isfinite(raw) and np.isfinite(base)):
        known = raw if np.isfinite(raw) else 0.0
        return Explanation(known, known, [], headline + ("。" if lang == "zh" else "."))
    push = raw - base
    ref_value = format_value(ref_col, ref, lang)
    a_year_ago = ref_col.startswith("seasonal_naive_")
    if lang == "zh":
        text = "本系列自身的水平、趋势与季节"
        ref_name = "上年同月" if a_year_ago else "上月"
        sentence = f"{headline}，{'高于' if push >= 0 else '低于'}{ref_name}（{ref_value}），来自{text}。"
    else:
        text = "the series' own level, trend and season"
        ref_name = "the same month a year earlier" if a_year_ago else "last month"
        sentence = f"{headline}, {'above' if push >= 0 else 'below'} {ref_name} ({ref_value}): {text}."
    reason = Reason(
        feature=forecast_col,
        label=feature_label(forecast_col, lang),
        value=float(row.get(forecast_col, median)),
        display_value=format_value(forecast_col, float(row.get(forecast_col, median)), lang),
        contribution=push,
        direction="up" if push >= 0 else "down",
        text=text,
    )
    return Explanation(base, raw, [reason], sentence)


def forecast(ctx: ScoringContext, township_id: str, species: str, lang: Lang) -> MarketForecast:
    """Head sold and price for the next months with quantiles and reasons, for one township and species."""
    model = ctx.served(FAMILY)
    bundle = model.bundle
    check_township(ctx, township_id)
    prep = ctx.prepared(model)
    if (township_id, species) not in prep.index:
        raise NotFound(f"no market records for {township_id} {species}")
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
        if is_classical(task):
            explanations = [
                explain_classical_row(task_name, rows.iloc[i], float(median[i]), headlines[i], lang)
                for i in range(len(rows))
            ]
        elif is_hybrid(task, bundle.features):
            explanations = explain_hybrid(bundle, task_name, x, headlines, lang, ctx.metrics, rows)
        else:
            explanations = explain_many(bundle, task_name, x, headlines, lang, ctx.metrics, other_item=True)
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
    ctx.metrics.rows.labels(FAMILY).inc(len(rows))
    return MarketForecast(
        township_id=township_id,
        species=species,  # type: ignore[arg-type]
        origin_month=pd.Timestamp(rows["origin_month"].iloc[0]).date(),
        head_sold=out["head_sold"],
        price=out["price"],
    )


def history(ctx: ScoringContext, township_id: str, species: str, months: int) -> MarketHistory:
    """Recorded head sold and price, for drawing the history behind a forecast."""
    check_township(ctx, township_id)
    rows = ctx.county.market_history(township_id, species, months)
    points = [
        HistoryPoint(month=pd.Timestamp(m).date(), head_sold=int(h), price_yuan_per_head=float(p))
        for m, h, p in zip(rows["month"], rows["head_sold"], rows["price_yuan_per_head"], strict=True)
        if np.isfinite(p)
    ]
    return MarketHistory(township_id=township_id, species=species, points=points)  # type: ignore[arg-type]


def score_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Offline scoring: columns ``township_id[,species]`` (yak by default), one output row per horizon."""
    require_columns(frame, ["township_id"], FAMILY)
    species = frame["species"] if "species" in frame else pd.Series("yak", index=frame.index)
    rows: list[dict[str, Any]] = []
    for township_id, sp in zip(frame["township_id"].astype(str), species.astype(str), strict=True):
        f = forecast(ctx, township_id, sp, lang)
        for head, price in zip(f.head_sold, f.price, strict=True):
            rows.append(
                {
                    "township_id": township_id,
                    "species": sp,
                    "target_month": head.target_month,
                    "horizon": head.horizon,
                    "head_sold": head.median,
                    **{f"head_sold_{k}": v for k, v in head.quantiles.items()},
                    "price": price.median,
                    **{f"price_{k}": v for k, v in price.quantiles.items()},
                    "reason": head.explanation.sentence,
                }
            )
    return pd.DataFrame(rows)
