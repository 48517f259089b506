"""Helpers shared by the family routers: language, bands, explanations, batch caps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import Header, HTTPException, Query, status

from models.bundle import ModelBundle
from serving.deps import AppState
from serving.explain import TOP_K, Explanation, Lang, contributions, explain_row
from serving.observability import Metrics, Timer
from serving.registry import FamilyUnavailable, ModelRegistry, ServedModel
from serving.schemas import Band, ExplanationOut, ReasonOut

DEFAULT_BANDS = {"medium": 0.10, "high": 0.25}


def choose_lang(lang: Lang | None, accept_language: str | None) -> Lang:
    """Chinese unless asked otherwise, by ``lang`` or by an ``Accept-Language`` that prefers English."""
    if lang is not None:
        return lang
    if accept_language:
        first = accept_language.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
    return "zh"


async def resolve_lang(
    lang: Annotated[Lang | None, Query(description="zh (default) or en; else Accept-Language decides.")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Lang:
    """The answer's language (async: a dependency this cheap should not take a threadpool hop)."""
    return choose_lang(lang, accept_language)


def served(registry: ModelRegistry, family: str) -> ServedModel:
    try:
        return registry.get(family)
    except FamilyUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


def check_cap(n: int, cap: int, what: str = "items") -> None:
    if n > cap:
        raise HTTPException(
            413,
            f"too many {what}: {n}; at most {cap} per request (split the batch)",
        )


def band_of(p: float, bands: dict[str, float] | None) -> Band:
    cuts = bands or DEFAULT_BANDS
    return "high" if p >= cuts["high"] else "medium" if p >= cuts["medium"] else "low"


def explain_many(
    bundle: ModelBundle,
    task: str,
    x: np.ndarray,
    headlines: Sequence[str],
    lang: Lang,
    metrics: Metrics,
    k: int = TOP_K,
) -> list[ExplanationOut]:
    """Exact contributions for every row of ``x``, its ``k`` main reasons and one sentence each."""
    model = bundle.tasks[task]
    with Timer() as timer:
        contrib = contributions(model, x)
        out = [
            to_schema(explain_row(bundle.encoder, model, x[i], contrib[i], headlines[i], lang, k))
            for i in range(len(x))
        ]
    metrics.explain.labels(bundle.family).observe(timer.seconds)
    return out


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


def pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


BAND_WORDS = {
    "en": {"low": "low", "medium": "medium", "high": "high"},
    "zh": {"low": "低", "medium": "中", "high": "高"},
}


# Columns that pick a family's forecast rows in a request (market: six horizons per key).
FORECAST_KEYS = {
    "dispute": ("grid_id",),
    "grazing": ("grid_id", "season"),
    "market": ("township_id", "species"),
}


@dataclass(frozen=True)
class Prepared:
    """A family's forecast rows, encoded once for one model version, with a key -> row positions index."""

    x: np.ndarray
    frame: pd.DataFrame
    index: dict[tuple[str, ...], list[int]]

    def rows(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        return np.array([p for k in keys for p in self.index[k]], dtype=int)


def prepared(state: AppState, model: ServedModel) -> Prepared:
    """The family's forecast rows for this model version, built on first use and kept."""
    key = (model.family, model.version)
    cached = state.encoded.get(key)
    if cached is None:
        frame = state.county.forecasts[model.family].frame
        index: dict[tuple[str, ...], list[int]] = {}
        columns = [frame[c].astype(str).tolist() for c in FORECAST_KEYS[model.family]]
        for i, k in enumerate(zip(*columns, strict=True)):
            index.setdefault(k, []).append(i)
        cached = Prepared(model.bundle.encoder.encode(frame), frame, index)
        state.encoded = {k: v for k, v in state.encoded.items() if k[0] != model.family} | {key: cached}
    return cached
