"""Measurements a served model was trained with beyond the shipped catalog (e.g. ``glucose_mmol_l``).

A data directory's catalog extension may add fields that become model inputs; the trained bundle carries
their catalog definitions (:attr:`models.bundle.ModelBundle.added_fields`). A request gives them in a
record's ``measurements`` mapping (JSON) or as columns (CSV). Each value is checked with the catalog's own
rules for the field (type, hard limits, categories: :func:`muzhang.catalog.rules.column_rules`); a name
the served model does not know is refused by name, and a measurement left out is unknown to the model
(NaN), like any input not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import ModelBundle
from muzhang.catalog import FieldSpec
from muzhang.catalog.rules import column_rules, format_bound
from serving.errors import Unavailable
from serving.explain import Lang
from serving.schemas import ExplanationOut
from serving.scoring.context import ScoringContext

MEASUREMENTS = "measurements"  # a record's mapping of added measurements (JSON)


def added_specs(bundle: ModelBundle | None) -> dict[str, FieldSpec]:
    """The served model's added fields as catalog entries (none for a model trained on the shipped
    catalog alone). Left out is never an error here: a measurement may be missing, like any input."""
    if bundle is None:
        return {}
    return {name: FieldSpec.model_validate({**spec, "nullable": True}) for name, spec in bundle.added_fields.items()}


def served_specs(ctx: ScoringContext, family: str) -> dict[str, FieldSpec]:
    """The added fields of the model serving ``family`` now (none while no model serves it: the request
    then gets the 503 when it is scored, not a 422 for a column only that model would know)."""
    try:
        return added_specs(ctx.served(family).bundle)
    except Unavailable:
        return {}


def unknown_rule(specs: Mapping[str, FieldSpec]) -> str:
    known = ", ".join(sorted(specs)) or "none"
    return f"unknown measurement: the served model takes {known}"


def typed(spec: FieldSpec, value: Any, *, text: bool) -> Any:
    """``value`` as the field's type, or ``ValueError`` with the rule. JSON values must already have the
    type (a number for a number, true/false for a flag, a string for a category); CSV cells are text."""
    if value is None or (text and str(value).strip() == ""):
        return None
    if text:
        value = str(value).strip()
        if spec.type in ("integer", "float"):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"must be {'an integer' if spec.type == 'integer' else 'a number'}") from None
        elif spec.type == "boolean":
            words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            if value.lower() not in words:
                raise ValueError("must be true or false")
            value = words[value.lower()]
    elif spec.type in ("integer", "float") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"must be {'an integer' if spec.type == 'integer' else 'a number'}")
    elif spec.type == "boolean" and not isinstance(value, bool):
        raise ValueError("must be true or false")
    elif spec.type not in ("integer", "float", "boolean") and not isinstance(value, str):
        raise ValueError("must be a string")
    # The catalog's rules for the field, as data validation applies them (hard limits refuse; the
    # plausible range only warns there, so it does not refuse a record here either).
    column = pd.Series([float(value) if spec.type in ("integer", "float") else value], dtype=object)
    if spec.type in ("integer", "float"):
        column = column.astype("float64")
    for rule, broken in column_rules(column, spec):
        if bool(np.asarray(broken)[0]):
            if rule.startswith(("must be >=", "must be <=")):
                rule = f"{rule}{f' {spec.unit}' if spec.unit else ''} (hard limit)"
            raise ValueError(rule)
    if spec.type == "integer":
        return int(value)
    return float(value) if spec.type == "float" else value


def check(
    specs: Mapping[str, FieldSpec], given: Mapping[str, Any] | None, *, text: bool = False
) -> tuple[dict[str, Any], list[tuple[str, Any, str]]]:
    """The measurements of one record, typed, and its problems as ``(name, value, rule)``."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, Any, str]] = []
    for name, value in (given or {}).items():
        spec = specs.get(name)
        if spec is None:
            problems.append((name, value, unknown_rule(specs)))
            continue
        try:
            values[name] = typed(spec, value, text=text)
        except ValueError as exc:
            problems.append((name, value, str(exc)))
    return values, problems


