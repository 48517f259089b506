"""Hard and soft rules for the herder chiefs' monthly grid reports (网格月报), as DHIS2 runs them.

Hard rules refuse a row: a value that is not of its type, outside the catalog's physical range, empty where
the catalog requires it, not one of its categories, not in its pattern, a grid that does not exist, or a
month that is not a first-of-month date or lies after the latest open month. Soft rules keep the value and
flag it for follow-up: an outlier against the grid's own history (per item and season), and items that do
not agree with each other (herd balance, people and households, mediations and disputes).

Everything is checked at once (lazy), so a row with one bad field still reports all its others. Coercion
is done here, per field type, before pandera: pandera's own ``coerce=True`` gives up on a whole column when
one cell cannot be cast (every range check of that column then fails with a ``TypeError`` and names no
row), and a failed date cast names no row at all. The catalog's rules then run as a pandera schema on the
typed frame (``validate(lazy=True)``, read from ``SchemaErrors.failure_cases``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Unpack

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.catalog.soft_rules import (
    COLUMNS,
    TABLE,
    Lang,
    SoftOptions,
    short_value,
    soft_check_frame,
)
from muzhang.catalog.soft_rules import (
    SoftRules as SoftRules,  # re-exported: check_reports takes them
)
from muzhang.catalog.soft_rules import (
    numeric_items as numeric_items,  # re-exported: the item list belongs to the soft rules
)
from muzhang.catalog.soft_rules import (
    soft_flags as soft_flags,  # re-exported
)

if TYPE_CHECKING:  # pandera costs ~1 s to import: only an upload's checks load it
    import pandera.pandas as pa

# A hard problem: position in the upload (None: the whole upload), field, raw value, rule id.
Problem = tuple[int | None, str, object, str]
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no"})


@dataclass(frozen=True)
class ReportCheck:
    """What the rules found in one upload.

    ``refused`` and ``flags`` have the columns row (the index label of ``reports``; ``None`` for a problem of
    the whole upload), field, value (as received, shortened), rule_id and rule (a sentence in one language).
    """

    refused: pd.DataFrame  # hard: the row is refused
    flags: pd.DataFrame  # soft: kept, flagged for follow-up
    accepted: pd.Index  # index labels of rows with no hard problem
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # the accepted rows, coerced to catalog types
    # robust z of the accepted rows per outlier item (soft_rules.outlier_items order; NaN: too little history)
    outlier_z: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))


# --- Messages -------------------------------------------------------------------------------------------

TYPE_WORDS = {
    "integer": ("must be a whole number", "必须是整数"),
    "float": ("must be a finite number", "必须是有限数字"),
    "date": ("must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）"),
    "boolean": ("must be true or false", "必须是 true 或 false"),
    "string": ("must be text", "必须是文本"),
    "category": ("must be text", "必须是文本"),
}


def _hard_message(rule_id: str, spec: FieldSpec | None, lang: Lang, latest_month: pd.Timestamp) -> str:
    zh = lang == "zh"
    if rule_id == "type" and spec is not None:
        en_text, zh_text = TYPE_WORDS[spec.type]
        return zh_text if zh else en_text
    if rule_id in ("min", "max") and spec is not None:
        bound = _format_bound(spec.min if rule_id == "min" else spec.max)
        if spec.type == "date":
            return (
                f"不得{'早' if rule_id == 'min' else '晚'}于{bound}"
                if zh
                else f"must not be {'before' if rule_id == 'min' else 'after'} {bound}"
            )
        return (
            f"不得{'小' if rule_id == 'min' else '大'}于{bound}"
            if zh
            else f"must be at {'least' if rule_id == 'min' else 'most'} {bound}"
        )
    if rule_id == "category" and spec is not None:
        options = spec.categories or ()
        return f"必须是以下之一：{'、'.join(options)}" if zh else f"must be one of {', '.join(options)}"
    if rule_id == "pattern" and spec is not None:
        return f"格式不符，应为 {spec.pattern}" if zh else f"must match {spec.pattern}"
    latest = latest_month.strftime("%Y-%m")
    fixed = {
        "required": ("must not be empty", "不得为空"),
        "missing_column": ("required column is missing", "缺少必填列"),
        "unknown_grid": ("unknown grid area", "网格不存在"),
        "month_not_first": ("month must be written as its first day (YYYY-MM-01)", "月份须写作当月1日（YYYY-MM-01）"),
        "month_future": (f"month is in the future (latest is {latest})", f"月份不能晚于{latest}"),
    }
    en_text, zh_text = fixed.get(rule_id, (rule_id, rule_id))
    return zh_text if zh else en_text


def _format_bound(bound: float | date | None) -> str:
    if isinstance(bound, date):
        return bound.isoformat()
    return "" if bound is None else (str(int(bound)) if float(bound).is_integer() else str(bound))


# --- Coercion (the type rule) ----------------------------------------------------------------------------


def _text(column: pd.Series) -> pd.Series:
    """Stripped text, with empty strings as missing (an empty CSV cell)."""
    text = column.astype("string").str.strip()
    return text.mask(text == "")


def coerce_column(column: pd.Series, spec: FieldSpec) -> tuple[pd.Series, np.ndarray]:
    """The column in its catalog type, and a mask of values present but not of that type (then missing).

    Text from CSV/XLSX and typed JSON values are read alike: numbers may be written as text (``" 12 "``,
    ``"12.0"`` for an integer), dates as ISO text or timestamps. Booleans are not numbers, numbers not dates.
    """
    present = column.notna().to_numpy()
    if spec.type in ("integer", "float"):
        if pd.api.types.is_bool_dtype(column):
            numbers = np.full(len(column), np.nan)
        elif pd.api.types.is_numeric_dtype(column):
            numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        else:
            text = _text(column)
            present = text.notna().to_numpy()
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(numbers)
        if spec.type == "integer":  # whole, and within what a 64-bit count holds exactly (2**53)
            ok &= (numbers == np.round(numbers)) & (np.abs(numbers) < 2.0**53)
        bad = present & ~ok
        numbers = np.where(ok, numbers, np.nan) + 0.0  # -0 is 0 (pandas reads text "-0" either way)
        typed = pd.Series(numbers, index=column.index, dtype="float64")
        return (typed.astype("Int64") if spec.type == "integer" else typed), bad
    if spec.type == "date":
        if pd.api.types.is_datetime64_any_dtype(column):
            dates = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            dates = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
        else:
            text = _text(column)
            present = text.notna().to_numpy()
            dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
        dates = dates.astype("datetime64[ns]")
        return dates, present & dates.isna().to_numpy()
    if spec.type == "boolean":
        words = column.astype("string").str.strip().str.lower()
        truth = words.map(lambda w: True if w in TRUE_WORDS else False if w in FALSE_WORDS else pd.NA)
        return truth.astype("boolean"), present & truth.isna().to_numpy()
    return column.astype("string"), np.zeros(len(column), dtype=bool)


# --- The hard rules, once: a pandera schema for a frame, a plain test for one record ------------------------


@dataclass(frozen=True)
class HardRule:
    """One hard rule of one field, as data, so the pandera schema (:func:`report_schema`, for a frame) and the
    per-record check (:mod:`muzhang.catalog.record_checks`, for one JSON report) are generated from the same
    list and cannot disagree. A rule is checked on present values only (a missing one breaks ``required``).

    ``kind``: ``ge`` / ``le`` (``arg`` a float, or a Timestamp for dates), ``isin`` (a tuple), ``fullmatch``
    (a pattern), ``known`` (a well-formed id, ``arg`` = (pattern, frozenset of ids), must be one of them),
    ``first_of_month`` (a midnight on day 1), ``not_after_month`` (``arg`` a Timestamp: no later month).
    """

    field: str
    rule_id: str
    kind: Literal["ge", "le", "isin", "fullmatch", "known", "first_of_month", "not_after_month"]
    arg: Any = None


def hard_rules(
    *, known_grids: Collection[str], latest_month: pd.Timestamp, catalog: Catalog | None = None
) -> dict[str, tuple[tuple[HardRule, ...], bool]]:
    """Field -> (its hard rules, nullable), for every field of the monthly grid report, in catalog order.

    The catalog's range, category and pattern rules, plus: the grid must exist (well-formed ids only, so a
    malformed one is reported once, by its pattern) and the month must be a first-of-month date no later
    than ``latest_month``.
    """
    catalog = catalog or load_catalog()
    latest = pd.Timestamp(latest_month)
    out: dict[str, tuple[tuple[HardRule, ...], bool]] = {}
    for spec in catalog.fields_of(TABLE):
        found = field_rules(spec)
        if spec.name == "grid_id":
            found.append(HardRule(spec.name, "unknown_grid", "known", (spec.pattern or ".*", frozenset(known_grids))))
        if spec.name == "month":
            found.append(HardRule(spec.name, "month_not_first", "first_of_month"))
            found.append(HardRule(spec.name, "month_future", "not_after_month", latest))
        out[spec.name] = (tuple(found), spec.nullable)
    return out


def field_rules(spec: FieldSpec) -> list[HardRule]:
    """The rules a catalog entry states for any table: its range (``min``, ``max``), categories and pattern.
    Intake (:func:`hard_rules`) and ``muzhang data validate`` (:mod:`muzhang.catalog.rules`) both read them
    from here."""
    found: list[HardRule] = []
    for rule_id, bound in (("min", spec.min), ("max", spec.max)):
        if bound is not None:
            limit = pd.Timestamp(bound) if isinstance(bound, date) else float(bound)
            found.append(HardRule(spec.name, rule_id, "ge" if rule_id == "min" else "le", limit))
    if spec.categories:
        found.append(HardRule(spec.name, "category", "isin", tuple(spec.categories)))
    if spec.pattern is not None:
        found.append(HardRule(spec.name, "pattern", "fullmatch", spec.pattern))
    return found


def _pandera_check(rule: HardRule) -> pa.Check:
    """The pandera check of a rule (its error text is the rule id, read back from the failure cases)."""
    import pandera.pandas as pa

    if rule.kind == "ge":
        return pa.Check.ge(rule.arg, error=rule.rule_id)
    if rule.kind == "le":
        return pa.Check.le(rule.arg, error=rule.rule_id)
    if rule.kind == "isin":
        return pa.Check.isin(list(rule.arg), error=rule.rule_id)
    if rule.kind == "fullmatch":
        return pa.Check(_fullmatch(rule.arg), error=rule.rule_id)
    if rule.kind == "known":
        pattern, known = rule.arg
        return pa.Check(lambda s: ~_fullmatch(pattern)(s) | s.isin(known), error=rule.rule_id)
    if rule.kind == "first_of_month":
        return pa.Check(lambda s: (s.dt.day == 1) & (s == s.dt.normalize()), error=rule.rule_id)
    latest = rule.arg
    return pa.Check(lambda s: s.dt.year * 12 + s.dt.month <= latest.year * 12 + latest.month, error=rule.rule_id)


def _fullmatch(pattern: str) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.astype("string").str.fullmatch(pattern).fillna(False).astype(bool)


def report_schema(
    *,
    known_grids: Collection[str],
    latest_month: pd.Timestamp,
    catalog: Catalog | None = None,
    columns: Collection[str] | None = None,
) -> pa.DataFrameSchema:
    """The hard rules of a monthly grid report (:func:`hard_rules`) as a pandera schema over the coerced frame.

    ``columns`` limits the schema to those fields (default: all).
    """
    import pandera.pandas as pa

    rules = hard_rules(known_grids=known_grids, latest_month=latest_month, catalog=catalog)
    schema_columns = {
        name: pa.Column(checks=[_pandera_check(r) for r in found], nullable=nullable, required=True)
        for name, (found, nullable) in rules.items()
        if columns is None or name in columns
    }
    return pa.DataFrameSchema(schema_columns, strict=False, coerce=False)


# --- Entry point ---------------------------------------------------------------------------------------


def check_reports(
    reports: pd.DataFrame,
    *,
    known_grids: Collection[str],
    latest_month: pd.Timestamp,
    history: pd.DataFrame | None = None,
    lang: Lang = "zh",
    **soft: Unpack[SoftOptions],
) -> ReportCheck:
    """Check one upload of monthly grid reports: which rows are refused, which values are flagged.

    Args:
        reports: grid-month rows with the catalog's ``grid_monthly`` columns, as text (CSV/XLSX) or typed
            (JSON); other columns are ignored. Index labels name the rows in the answer.
        known_grids: ids of the grid areas that exist.
        latest_month: the last month that may be reported (a later one is in the future).
        history: earlier ``grid_monthly`` rows (the store's), for the soft rules; ``None`` for none.
        lang: language of the rule sentences.
        soft: the soft rules' options: peers, townships, peer_townships, rules, domain (see
            :class:`muzhang.catalog.soft_rules.SoftOptions`).

    Returns:
        Refused rows (every hard problem of every row), flags on accepted rows, the accepted labels, and the
        accepted rows coerced to catalog types. Two reports of one grid and month are not a hard problem: the
        caller decides between them by submission.
    """
    catalog = load_catalog()
    specs = {s.name: s for s in catalog.fields_of(TABLE)}
    labels = reports.index
    frame = reports.reset_index(drop=True)  # positions, so repeated labels stay apart
    problems: list[Problem] = []  # (position or None, field, raw value, rule id)
    typed: dict[str, pd.Series] = {}
    type_bad: set[tuple[int, str]] = set()
    for name, spec in specs.items():
        if name not in frame.columns:
            if not spec.nullable:
                problems.append((None, name, None, "missing_column"))
            continue
        column = frame[name]
        if isinstance(column, pd.DataFrame):  # the same column name twice: read the first
            column = column.iloc[:, 0]
        typed[name], bad = coerce_column(column, spec)
        for pos in np.flatnonzero(bad):
            problems.append((int(pos), name, column.iloc[pos], "type"))
            type_bad.add((int(pos), name))
    values = pd.DataFrame(typed, index=frame.index)
    from pandera.errors import SchemaErrors

    schema = report_schema(known_grids=known_grids, latest_month=latest_month, catalog=catalog, columns=typed)
    try:
        schema.validate(values, lazy=True)
    except SchemaErrors as exc:
        for item in exc.failure_cases.itertuples(index=False):
            pos, name = item.index, str(item.column)
            if pos is None or pd.isna(pos):
                continue
            rule_id = "required" if item.check == "not_nullable" else str(item.check)
            if (int(pos), name) not in type_bad:  # a value of the wrong type is reported once, as such
                problems.append((int(pos), name, frame[name].iloc[int(pos)], rule_id))
    refused = _problem_frame(problems, labels, specs, lang, latest_month)
    whole_upload = any(p[0] is None for p in problems)
    bad_rows = {p[0] for p in problems if p[0] is not None}
    keep = (
        np.zeros(len(frame), dtype=bool)
        if whole_upload
        else ~np.isin(np.arange(len(frame)), np.array(sorted(bad_rows), dtype=int))
    )
    accepted_values = values[keep].set_axis(labels[keep])
    flags, z = soft_check_frame(accepted_values, history, lang=lang, catalog=catalog, **soft)
    return ReportCheck(refused=refused, flags=flags, accepted=labels[keep], values=accepted_values, outlier_z=z)


def _problem_frame(
    problems: list[Problem],
    labels: pd.Index,
    specs: dict[str, FieldSpec],
    lang: Lang,
    latest_month: pd.Timestamp,
) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(specs)}
    problems.sort(key=lambda p: (-1 if p[0] is None else p[0], order.get(p[1], len(order))))
    rows = [
        (
            None if pos is None else labels[int(pos)],
            name,
            None if pos is None else short_value(raw),
            rule_id,
            _hard_message(rule_id, specs.get(name), lang, pd.Timestamp(latest_month)),
        )
        for pos, name, raw, rule_id in problems
    ]
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)
