"""Per-prediction explanations: exact TreeSHAP from LightGBM and one plain sentence in Chinese or English.

``booster.predict(x, pred_contrib=True)`` is the routine ``shap.TreeExplainer`` itself runs for LightGBM
(tests check they agree): the last column is the base value and each row sums to the raw score, so the
explanation adds up to the prediction. No ``shap`` import is needed at serving time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from models.bundle import FeatureEncoder, TaskModel, predict_threads
from muzhang.catalog import labels

# Labels and phrases are pure functions of (feature, value, language): many rows share them.
describe = lru_cache(maxsize=200_000)(labels.describe)
feature_label = lru_cache(maxsize=4_096)(labels.feature_label)
format_value = lru_cache(maxsize=200_000)(labels.format_value)

Lang = Literal["zh", "en"]
TOP_K = 5


@dataclass(frozen=True)
class Reason:
    """One input's push on a prediction."""

    feature: str
    label: str
    value: Any
    display_value: str
    contribution: float  # on the model's raw scale (log-odds, kg DM/ha, log ratio ...)
    direction: Literal["up", "down"]
    text: str


@dataclass(frozen=True)
class Explanation:
    base_value: float
    raw_prediction: float
    reasons: list[Reason]
    sentence: str


def contributions(task: TaskModel, x: np.ndarray) -> np.ndarray:
    """Exact TreeSHAP contributions of the task's point booster: (rows, features + 1), last = base value."""
    return np.asarray(task.booster.predict(x, pred_contrib=True, num_threads=predict_threads(x)), dtype=float)


def raw_value(encoder: FeatureEncoder, feature: str, code: float) -> Any:
    """The input as the user gave it: a category back from its code, a number otherwise."""
    vocab = encoder.vocabularies.get(feature)
    if vocab is not None:
        return None if np.isnan(code) else vocab[int(code)]
    return None if np.isnan(code) else float(code)


def top_reasons(
    encoder: FeatureEncoder, x_row: np.ndarray, contrib_row: np.ndarray, lang: Lang, k: int = TOP_K
) -> list[Reason]:
    """The ``k`` inputs that moved this prediction most, largest first."""
    values = contrib_row[:-1]
    order = np.argsort(-np.abs(values), kind="stable")[:k]
    reasons = []
    for j in order:
        if values[j] == 0:
            continue
        name = encoder.features[j]
        value = raw_value(encoder, name, float(x_row[j]))
        reasons.append(
            Reason(
                feature=name,
                label=feature_label(name, lang),
                value=value,
                display_value=format_value(name, value, lang),
                contribution=float(values[j]),
                direction="up" if values[j] > 0 else "down",
                text=describe(name, value, lang),
            )
        )
    return reasons


def compose_sentence(headline: str, reasons: list[Reason], above_average: bool, lang: Lang) -> str:
    """One sentence: the headline, whether it is above or below the model's average and why, and the
    main reason working the other way.
    """
    lead_dir, other_dir = ("up", "down") if above_average else ("down", "up")
    lead = [r.text for r in reasons if r.direction == lead_dir][:2]
    other = [r.text for r in reasons if r.direction == other_dir][:1]
    if lang == "zh":
        out = headline
        if lead:
            out += ("，高于平均水平，" if above_average else "，低于平均水平，") + "主要因为" + "，且".join(lead)
        if other:
            out += f"；{other[0]}，" + ("使其降低" if other_dir == "down" else "使其升高")
        return out + "。"
    out = headline
    if lead:
        out += (", higher than usual" if above_average else ", lower than usual") + " mainly because "
        out += " and ".join(lead)
    if other:
        out += f"; {other[0]}, which " + ("pulls it down" if other_dir == "down" else "pushes it up")
    return out + "."


def explain_row(
    encoder: FeatureEncoder,
    task: TaskModel,
    x_row: np.ndarray,
    contrib_row: np.ndarray,
    headline: str,
    lang: Lang,
    k: int = TOP_K,
) -> Explanation:
    reasons = top_reasons(encoder, x_row, contrib_row, lang, k)
    base = float(contrib_row[-1])
    raw = float(contrib_row.sum())
    return Explanation(base, raw, reasons, compose_sentence(headline, reasons, raw >= base, lang))
