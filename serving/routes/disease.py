"""Disease risk (health staff only): one or many health-check records, as JSON or a CSV upload.

Every request is written to the append-only audit log (who, when, route, rows, result bands) and never
any field of a person. Records are not kept after the response.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from muzhang.catalog import load_catalog
from serving.deps import AppState, Caller, HealthDep, StateDep
from serving.explain import Lang
from serving.routes.common import BAND_WORDS, band_of, check_cap, explain_many, pct, resolve_lang, served
from serving.schemas import Band, ConditionRisk, DiseaseResponse, PatientResult, patient_record_model

router = APIRouter(prefix="/v1/disease", tags=["disease"])
LangDep = Annotated[Lang, Depends(resolve_lang)]
PatientRecord = patient_record_model()
DiseaseRequest = create_model(
    "DiseaseRequest",
    __config__=ConfigDict(extra="forbid", strict=True),
    records=(list[PatientRecord], Field(min_length=1, description="Health-check records to score.")),  # type: ignore[valid-type]
)
CONDITION_NAMES = {
    "echinococcosis": ("Echinococcosis", "包虫病"),
    "hypertension_5y": ("Hypertension within 5 years", "5年内高血压"),
    "cms_5y": ("Chronic mountain sickness within 5 years", "5年内慢性高原病"),
    "brucellosis": ("Brucellosis", "布鲁氏菌病"),
}
TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "否"}
CSV_ROW_ERRORS = 50
REASONS_PER_CONDITION = 3  # four conditions a person: three reasons each keep the answer readable


def _frame(records: list[BaseModel]) -> pd.DataFrame:
    rows = [r.model_dump(exclude={"ref"}) for r in records]
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, bool)).any():
            frame[column] = frame[column].map({True: 1.0, False: 0.0})
    return frame


def score_records(state: AppState, caller: Caller, route: str, records: list[Any], lang: Lang) -> DiseaseResponse:
    check_cap(len(records), state.settings.batch_cap, "records")
    bundle = served(state.registry, "disease").bundle
    frame = _frame(records)
    x = bundle.encoder.encode(frame)
    bands_cut = bundle.thresholds.get("risk_bands")
    per_condition: dict[str, tuple[np.ndarray, list[Band], list[Any]]] = {}
    band_counts: dict[str, dict[str, int]] = {}
    for condition, task in bundle.tasks.items():
        p = task.point(x)
        bands = [band_of(v, bands_cut) for v in p]
        name = CONDITION_NAMES.get(condition, (condition, condition))
        heads = [
            f"{name[1]}风险{BAND_WORDS['zh'][b]}（{pct(v)}）"
            if lang == "zh"
            else f"{name[0]} risk is {BAND_WORDS['en'][b]} ({pct(v)})"
            for v, b in zip(p, bands, strict=True)
        ]
        per_condition[condition] = (
            p,
            bands,
            explain_many(bundle, condition, x, heads, lang, state.metrics, k=REASONS_PER_CONDITION),
        )
        band_counts[condition] = {b: bands.count(b) for b in ("low", "medium", "high")}
    results = []
    for i, record in enumerate(records):
        risks = [
            ConditionRisk(
                condition=c,
                label=CONDITION_NAMES.get(c, (c, c))[0 if lang == "en" else 1],
                probability=float(p[i]),
                band=bands[i],
                explanation=expl[i],
            )
            for c, (p, bands, expl) in per_condition.items()
        ]
        risks.sort(key=lambda r: -r.probability)
        order = {"low": 0, "medium": 1, "high": 2}
        highest = max((r.band for r in risks), key=order.__getitem__)
        results.append(PatientResult(index=i, ref=getattr(record, "ref", None), highest_band=highest, risks=risks))
    results.sort(key=lambda r: -r.risks[0].probability)
    state.audit.write(who=caller.name, role=caller.role, route=route, rows=len(records), bands=band_counts)
    state.metrics.rows.labels("disease").inc(len(records))
    return DiseaseResponse(n=len(results), results=results)


@router.post("/score", response_model=DiseaseResponse)
def disease_score(state: StateDep, caller: HealthDep, lang: LangDep, body: DiseaseRequest) -> DiseaseResponse:  # type: ignore[valid-type]
    """Risk per condition for health-check records (JSON), ranked, with bands and reasons."""
    return score_records(state, caller, "/v1/disease/score", body.records, lang)  # type: ignore[attr-defined]


def parse_csv(content: bytes, cap: int) -> list[Any]:
    """Rows of an uploaded CSV as validated records; a 422 lists each bad row, field and rule."""
    try:
        text = content.decode("utf-8-sig")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="error")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise HTTPException(422, f"file: not a readable UTF-8 CSV with a header row ({type(exc).__name__})") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas made extra leading fields an index: values would shift
        raise HTTPException(422, "file: some rows have more fields than the header row (a stray comma?)")
    check_cap(len(frame), cap, "rows")
    known = set(PatientRecord.model_fields)
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise HTTPException(
            422,
            f"file: unknown column(s) {', '.join(map(repr, unknown[:10]))}; allowed: {', '.join(sorted(known))}",
        )
    catalog = load_catalog()
    records, errors = [], []
    for i, row in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        try:
            values = {k: _typed(catalog, str(k), v) for k, v in row.items()}
            records.append(PatientRecord.model_validate(values))
        except (ValidationError, ValueError) as exc:
            errors.extend(_row_errors(i, exc))
        if len(errors) >= CSV_ROW_ERRORS:
            break
    if errors:
        raise HTTPException(422, errors[:CSV_ROW_ERRORS])
    if not records:
        raise HTTPException(422, "file: no data rows")
    return records


def _typed(catalog: Any, name: str, value: str) -> Any:
    value = value.strip()
    if value == "":
        return None
    if name == "ref":
        return value
    kind = catalog.field(name).type
    if kind == "integer":
        if not value.lstrip("-").isdigit():
            raise ValueError(f"{name}: must be a whole number, got {value[:30]!r}")
        return int(value)
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name}: must be a number, got {value[:30]!r}") from None
    if kind == "boolean":
        low = value.lower()
        if low in TRUE_WORDS | FALSE_WORDS:
            return low in TRUE_WORDS
        raise ValueError(f"{name}: must be true/false (or 1/0), got {value[:30]!r}")
    return value


def _row_errors(row: int, exc: Exception) -> list[dict[str, Any]]:
    if isinstance(exc, ValidationError):
        return [{"row": row, "field": ".".join(map(str, e["loc"])), "rule": e["msg"]} for e in exc.errors()]
    field, _, rule = str(exc).partition(": ")
    return [{"row": row, "field": field, "rule": rule}]


@router.post("/score-csv", response_model=DiseaseResponse)
async def disease_score_csv(
    request: Request,
    state: StateDep,
    caller: HealthDep,
    lang: LangDep,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, one record per row.")],
) -> DiseaseResponse:
    """Risk per condition for a CSV upload of health-check records (columns = record fields)."""
    content = await file.read(state.settings.max_body_bytes + 1)
    if len(content) > state.settings.max_body_bytes:
        raise HTTPException(
            413,
            f"file: larger than {state.settings.max_body_bytes:,} bytes",
        )
    records = parse_csv(content, state.settings.batch_cap)
    return score_records(state, caller, "/v1/disease/score-csv", records, lang)
