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
OTHER_FEATURE = "other"  # the one item that sums every contribution not listed
OTHER_LABEL = {"en": "other factors", "zh": "其他因素"}


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
    encoder: FeatureEncoder,
    x_row: np.ndarray,
    contrib_row: np.ndarray,
    lang: Lang,
    k: int = TOP_K,
    question: frozenset[str] = frozenset(),
) -> list[Reason]:
    """The ``k`` inputs that moved this prediction most, largest first, leaving out the inputs in
    ``question`` (those that restate what was asked, e.g. "the forecast is for the warm season")."""
    values = contrib_row[:-1]
    ranked = np.argsort(-np.abs(values), kind="stable")
    order = [int(j) for j in ranked if encoder.features[j] not in question][:k]
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


def other_factors(contrib_row: np.ndarray, reasons: list[Reason], lang: Lang) -> Reason:
    """Every contribution not listed, as one item: with it the items add up to the prediction exactly."""
    rest = float(contrib_row[:-1].sum() - sum(r.contribution for r in reasons))
    label = OTHER_LABEL[lang]
    return Reason(OTHER_FEATURE, label, None, "", rest, "up" if rest > 0 else "down", label)


def compose_sentence(
    headline: str, reasons: list[Reason], above_average: bool, lang: Lang, reference: str | None = None
) -> str:
    """One sentence: the headline, whether it is above or below the usual and why, and the main reason
    working the other way. ``reference`` names what "usual" is (e.g. the grid's own past seasons); without
    it the comparison is with the model's average.
    """
    reasons = [r for r in reasons if r.feature != OTHER_FEATURE]
    lead_dir, other_dir = ("up", "down") if above_average else ("down", "up")
    lead = [r.text for r in reasons if r.direction == lead_dir][:2]
    other = [r.text for r in reasons if r.direction == other_dir][:1]
    if lang == "zh":
        out = headline
        if lead:
            usual = reference or "平均水平"
            out += (f"，高于{usual}，" if above_average else f"，低于{usual}，") + "主要因为" + "，且".join(lead)
        if other:
            out += f"；{other[0]}，" + ("使其降低" if other_dir == "down" else "使其升高")
        return out + "。"
    out = headline
    if lead:
        usual = reference or "usual"
        out += (f", higher than {usual}" if above_average else f", lower than {usual}") + " mainly because "
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
    *,
    question: frozenset[str] = frozenset(),
    other_item: bool = False,
    reference: tuple[float, str] | None = None,
) -> Explanation:
    """The row's main reasons and sentence.

    Args:
        question: inputs left out of the reasons (they restate the question); their push goes to "other".
        other_item: add one "other factors" item so the items add up to the raw prediction exactly.
        reference: (value on the raw scale, its name) to compare with instead of the model's average,
            e.g. the grid's own past mean yield for the same season; NaN falls back to the model's average.
    """
    reasons = top_reasons(encoder, x_row, contrib_row, lang, k, question)
    base = float(contrib_row[-1])
    raw = float(contrib_row.sum())
    shown = [*reasons, other_factors(contrib_row, reasons, lang)] if other_item else reasons
    if reference is not None and np.isfinite(reference[0]):
        sentence = compose_sentence(headline, reasons, raw >= reference[0], lang, reference[1])
    else:
        sentence = compose_sentence(headline, reasons, raw >= base, lang)
    return Explanation(base, raw, shown, sentence)
