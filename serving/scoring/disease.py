"""Disease risk (health staff only): health-check records scored per condition, ranked, explained, audited.

Every scoring call writes one line to the append-only audit log (who, when, route, rows, and band counts
when there are at least ``audit_min_rows`` people) and never any field of a person. Records are not kept
after the answer.
"""

from __future__ import annotations

import getpass
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from muzhang.catalog import Catalog, load_catalog
from serving.errors import InvalidInput, TooMany
from serving.explain import Lang
from serving.schemas import Band, ConditionRisk, DiseaseResponse, PatientResult, patient_record_model
from serving.scoring.common import BAND_WORDS, explain_many, pct, risk_bands
from serving.scoring.context import ScoringContext

FAMILY = "disease"
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
BAND_ORDER = {"low": 0, "medium": 1, "high": 2}
# Numbers in a CSV cell, ASCII only ("²" or "٣" are digits to Python's isdigit and int, not to a health
# worker). A whole number may be written 52 or 52.0, as in JSON (serving.schemas.WHOLE_FLOAT_AS_INT).
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def records_frame(records: Sequence[BaseModel]) -> pd.DataFrame:
    """Validated records as model input (booleans as 1.0 / 0.0; ``ref`` left out)."""
    frame = pd.DataFrame([r.model_dump(exclude={"ref"}) for r in records])
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, bool)).any():
            frame[column] = frame[column].map({True: 1.0, False: 0.0})
    return frame


def _condition_label(condition: str, lang: Lang) -> str:
    names = CONDITION_NAMES.get(condition, (condition, condition))
    return names[0] if lang == "en" else names[1]


def score_records(
    ctx: ScoringContext, who: str, role: str, route: str, records: Sequence[BaseModel], lang: Lang
) -> DiseaseResponse:
    """Risk per condition per person, people ranked by their highest risk; one audit line, no personal value."""
    ctx.check_cap(len(records), "records")
    bundle = ctx.served(FAMILY).bundle
    x = bundle.encoder.encode(records_frame(records))
    cuts = risk_bands(bundle)
    per_condition: dict[str, tuple[np.ndarray, list[Band], list[Any]]] = {}
    band_counts: dict[str, dict[str, int]] = {}
    for condition, task in bundle.tasks.items():
        p = task.point(x)
        bands: list[Band] = [cuts.band(v) for v in p]
        label = _condition_label(condition, lang)
        heads = [
            f"{label}风险{BAND_WORDS['zh'][b]}（{pct(v)}）" if lang == "zh" else f"{label} risk is {b} ({pct(v)})"
            for v, b in zip(p, bands, strict=True)
        ]
        explanations = explain_many(bundle, condition, x, heads, lang, ctx.metrics, k=REASONS_PER_CONDITION)
        per_condition[condition] = (p, bands, explanations)
        band_counts[condition] = {b: sum(1 for x in bands if x == b) for b in BAND_ORDER}
    results = []
    for i, record in enumerate(records):
        risks = [
            ConditionRisk(
                condition=c,
                label=_condition_label(c, lang),
                probability=float(p[i]),
                band=bands[i],
                explanation=expl[i],
            )
            for c, (p, bands, expl) in per_condition.items()
        ]
        risks.sort(key=lambda r: -r.probability)
        highest = max((r.band for r in risks), key=BAND_ORDER.__getitem__)
        results.append(PatientResult(index=i, ref=getattr(record, "ref", None), highest_band=highest, risks=risks))
    results.sort(key=lambda r: -r.risks[0].probability)
    ctx.audit.write(
        who=who, role=role, route=route, rows=len(records), bands=band_counts, min_rows=ctx.settings.audit_min_rows
    )
    ctx.metrics.rows.labels(FAMILY).inc(len(records))
    return DiseaseResponse(n=len(results), results=results)


