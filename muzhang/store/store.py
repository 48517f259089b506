"""The county's database of record: catalog tables, reports, the value audit, flags and months.

Every write is one transaction: an import, one report row, a flag batch, a month closing. Nothing is ever
deleted: a report that changes a grid-month supersedes the old values and each changed value leaves an
audit row (old, new, who, when, which submission).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import Catalog, FieldSpec
from muzhang.store import frames as fr
from muzhang.store.engine import WRITE_OPTION, migrated_engine
from muzhang.store.schema import (
    CATALOG,
    FLAG_STATUSES,
    SUBMISSION_SOURCES,
    county_tables,
    flags,
    frame_columns,
    months,
    submissions,
    value_audit,
)

REPORT_TABLE = "grid_monthly"
MONTHLY_TABLES = ("grid_monthly", "market_monthly")  # the tables a cut-off month applies to
REPORT_OPTIONAL = ("submitted_by", "received_at", "status", "problems")  # extra columns apply_reports reads
Cutoff = str | date | pd.Timestamp | None


_SUBMISSION_KNOWN = sa.select(submissions.c.submission_id).where(
    submissions.c.submission_id == sa.bindparam("submission_id")
)
_MONTH_KNOWN = sa.select(months.c.month).where(months.c.month == sa.bindparam("month"))
_REPORT_ROW = sa.select(county_tables[REPORT_TABLE]).where(
    county_tables[REPORT_TABLE].c.grid_id == sa.bindparam("grid_id"),
    county_tables[REPORT_TABLE].c.month == sa.bindparam("month"),
)


class StoreError(Exception):
    """A write the store refused as a whole (nothing was changed)."""


@dataclass(frozen=True)
class TableCounts:
    """Rows of one table in an import: new, changed (and audited), and already there as given."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ImportSummary:
    """What one :meth:`Store.import_tables` did, per table (in load order)."""

    tables: dict[str, TableCounts]
    months_closed: int = 0  # months of the history that were new to the store, recorded as closed
    audited_values: int = 0  # value_audit rows written (one per changed value)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in self.tables.values())

    def lines(self) -> list[str]:
        rows = [f"{'table':<18} {'inserted':>9} {'updated':>9} {'unchanged':>9}"]
        rows += [f"{t:<18} {c.inserted:>9,} {c.updated:>9,} {c.unchanged:>9,}" for t, c in self.tables.items()]
        rows.append(
            f"{self.audited_values:,} changed values audited, {self.months_closed:,} months closed, "
            f"{self.seconds:.1f} s"
        )
        return rows

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass
class _Prepared:
    """An incoming table in canonical form, with the read dtypes and column order to remember."""

    name: str
    frame: pd.DataFrame  # canonical, catalog column order
    dtypes: dict[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)


def load_order(catalog: Catalog) -> tuple[str, ...]:
    """Catalog tables with every table after the tables its foreign keys refer to (catalog order otherwise).

    The catalog lists ``grids`` before ``townships`` although grids refer to townships, so catalog order
    alone cannot be the insert order.
    """
    placed: list[str] = []
    pending = list(catalog.table_names)
    while pending:
        for name in pending:
            parents = set(catalog.table(name).foreign_keys.values()) - {name}
            if parents <= set(placed):
                placed.append(name)
                pending.remove(name)
                break
        else:
            raise ValueError(f"foreign keys of the catalog form a cycle among: {', '.join(pending)}")
    return tuple(placed)


def month_start(value: str | date | pd.Timestamp) -> date:
    """The first day of the month ``value`` falls in."""
    stamp = pd.Timestamp(value)
    return date(stamp.year, stamp.month, 1)


