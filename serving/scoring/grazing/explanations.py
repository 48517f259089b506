"""Grazing words: the headline, the period a pressure is for, the advice sentence, and what "usual" means
(the grid's own past of the same season); inputs that restate the question are never reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.explain import Lang
from serving.schemas import ExplanationOut
from serving.scoring.grazing.common import PRESSURE_SHOWN_MAX

# Inputs that restate the question (which season, how far ahead): never listed as a reason.
QUESTION_FEATURES = ("season", "lead_months")
SEASON_WORDS = {
    "en": {"warm": "warm-season", "cold": "cold-season", "transition": "transition-season"},
    "zh": {"warm": "暖季", "cold": "冷季", "transition": "过渡季"},
}
STATUS_WORDS = {
    "en": {"under": "under-stocked", "balanced": "balanced", "over": "over-stocked"},
    "zh": {"under": "载畜不足", "balanced": "草畜平衡", "over": "超载"},
}


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


def headline(season: str, status: str, yield_kg_ha: float, pressure: float, period: str, lang: Lang) -> str:
    season_word = SEASON_WORDS[lang][season]
    status_word = STATUS_WORDS[lang][status]
    shown = min(pressure, PRESSURE_SHOWN_MAX) if np.isfinite(pressure) else PRESSURE_SHOWN_MAX
    if lang == "zh":
        return (
            f"预计{season_word}产草量为每公顷{yield_kg_ha:,.0f}千克干物质，载畜压力指数{shown:.2f}"
            f"（{status_word}，{period}）"
        )
    return (
        f"Forecast {season_word} yield is {yield_kg_ha:,.0f} kg DM/ha, grazing pressure {shown:.2f} "
        f"({status_word}; {period})"
    )


def own_past(
    rows: pd.DataFrame, transform: str, expected: np.ndarray, factor: np.ndarray, lang: Lang
) -> list[tuple[float, str]]:
    """What "higher / lower than usual" means: the grid's own mean yield in its past seasons of the same
    kind, named with its value in kg DM/ha, on the model's raw scale (kg DM/ha, or its log ratio to the
    grid's ``expected`` yield when the model learns one). ``factor``: what a what-if multiplies the model's
    yield by (a drought year's ratio, 1 elsewhere), so the words are said of the yield the answer shows."""
    means = rows["yield_mean_past"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.log(means / (expected * factor)) if transform == "log_ratio" else means / factor
    out = []
    for mean, value, season in zip(means, raw, rows["season"], strict=True):
        word = SEASON_WORDS[lang][season]
        name = (
            f"本网格以往{word}的平均水平（{mean:,.0f}千克/公顷）"
            if lang == "zh"
            else f"this grid's past {word} mean ({mean:,.0f} kg DM/ha)"
        )
        out.append((float(value), name))
    return out


YIELD_UNIT = "kg DM/ha"


def kg_per_log_unit(raw: float, expected: float) -> float:
    """kg DM/ha per unit of log ratio on the way from the expected yield (raw 0) to the forecast
    (``expected * exp(raw)``): the move divided by the log ratio, or its limit (the expected yield) at 0."""
    return expected if abs(raw) < 1e-12 else expected * float(np.expm1(raw)) / raw


def in_kg(explanation: ExplanationOut, transform: str, expected: float) -> ExplanationOut:
    """The explanation also in kg DM/ha (its ``display_*`` fields), exactly.

    A model learning the log ratio to the grid's expected yield (``transform``, see
    :class:`models.bundle.TaskModel`): the move from the expected yield to the forecast is shared among the
    model's average (``base_value``) and the reasons in proportion to their log-ratio contributions, as
    :func:`serving.scoring.dispute.percentage_points` shares a risk's move, so they add up to forecast -
    expected. Any other model (one trained on kg DM/ha itself, whose contributions
    already are kg DM/ha from the model's average rather than from this grid's expected yield): unchanged.
    """
    if transform != "log_ratio" or not (np.isfinite(expected) and expected > 0):
        return explanation
    raw, base = explanation.raw_prediction, explanation.base_value
    rate = kg_per_log_unit(raw, expected)
    start, average, prediction = expected, base * rate, expected * float(np.exp(raw))
    reasons = [r.model_copy(update={"display_contribution": r.contribution * rate}) for r in explanation.reasons]
    return explanation.model_copy(
        update={
            "reasons": reasons,
            "display_unit": YIELD_UNIT,
            "display_base": start,
            "display_average": average,
            "display_prediction": prediction,
        }
    )


def period_text(season: str, season_year: int, as_of: pd.Timestamp, lang: Lang) -> str:
    """What a grazing pressure is: the season's forecast, and the month of data it was made from."""
    word = SEASON_WORDS[lang][season]
    if lang == "zh":
        return f"{season_year}年{word}预测（数据截至{as_of.year}年{as_of.month}月）"
    return f"{season_year} {word} forecast (data to {as_of:%b %Y})"


def in_progress_text(season: str, season_year: int, as_of: pd.Timestamp, months_left: int, lang: Lang) -> str:
    """What an in-progress pressure is: the months left of the season under way, from the last month's data."""
    word = SEASON_WORDS[lang][season]
    if lang == "zh":
        return f"{season_year}年{word}进行中：余下{months_left}个月（数据截至{as_of.year}年{as_of.month}月）"
    return f"{season_year} {word} in progress: the {months_left} months left (data to {as_of:%b %Y})"
