"""Disease risk (health staff only): health-check records scored per condition, ranked, explained, audited.

Every scoring call writes one line to the append-only audit log (who, when, route, rows, and band counts
when there are at least ``audit_min_rows`` people) and never any field of a person. Records are not kept
after the answer.
"""

from __future__ import annotations

import getpass
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from models.bundle import ModelBundle
from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.domain import RiskBands
from serving.errors import InvalidInput, TooMany
from serving.explain import Lang
from serving.schemas import (
    Band,
    BandCutoffs,
    ConditionRisk,
    DiseaseResponse,
    ExplanationOut,
    PatientResult,
    patient_record_model,
)
from serving.scoring import measurements
from serving.scoring.common import BAND_WORDS, explain_many, in_percentage_points, pct, risk_bands
from serving.scoring.context import ScoringContext

FAMILY = "disease"
# Names without a horizon: the horizon comes from the model and is said apart. The served model carries each
# condition's names (thresholds.outcomes: its catalog entry or the experiment YAML); these name the shipped
# four for a model trained before it did.
CONDITION_NAMES = {
    "echinococcosis": ("Echinococcosis", "包虫病"),
    "hypertension_5y": ("Hypertension", "高血压"),
    "cms_5y": ("Chronic mountain sickness", "慢性高原病"),
    "brucellosis": ("Brucellosis", "布鲁氏菌病"),
}
NUMBER_WORDS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
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


def records_frame(records: Sequence[BaseModel], added: Mapping[str, FieldSpec] | None = None) -> pd.DataFrame:
    """Validated records as model input (booleans as 1.0 / 0.0; ``ref`` left out), with one column per
    measurement the served model added (:mod:`serving.scoring.measurements`; None where not given)."""
    frame = pd.DataFrame([r.model_dump(exclude={"ref", measurements.MEASUREMENTS}) for r in records])
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, bool)).any():
            frame[column] = frame[column].map({True: 1.0, False: 0.0})
    for name, values in measurements.frame_columns(added or {}, list(records)).items():
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return frame


def condition_label(condition: str, lang: Lang, term: ConditionTerms | None = None) -> str:
    """The condition's name without its horizon: the served model's (``term``), else the shipped name,
    else the condition's own name."""
    if term is not None:
        return term.label if lang == "en" else term.label_zh
    names = CONDITION_NAMES.get(condition, (condition, condition))
    return names[0] if lang == "en" else names[1]


def horizon_text(years: float | None, lang: Lang) -> str:
    """'five-year risk' / '5年风险' (or just 'risk' when the model states no horizon)."""
    if years is None:
        return "风险" if lang == "zh" else "risk"
    whole = float(years).is_integer()
    if lang == "zh":
        return f"{int(years) if whole else years}年风险"
    count = NUMBER_WORDS.get(int(years), str(int(years))) if whole else f"{years:g}"
    return f"{count}-year risk"


@dataclass(frozen=True)
class ConditionTerms:
    """What the served model says about one condition: its cut-offs, horizon, known-at-check input and
    names (English, Chinese)."""

    bands: RiskBands
    horizon_years: float | None
    known_at_check: str | None
    label: str
    label_zh: str


def condition_terms(bundle: ModelBundle) -> dict[str, ConditionTerms]:
    """Per condition, the cut-offs fitted at training (``condition_bands``; a model trained before them
    carries one pair for all), the horizon, the input that says the condition is already present and the
    names (a model trained before it carried them: the shipped names)."""
    fallback = risk_bands(bundle)
    fitted: dict[str, Any] = bundle.thresholds.get("condition_bands") or {}
    outcomes: dict[str, Any] = bundle.thresholds.get("outcomes") or {}
    out = {}
    for condition in bundle.tasks:
        cuts = fitted.get(condition)
        spec = outcomes.get(condition) or {}
        shipped = CONDITION_NAMES.get(condition, (condition, condition))
        out[condition] = ConditionTerms(
            RiskBands(medium=float(cuts["medium"]), high=float(cuts["high"])) if cuts else fallback,
            spec.get("horizon_years"),
            spec.get("known_at_check"),
            str(spec.get("display") or shipped[0]),
            str(spec.get("display_zh") or spec.get("display") or shipped[1]),
        )
    return out