def _now() -> datetime:
    return datetime.now(UTC)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Store:
    """One county store (use :func:`open_store`). Stateless apart from its engine: share it freely."""

    def __init__(self, engine: sa.Engine, catalog: Catalog = CATALOG) -> None:
        self.engine = engine
        self.catalog = catalog
        self.order = load_order(catalog)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- transactions ---------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); rolled back on any exception."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """One read transaction: every table read inside sees the same snapshot."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # --- catalog tables -------------------------------------------------------------------------------
    def _prepare(self, name: str, frame: pd.DataFrame) -> _Prepared:
        specs = self.catalog.fields_of(name)
        columns = [s.name for s in specs]
        missing = [c for c in columns if c not in frame.columns]
        extra = [str(c) for c in frame.columns if c not in columns]
        if missing or extra:
            raise ValueError(
                f"table {name!r}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing columns {', '.join(missing)}" if missing else "",
                        f"columns not in the catalog {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
            )
        data: dict[str, pd.Series] = {}
        dtypes: dict[str, str] = {}
        for spec in specs:
            try:
                data[spec.name] = fr.canonical(frame[spec.name], spec)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"table {name!r}, column {spec.name!r}: not {spec.type} values ({exc})") from exc
            dtypes[spec.name] = fr.read_dtype_for(frame[spec.name], spec)
            if not spec.nullable and data[spec.name].isna().any():
                row = int(np.flatnonzero(data[spec.name].isna().to_numpy())[0])
                raise ValueError(f"table {name!r}, column {spec.name!r}: empty in row {row} (not nullable)")
        canonical = pd.DataFrame(data)
        key = list(self.catalog.table(name).primary_key)
        duplicated = canonical.duplicated(key)
        if duplicated.any():
            row = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise ValueError(f"table {name!r}: primary key {key} repeated (row {row})")
        positions = {str(c): i for i, c in enumerate(frame.columns)}
        return _Prepared(name, canonical, dtypes, positions)

    def _read_canonical(self, conn: sa.Connection, name: str, cutoff: date | None = None) -> pd.DataFrame:
        """A catalog table (its months up to ``cutoff``), canonical. Rows come straight from the driver:
        SQLAlchemy's per-value result processing would double the time of a full read."""
        table = county_tables[name]
        specs = self.catalog.fields_of(name)
        query = sa.select(*(table.c[s.name] for s in specs))
        if cutoff is not None and name in MONTHLY_TABLES:
            query = query.where(table.c.month <= sa.literal(cutoff, sa.Date()))
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = conn.connection.cursor()  # the DBAPI cursor, on this transaction's connection
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        grid = np.array(rows, dtype=object) if rows else np.empty((0, len(specs)), dtype=object)
        return pd.DataFrame({s.name: fr.canonical_from_stored(grid[:, i], s) for i, s in enumerate(specs)})

    def _stored_rows(self, name: str, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict]:
        specs = [self.catalog.field(c) for c in (columns or self.catalog.columns(name))]
        lists = [fr.stored(frame[s.name], s) for s in specs]
        names = [s.name for s in specs]
        return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]

    def _upsert(
        self, conn: sa.Connection, prepared: _Prepared, *, who: str, reason: str, now: datetime
    ) -> tuple[TableCounts, int]:
        name, incoming = prepared.name, prepared.frame
        table = county_tables[name]
        key = list(self.catalog.table(name).primary_key)
        others = [c for c in incoming.columns if c not in key]
        existing = self._read_canonical(conn, name)
        merged = incoming.merge(existing, on=key, how="left", suffixes=("", "__old"), indicator=True)
        is_new = (merged["_merge"] == "left_only").to_numpy()
        new_rows = incoming[is_new]
        if len(new_rows):
            conn.execute(sa.insert(table), self._stored_rows(name, new_rows))
        old = merged[~is_new].reset_index(drop=True)
        changed = {c: ~fr.same(old[c], old[f"{c}__old"]) for c in others}
        any_changed = np.zeros(len(old), dtype=bool)
        for mask in changed.values():
            any_changed |= mask
        audits = 0
        if any_changed.any():
            rows = old[any_changed].reset_index(drop=True)
            params = self._stored_rows(name, rows)
            for p in params:
                for k in key:
                    p[f"key_{k}"] = p.pop(k)
            statement = (
                sa.update(table)
                .where(sa.and_(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key)))
                .values({c: sa.bindparam(c) for c in others})
            )
            conn.execute(statement, params)
            audits = self._audit_changes(conn, name, rows, changed, any_changed, who=who, reason=reason, now=now)
        counts = TableCounts(int(is_new.sum()), int(any_changed.sum()), int((~any_changed).sum()))
        return counts, audits

    def _audit_changes(
        self,
        conn: sa.Connection,
        name: str,
        rows: pd.DataFrame,
        changed: Mapping[str, np.ndarray],
        any_changed: np.ndarray,
        *,
        who: str,
        reason: str,
        now: datetime,
        submission_id: str | None = None,
    ) -> int:
        """One value_audit row per changed value of ``rows`` (new values in columns, old in ``col__old``)."""
        key = list(self.catalog.table(name).primary_key)
        key_lists = [fr.stored(rows[k], self.catalog.field(k)) for k in key]
        keys = [fr.key_text(key, values) for values in zip(*key_lists, strict=True)]
        entries = []
        for column, mask in changed.items():
            positions = np.flatnonzero(mask[any_changed])
            if not len(positions):
                continue
            spec = self.catalog.field(column)
            new = fr.stored(rows[column].iloc[positions].reset_index(drop=True), spec)
            old = fr.stored(rows[f"{column}__old"].iloc[positions].reset_index(drop=True), spec)
            entries += [
                {
                    "table_name": name,
                    "key": keys[i],
                    "field": column,
                    "old_value": fr.text_value(o),
                    "new_value": fr.text_value(n),
                    "changed_by": who,
                    "changed_at": now,
                    "submission_id": submission_id,
                    "reason": reason,
                }
                for i, o, n in zip(positions.tolist(), old, new, strict=True)
            ]
        if entries:
            conn.execute(sa.insert(value_audit), entries)
        return len(entries)

    def _remember_columns(self, conn: sa.Connection, prepared: _Prepared) -> None:
        known = {
            (r.column_name): (r.position, r.dtype)
            for r in conn.execute(
                sa.select(frame_columns.c.column_name, frame_columns.c.position, frame_columns.c.dtype).where(
                    frame_columns.c.table_name == prepared.name
                )
            )
        }
        for column, dtype in prepared.dtypes.items():
            wanted = (prepared.positions[column], dtype)
            if column not in known:
                conn.execute(
                    sa.insert(frame_columns).values(
                        table_name=prepared.name, column_name=column, position=wanted[0], dtype=dtype
                    )
                )
            elif known[column] != wanted:
                conn.execute(
                    sa.update(frame_columns)
                    .where(frame_columns.c.table_name == prepared.name, frame_columns.c.column_name == column)
                    .values(position=wanted[0], dtype=dtype)
                )

    def import_tables(
        self, tables: Mapping[str, pd.DataFrame], *, who: str, source: str, reason: str | None = None
    ) -> ImportSummary:
        """Upsert catalog tables by primary key, all in one transaction (on any failure nothing changes).

        Tables are written parents first (:func:`load_order`). New rows are inserted; rows whose values
        all equal the stored ones are not written; changed values of existing rows are updated and each
        one is audited (old, new, ``who``, when, reason ``import (<source>)``). Rows in the store that the
        mapping lacks are kept: an import adds and corrects, it never deletes. Months of ``grid_monthly``
        and ``market_monthly`` new to the store are recorded as closed (an imported history is closed).

        Raises:
            ValueError: an unknown table, missing or extra columns, values of the wrong type, an empty
                value in a non-nullable field, or a repeated primary key (checked before any write).
            StoreError: the database refused the write (e.g. a foreign key to a missing grid).
        """
        start = time.perf_counter()
        unknown = sorted(set(tables) - set(self.order))
        if unknown:
            raise ValueError(f"not catalog tables: {', '.join(unknown)}; known: {', '.join(self.order)}")
        prepared = [self._prepare(name, tables[name]) for name in self.order if name in tables]
        reason = reason or f"import ({source})"
        now = _now()
        counts: dict[str, TableCounts] = {}
        audits = 0
        current = ""
        try:
            with self._write() as conn:
                for item in prepared:
                    current = item.name
                    counts[item.name], n = self._upsert(conn, item, who=who, reason=reason, now=now)
                    audits += n
                    self._remember_columns(conn, item)
                current = "months"
                history = {
                    d
                    for item in prepared
                    if item.name in MONTHLY_TABLES
                    for d in fr.stored(item.frame["month"], self.catalog.field("month"))
                }
                closed = self._close_new_months(conn, sorted(history), who=who, reason=reason, now=now)
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"import refused at table {current!r}, nothing changed: {_first_line(exc)}") from exc
        return ImportSummary(counts, closed, audits, time.perf_counter() - start)

    def _close_new_months(
        self, conn: sa.Connection, history: Sequence[date], *, who: str, reason: str, now: datetime
    ) -> int:
        if not history:
            return 0
        known = {r[0] for r in conn.execute(sa.select(months.c.month))}
        new = [m for m in history if m not in known]
        if new:
            conn.execute(
                sa.insert(months),
                [{"month": m, "status": "closed", "closed_at": now, "closed_by": who, "reason": reason} for m in new],
            )
        return len(new)

    def _dtypes(self, conn: sa.Connection) -> dict[str, dict[str, tuple[int, str]]]:
        out: dict[str, dict[str, tuple[int, str]]] = {}
        for r in conn.execute(sa.select(frame_columns)):
            out.setdefault(r.table_name, {})[r.column_name] = (r.position, r.dtype)
        return out

    def read_tables(self, cutoff: Cutoff = None) -> dict[str, pd.DataFrame]:
        """Every catalog table (catalog order), as ``features.tables.load_county`` reads the same data.

        ``grid_monthly`` and ``market_monthly`` hold the months up to and including ``cutoff``'s month
        (``None``: every month). Rows are sorted by primary key; columns and dtypes are those of the last
        import (catalog order and :func:`muzhang.store.frames.default_dtype` for columns never imported).
        All tables are read in one transaction (one snapshot).
        """
        limit = None if cutoff is None else month_start(cutoff)
        out: dict[str, pd.DataFrame] = {}
        with self._read() as conn:
            remembered = self._dtypes(conn)
            for name in self.catalog.table_names:
                canonical = self._read_canonical(conn, name, limit)
                out[name] = self._as_read(name, canonical, remembered.get(name, {}))
        return out

    def _as_read(self, name: str, canonical: pd.DataFrame, remembered: Mapping[str, tuple[int, str]]) -> pd.DataFrame:
        specs = self.catalog.fields_of(name)
        order = sorted(
            (s.name for s in specs),
            key=lambda c: (
                (remembered[c][0], 0) if c in remembered else (len(specs), self.catalog.columns(name).index(c))
            ),
        )
        data = {}
        for column in order:
            spec = self.catalog.field(column)
            dtype = remembered[column][1] if column in remembered else fr.default_dtype(spec)
            data[column] = fr.to_dtype(canonical[column], dtype)
        frame = pd.DataFrame(data, columns=order)
        key = list(self.catalog.table(name).primary_key)
        return frame.sort_values(key, kind="stable").reset_index(drop=True)

    def fingerprint(self, cutoff: Cutoff = None) -> str:
        """sha256 of every catalog table's content up to ``cutoff`` (names, columns, dtypes and values)."""
        digest = hashlib.sha256()
        for name, frame in self.read_tables(cutoff).items():
            digest.update(json.dumps([name, [[str(c), str(t)] for c, t in frame.dtypes.items()]]).encode())
            digest.update(len(frame).to_bytes(8, "little"))
            if len(frame):
                # + 0.0 makes -0.0 plain 0.0: PostgreSQL keeps a negative zero, SQLite returns 0.0, and
                # the hash tells them apart though they are the same value.
                floats = frame.select_dtypes("float").columns
                frame = frame.assign(**{c: frame[c] + 0.0 for c in floats})
                digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()

    # --- months ---------------------------------------------------------------------------------------
    def months(self) -> pd.DataFrame:
        """Every month the store knows: month, status (open/closed), closed_at, closed_by, reason."""
        with self._read() as conn:
            rows = conn.execute(sa.select(months).order_by(months.c.month)).all()
        frame = pd.DataFrame(rows, columns=list(months.c.keys()))
        return _typed(frame, dates=("month",), stamps=("closed_at",))

    def last_month(self) -> pd.Timestamp | None:
        """The latest month with grid_monthly rows (None for an empty store)."""
        table = county_tables[REPORT_TABLE]
        with self._read() as conn:
            value = conn.execute(sa.select(sa.func.max(table.c.month))).scalar()
        return None if value is None else pd.Timestamp(value)

    def last_closed_month(self) -> pd.Timestamp | None:
        """The latest closed month (None if no month is closed)."""
        with self._read() as conn:
            value = conn.execute(sa.select(sa.func.max(months.c.month)).where(months.c.status == "closed")).scalar()
        return None if value is None else pd.Timestamp(value)

    def _set_month(self, month: str | date | pd.Timestamp, status: str, *, who: str, reason: str) -> bool:
        day = month_start(month)
        now = _now()
        with self._write() as conn:
            before = conn.execute(sa.select(months.c.status).where(months.c.month == day)).scalar()
            if before == status:
                return False
            values = {
                "status": status,
                "closed_at": now if status == "closed" else None,
                "closed_by": who if status == "closed" else None,
                "reason": reason,
            }
            if before is None:
                conn.execute(sa.insert(months).values(month=day, **values))
            else:
                conn.execute(sa.update(months).where(months.c.month == day).values(**values))
            conn.execute(
                sa.insert(value_audit).values(
                    table_name="months",
                    key=fr.key_text(["month"], [day]),
                    field="status",
                    old_value=before,
                    new_value=status,
                    changed_by=who,
                    changed_at=now,
                    reason=reason,
                )
            )
        return True

    def close_month(self, month: str | date | pd.Timestamp, *, who: str, reason: str) -> bool:
        """Close a month (its values then feed decisions); False if it was closed already. Audited."""
        return self._set_month(month, "closed", who=who, reason=reason)

    def reopen_month(self, month: str | date | pd.Timestamp, *, who: str, reason: str) -> bool:
        """Open a month again; False if it was open already. Audited."""
        return self._set_month(month, "open", who=who, reason=reason)

    # --- reports --------------------------------------------------------------------------------------
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
        catalog column may be absent or null, a required one may not. Optional columns: ``submitted_by``
        (default ``who``), ``received_at`` (tz-aware; default now), ``status`` (``accepted`` by default,
        ``partial``, or ``refused``: recorded but no value written) and ``problems`` (JSON text or a list).

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
        outcomes = []
        for i in range(len(frame)):
            extra = {c: frame.at[i, c] for c in REPORT_OPTIONAL if c in frame.columns}
            values = {name: column[i] for name, column in stored.items()}
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
    ) -> tuple[str, Any, Any, str, tuple[str, ...], str | None]:
        table = county_tables[REPORT_TABLE]
        grid_id, month = values["grid_id"], values["month"]
        now = _now()
        given = {k: _given(v) for k, v in extra.items()}
        received = given.get("received_at")
        received_at = now if received is None else _aware(received)
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
            "payload": json.dumps({k: fr.json_value(v) for k, v in values.items()}, ensure_ascii=False),
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
                if old is None:
                    conn.execute(sa.insert(table), values)
                    self._raise_flags(conn, raise_flags, grid_id, month, submission_id, now)
                    return (*result, "inserted", (), None)
                changed = {}
                for spec in self.catalog.fields_of(REPORT_TABLE):
                    if spec.name in ("grid_id", "month"):
                        continue
                    before = fr.stored(fr.canonical_from_stored([old[spec.name]], spec), spec)[0]
                    if not _equal(before, values[spec.name]):
                        changed[spec.name] = (before, values[spec.name])
                if not changed:
                    return (*result, "unchanged", (), None)
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
                self._raise_flags(conn, raise_flags, grid_id, month, submission_id, now)
                return (*result, "updated", tuple(changed), None)
        except sa.exc.DBAPIError as exc:
            detail = _first_line(exc)
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
    ) -> tuple[str, str, date, str, tuple[str, ...], str | None]:
        """Record one checked report in one transaction, with its flags: the per-record path of
        :meth:`apply_reports` (same outcomes), for values already in their catalog types (int, float, str,
        bool, a date or Timestamp for the month; None or absent for empty), so no frame is built.

        Returns:
            submission_id, grid_id, month, outcome, changed_fields, detail.

        Raises:
            ValueError: an unknown ``source``, or a value that is not of its field's type.
        """
        if source not in SUBMISSION_SOURCES:
            raise ValueError(f"source {source!r} is not one of {', '.join(SUBMISSION_SOURCES)}")
        stored = {s.name: _stored_value(values.get(s.name), s) for s in self.catalog.fields_of(REPORT_TABLE)}
        return self._apply_one(
            submission_id, stored, {}, who=who, role=role, source=source, reason=reason, raise_flags=raise_flags
        )

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
                "value": None if _given(f.get("value")) is None else fr.text_value(_plain(f["value"])),
                "detail": f.get("detail"),
                "status": "open",
                "raised_at": now,
                "submission_id": submission_id,
            }
            for f in found
        ]
        conn.execute(sa.insert(flags), entries)

    def reports_after(self, month: str | date | pd.Timestamp | None) -> pd.DataFrame:
        """The grid_monthly rows of the months after ``month`` (every row for None), canonical: the open months'
        reports that a county read at its last closed month does not hold."""
        table = county_tables[REPORT_TABLE]
        specs = self.catalog.fields_of(REPORT_TABLE)
        query = sa.select(*(table.c[s.name] for s in specs))
        if month is not None:
            query = query.where(table.c.month > month_start(month))
        with self._read() as conn:
            rows = conn.execute(query).all()
        grid = np.array(rows, dtype=object) if rows else np.empty((0, len(specs)), dtype=object)
        return pd.DataFrame({s.name: fr.canonical_from_stored(grid[:, i], s) for i, s in enumerate(specs)})

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

    def submissions(self, month: str | date | pd.Timestamp | None = None, *, source: str | None = None) -> pd.DataFrame:
        """Submissions (of one month, or all; of one source, or every), oldest first; payload and problems are
        JSON text."""
        query = sa.select(submissions).order_by(submissions.c.received_at, submissions.c.submission_id)
        if month is not None:
            query = query.where(submissions.c.month == month_start(month))
        if source is not None:
            query = query.where(submissions.c.source == source)
        with self._read() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(submissions.c.keys()))
        return _typed(frame, dates=("month",), stamps=("received_at",))

    def report_senders(self, until: str | date | pd.Timestamp | None = None) -> pd.DataFrame:
        """grid_id, submitted_by of each grid's latest accepted report (up to ``until``'s month): who reports
        the grid. Carried months are no one's report and are left out."""
        query = (
            sa.select(submissions.c.grid_id, submissions.c.submitted_by)
            .where(submissions.c.status.in_(("accepted", "partial")), submissions.c.source != "carry")
            .order_by(submissions.c.received_at, submissions.c.submission_id)
        )
        if until is not None:
            query = query.where(submissions.c.month <= month_start(until))
        with self._read() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["grid_id", "submitted_by"])
        return frame.drop_duplicates("grid_id", keep="last").reset_index(drop=True)

    def value_history(self, grid_id: str, month: str | date | pd.Timestamp) -> pd.DataFrame:
        """Every audited change of one grid-month's values, oldest first."""
        key = fr.key_text(["grid_id", "month"], [grid_id, month_start(month)])
        query = (
            sa.select(value_audit)
            .where(value_audit.c.table_name == REPORT_TABLE, value_audit.c.key == key)
            .order_by(value_audit.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return _typed(pd.DataFrame(rows, columns=list(value_audit.c.keys())), stamps=("changed_at",))

    def audit(self, table: str | None = None) -> pd.DataFrame:
        """The value audit (of one table, or all), oldest first."""
        query = sa.select(value_audit).order_by(value_audit.c.id)
        if table is not None:
            query = query.where(value_audit.c.table_name == table)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return _typed(pd.DataFrame(rows, columns=list(value_audit.c.keys())), stamps=("changed_at",))

    # --- flags ----------------------------------------------------------------------------------------
    def add_flags(self, new: pd.DataFrame) -> list[int]:
        """Raise flags (one transaction); returns their ids in row order.

        Columns: grid_id, month, rule (required); field, value, detail, submission_id, status (``open``
        by default), raised_at (tz-aware, default now) optional.
        """
        missing = [c for c in ("grid_id", "month", "rule") if c not in new.columns]
        if missing:
            raise ValueError(f"flags lack required column(s): {', '.join(missing)}")
        if new.empty:
            return []
        now = _now()
        entries = []
        for row, record in enumerate(new.reset_index(drop=True).to_dict("records")):
            get = {str(k): _given(v) for k, v in record.items()}.get
            grid_id, month, rule = get("grid_id"), get("month"), get("rule")
            if grid_id is None or month is None or rule is None:
                raise ValueError(f"flag row {row}: grid_id, month and rule may not be empty")
            status = get("status") or "open"
            if status not in FLAG_STATUSES:
                raise ValueError(f"flag status {status!r} is not one of {', '.join(FLAG_STATUSES)}")
            raised = get("raised_at")
            entries.append(
                {
                    "grid_id": str(grid_id),
                    "month": month_start(month),
                    "field": None if get("field") is None else str(get("field")),
                    "rule": str(rule),
                    "value": None if get("value") is None else fr.text_value(_plain(get("value"))),
                    "detail": None if get("detail") is None else str(get("detail")),
                    "status": status,
                    "raised_at": now if raised is None else _aware(raised),
                    "submission_id": None if get("submission_id") is None else str(get("submission_id")),
                }
            )
        with self._write() as conn:
            result = conn.execute(sa.insert(flags).returning(flags.c.id, sort_by_parameter_order=True), entries)
            return [int(r[0]) for r in result]

    def flags(self, month: str | date | pd.Timestamp | None = None, status: str | None = None) -> pd.DataFrame:
        """Flags (of one month and/or status), in the order they were raised."""
        query = sa.select(flags).order_by(flags.c.id)
        if month is not None:
            query = query.where(flags.c.month == month_start(month))
        if status is not None:
            query = query.where(flags.c.status == status)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return _typed(
            pd.DataFrame(rows, columns=list(flags.c.keys())), dates=("month",), stamps=("raised_at", "resolved_at")
        )

    def resolve_flag(self, flag_id: int, status: str, who: str, reason: str | None = None) -> None:
        """Mark a flag ``confirmed`` (the value stands) or ``corrected`` (a new report replaced it).

        Raises:
            ValueError: another status. KeyError: no such flag.
        """
        if status not in ("confirmed", "corrected"):
            raise ValueError(f"a flag is resolved as confirmed or corrected, not {status!r}")
        with self._write() as conn:
            done = conn.execute(
                sa.update(flags)
                .where(flags.c.id == int(flag_id))
                .values(status=status, resolved_by=who, resolved_at=_now(), resolution=reason)
            )
            if done.rowcount == 0:
                raise KeyError(f"no flag {flag_id}")


def _canonical_or_raise(values: pd.Series, spec: FieldSpec) -> pd.Series:
    try:
        return fr.canonical(values, spec)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"reports: column {spec.name!r} holds values that are not {spec.type} ({exc})") from exc


def _stored_value(value: Any, spec: FieldSpec) -> Any:
    """One typed value as the driver takes it (what :func:`muzhang.store.frames.stored` gives for a column)."""
    value = _given(_plain(value))
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


def _given(value: Any) -> Any:
    """A cell's value, or None when it is empty (None, NaN, NA, NaT or blank text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, list | dict | tuple) and pd.isna(value):
        return None
    return value


def _aware(value: Any) -> datetime:
    """A timestamp as a timezone-aware datetime (a naive one is taken as UTC)."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b)


def _typed(frame: pd.DataFrame, *, dates: Sequence[str] = (), stamps: Sequence[str] = ()) -> pd.DataFrame:
    for column in dates:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    for column in stamps:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def open_store(url: str) -> Store:
    """The store at ``url`` (``sqlite:///ABS/PATH/county.db``, ``postgresql+psycopg://...``), migrated to head.

    One engine per URL per process; migrations run once per URL per process.
    """
    return Store(migrated_engine(url))