def record_problems(specs: Mapping[str, FieldSpec], records: list[Any]) -> list[dict[str, Any]]:
    """Every problem of the records' ``measurements`` (JSON), each naming the field, value and rule."""
    out = []
    for i, record in enumerate(records):
        _, problems = check(specs, getattr(record, MEASUREMENTS, None))
        for name, value, rule in problems:
            out.append({"field": f"records.{i}.{MEASUREMENTS}.{name}", "value": _shown(value), "rule": rule})
    return out


def frame_columns(specs: Mapping[str, FieldSpec], records: list[Any]) -> dict[str, list[Any]]:
    """One model-input column per added field (None where a record does not give it); flags as 1.0 / 0.0."""
    columns: dict[str, list[Any]] = {name: [] for name in specs}
    for record in records:
        values, _ = check(specs, getattr(record, MEASUREMENTS, None))
        for name, spec in specs.items():
            value = values.get(name)
            columns[name].append(float(value) if spec.type == "boolean" and value is not None else value)
    return columns


def relabel(
    explanation: ExplanationOut,
    specs: Mapping[str, FieldSpec],
    lang: Lang,
    phrase: Callable[[str, str, Lang], str] | None = None,
) -> ExplanationOut:
    """Reasons about an added measurement named as its catalog entry names it (``Glucose is 9.4 mmol/L``),
    in the reason and in the sentence, instead of the bare field name. ``phrase(label, shown value, lang)``
    words the clause (default :func:`reason_text`, a person's reading at the check)."""
    phrase = phrase or reason_text
    reasons, sentence = [], explanation.sentence
    for reason in explanation.reasons:
        spec = specs.get(reason.feature)
        if spec is None:
            reasons.append(reason)
            continue
        label = (spec.display_zh if lang == "zh" else spec.display) or spec.name
        shown = display_value(spec, reason.value, lang)
        text = phrase(label, shown, lang)
        if reason.text:
            sentence = sentence.replace(reason.text, text)
        reasons.append(reason.model_copy(update={"label": label, "display_value": shown, "text": text}))
    return explanation.model_copy(update={"reasons": reasons, "sentence": sentence})


def reason_text(label: str, shown: str, lang: Lang) -> str:
    """The clause after "because", worded as the shipped health-check fields are (features.yaml)."""
    if lang == "zh":
        return f"体检时此人{label}为{shown}"
    return f"the person's {in_sentence(label)} was {shown} at the check"


def field_text(label: str, shown: str, lang: Lang) -> str:
    """The clause after "because" for a field a forecast family's county carries (``herder meetings was
    3 meetings``): the value of the row's as-of month, the last month its inputs use."""
    if lang == "zh":
        return f"{label}为{shown}"
    return f"{in_sentence(label)} was {shown}"


def in_sentence(label: str) -> str:
    """A label inside a sentence: ``Glucose`` -> ``glucose``; ``HbA1c`` and ``LDL`` stay as written."""
    first, _, rest = label.partition(" ")
    if first[1:].islower():
        first = first.lower()
    return " ".join(w for w in (first, rest) if w)


def display_value(spec: FieldSpec, value: Any, lang: Lang) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "未知" if lang == "zh" else "unknown"
    if spec.type == "boolean":
        yes = float(value) == 1.0
        return ("是" if yes else "否") if lang == "zh" else ("yes" if yes else "no")
    if spec.type in ("integer", "float"):
        number = format_bound(round(float(value), 2))
        return f"{number} {spec.unit}" if spec.unit else number
    return str(value)


def _shown(value: Any) -> Any:
    """A refused value as echoed back: scalars as given, anything else cut short as text."""
    return value if isinstance(value, bool | int | float | str) or value is None else str(value)[:30]
