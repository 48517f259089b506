"""The herder chiefs' reports: each one a submission and, when accepted, a grid-month's values (audited) and
its flags, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import FieldSpec
from muzhang.store import frames as fr
from muzhang.store.base import REPORT_TABLE, StoreBase
from muzhang.store.cells import aware_datetime, first_line, given_or_none, now_utc, plain_value, same_value
from muzhang.store.report_added import report_added_specs, unknown_added, write_report_added
from muzhang.store.schema import SUBMISSION_SOURCES, county_tables, flags, months, submissions, value_audit

REPORT_OPTIONAL = ("submitted_by", "received_at", "status", "problems")  # extra columns apply_reports reads

_SUBMISSION_KNOWN = sa.select(submissions.c.submission_id).where(
    submissions.c.submission_id == sa.bindparam("submission_id")
)
_MONTH_KNOWN = sa.select(months.c.month).where(months.c.month == sa.bindparam("month"))
_REPORT_ROW = sa.select(county_tables[REPORT_TABLE]).where(
    county_tables[REPORT_TABLE].c.grid_id == sa.bindparam("grid_id"),
    county_tables[REPORT_TABLE].c.month == sa.bindparam("month"),
)


class ReportIntake(StoreBase):
    """:meth:`apply_reports` (a frame of reports) and :meth:`apply_report` (one report)."""

    def apply_reports(
        self,
        rows: pd.DataFrame,
        *,
        who: str,
        role: str,
        source: str,
        reason: str = "report",
        row_flags: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    ) -> pd.DataFrame:
        """Record grid-month reports, each row in its own transaction; one outcome row per input row.

        ``row_flags``: position of a row -> flags to raise on it (field, rule, value, detail), written in the
        row's own transaction when its values are written (``inserted`` or ``updated``), else dropped: a
        resent report is flagged once.

        ``rows`` has ``submission_id`` (made by the client) and every grid_monthly column; a nullable
        catalog column may be absent or null, a required one may not. A column named like a field a catalog
        extension added to grid_monthly (kept by an import, :mod:`muzhang.store.added`) is written in the
        row's transaction (:mod:`muzhang.store.report_added`); other columns are not read. Optional columns:
        ``submitted_by`` (default ``who``), ``received_at`` (tz-aware; default now), ``status`` (``accepted``
        by default, ``partial``, or ``refused``: recorded but no value written) and ``problems`` (JSON text or a
        list).

        Outcomes: ``duplicate`` (the submission id is known: nothing changes), ``inserted`` (a new
        grid-month), ``updated`` (new values supersede the stored ones; every changed field is audited with
        old, new, who, when and the submission id), ``unchanged`` (same values), ``refused`` (recorded as a
        refused submission: status ``refused`` given, an empty required field, a month not on its first
        day, or a write the database refused, e.g. an unknown grid; ``detail`` says which).

        Returns:
            submission_id, grid_id, month, outcome, changed_fields (tuple of field names), detail.

        Raises:
            ValueError: an unknown ``source``, missing required columns, or values of the wrong type.
        """
        if source not in SUBMISSION_SOURCES:
            raise ValueError(f"source {source!r} is not one of {', '.join(SUBMISSION_SOURCES)}")
        specs = self.catalog.fields_of(REPORT_TABLE)
        required = ["submission_id", *(s.name for s in specs if not s.nullable)]
        missing = [c for c in required if c not in rows.columns]
        if missing:
            raise ValueError(f"reports lack required column(s): {', '.join(missing)}")
        frame = rows.reset_index(drop=True)
        canonical = pd.DataFrame(
            {s.name: _canonical_or_raise(frame[s.name], s) if s.name in frame else _nulls(len(frame), s) for s in specs}
        )
        stored = {s.name: fr.stored(canonical[s.name], s) for s in specs}
        added_specs = {n: a for n, a in self.report_added_fields().items() if n in frame.columns}
        added = {n: fr.stored(_canonical_or_raise(frame[n], a), a) for n, a in added_specs.items()}
        outcomes = []
        for i in range(len(frame)):
            extra = {c: frame.at[i, c] for c in REPORT_OPTIONAL if c in frame.columns}
            values = {name: column[i] for name, column in stored.items()}
            given = {name: column[i] for name, column in added.items()}
            outcomes.append(
                self._apply_one(
                    str(frame.at[i, "submission_id"]),
                    values,
                    extra,
                    who=who,
                    role=role,
                    source=source,
                    reason=reason,
                    raise_flags=(row_flags or {}).get(i, ()),
                    added=given,
                )
            )
        out = pd.DataFrame(
            outcomes, columns=["submission_id", "grid_id", "month", "outcome", "changed_fields", "detail"]
        )
        out["month"] = pd.to_datetime(out["month"]).astype("datetime64[us]")
        return out

    def _apply_one(
        self,
        submission_id: str,
        values: dict[str, Any],
        extra: Mapping[str, Any],
        *,
        who: str,
        role: str,
        source: str,
        reason: str,
        raise_flags: Sequence[Mapping[str, Any]] = (),
        added: Mapping[str, Any] | None = None,
    ) -> tuple[str, Any, Any, str, tuple[str, ...], str | None]:
        table = county_tables[REPORT_TABLE]
        added = dict(added or {})
        grid_id, month = values["grid_id"], values["month"]
        now = now_utc()
        given = {k: given_or_none(v) for k, v in extra.items()}
        received = given.get("received_at")
        received_at = now if received is None else aware_datetime(received)
        problems = given.get("problems")
        problems_text = (
            "[]"
            if problems is None
            else problems
            if isinstance(problems, str)
            else json.dumps(problems, ensure_ascii=False, default=str)
        )
        status = str(given.get("status") or "accepted")
        submitted_by = given.get("submitted_by")
        submission = {
            "submission_id": submission_id,
            "grid_id": grid_id,
            "month": month,
            "submitted_by": who if submitted_by is None else str(submitted_by),
            "role": role,
            "source": source,
            "received_at": received_at,
            "status": status,
            "payload": json.dumps(
                {
                    **{k: fr.json_value(v) for k, v in values.items()},
                    **({"measurements": {k: fr.json_value(v) for k, v in added.items()}} if added else {}),
                },
                ensure_ascii=False,
                default=str,
            ),
            "problems": problems_text,
        }
        result = (submission_id, grid_id, month)
        refusal = self._refusal(values, status)
        try:
            with self._write() as conn:
                if conn.execute(_SUBMISSION_KNOWN, {"submission_id": submission_id}).first():
                    return (*result, "duplicate", (), None)
                if refusal is not None:
                    submission["status"] = "refused"
                    if status != "refused":
                        submission["problems"] = json.dumps([{"rule": "store", "detail": refusal}], ensure_ascii=False)
                    conn.execute(sa.insert(submissions), submission)
                    return (*result, "refused", (), refusal)
                # Statements with bound parameters: compiled once, not once per report (a third of its time).
                conn.execute(sa.insert(submissions), submission)
                if month is not None and not conn.execute(_MONTH_KNOWN, {"month": month}).first():
                    conn.execute(sa.insert(months), {"month": month, "status": "open"})
                key = [table.c.grid_id == grid_id, table.c.month == month]
                old = conn.execute(_REPORT_ROW, {"grid_id": grid_id, "month": month}).mappings().first()
                written: dict[str, Any] = {"who": who, "now": now, "submission_id": submission_id, "reason": reason}
                if added:  # the store's definitions, read in this transaction: an unknown name writes nothing
                    added = self._typed_added(conn, added)
                if old is None:
                    conn.execute(sa.insert(table), values)
                    write_report_added(conn, grid_id, month, added, existed=False, **written)
                    self._raise_flags(conn, raise_flags, grid_id, month, submission_id, now)
                    return (*result, "inserted", (), None)
                changed = {}
                for spec in self.catalog.fields_of(REPORT_TABLE):
                    if spec.name in ("grid_id", "month"):
                        continue
                    before = fr.stored(fr.canonical_from_stored([old[spec.name]], spec), spec)[0]
                    if not same_value(before, values[spec.name]):
                        changed[spec.name] = (before, values[spec.name])
                added_changed = write_report_added(conn, grid_id, month, added, existed=True, **written)
                if not changed and not added_changed:
                    return (*result, "unchanged", (), None)
                if changed:
                    self._update_audited(conn, key, changed, grid_id, month, **written)
                self._raise_flags(conn, raise_flags, grid_id, month, submission_id, now)
                return (*result, "updated", (*changed, *added_changed), None)
        except sa.exc.DBAPIError as exc:
            detail = first_line(exc)
        # The write was refused (e.g. an unknown grid): keep the submission as refused, if it is still new.
        with self._write() as conn:
            if conn.execute(
                sa.select(submissions.c.submission_id).where(submissions.c.submission_id == submission_id)
            ).first():
                return (*result, "duplicate", (), None)
            submission["status"] = "refused"
            submission["problems"] = json.dumps([{"rule": "store", "detail": detail}], ensure_ascii=False)
            conn.execute(sa.insert(submissions).values(**submission))
        return (*result, "refused", (), detail)

    def _update_audited(
        self,
        conn: sa.Connection,
        key: Sequence[Any],
        changed: Mapping[str, tuple[Any, Any]],
        grid_id: str,
        month: date,
        *,
        who: str,
        now: datetime,
        submission_id: str,
        reason: str,
    ) -> None:
        """A grid-month's changed catalog items written, each change audited with the report's id."""
        table = county_tables[REPORT_TABLE]
        conn.execute(sa.update(table).where(*key).values({c: new for c, (_, new) in changed.items()}))
        conn.execute(
            sa.insert(value_audit),
            [
                {
                    "table_name": REPORT_TABLE,
                    "key": fr.key_text(["grid_id", "month"], [grid_id, month]),
                    "field": column,
                    "old_value": fr.text_value(before),
                    "new_value": fr.text_value(after),
                    "changed_by": who,
                    "changed_at": now,
                    "submission_id": submission_id,
                    "reason": reason,
                }
                for column, (before, after) in changed.items()
            ],
        )

    def apply_report(
        self,
        submission_id: str,
        values: Mapping[str, Any],
        *,
        who: str,
        role: str,
        source: str,
        reason: str = "report",
        raise_flags: Sequence[Mapping[str, Any]] = (),
        added: Mapping[str, Any] | None = None,
    ) -> tuple[str, str, date, str, tuple[str, ...], str | None]:
        """Record one checked report in one transaction, with its flags: the per-record path of
        :meth:`apply_reports` (same outcomes), for values already in their catalog types (int, float, str,
        bool, a date or Timestamp for the month; None or absent for empty), so no frame is built.

        ``added``: values of fields a catalog extension added to grid_monthly (name -> value in the field's
        type, None to erase a stored one), written in the report's transaction; a field left out keeps
        its stored value.

        Returns:
            submission_id, grid_id, month, outcome, changed_fields, detail.

        Raises:
            ValueError: an unknown ``source``, a value that is not of its field's type, or an added field the
                store keeps no definition for.
        """
        if source not in SUBMISSION_SOURCES:
            raise ValueError(f"source {source!r} is not one of {', '.join(SUBMISSION_SOURCES)}")
        stored = {s.name: _stored_value(values.get(s.name), s) for s in self.catalog.fields_of(REPORT_TABLE)}
        return self._apply_one(
            submission_id,
            stored,
            {},
            who=who,
            role=role,
            source=source,
            reason=reason,
            raise_flags=raise_flags,
            added=added,
        )

    def _typed_added(self, conn: sa.Connection, added: Mapping[str, Any]) -> dict[str, Any]:
        """A report's added values as the driver takes them; ``ValueError`` for a name the store does not keep
        or a value not of its field's type."""
        specs = report_added_specs(conn, set(self.catalog.columns(REPORT_TABLE)))
        unknown = unknown_added(added, specs)
        if unknown is not None:
            raise ValueError(unknown)
        return {name: _stored_value(value, specs[name]) for name, value in added.items()}

    def report_added_fields(self) -> dict[str, FieldSpec]:
        """The fields a catalog extension added to grid_monthly that the store keeps (name -> catalog entry,
        optional in a report): the values a report may carry beside the catalog's items."""
        with self._read() as conn:
            return report_added_specs(conn, set(self.catalog.columns(REPORT_TABLE)))

    def _raise_flags(
        self,
        conn: sa.Connection,
        found: Sequence[Mapping[str, Any]],
        grid_id: str,
        month: date,
        submission_id: str,
        now: datetime,
    ) -> None:
        """Flags on a report just written (field, rule, value, detail each), in the report's transaction."""
        if not found:
            return
        entries = [
            {
                "grid_id": grid_id,
                "month": month,
                "field": f.get("field"),
                "rule": str(f["rule"]),
                "value": None if given_or_none(f.get("value")) is None else fr.text_value(plain_value(f["value"])),
                "detail": f.get("detail"),
                "status": "open",
                "raised_at": now,
                "submission_id": submission_id,
            }
            for f in found
        ]
        conn.execute(sa.insert(flags), entries)

    def _refusal(self, values: Mapping[str, Any], status: str) -> str | None:
        if status == "refused":
            return "refused before the store"
        if status not in ("accepted", "partial"):
            return f"status {status!r} is not accepted, partial or refused"
        empty = [s.name for s in self.catalog.fields_of(REPORT_TABLE) if not s.nullable and values[s.name] is None]
        if empty:
            return f"empty required field(s): {', '.join(empty)}"
        if values["month"].day != 1:
            return f"month {values['month'].isoformat()} is not the first day of a month"
        return None


def _canonical_or_raise(values: pd.Series, spec: FieldSpec) -> pd.Series:
    try:
        return fr.canonical(values, spec)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"reports: column {spec.name!r} holds values that are not {spec.type} ({exc})") from exc


def _stored_value(value: Any, spec: FieldSpec) -> Any:
    """One typed value as the driver takes it (what :func:`muzhang.store.frames.stored` gives for a column)."""
    value = given_or_none(plain_value(value))
    if value is None:
        return None
    kind = spec.type
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool) and value == int(value):
        return int(value)
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in ("string", "category") and isinstance(value, str):
        return value
    if kind == "date" and isinstance(value, date):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            return stamp.date()
    raise ValueError(f"reports: {spec.name} = {value!r} is not a {spec.type} value")


def _nulls(n: int, spec: FieldSpec) -> pd.Series:
    return fr.canonical(pd.Series([None] * n, dtype=object), spec)
