"""Check county tables against the catalog and say, row by row, what is wrong.

Pure pandas and vectorised: each rule is one boolean mask over a column. Bad files (unreadable, empty,
unknown name, wrong types) become violations, never exceptions. Rows are 0-based data rows: row 0 is the
first record of a parquet file, or the line under the header of a csv file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.catalog.rules import column_rules, foreign_key_rules, plausible_rules

Severity = Literal["error", "warning"]
READABLE_SUFFIXES = (".csv", ".parquet")
MAX_STORED_PER_RULE = 200  # violations kept per table, field and rule; the rest are only counted
MAX_SHOWN_PER_FIELD = 20
VALUE_CHARS = 40


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (table, row, field), what was found (value) and what was expected (rule)."""

    table: str
    row: int | None  # 0-based data row; None for a table-level problem
    field: str | None
    value: str | None  # short repr of the offending value
    rule: str
    severity: Severity = "error"


@dataclass
class ValidationReport:
    """Every violation found under a path, with per-table row counts."""

    path: str
    tables: list[str] = field(default_factory=list)  # tables (and files) checked, in report order
    violations: list[Violation] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> data rows read
    files: dict[str, str] = field(default_factory=dict)  # table -> file name validated
    truncated: dict[tuple[str, str | None], int] = field(default_factory=dict)  # (table, field) -> not stored
    truncated_warnings: dict[tuple[str, str | None], int] = field(default_factory=dict)  # the same, warnings

    def warnings(self) -> list[Violation]:
        """The warnings stored (values kept, e.g. outside a plausible range)."""
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings do not count)."""
        return not any(v.severity == "error" for v in self.violations)

    def problems(self, table: str) -> int:
        """Errors found in ``table``, including those counted but not stored."""
        stored = sum(1 for v in self.violations if v.table == table and v.severity == "error")
        return stored + sum(n for (t, _), n in self.truncated.items() if t == table)


@dataclass(frozen=True)
class _Issue:
    """One rule broken in one column, before it is turned into row-level violations."""

    field: str | None
    rule: str
    rows: np.ndarray | None = None  # positions of the offending rows; None for a table-level issue
    values: pd.Series | pd.DataFrame | None = None  # the column(s) checked, read at ``rows`` only
    severity: Severity = "error"


def validate_table(
    df: pd.DataFrame, table: str, catalog: Catalog, *, known_ids: Mapping[str, Collection[str]] | None = None
) -> list[Violation]:
    """Check one table against the catalog.

    Args:
        df: the table as read (csv columns may all be text; values are coerced per field type).
        table: catalog table name; an unknown name raises ``KeyError`` (a caller's mistake, not bad data).
        catalog: the catalog to check against.
        known_ids: key field name (``grid_id``, ``township_id``, ``patient_id``) -> ids that exist; foreign
            keys of ``table`` are checked against the ids given here and skipped otherwise.

    Returns:
        Every violation, row-level ones with the 0-based position of the row in ``df``.
    """
    violations, _ = _materialise(table, _table_issues(df, table, catalog, known_ids or {}), limit=None)
    return violations


def validate_path(
    path: str | Path,
    catalog: Catalog | None = None,
    *,
    tables: Collection[str] | None = None,
    needed_by: str | None = None,
) -> ValidationReport:
    """Validate a table file or a county data directory.

    A file's table comes from its name (``grid_monthly.parquet`` or ``grid_monthly.csv``). A directory must
    hold every catalogued table, or only ``tables`` when given (those a family needs, ``needed_by`` naming
    the family in the message); any other table it holds is validated too. Foreign keys are checked against
    the directory's own grids, townships and patients (when present), and ``grids.geojson`` (if present)
    must have one feature per grid. The ``oracle/`` folder, ``manifest.json`` and other files are not
    catalogued inputs and are skipped. Values outside a field's plausible range (inside its hard limits)
    are warnings: the row is kept.
    """
    catalog = catalog or load_catalog()
    path = Path(path)
    report = ValidationReport(path=str(path))
    if path.is_dir():
        required = catalog.table_names if tables is None else tuple(tables)
        _validate_directory(path, catalog, report, required, needed_by)
    elif path.is_file():
        table = _table_for_file(path, catalog)
        report.tables.append(table or path.name)
        if table is None:
            expected = ", ".join(catalog.table_names)
            rule = f"unknown table file name; expected one of {expected}, as .csv or .parquet"
            report.violations.append(Violation(path.name, None, None, None, rule))
        else:
            frame = _read(path, table, report)
            if frame is not None:
                _add(report, table, _table_issues(frame, table, catalog, {}, needed_by is not None))
    else:
        report.violations.append(Violation(path.name or str(path), None, None, None, "path does not exist"))
    return report


def format_report(report: ValidationReport, max_per_field: int = MAX_SHOWN_PER_FIELD) -> str:
    """Human-readable report: one header line per table, then up to ``max_per_field`` violations per field."""
    by_table: dict[str, list[Violation]] = defaultdict(list)
    for v in report.violations:
        by_table[v.table].append(v)
    tables = list(dict.fromkeys([*report.tables, *report.rows, *by_table]))
    width = max((len(t) for t in tables), default=0)
    lines = [f"validated {report.path}"]
    for table in tables:
        errors = report.problems(table)
        warnings = sum(1 for v in by_table[table] if v.severity == "warning")
        warnings += sum(n for (t, _), n in report.truncated_warnings.items() if t == table)
        status = "OK" if errors == 0 else _count(errors, "problem")
        if warnings:
            status += f", {_count(warnings, 'warning')}"
        where = _describe_source(report, table)
        lines.append(f"{table:<{width}}  {status}" + (f"  ({where})" if where else ""))
        per_field: dict[str | None, list[Violation]] = defaultdict(list)
        for v in by_table[table]:
            per_field[v.field].append(v)
        for name, found in per_field.items():
            lines.extend(f"  {_format_violation(v)}" for v in found[:max_per_field])
            more = len(found) - max_per_field + report.truncated.get((table, name), 0)
            more += report.truncated_warnings.get((table, name), 0)
            if more > 0:
                lines.append(f"  ... and {more:,} more ({name})")
    total = sum(report.problems(t) for t in tables)
    lines.append("OK: no problems found" if report.ok else f"FAILED: {_count(total, 'problem')}")
    return "\n".join(lines)


# --- Files and directories ---------------------------------------------------------------------------------


def _validate_directory(
    path: Path, catalog: Catalog, report: ValidationReport, required: Collection[str], needed_by: str | None
) -> None:
    frames: dict[str, pd.DataFrame] = {}
    for table in catalog.table_names:
        spec = catalog.table(table)
        found = [path / n for n in spec.file_names() if (path / n).is_file()]
        if not found and table not in required:
            continue  # a table this use does not need
        report.tables.append(table)
        if not found:
            rule = f"required table file is missing ({spec.file})"
            if needed_by is not None:
                rule = f"family {needed_by} needs this table: file missing ({' or '.join(spec.file_names()[:2])})"
            report.violations.append(Violation(table, None, None, None, rule))
            continue
        if len(found) > 1:
            rule = f"{' and '.join(p.name for p in found)} both present; validated {found[0].name} only"
            report.violations.append(Violation(table, None, None, None, rule, "warning"))
        frame = _read(found[0], table, report)
        if frame is not None:
            frames[table] = frame
    known = set(catalog.table_names)
    for extra in sorted(p for p in path.iterdir() if p.suffix.lower() in READABLE_SUFFIXES):
        if extra.stem.lower() not in known:
            report.violations.append(
                Violation(extra.name, None, None, None, "not a catalogued table file; skipped", "warning")
            )

    known_ids: dict[str, set[str]] = {}  # key field -> ids of the table foreign keys refer to
    for target in {t for table in catalog.tables for t in table.foreign_keys.values()} & set(frames):
        (key,) = catalog.table(target).primary_key
        if key in frames[target].columns:
            known_ids[key] = set(frames[target][key].dropna().astype(str))
    for table, frame in frames.items():
        _add(report, table, _table_issues(frame, table, catalog, known_ids, needed_by is not None))
    geojson = catalog.layout.geojson
    if (path / geojson).is_file() and "grid_id" in known_ids:
        _add(report, geojson, _geojson_issues(path / geojson, known_ids["grid_id"], report))


def _table_for_file(path: Path, catalog: Catalog) -> str | None:
    stem, suffix = path.stem.lower(), path.suffix.lower()
    return stem if suffix in READABLE_SUFFIXES and stem in catalog.table_names else None


def _read(path: Path, table: str, report: ValidationReport) -> pd.DataFrame | None:
    """Read a csv (every column as text) or parquet file; record why it cannot be read instead of raising."""
    kind = path.suffix.lower().lstrip(".")
    problem: str | None = None
    frame: pd.DataFrame | None = None
    try:
        if path.stat().st_size == 0:
            problem = "file is empty"
        elif kind == "csv":
            frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        problem = "file is empty"
    except Exception as exc:  # any reader failure is a property of the file, reported as such
        problem = f"file cannot be read as {kind}: {_first_line(exc).replace(str(path), path.name)}"
    if frame is not None and frame.empty:
        problem, frame = "table has no rows", None
    if problem is not None:
        report.violations.append(Violation(table, None, None, None, problem))
        return None
    assert frame is not None
    report.rows[table] = len(frame)
    report.files[table] = path.name
    return frame


def _geojson_issues(path: Path, grid_ids: set[str], report: ValidationReport) -> list[_Issue]:
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        ids = [str((f.get("properties") or {}).get("grid_id", f.get("id"))) for f in features]
    except Exception as exc:  # a broken map is reported, not raised
        return [_Issue(None, f"file cannot be read as GeoJSON: {_first_line(exc)}")]
    report.rows[path.name], report.files[path.name] = len(ids), path.name
    issues = []
    missing = sorted(grid_ids - set(ids))
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        issues.append(_Issue("grid_id", f"{len(missing)} grids have no feature: {shown}"))
    series = pd.Series(ids)
    unknown = np.flatnonzero(~series.isin(grid_ids).to_numpy())
    if unknown.size:
        issues.append(_Issue("grid_id", "unknown grid_id (not in grids table)", unknown, series))
    duplicate = np.flatnonzero(series.duplicated().to_numpy())
    if duplicate.size:
        issues.append(_Issue("grid_id", "more than one feature for this grid_id", duplicate, series))
    return issues


# --- Tables ------------------------------------------------------------------------------------------------


OMITTED_COLUMN = "optional column is missing: read as empty (inputs built from it are dropped)"


def omittable(spec: FieldSpec, for_family: bool) -> bool:
    """Whether a file may leave the field's column out: a family's own directory may omit a nullable or
    ``optional`` field (all values missing); a county for the store carries every column."""
    return for_family and (spec.nullable or spec.optional)


def _table_issues(
    df: pd.DataFrame,
    table: str,
    catalog: Catalog,
    known_ids: Mapping[str, Collection[str]],
    for_family: bool = False,
) -> list[_Issue]:
    spec = catalog.table(table)
    fields = {f.name: f for f in catalog.fields_of(table)}
    if for_family:  # a family's own directory: an optional field may be empty too
        fields = {n: f.model_copy(update={"nullable": True}) if f.optional else f for n, f in fields.items()}
    absent = [name for name in fields if name not in df.columns]
    issues = [
        _Issue(name, OMITTED_COLUMN, severity="warning")
        if omittable(fields[name], for_family)
        else _Issue(name, "required column is missing")
        for name in absent
    ]
    issues += [
        _Issue(str(c), "unknown column for this table (ignored)", severity="warning")
        for c in df.columns
        if c not in fields
    ]
    for name in dict.fromkeys(str(c) for c in df.columns if c in fields):
        column = df[name]
        if isinstance(column, pd.DataFrame):  # the same column name twice
            issues.append(_Issue(name, "column appears more than once"))
            continue
        try:
            rules = list(column_rules(column, fields[name]))
            target = spec.foreign_keys.get(name)
            if target is not None:
                rules += foreign_key_rules(column, fields[name], catalog.table(target), known_ids)
            issues += [_Issue(name, rule, np.flatnonzero(bad), column) for rule, bad in rules]
            issues += [
                _Issue(name, rule, np.flatnonzero(odd), column, severity="warning")
                for rule, odd in plausible_rules(column, fields[name])
            ]
        except Exception as exc:  # a rule that cannot run on odd data is reported, not raised
            issues.append(_Issue(name, f"column could not be checked: {_first_line(exc)}"))
    key, key_name = list(spec.primary_key), ", ".join(spec.primary_key)
    if all(k in df.columns for k in key):
        try:
            duplicated = np.flatnonzero(df.duplicated(subset=key, keep="first").to_numpy())
            issues.append(_Issue(key_name, f"duplicate key ({key_name})", duplicated, df[key]))
        except Exception as exc:  # unhashable values in a key column
            issues.append(_Issue(key_name, f"key could not be checked: {_first_line(exc)}"))
    return [i for i in issues if i.rows is None or i.rows.size]


# --- Turning issues into violations ------------------------------------------------------------------------


def _add(report: ValidationReport, table: str, issues: list[_Issue]) -> None:
    for severity, counts in (("error", report.truncated), ("warning", report.truncated_warnings)):
        violations, truncated = _materialise(
            table, [i for i in issues if i.severity == severity], limit=MAX_STORED_PER_RULE
        )
        report.violations.extend(violations)
        for name, n in truncated.items():
            counts[(table, name)] = counts.get((table, name), 0) + n


def _materialise(table: str, issues: list[_Issue], limit: int | None) -> tuple[list[Violation], dict[str | None, int]]:
    violations: list[Violation] = []
    truncated: dict[str | None, int] = defaultdict(int)
    for issue in issues:
        if issue.rows is None:
            violations.append(Violation(table, None, issue.field, None, issue.rule, issue.severity))
            continue
        kept = issue.rows if limit is None else issue.rows[:limit]
        truncated[issue.field] += len(issue.rows) - len(kept)
        violations += [
            Violation(table, int(row), issue.field, value, issue.rule, issue.severity)
            for row, value in zip(kept, _values_at(issue.values, kept), strict=True)
        ]
    order = {name: i for i, name in enumerate(dict.fromkeys(v.field for v in violations))}
    violations.sort(key=lambda v: (order[v.field], -1 if v.row is None else v.row))
    return violations, {k: n for k, n in truncated.items() if n}


def _values_at(values: pd.Series | pd.DataFrame | None, rows: np.ndarray) -> list[str | None]:
    if values is None:
        return [None] * len(rows)
    if isinstance(values, pd.DataFrame):  # a composite key: G001, 2015-01-01
        return [", ".join(_short(v) for v in row) for row in values.iloc[rows].itertuples(index=False)]
    return [_short(v) for v in values.iloc[rows].tolist()]


def _short(value: object) -> str:
    """A value as a reader would want to see it: ``-3``, ``abc``, ``' abc'``, ``NaN``, ``2015-01-01``."""
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return "NaN"
    except (TypeError, ValueError):  # list-like values
        pass
    if isinstance(value, pd.Timestamp):
        text = value.date().isoformat() if value == value.normalize() else value.isoformat()
    elif isinstance(value, str):
        text = value if value and value == value.strip() else repr(value)
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.10g}"
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _describe_source(report: ValidationReport, table: str) -> str:
    if table not in report.rows:
        return ""
    if report.files[table] == table:  # a file that is not a table, e.g. the grids' GeoJSON map
        return f"{report.rows[table]:,} features"
    return f"{report.files[table]}, {report.rows[table]:,} rows"


def _format_violation(v: Violation) -> str:
    parts = [f"row {v.row}" if v.row is not None else "table"]
    if v.field is not None:
        parts.append(f"field {v.field}")
    if v.value is not None:
        parts.append(f"value {v.value}")
    return "  ".join(parts) + ("  warning: " if v.severity == "warning" else "  rule: ") + v.rule


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message if len(message) <= 160 else message[:157] + "..."
