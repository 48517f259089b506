"""Per-field rules as boolean masks: which rows of a column break what the catalog says about the field.

Each rule is a plain-words sentence ("must be >= 0") and a mask over the column, computed without a loop
over rows. Values are coerced per field type first, so a csv read as text is checked like typed parquet.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from muzhang.catalog import FieldSpec, TableSpec
from muzhang.catalog.checks import HardRule, field_rules

BoolArray = np.ndarray
TRUE_WORDS = frozenset({"true", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "0", "0.0"})
FUTURE_MARGIN_DAYS = 31  # a date later than today by more than this cannot have been recorded yet


def column_rules(column: pd.Series, spec: FieldSpec, today: date | None = None) -> Iterator[tuple[str, BoolArray]]:
    """Yield (rule, mask of rows that break it) for every rule the field's catalog entry implies.

    ``today`` (default: the date the check runs) bounds dates: one more than :data:`FUTURE_MARGIN_DAYS`
    after it is refused, whatever the catalog's max.
    """
    missing = column.isna().to_numpy()
    present = ~missing
    if not spec.nullable:
        yield "must not be empty (NaN)", missing
    if spec.type in ("integer", "float"):
        numbers = _as_numbers(column)
        finite = np.isfinite(numbers)
        word = "an integer" if spec.type == "integer" else "a number"
        not_number = present & np.isnan(numbers)
        if spec.type == "integer":
            not_number = not_number | (finite & (numbers != np.round(numbers)))
        yield f"must be {word}", not_number
        yield "must be finite (not inf)", np.isinf(numbers)
        yield from range_rules(numbers, finite, spec)
    elif spec.type == "date":
        dates = _as_dates(column)
        parsed = dates.notna().to_numpy()
        yield "must be a date (YYYY-MM-DD)", present & ~parsed
        yield from range_rules(dates, parsed, spec)
        latest = (today or date.today()) + timedelta(days=FUTURE_MARGIN_DAYS)
        future = parsed & (dates > pd.Timestamp(latest)).to_numpy()
        yield f"must not be in the future (after {latest.isoformat()})", future
    elif spec.type == "boolean":
        yield "must be true or false", present & ~_is_boolean(column)
    elif spec.type == "category":
        for rule in _stated(spec, "isin"):
            yield f"must be one of {', '.join(rule.arg)}", present & ~column.isin(rule.arg).to_numpy()
    else:
        for rule in _stated(spec, "fullmatch"):
            yield f"must match {rule.arg}", present & ~_matches(column, rule.arg)


def plausible_rules(column: pd.Series, spec: FieldSpec) -> Iterator[tuple[str, BoolArray]]:
    """Yield (rule, mask) for values inside the hard limits but outside the catalog's plausible range: real
    but unusual readings (BMI 67.1, diastolic 24) that are kept and reported as warnings."""
    if spec.plausible_min is None and spec.plausible_max is None:
        return
    values: np.ndarray | pd.Series
    if spec.type == "date":
        values = _as_dates(column)
        checkable = values.notna().to_numpy()
    else:
        values = _as_numbers(column)
        checkable = np.isfinite(values)

    def beyond(bound: float | date | None, op: Callable[..., object]) -> BoolArray:
        if bound is None:
            return np.zeros(len(column), dtype=bool)
        limit = pd.Timestamp(bound) if isinstance(bound, date) else float(bound)
        with np.errstate(invalid="ignore"):
            return np.asarray(op(values, limit), dtype=bool)

    possible = checkable & ~beyond(spec.min, operator.lt) & ~beyond(spec.max, operator.gt)
    unusual = beyond(spec.plausible_min, operator.lt) | beyond(spec.plausible_max, operator.gt)
    span = f"{_bound_text(spec.plausible_min)} to {_bound_text(spec.plausible_max)}"
    unit = f" {spec.unit}" if spec.unit else ""
    yield f"outside the plausible range {span}{unit}; kept, check the record", possible & unusual


def _bound_text(bound: float | date | None) -> str:
    return "..." if bound is None else format_bound(bound)


def _stated(spec: FieldSpec, kind: str) -> list[HardRule]:
    """The field's catalog rules of one kind, as intake reads them (muzhang.catalog.checks.field_rules)."""
    return [r for r in field_rules(spec) if r.kind == kind]


def range_rules(values: np.ndarray | pd.Series, ok: BoolArray, spec: FieldSpec) -> Iterator[tuple[str, BoolArray]]:
    """Values below min or above max (floats, or timestamps for date fields); ``ok`` marks checkable rows."""
    for found in field_rules(spec):
        if found.kind not in ("ge", "le"):
            continue
        op, rule, bound = (operator.lt, ">=", spec.min) if found.kind == "ge" else (operator.gt, "<=", spec.max)
        with np.errstate(invalid="ignore"):
            outside = np.asarray(op(values, found.arg), dtype=bool)
        yield f"must be {rule} {format_bound(bound)}", ok & outside  # type: ignore[arg-type]


def foreign_key_rules(
    column: pd.Series, spec: FieldSpec, target: TableSpec, known_ids: Mapping[str, Collection[str]]
) -> list[tuple[str, BoolArray]]:
    """Ids that are well formed but absent from the table they refer to (skipped if its ids are unknown)."""
    key = target.primary_key[0]
    if key not in known_ids:
        return []
    well_formed = column.notna().to_numpy()
    if spec.pattern is not None:
        well_formed = well_formed & _matches(column, spec.pattern)
    unknown = well_formed & ~column.astype(str).isin(known_ids[key]).to_numpy()
    return [(f"unknown {key} (not in {target.name} table)", unknown)]


def _as_numbers(column: pd.Series) -> np.ndarray:
    """Float values of a column; NaN where a value is not a number (booleans count as not numbers)."""
    if pd.api.types.is_bool_dtype(column):
        return np.full(len(column), np.nan)
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    numbers = pd.to_numeric(column.astype("string").str.strip(), errors="coerce")
    return numbers.to_numpy(dtype="float64", na_value=np.nan)


def _as_dates(column: pd.Series) -> pd.Series:
    """Timestamps of a column; NaT where a value is not a date (numbers are not dates)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    text = column.astype("string").str.strip()
    return pd.to_datetime(text, errors="coerce", format="ISO8601")


def _is_boolean(column: pd.Series) -> BoolArray:
    if pd.api.types.is_bool_dtype(column):
        return np.ones(len(column), dtype=bool)
    if pd.api.types.is_numeric_dtype(column):
        return column.isin([0, 1]).to_numpy()
    words = column.astype("string").str.strip().str.lower()
    return words.isin(TRUE_WORDS | FALSE_WORDS).fillna(False).to_numpy(dtype=bool)


def _matches(column: pd.Series, pattern: str) -> BoolArray:
    return column.astype("string").str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)


def format_bound(bound: float | date) -> str:
    """A bound as written in a rule: ``0``, ``0.01``, ``2000-01-01``."""
    if isinstance(bound, date):
        return bound.isoformat()
    return str(int(bound)) if float(bound).is_integer() else str(bound)