def field_display(name: str, lang: Lang, added: Mapping[str, FieldSpec] | None = None) -> str:
    """The field's display name (its own name when neither the shipped catalog nor the served model's
    added fields have it)."""
    try:
        spec = (added or {}).get(name) or load_catalog().field(name)
    except KeyError:
        return name
    return (spec.display_zh if lang == "zh" else spec.display) or name


def missing_inputs(frame: pd.DataFrame, features: Sequence[str]) -> list[list[str]]:
    """Per record, the model inputs it does not give (left out, empty or unknown)."""
    given = [f for f in features if f in frame.columns]
    absent = [f for f in features if f not in frame.columns]
    unknown = frame[given].isna().to_numpy() if given else np.zeros((len(frame), 0), dtype=bool)
    return [[f for f, u in zip(given, row, strict=True) if u] + absent for row in unknown]


def incomplete_note(missing: Sequence[str], lang: Lang, added: Mapping[str, FieldSpec] | None = None) -> str | None:
    """The incomplete-record note naming what was not recorded (None when nothing is missing)."""
    if not missing:
        return None
    names = [field_display(m, lang, added) for m in missing]
    if lang == "zh":
        return f"记录不完整：未记录{'、'.join(names)}。这些按未知处理，风险的把握较低，也不会作为理由。"
    return (
        f"Incomplete record: {', '.join(names)} not recorded. They were treated as unknown, so the risks "
        "are less certain, and they are never given as a reason."
    )


def known_note(condition: str, term: ConditionTerms, lang: Lang) -> str:
    label, years = condition_label(condition, lang, term), term.horizon_years
    if lang == "zh":
        return f"体检时已有{label}：不给出其{horizon_text(years, lang)}。"
    return f"Already has {label.lower()} (recorded at the check): no {horizon_text(years, lang)} of it is given."


def headline(condition: str, term: ConditionTerms, p: float, band: str, lang: Lang) -> str:
    label, years = condition_label(condition, lang, term), term.horizon_years
    if lang == "zh":
        return f"{label}{horizon_text(years, lang)}{BAND_WORDS['zh'][band]}（{pct(p)}）"
    return f"{horizon_text(years, lang).capitalize()} of {label.lower()} is {band} ({pct(p)})"


def score_records(
    ctx: ScoringContext, who: str, role: str, route: str, records: Sequence[BaseModel], lang: Lang
) -> DiseaseResponse:
    """Risk per condition per person, people ranked by their highest risk; one audit line, no personal value.

    A condition the record shows as already present gets no risk and no band; inputs not recorded are
    named in an incomplete-record note and never given as a reason."""
    ctx.check_cap(len(records), "records")
    bundle = ctx.served(FAMILY).bundle
    added = measurements.added_specs(bundle)  # the served model's own measurements (e.g. glucose)
    problems = measurements.record_problems(added, list(records))
    if problems:
        raise InvalidInput(problems)
    frame = records_frame(records, added)
    x = bundle.encoder.encode(frame)
    missing = missing_inputs(frame, bundle.encoder.features)
    leave_out = [frozenset(m) for m in missing]
    terms = condition_terms(bundle)
    per_condition: dict[str, tuple[np.ndarray, list[Band], list[Any], np.ndarray]] = {}
    band_counts: dict[str, dict[str, int]] = {}
    for condition, task in bundle.tasks.items():
        term = terms[condition]
        p = task.point(x)
        known = np.zeros(len(frame), dtype=bool)
        if term.known_at_check and term.known_at_check in frame:
            known = pd.to_numeric(frame[term.known_at_check], errors="coerce").to_numpy(dtype=float) == 1.0
        bands: list[Band] = [term.bands.band(v) for v in p]
        heads = [headline(condition, term, v, b, lang) for v, b in zip(p, bands, strict=True)]
        explanations = explain_many(
            bundle, condition, x, heads, lang, ctx.metrics, k=REASONS_PER_CONDITION, leave_out=leave_out
        )
        if added:
            explanations = [measurements.relabel(e, added, lang) for e in explanations]
        explanations = [in_percentage_points(e, task.platt()) for e in explanations]
        per_condition[condition] = (p, bands, explanations, known)
        band_counts[condition] = {b: sum(1 for i, v in enumerate(bands) if v == b and not known[i]) for b in BAND_ORDER}
    results = []
    for i, record in enumerate(records):
        risks = [
            condition_risk(c, terms[c], lang, known[i], float(p[i]), bands[i], expl[i])
            for c, (p, bands, expl, known) in per_condition.items()
        ]
        risks.sort(key=lambda r: (r.known, -(r.probability or 0.0)))  # scored first, highest risk first
        scored = [r.band for r in risks if r.band is not None]
        highest = max(scored, key=BAND_ORDER.__getitem__) if scored else "low"
        results.append(
            PatientResult(
                index=i,
                ref=getattr(record, "ref", None),
                highest_band=highest,
                complete=not missing[i],
                missing=missing[i],
                confidence="lower" if missing[i] else "normal",
                note=incomplete_note(missing[i], lang, added),
                risks=risks,
            )
        )
    results.sort(key=lambda r: -(r.risks[0].probability or 0.0))
    ctx.audit.write(
        who=who, role=role, route=route, rows=len(records), bands=band_counts, min_rows=ctx.settings.audit_min_rows
    )
    ctx.metrics.rows.labels(FAMILY).inc(len(records))
    return DiseaseResponse(n=len(results), results=results)


