"""Herder chiefs' monthly grid reports in: read, check, keep, flag. No HTTP here.

One path for every way a report arrives (``POST /v1/reports``, a township's CSV or XLSX upload, ``muzhang data
import FILE``): rows are checked by the catalog's hard rules (a refused row names row, field, value and rule;
the other rows are kept, never all-or-nothing) and soft rules (the value is kept and flagged for follow-up), then
written to the store, idempotently by the client-made ``submission_id``: sending a report again changes nothing,
a new report for the same grid and month supersedes the earlier values and the store audits who, when, old, new.
A report may carry values of the fields a catalog extension added to grid_monthly (:mod:`serving.report_fields`):
a JSON report in its ``measurements`` mapping, a file as columns named like the fields.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from muzhang.catalog import load_catalog
from muzhang.catalog.checks import check_reports, coerce_column
from muzhang.catalog.record_checks import record_columns
from muzhang.catalog.soft_rules import soft_check
from muzhang.store import Store
from serving.errors import InvalidInput, TooMany
from serving.intake_cache import IntakeCache
from serving.report_fields import MEASUREMENTS, AddedCheck, check_added

Lang = Literal["zh", "en"]
REPORT_TABLE = "grid_monthly"
ID_COLUMN = "submission_id"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{5,63}$"
ID_MATCH = re.compile(ID_PATTERN)
FLAG_KEYS = ("row", "field", "value", "rule_id", "rule")
XLSX_MAGIC = b"PK\x03\x04"
NOT_YOURS = {
    "en": "grid area is not one of the reporter's grids",
    "zh": "该网格不属于此牧长",
}
BAD_ID = {
    "en": "submission_id must be 6-64 letters, digits or . _ : - (made once by the sending device)",
    "zh": "submission_id须为6-64位字母、数字或 . _ : -（由发送设备生成一次）",
}
SAME_ID_DIFFERENT_ROW = {
    "en": "the same submission_id is used for a different report in this file",
    "zh": "同一文件中同一submission_id对应了不同的报表",
}


@dataclass
class IntakeResult:
    """What happened to each row of one intake: accepted (inserted/updated/unchanged), duplicate or refused."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # row, field, value, rule_id, rule
    flags: list[dict[str, Any]] = field(default_factory=list)  # row, field, value, rule_id, rule

    def counts(self) -> dict[str, int]:
        out = {"rows": len(self.rows), "refused": len({p["row"] for p in self.refused}), "flagged": len(self.flags)}
        for row in self.rows:
            out[row["outcome"]] = out.get(row["outcome"], 0) + 1
        return out


def report_columns() -> list[str]:
    """The items of a grid-month report, in catalog order."""
    return load_catalog().columns(REPORT_TABLE)


def read_report_file(content: bytes, filename: str = "", *, max_rows: int, added: Collection[str] = ()) -> pd.DataFrame:
    """A CSV (UTF-8) or XLSX file of reports as text cells, one report per row (file line = index + 2).
    ``added``: names of the fields a catalog extension added to grid_monthly that the store keeps (columns
    taken beside the catalog's items; any other unknown column refuses the file).

    Raises:
        InvalidInput: the file cannot be read, or lacks the id column.
        TooMany: more than ``max_rows`` reports.
    """
    is_xlsx = content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx")
    try:
        if is_xlsx:
            frame = pd.read_excel(io.BytesIO(content), dtype=str, keep_default_na=False, engine="openpyxl")
        else:
            text = content.decode("utf-8-sig")
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="error")
    except Exception as exc:  # openpyxl and the csv parser raise many kinds; the user needs one sentence
        kind = "XLSX workbook" if is_xlsx else "UTF-8 CSV with a header row"
        raise InvalidInput(f"file: not a readable {kind} ({type(exc).__name__})") from None
    if not isinstance(frame.index, pd.RangeIndex):
        raise InvalidInput("file: some rows have more fields than the header row (a stray comma?)")
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) > max_rows:
        raise TooMany(f"too many rows: {len(frame)}; at most {max_rows} per upload (split the file)")
    known = {*report_columns(), *added, ID_COLUMN, "reported_by", "received_at"}
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise InvalidInput(f"file: unknown column(s) {', '.join(map(repr, unknown[:10]))}")
    if ID_COLUMN not in frame.columns:
        raise InvalidInput(f"file: a column {ID_COLUMN!r} is needed (one id per report, made by the sender)")
    if frame.empty:
        raise InvalidInput("file: no data rows")
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # the line numbers a spreadsheet shows
    return frame


