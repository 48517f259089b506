"""A monthly report's values of fields a catalog extension added to grid_monthly, checked by their catalog entry.

A county imported with a ``catalog.yaml`` that adds a field to ``grid_monthly`` keeps its definition in the
store (:meth:`muzhang.store.Store.report_added_fields`). A chief's JSON report gives such values in its
``measurements`` mapping, a township's file as columns named like the fields. Each value is read as the
report's own items are read (:func:`muzhang.catalog.record_checks.coerce_value`) and checked with the
field's catalog rules: its type, hard limits, categories and pattern refuse the report (row, field, value,
rule), its plausible range flags it for follow-up like the report's other soft rules. No HTTP here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from muzhang.catalog import FieldSpec
from muzhang.catalog.checks import _hard_message, field_rules
from muzhang.catalog.record_checks import coerce_value, record_test
from muzhang.catalog.rules import format_bound
from muzhang.catalog.soft_rules import short_value

Lang = Literal["zh", "en"]
MEASUREMENTS = "measurements"  # a JSON report's mapping of added fields' values
Problem = tuple[str, str, str, str]  # field, value as sent (shortened), rule id, rule


@dataclass(frozen=True)
class AddedCheck:
    """One report's added values: typed (when nothing is refused), refusals and flags."""

    values: dict[str, Any] = field(default_factory=dict)
    refused: list[Problem] = field(default_factory=list)
    flags: list[Problem] = field(default_factory=list)


def unknown_rule(specs: Mapping[str, FieldSpec], lang: Lang) -> str:
    """Why a name is refused: the store keeps no added field of that name (and which it keeps)."""
    known = ", ".join(sorted(specs))
    if lang == "zh":
        return f"未知的新增字段：本县数据库保存的新增字段为 {known or '（无）'}"
    return f"unknown added field: the county store keeps {known or 'none'}"


def plausible_rule(spec: FieldSpec, lang: Lang) -> str:
    """The plausible range's flag, worded like the catalog's (kept, check the record)."""
    low = "..." if spec.plausible_min is None else format_bound(spec.plausible_min)
    high = "..." if spec.plausible_max is None else format_bound(spec.plausible_max)
    unit = f" {spec.unit}" if spec.unit else ""
    if lang == "zh":
        return f"超出合理范围 {low} 至 {high}{unit}；已保留，请核实"
    return f"outside the plausible range {low} to {high}{unit}; kept, check the record"


def check_added(specs: Mapping[str, FieldSpec], given: Mapping[str, Any], lang: Lang = "zh") -> AddedCheck:
    """Check one report's added values (name -> value as sent: JSON or a file's text cell; empty is None).

    A name ``specs`` lacks is refused (rule id ``unknown_field``); a value that is not of the field's type
    (``type``) or breaks its hard limits, categories or pattern (``min``, ``max``, ``category``, ``pattern``)
    is refused; one outside the plausible range is kept and flagged (``plausible_range``)."""
    values: dict[str, Any] = {}
    refused: list[Problem] = []
    flags: list[Problem] = []
    today = pd.Timestamp.today()
    for name, raw in given.items():
        spec = specs.get(name)
        if spec is None:
            refused.append((name, short_value(raw), "unknown_field", unknown_rule(specs, lang)))
            continue
        typed, bad = coerce_value(raw, spec)
        if bad:
            refused.append((name, short_value(raw), "type", _hard_message("type", spec, lang, today)))
            continue
        if typed is None:
            values[name] = None
            continue
        broken = [r.rule_id for r in field_rules(spec) if not record_test(r)(typed)]
        refused += [(name, short_value(raw), rule_id, _hard_message(rule_id, spec, lang, today)) for rule_id in broken]
        if broken:
            continue
        if spec.type in ("integer", "float") and _implausible(float(typed), spec):
            flags.append((name, short_value(raw), "plausible_range", plausible_rule(spec, lang)))
        values[name] = typed.date() if isinstance(typed, pd.Timestamp) else typed
    return AddedCheck({} if refused else values, refused, flags)


def _implausible(value: float, spec: FieldSpec) -> bool:
    low, high = spec.plausible_min, spec.plausible_max
    below = isinstance(low, int | float) and value < low
    above = isinstance(high, int | float) and value > high
    return bool(below or above)