def condition_risk(
    condition: str,
    term: ConditionTerms,
    lang: Lang,
    known: bool,
    probability: float,
    band: Band,
    explanation: ExplanationOut,
) -> ConditionRisk:
    """One condition of one person: the risk, band and reasons, or, when already present, a note only."""
    return ConditionRisk(
        condition=condition,
        label=condition_label(condition, lang, term),
        horizon=horizon_text(term.horizon_years, lang),
        horizon_years=term.horizon_years,
        known=known,
        probability=None if known else probability,
        band=None if known else band,
        cutoffs=BandCutoffs(medium=term.bands.medium, high=term.bands.high),
        explanation=None if known else explanation,
        note=known_note(condition, term, lang) if known else None,
    )


def parse_csv(content: bytes, cap: int, added: Mapping[str, FieldSpec] | None = None) -> list[BaseModel]:
    """Rows of a health-check CSV as validated records; ``added``: the served model's own measurements
    (:func:`serving.scoring.measurements.added_specs`), taken as columns too.

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
    added = added or {}
    known = (set(record_model.model_fields) - {measurements.MEASUREMENTS}) | set(added)
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise InvalidInput(
            f"file: unknown column(s) {', '.join(map(repr, unknown[:10]))}; allowed: {', '.join(sorted(known))}"
        )
    catalog = load_catalog()
    records, errors = [], []
    for i, row in enumerate(frame.to_dict("records"), start=2):  # row 1 is the header
        record, row_errors = _record(record_model, catalog, i, {str(k): v for k, v in row.items()}, added)
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
    record_model: type[BaseModel],
    catalog: Catalog,
    row: int,
    raw: dict[str, Any],
    added: Mapping[str, FieldSpec] | None = None,
) -> tuple[BaseModel | None, list[dict[str, Any]]]:
    """One CSV row as a record, or every problem of the row (each field is checked, not only the first)."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if added:  # the served model's own measurements: their columns go to the record's measurements
        given = {name: raw.pop(name) for name in list(raw) if name in added}
        typed, problems = measurements.check(added, given, text=True)
        errors += [{"row": row, "field": n, "value": str(v)[:30], "rule": rule} for n, v, rule in problems]
        values[measurements.MEASUREMENTS] = {k: v for k, v in typed.items() if v is not None}
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
    added = measurements.served_specs(ctx, FAMILY)
    records = parse_csv(frame.to_csv(index=False).encode("utf-8"), ctx.settings.batch_cap, added)
    response = score_records(ctx, getpass.getuser(), "cli", "cli: muzhang predict disease", records, lang)
    out = []
    for result in sorted(response.results, key=lambda r: r.index):
        row: dict[str, Any] = {"row": result.index + 1, "ref": result.ref, "highest_band": result.highest_band}
        for risk in result.risks:
            row[f"p_{risk.condition}"] = risk.probability
            row[f"band_{risk.condition}"] = "known" if risk.known else risk.band
        first = result.risks[0]
        row["reason"] = first.explanation.sentence if first.explanation else first.note
        row["note"] = result.note or ""
        out.append(row)
    return pd.DataFrame(out)