def ingest_reports(
    store: Store,
    reports: pd.DataFrame,
    *,
    who: str,
    role: str,
    source: str,
    known_grids: Collection[str],
    latest_month: pd.Timestamp,
    history: pd.DataFrame | None,
    allowed_grids: Collection[str] | None = None,
    trust_arrival: bool = False,
    lang: Lang = "zh",
    cache: IntakeCache | None = None,
) -> IntakeResult:
    """Check and keep reports; refused rows are reported, never stored, and never stop the others.

    Args:
        reports: one report per row (index = the row number to report), catalog columns plus ``submission_id``.
        who, role, source: recorded with every stored value and audit line.
        known_grids: grid areas of the county (others are refused).
        latest_month: the last month a report may be for (the current month).
        history: earlier grid-month rows, for the soft rules (the grid's own past).
        allowed_grids: a reporter's grids (None: any grid, for county staff).
        trust_arrival: keep the file's ``received_at`` and ``reported_by`` (a township's collected reports, or
            an offline import), instead of now and the sender.
        lang: language of every rule message.
        cache: the service's intake cache: the month's other reports give the shared move, and the rows
            written become history for the next reports.
    """
    result = IntakeResult()
    reports = reports.copy()
    refused_rows: set[Any] = set()

    def refuse(row: Any, column: str, value: Any, rule_id: str, rule: str) -> None:
        result.refused.append(_problem(row, column, value, rule_id, rule))
        refused_rows.add(row)

    ids = reports[ID_COLUMN].astype(str).str.strip() if ID_COLUMN in reports else pd.Series("", index=reports.index)
    reports[ID_COLUMN] = ids
    for row, value in ids[~ids.str.fullmatch(ID_PATTERN)].items():
        refuse(row, ID_COLUMN, value, "submission_id", BAD_ID[lang])
    added_specs = store.report_added_fields()
    added_columns = [c for c in reports.columns if c in added_specs]
    added_checks: dict[Any, AddedCheck] = {}
    if added_columns:  # a row at a time: a file of a county with added fields is a month's reports, not history
        for row, given in zip(reports.index, reports[added_columns].to_dict("records"), strict=True):
            added_checks[row] = check_added(added_specs, {str(k): _cell(v) for k, v in given.items()}, lang)
            for name, value, rule_id, rule in added_checks[row].refused:
                refuse(row, name, value, rule_id, rule)
    columns = report_columns()
    for column in columns:  # an item left out of a report is empty: the required rule names it
        if column not in reports.columns:
            reports[column] = None
    for _, group in reports.groupby(ID_COLUMN, sort=False):  # one id, two different rows: both are suspect
        if len(group) > 1 and len(group[[*columns, *added_columns]].astype(str).drop_duplicates()) > 1:
            for row in group.index:
                refuse(row, ID_COLUMN, group.at[row, ID_COLUMN], "submission_id_reused", SAME_ID_DIFFERENT_ROW[lang])
    if allowed_grids is not None:
        allowed = set(allowed_grids)
        grid_text = reports["grid_id"].astype(str) if "grid_id" in reports else pd.Series("", index=reports.index)
        for row, grid in grid_text[~grid_text.isin(allowed)].items():
            refuse(row, "grid_id", grid, "not_your_grid", NOT_YOURS[lang])

    present = [c for c in columns if c in reports.columns]
    peers, peer_townships, townships = None, None, None
    if cache is not None:
        months = pd.to_datetime(reports["month"], errors="coerce", format="ISO8601").dropna()
        peers, peer_townships = cache.peers(
            months.dt.to_period("M").dt.to_timestamp().unique(), besides=reports["grid_id"].astype(str)
        )
        townships = cache.townships
    check = check_reports(
        reports[present],
        known_grids=known_grids,
        latest_month=latest_month,
        history=history,
        peers=peers,
        townships=townships,
        peer_townships=peer_townships,
        lang=lang,
    )
    for problem in check.refused.to_dict("records"):
        refuse(problem["row"], problem["field"], problem["value"], problem["rule_id"], problem["rule"])
    keep = [r for r in reports.index if r not in refused_rows]
    result.flags = [{str(k): v for k, v in p.items()} for p in check.flags.to_dict("records")]
    result.flags += [_problem(row, *flag) for row, added in added_checks.items() for flag in added.flags]
    result.flags = [p for p in result.flags if p["row"] not in refused_rows]
    if not keep:
        return result
    typed = typed_reports(reports.loc[keep, [*present, ID_COLUMN]])
    for name in added_columns:  # checked above: each kept row's value in the field's type
        typed[name] = pd.Series([added_checks[row].values.get(name) for row in keep], index=typed.index, dtype=object)
    if trust_arrival and "received_at" in reports:
        arrival = pd.to_datetime(reports.loc[keep, "received_at"].replace("", None), utc=True, errors="coerce")
        typed["received_at"] = arrival
    if trust_arrival and "reported_by" in reports:
        typed["submitted_by"] = reports.loc[keep, "reported_by"].replace("", None).fillna(who).astype(str)
    flags_by_row: dict[Any, list[dict[str, Any]]] = {}
    for f in result.flags:
        flags_by_row.setdefault(f["row"], []).append(
            {"field": f["field"], "rule": f["rule_id"], "value": _text(f["value"]), "detail": f["rule"]}
        )
    row_flags = {i: flags_by_row[row] for i, row in enumerate(typed.index) if row in flags_by_row}
    outcomes = store.apply_reports(typed, who=who, role=role, source=source, row_flags=row_flags)
    outcomes.index = typed.index
    for row, outcome in outcomes.iterrows():
        result.rows.append(
            _outcome_row(
                row,
                outcome["submission_id"],
                outcome["grid_id"],
                outcome["month"],
                outcome["outcome"],
                outcome.get("changed_fields"),
            )
        )
    if cache is not None:
        written = {r["row"] for r in result.rows if r["outcome"] in ("inserted", "updated")}
        z_of = dict(zip(check.accepted, check.outlier_z, strict=True))
        for row, values in zip(typed.index, typed[present].to_dict("records"), strict=True):
            if row in written:
                cache.written(values, z_of.get(row))
    return result