def parse_csv(content: bytes, cap: int) -> list[BaseModel]:
    """Rows of a health-check CSV as validated records.

    Raises:
        InvalidInput: listing every bad row, field, value and rule (up to :data:`CSV_ROW_ERRORS`).
        TooMany: more rows than ``cap``.
    """
    try:
        # pandas' C parser drops NUL characters (a cell "\x00" would read as empty and pass): make each one
        # a character no field accepts, so the cell is refused and named like any other bad value.
        text = content.decode("utf-8-sig").replace("\x00", "\ufffd")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="error")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"file: not a readable UTF-8 CSV with a header row ({type(exc).__name__})") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas made extra leading fields an index: values would shift
        raise InvalidInput("file: some rows have more fields than the header row (a stray comma?)")
    if len(frame) > cap:
        raise TooMany(f"too many rows: {len(frame)}; at most {cap} per request (split the batch)")
    record_model = patient_record_model()
    known = set(record_model.model_fields)
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise InvalidInput(
            f"file: unknown column(s) {', '.join(map(repr, unknown[:10]))}; allowed: {', '.join(sorted(known))}"
        )
    catalog = load_catalog()
    records, errors = [], []
    for i, row in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        record, row_errors = _record(record_model, catalog, i, {str(k): v for k, v in row.items()})
        errors.extend(row_errors)
        if record is not None:
            records.append(record)
        if len(errors) >= CSV_ROW_ERRORS:
            break
    if errors:
        raise InvalidInput(errors[:CSV_ROW_ERRORS])
    if not records:
        raise InvalidInput("file: no data rows")
    return records


def _record(
    record_model: type[BaseModel], catalog: Catalog, row: int, raw: dict[str, Any]
) -> tuple[BaseModel | None, list[dict[str, Any]]]:
    """One CSV row as a record, or every problem of the row (each field is checked, not only the first)."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, text in raw.items():
        try:
            values[str(name)] = _typed(catalog, str(name), str(text))
        except ValueError as exc:
            errors.append({"row": row, "field": str(name), "value": str(text)[:30], "rule": str(exc)})
    typed_badly = {e["field"] for e in errors}
    try:
        record = record_model.model_validate({k: v for k, v in values.items() if k not in typed_badly})
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(map(str, e["loc"]))
            if field in typed_badly:
                continue
            errors.append({"row": row, "field": field, "value": raw.get(field, ""), "rule": e["msg"]})
        return None, errors
    return (None, errors) if errors else (record, [])


def _typed(catalog: Catalog, name: str, value: str) -> Any:
    value = value.strip()
    if value == "":
        return None
    if name == "ref":
        return value
    kind = catalog.field(name).type
    if kind == "integer":
        if not WHOLE_NUMBER.fullmatch(value):
            raise ValueError("must be a whole number written in digits 0-9 (52 or 52.0)")
        return int(float(value)) if "." in value else int(value)
    if kind == "float":
        if not DECIMAL_NUMBER.fullmatch(value):
            raise ValueError("must be a number written in digits 0-9 (23.4)")
        return float(value)
    if kind == "boolean":
        low = value.lower()
        if low in TRUE_WORDS | FALSE_WORDS:
            return low in TRUE_WORDS
        raise ValueError("must be true/false (or 1/0)")
    return value


def score_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Offline scoring of health-check records (one per row); audited under the operating-system user."""
    records = parse_csv(frame.to_csv(index=False).encode("utf-8"), ctx.settings.batch_cap)
    response = score_records(ctx, getpass.getuser(), "cli", "cli: muzhang predict disease", records, lang)
    out = []
    for result in sorted(response.results, key=lambda r: r.index):
        row: dict[str, Any] = {"row": result.index + 1, "ref": result.ref, "highest_band": result.highest_band}
        for risk in result.risks:
            row[f"p_{risk.condition}"] = risk.probability
            row[f"band_{risk.condition}"] = risk.band
        row["reason"] = result.risks[0].explanation.sentence
        out.append(row)
    return pd.DataFrame(out)
