"""Offline scoring from the command line: ``muzhang predict FAMILY --input in.csv --output out.csv``.

Uses the same champions, feature rows and explanations as the API. Input columns by family:
grazing ``grid_id[,season]``; dispute ``grid_id``; market ``township_id[,species]``; disease one
health-check record per row (the fields of ``POST /v1/disease/score``).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import HTTPException

from muzhang.settings import Settings
from serving.county import load_county_state
from serving.deps import AppState, Caller
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REQUIRED = {"grazing": ["grid_id"], "dispute": ["grid_id"], "market": ["township_id"], "disease": []}


class OfflineInputError(ValueError):
    """The input file cannot be scored; the message names the column, row or rule."""


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (CSV injection) with a quote."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v
            )
    return out


def offline_state(settings: Settings, family: str) -> AppState:
    registry = ModelRegistry(settings.tracking_uri())
    outcome = registry.reload(family)[family]
    if registry.slots[family].model is None:
        raise OfflineInputError(f"no {family} champion to score with: {outcome}")
    return AppState(
        settings=settings,
        registry=registry,
        county=load_county_state(settings.data_dir),
        metrics=Metrics(),
        audit=AuditLog(settings.audit_path()),
        keys=[],
    )


def score_frame(state: AppState, family: str, frame: pd.DataFrame, lang: Any) -> pd.DataFrame:
    """Score every row; returns one output row per input row (market: one per horizon)."""
    from serving.routes import disease, dispute, grazing, market

    missing = [c for c in REQUIRED[family] if c not in frame.columns]
    if missing:
        raise OfflineInputError(f"input lacks column(s) {', '.join(missing)} needed to score {family}")
    if family == "grazing":
        seasons = frame["season"] if "season" in frame else pd.Series("warm", index=frame.index)
        queries = list(zip(frame["grid_id"].astype(str), seasons.astype(str), strict=True))
        results = grazing.assess(state, queries, [grazing.Scenario()] * len(queries), lang)
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
    if family == "dispute":
        risks = dispute.score(state, list(frame["grid_id"].astype(str)), lang)
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
    if family == "market":
        species = frame["species"] if "species" in frame else pd.Series("yak", index=frame.index)
        rows = []
        for township_id, sp in zip(frame["township_id"].astype(str), species.astype(str), strict=True):
            f = market.forecast(state, township_id, sp, lang)
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
    records = disease.parse_csv(frame.to_csv(index=False).encode("utf-8"), state.settings.batch_cap)
    response = disease.score_records(
        state, Caller(getpass.getuser(), "cli"), "cli: muzhang predict disease", records, lang
    )
    out = []
    for result in sorted(response.results, key=lambda r: r.index):
        row: dict[str, Any] = {
            "row": result.index + 1,
            "ref": result.ref,
            "highest_band": result.highest_band,
        }
        for risk in result.risks:
            row[f"p_{risk.condition}"] = risk.probability
            row[f"band_{risk.condition}"] = risk.band
        row["reason"] = result.risks[0].explanation.sentence
        out.append(row)
    return pd.DataFrame(out)


def predict_file(settings: Settings, family: str, input_path: Path, output_path: Path, lang: Any = "zh") -> int:
    """Score ``input_path`` into ``output_path`` (CSV, formula cells neutralised); returns rows written."""
    try:
        frame = pd.read_csv(input_path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise OfflineInputError(f"{input_path}: not a readable CSV with a header row ({exc})") from None
    if frame.empty:
        raise OfflineInputError(f"{input_path}: no data rows")
    state = offline_state(settings, family)
    try:
        scored = score_frame(state, family, frame, lang)
    except HTTPException as exc:  # the API's own checks: unknown ids, bad records, caps
        raise OfflineInputError(str(exc.detail)) from None
    output_path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(scored).to_csv(output_path, index=False)
    return len(scored)