def ingest_record(
    store: Store,
    record: Mapping[str, Any],
    *,
    who: str,
    role: str,
    source: str,
    cache: IntakeCache,
    latest_month: pd.Timestamp,
    allowed_grids: Collection[str] | None = None,
    lang: Lang = "zh",
    row: Any = 1,
) -> IntakeResult:
    """One report (a chief's JSON) through the per-record path: the same hard rules as :func:`ingest_reports`
    (generated from the same definitions; tests/code/catalog/test_record_checks.py holds them equal), the
    soft rules against the grid's history kept in ``cache``, and one store transaction for the report and
    its flags. About a millisecond of checks instead of ~100 ms of pandas and pandera."""
    result = IntakeResult()
    submission_id = str(record.get(ID_COLUMN) or "").strip()
    if not ID_MATCH.fullmatch(submission_id):
        result.refused.append(_problem(row, ID_COLUMN, record.get(ID_COLUMN), "submission_id", BAD_ID[lang]))
    grid_text = str(record.get("grid_id"))
    if allowed_grids is not None and grid_text not in set(allowed_grids):
        result.refused.append(_problem(row, "grid_id", grid_text, "not_your_grid", NOT_YOURS[lang]))
    checked = cache.checker(latest_month).check(record, lang)
    result.refused += [_problem(row, *problem) for problem in checked.refused]
    added = _record_added(store, record, row, lang)
    result.refused += [_problem(row, f"{MEASUREMENTS}.{name}", *rest) for name, *rest in added.refused]
    if result.refused:
        return result
    values = checked.values
    columns = record_columns(values)
    columns["township_id"] = np.array([cache.townships.get(values["grid_id"], "")], dtype=object)
    context = cache.context(values["grid_id"], values["month"])
    peers, peer_townships = cache.peers([values["month"]], besides=[values["grid_id"]])
    found, z = soft_check(columns, [row], context, peers=peers, peer_townships=peer_townships, lang=lang)
    found = [*found, *((row, *flag) for flag in added.flags)]
    result.flags = [dict(zip(FLAG_KEYS, f, strict=True)) for f in found]
    stored = [{"field": f[1], "rule": f[3], "value": f[2], "detail": f[4]} for f in found]
    _, grid_id, month, outcome, changed, _ = store.apply_report(
        submission_id, values, who=who, role=role, source=source, raise_flags=stored, added=added.values
    )
    result.rows.append(_outcome_row(row, submission_id, grid_id, month, outcome, changed))
    if outcome in ("inserted", "updated"):
        cache.written(values, z[0])
    return result


