"""One monthly grid report (a JSON record) through the hard rules, without pandas: the per-record fast path.

A herder chief's app sends one report at a time. Building a one-row frame, coercing it column by column and
running the pandera schema costs ~100 ms of pandas and pandera overhead for ~30 values; the same rules on
plain Python values cost well under a millisecond. The rules are not written twice: both paths are generated
from :func:`muzhang.catalog.checks.hard_rules` (the pandera schema by ``_pandera_check``, this path by
:func:`record_test`), values are coerced as :func:`muzhang.catalog.checks.coerce_column` coerces them (an
unusual text falls back to it), and refusals read the same messages. tests/code/catalog/test_record_checks.py
runs both paths on the same good and bad records and asserts identical outcomes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.catalog.checks import TABLE, HardRule, Lang, _hard_message, coerce_column, hard_rules
from muzhang.catalog.soft_rules import short_value

# Plain decimal text ("12", " 3.5 ", "-1e3") is read here; anything else (words, odd spacing) by pandas.
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # ASCII digits only
DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
PLAIN_YEARS = range(1700, 2200)  # dates pandas holds in nanoseconds; others go through pandas to decide
WHOLE_LIMIT = 2.0**53  # integers beyond this are not held exactly by a float: a type error, as for a frame


@dataclass(frozen=True)
class RecordCheck:
    """What the hard rules found in one record.

    ``refused``: (field, value as received and shortened, rule id, rule sentence), in catalog field order;
    ``values``: every field in its catalog type (int, float, Timestamp, str or None) when nothing is refused.
    """

    refused: list[tuple[str, str, str, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.refused


def coerce_value(value: Any, spec: FieldSpec) -> tuple[Any, bool]:
    """One value in its catalog type (None when missing), and whether it is present but not of that type.

    The same outcome as :func:`muzhang.catalog.checks.coerce_column` on a one-row column holding ``value``.
    """
    kind = spec.type
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, False
    if kind in ("integer", "float"):
        return _number(value, spec)
    if kind == "date":
        return _date(value, spec)
    if kind == "boolean":
        return _fallback(value, spec)
    return str(value), False


def _number(value: Any, spec: FieldSpec) -> tuple[Any, bool]:
    if isinstance(value, bool | np.bool_):
        return None, True
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:
            return None, True
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None, False
        if NUMBER_TEXT.fullmatch(text) is None:
            return _fallback(value, spec)
        number = float(text)
    else:
        return _fallback(value, spec)
    if not math.isfinite(number):
        return None, True
    number += 0.0  # no negative zero, as coerce_column
    if spec.type == "integer":
        if number != round(number) or abs(number) >= WHOLE_LIMIT:
            return None, True
        return int(number), False
    return number, False


def _date(value: Any, spec: FieldSpec) -> tuple[Any, bool]:
    if isinstance(value, bool | int | float | np.number | np.bool_):
        return None, True  # numbers and booleans are not dates
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, False
        parts = DATE_TEXT.fullmatch(text)
        if parts is not None and int(parts[1]) in PLAIN_YEARS:
            try:
                return pd.Timestamp(date(int(parts[1]), int(parts[2]), int(parts[3]))), False
            except ValueError:  # 2025-02-30
                return None, True
    return _fallback(value, spec)


def _fallback(value: Any, spec: FieldSpec) -> tuple[Any, bool]:
    """The frame path's own coercion, for a value the plain readers above leave to it."""
    typed, bad = coerce_column(pd.Series([value], dtype=object), spec)
    if bool(bad[0]) or pd.isna(typed.iloc[0]):
        return None, bool(bad[0])
    out = typed.iloc[0]
    if spec.type == "integer":
        return int(out), False
    if spec.type == "float":
        return float(out), False
    if spec.type == "boolean":
        return bool(out), False
    return (pd.Timestamp(out) if spec.type == "date" else out), False


def record_test(rule: HardRule) -> Callable[[Any], bool]:
    """The rule as a test of one present, typed value: True when the value keeps the rule."""
    arg = rule.arg
    if rule.kind == "ge":
        return lambda v: bool(v >= arg)
    if rule.kind == "le":
        return lambda v: bool(v <= arg)
    if rule.kind == "isin":
        options = frozenset(arg)
        return lambda v: v in options
    if rule.kind == "fullmatch":
        pattern = re.compile(arg)
        return lambda v: pattern.fullmatch(str(v)) is not None
    if rule.kind == "known":
        well_formed, known = re.compile(arg[0]), arg[1]
        return lambda v: well_formed.fullmatch(str(v)) is None or v in known
    if rule.kind == "first_of_month":
        return lambda v: v.day == 1 and v == v.normalize()
    if rule.kind == "not_after_month":
        return lambda v: v.year * 12 + v.month <= arg.year * 12 + arg.month
    raise ValueError(f"unknown rule kind {rule.kind!r}")


class RecordChecker:
    """The hard rules of a monthly grid report for one record at a time, compiled once per county and month."""

    def __init__(
        self, *, known_grids: Collection[str], latest_month: pd.Timestamp, catalog: Catalog | None = None
    ) -> None:
        self.catalog = catalog or load_catalog()
        self.latest_month = pd.Timestamp(latest_month)
        self.specs = {s.name: s for s in self.catalog.fields_of(TABLE)}
        rules = hard_rules(known_grids=known_grids, latest_month=self.latest_month, catalog=self.catalog)
        self.rules = {
            name: (tuple((r.rule_id, record_test(r)) for r in found), nullable)
            for name, (found, nullable) in rules.items()
        }

    def check(self, record: Mapping[str, Any], lang: Lang = "zh") -> RecordCheck:
        """Every hard problem of ``record`` (field -> value as sent; an absent field is empty)."""
        refused: list[tuple[str, str, str, str]] = []
        values: dict[str, Any] = {}
        for name, (tests, nullable) in self.rules.items():
            spec = self.specs[name]
            raw = record.get(name)
            typed, bad = coerce_value(raw, spec)
            if bad:
                refused.append(self._problem(name, raw, "type", lang))
                continue
            if typed is None:
                if not nullable:
                    refused.append(self._problem(name, raw, "required", lang))
                values[name] = None
                continue
            refused += [self._problem(name, raw, rule_id, lang) for rule_id, test in tests if not test(typed)]
            values[name] = typed
        return RecordCheck(refused, {} if refused else values)

    def _problem(self, name: str, raw: Any, rule_id: str, lang: Lang) -> tuple[str, str, str, str]:
        return (name, short_value(raw), rule_id, _hard_message(rule_id, self.specs[name], lang, self.latest_month))


@lru_cache(maxsize=8)
def record_checker(known_grids: frozenset[str], latest_month: pd.Timestamp) -> RecordChecker:
    """A compiled checker for a county's grids and the latest month a report may be for (kept for reuse)."""
    return RecordChecker(known_grids=known_grids, latest_month=latest_month)


def record_columns(values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A checked record's values as the soft rules read them (arrays of one; see soft_rules.frame_columns)."""
    out: dict[str, np.ndarray] = {
        "grid_id": np.array([values["grid_id"]], dtype=object),
        "month": np.array([pd.Timestamp(values["month"]).to_datetime64()], dtype="datetime64[ns]"),
    }
    for name, value in values.items():
        if name not in out and (value is None or isinstance(value, int | float)) and not isinstance(value, bool):
            out[name] = np.array([np.nan if value is None else float(value)])
    return out
