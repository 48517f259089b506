"""Shared by the family scorers: explanations in the response shape, risk bands, percentages, names."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import ModelBundle
from muzhang.domain import DEFAULT_RISK_BANDS, RiskBands
from muzhang.families import get_family
from serving.errors import InvalidInput
from serving.explain import TOP_K, Explanation, Lang, contributions, explain_row
from serving.observability import Metrics, Timer
from serving.schemas import ExplanationOut, ReasonOut
from serving.scoring.measurements import added_specs, field_text, relabel

BAND_WORDS = {
    "en": {"low": "low", "medium": "medium", "high": "high"},
    "zh": {"low": "低", "medium": "中", "high": "高"},
}


def risk_bands(bundle: ModelBundle) -> RiskBands:
    """The cut-offs a model was trained with (``thresholds.risk_bands``), else the defaults."""
    cuts: dict[str, Any] | None = bundle.thresholds.get("risk_bands")
    return RiskBands(**cuts) if cuts else DEFAULT_RISK_BANDS


def pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def grid_name(grids: pd.DataFrame, grid_id: str, lang: Lang) -> str:
    return str(grids.at[grid_id, "grid_name_zh" if lang == "zh" else "grid_name"])


def explain_many(
    bundle: ModelBundle,
    task: str,
    x: np.ndarray,
    headlines: Sequence[str],
    lang: Lang,
    metrics: Metrics,
    k: int = TOP_K,
    *,
    question: Sequence[str] = (),
    other_item: bool = False,
    references: Sequence[tuple[float, str]] | None = None,
    leave_out: Sequence[frozenset[str]] | None = None,
    base_shift: np.ndarray | None = None,
) -> list[ExplanationOut]:
    """Exact contributions for every row of ``x``, its ``k`` main reasons and one sentence each
    (``question``, ``other_item`` and ``references``: see :func:`serving.explain.explain_row`).
    ``leave_out``: per row, further inputs never given as a reason (e.g. those not recorded);
    ``base_shift``: per row, added to the base value (a base forecast the trees correct)."""
    model = bundle.tasks[task]
    asked = frozenset(question)
    with Timer() as timer:
        contrib = contributions(model, x)
        if base_shift is not None:
            contrib[:, -1] += base_shift
        out = [
            to_schema(
                explain_row(
                    bundle.encoder,
                    model,
                    x[i],
                    contrib[i],
                    headlines[i],
                    lang,
                    k,
                    question=asked if leave_out is None else asked | leave_out[i],
                    other_item=other_item,
                    reference=None if references is None else references[i],
                )
            )
            for i in range(len(x))
        ]
    metrics.explain.labels(bundle.family).observe(timer.seconds)
    return added_field_reasons(out, bundle, lang)


def added_field_reasons(explanations: list[ExplanationOut], bundle: ModelBundle, lang: Lang) -> list[ExplanationOut]:
    """A forecast family's reasons about a field a catalog extension added named by its catalog entry
    (``herder meetings was 3 meetings``) instead of the bare field name. The disease family words its own
    (a person's reading at the check)."""
    if not bundle.added_fields or not get_family(bundle.family).serves_forecasts:
        return explanations
    specs = added_specs(bundle)
    return [relabel(e, specs, lang, phrase=field_text) for e in explanations]


def to_schema(expl: Explanation) -> ExplanationOut:
    return ExplanationOut(
        sentence=expl.sentence,
        base_value=expl.base_value,
        raw_prediction=expl.raw_prediction,
        reasons=[
            ReasonOut(
                feature=r.feature,
                label=r.label,
                value=r.value,
                display_value=r.display_value,
                contribution=r.contribution,
                direction=r.direction,
                text=r.text,
            )
            for r in expl.reasons
        ],
    )


def require_columns(frame: pd.DataFrame, columns: Sequence[str], family: str) -> None:
    """Offline input must carry the columns its family needs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"input lacks column(s) {', '.join(missing)} needed to score {family}")


def percentage_points(
    contributions: list[float], raw: float, base: float, calibration: tuple[float, float] | None
) -> list[float]:
    """Log-odds contributions as percentage points of probability: the move from the average risk to this
    one (calibrated), shared in proportion to the contributions, so all of them add up to that move."""
    a, b = calibration or (1.0, 0.0)
    p, p0 = 1 / (1 + math.exp(-(a * raw + b))), 1 / (1 + math.exp(-(a * base + b)))
    per_unit = a * p * (1 - p) if abs(raw - base) < 1e-12 else (p - p0) / (raw - base)
    return [100 * c * per_unit for c in contributions]


def in_percentage_points(explanation: ExplanationOut, calibration: tuple[float, float] | None) -> ExplanationOut:
    """The explanation's ``display_*`` fields in percentage points of probability: from the average risk
    (``display_base``, the calibrated probability at the model's average log-odds) to this risk
    (``display_prediction``), each reason its share of that move in proportion to its log-odds contribution
    (:func:`percentage_points`); what the shown reasons leave is the other inputs' share."""
    a, b = calibration or (1.0, 0.0)
    points = percentage_points(
        [r.contribution for r in explanation.reasons], explanation.raw_prediction, explanation.base_value, calibration
    )
    reasons = [
        r.model_copy(update={"display_contribution": v}) for r, v in zip(explanation.reasons, points, strict=True)
    ]
    return explanation.model_copy(
        update={
            "reasons": reasons,
            "display_unit": "pp",
            "display_base": 100 / (1 + math.exp(-(a * explanation.base_value + b))),
            "display_prediction": 100 / (1 + math.exp(-(a * explanation.raw_prediction + b))),
        }
    )