def _record_added(store: Store, record: Mapping[str, Any], row: Any, lang: Lang) -> AddedCheck:
    """A JSON report's ``measurements`` checked against the added fields the store keeps.

    Raises:
        InvalidInput: a name the store keeps no added field for (a 422 naming row, field, value and rule,
            as an unknown item of the report is refused: a typo must not vanish).
    """
    given = record.get(MEASUREMENTS) or {}
    if not given:
        return AddedCheck()
    added = check_added(store.report_added_fields(), given, lang)
    unknown = [p for p in added.refused if p[2] == "unknown_field"]
    if unknown:
        raise InvalidInput(
            [
                {"row": row, "field": f"{MEASUREMENTS}.{name}", "value": value, "rule": rule}
                for name, value, _, rule in unknown
            ]
        )
    return added


def _cell(value: Any) -> Any:
    """A file's cell as sent, None when empty."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _outcome_row(row: Any, submission_id: Any, grid_id: Any, month: Any, outcome: Any, changed: Any) -> dict[str, Any]:
    """What the store did with one report, as an intake's row (changed: the fields it changed, or None)."""
    return {
        "row": row,
        "submission_id": str(submission_id),
        "grid_id": str(grid_id),
        "month": pd.Timestamp(month).date().isoformat(),
        "outcome": str(outcome),
        "changed_fields": list(changed or []),
    }


def _problem(row: Any, name: str, value: Any, rule_id: str, rule: str) -> dict[str, Any]:
    return {"row": row, "field": name, "value": _text(value), "rule_id": rule_id, "rule": rule}


def typed_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """Report cells (text or JSON values) in the catalog's types, converted as the report checks convert them
    (only called on rows the hard rules passed, so nothing is lost here)."""
    catalog = load_catalog()
    out = pd.DataFrame(index=reports.index)
    for column in reports.columns:
        if column == ID_COLUMN:
            out[column] = reports[column].astype(str).str.strip()
        else:
            out[column], _ = coerce_column(reports[column], catalog.field(column))
    return out


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)[:40]


@dataclass
class FileImport:
    """What ``muzhang data import`` did with a month's files: the reports' intake and the market rows."""

    reports: IntakeResult | None = None
    market: Any = None  # the store's ImportSummary of market rows
    market_problems: list[str] = field(default_factory=list)


def import_month_files(store: Store, path: Any, *, who: str, lang: Lang = "en") -> FileImport:
    """Import a file of grid reports (CSV/XLSX), or a folder holding ``reports.csv`` (or ``.xlsx``) and
    ``market.csv`` as ``muzhang data emit`` writes them, through the same checks as the API.

    Reports keep their ``received_at`` and ``reported_by`` (a township's collected reports). Market rows are
    checked against the catalog and refused as a whole file if any row breaks a rule (they are the market
    office's own figures, one file a month). Checks read the store's county at its last closed month.
    """
    from pathlib import Path

    from muzhang.catalog.validate import validate_table

    folder = Path(path)
    candidates = (folder / "reports.csv", folder / "reports.xlsx")
    files = [folder] if folder.is_file() else [p for p in candidates if p.is_file()]
    out = FileImport()
    tables = store.read_tables(store.last_closed_month())
    grids, monthly = tables["grids"], tables["grid_monthly"]
    if files:
        content = files[0].read_bytes()
        added = list(store.report_added_fields())
        frame = read_report_file(content, files[0].name, max_rows=1_000_000, added=added)
        present = set(frame["grid_id"].astype(str)) if "grid_id" in frame else set()
        out.reports = ingest_reports(
            store,
            frame,
            who=who,
            role="admin",
            source="import",
            known_grids=set(grids["grid_id"].astype(str)),
            latest_month=pd.Timestamp.today().to_period("M").to_timestamp(),
            history=monthly[monthly["grid_id"].isin(present)],
            trust_arrival=True,
            lang=lang,
        )
    market_file = folder / "market.csv" if folder.is_dir() else None
    if market_file is not None and market_file.is_file():
        market = pd.read_csv(market_file, dtype=str, keep_default_na=False)
        known = {"township_id": set(tables["townships"]["township_id"].astype(str))}
        problems = [
            v
            for v in validate_table(market, "market_monthly", load_catalog(), known_ids=known)
            if v.severity == "error"
        ]
        if problems:
            out.market_problems = [f"row {v.row}, {v.field} {v.value!r}: {v.rule}" for v in problems[:20]]
        else:
            typed = typed_reports(market)
            out.market = store.import_tables({"market_monthly": typed}, who=who, source=market_file.name)
    return out
