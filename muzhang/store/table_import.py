"""Importing catalog tables: an upsert by primary key in one transaction, each changed value audited.

The tables may carry fields a catalog extension added (the directory's ``catalog.yaml``): given that catalog,
the import keeps their definitions and values too (:mod:`muzhang.store.added`), in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import Catalog, FieldSpec
from muzhang.store import frames as fr
from muzhang.store.added import AddedFields, added_columns, first_broken_rule
from muzhang.store.base import MONTHLY_TABLES, StoreError
from muzhang.store.cells import first_line, now_utc
from muzhang.store.schema import county_tables, frame_columns, months, value_audit


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
    # "table.field" -> values of a field the catalog extension added: new, changed (audited), already there
    added: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in (*self.tables.values(), *self.added.values()))

    def lines(self) -> list[str]:
        rows = [f"{'table':<18} {'inserted':>9} {'updated':>9} {'unchanged':>9}"]
        rows += [f"{t:<18} {c.inserted:>9,} {c.updated:>9,} {c.unchanged:>9,}" for t, c in self.tables.items()]
        if self.added:
            rows.append("added fields (values)")
            rows += [f"  {t:<16} {c.inserted:>9,} {c.updated:>9,} {c.unchanged:>9,}" for t, c in self.added.items()]
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
    added: dict[str, tuple[FieldSpec, pd.Series]] = field(default_factory=dict)  # canonical added columns


class TableImports(AddedFields):
    """:meth:`import_tables` and its steps."""

    def import_tables(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        who: str,
        source: str,
        reason: str | None = None,
        catalog: Catalog | None = None,
    ) -> ImportSummary:
        """Upsert catalog tables by primary key, all in one transaction (on any failure nothing changes).

        Tables are written parents first (:func:`load_order`). New rows are inserted; rows whose values
        all equal the stored ones are not written; changed values of existing rows are updated and each
        one is audited (old, new, ``who``, when, reason ``import (<source>)``). Rows in the store that the
        mapping lacks are kept: an import adds and corrects, it never deletes. Months of ``grid_monthly``
        and ``market_monthly`` new to the store are recorded as closed (an imported history is closed).

        ``catalog``: the catalog the tables were read with, when a catalog extension adds fields to them
        (:func:`muzhang.catalog.catalog_for`). Their definitions and values are kept (:mod:`muzhang.store.added`);
        values are checked against their entry's hard rules first. A table's column missing from the import
        leaves the field's stored values as they are.

        Raises:
            ValueError: an unknown table, missing or extra columns, values of the wrong type, an empty
                value in a non-nullable field, an added field's value that breaks its rule, or a repeated
                primary key (checked before any write).
            AddedFieldConflict: (a ValueError) an added field the store keeps with another type, unit,
                limits, categories or pattern.
            StoreError: the database refused the write (e.g. a foreign key to a missing grid).
        """
        start = time.perf_counter()
        unknown = sorted(set(tables) - set(self.order))
        if unknown:
            raise ValueError(f"not catalog tables: {', '.join(unknown)}; known: {', '.join(self.order)}")
        prepared = [self._prepare(name, tables[name], catalog) for name in self.order if name in tables]
        reason = reason or f"import ({source})"
        now = now_utc()
        counts: dict[str, TableCounts] = {}
        added: dict[str, TableCounts] = {}
        audits = 0
        current = ""
        try:
            with self._write() as conn:
                definitions = {item.name: [s for s, _ in item.added.values()] for item in prepared if item.added}
                self._check_and_record_definitions(conn, definitions, who=who, source=source, now=now)
                for item in prepared:
                    current = item.name
                    counts[item.name], n = self._upsert(conn, item, who=who, reason=reason, now=now)
                    audits += n
                    if item.added:
                        key = list(self.catalog.table(item.name).primary_key)
                        key_lists = [fr.stored(item.frame[k], self.catalog.field(k)) for k in key]
                        keys = [fr.key_text(key, values) for values in zip(*key_lists, strict=True)]
                        for name, (spec, values) in item.added.items():
                            c, n = self._upsert_added_values(
                                conn, item.name, keys, spec, values, who=who, reason=reason, now=now
                            )
                            added[f"{item.name}.{name}"] = TableCounts(*c)
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
            raise StoreError(f"import refused at table {current!r}, nothing changed: {first_line(exc)}") from exc
        return ImportSummary(counts, closed, audits, time.perf_counter() - start, added)

    def _prepare(self, name: str, frame: pd.DataFrame, catalog: Catalog | None = None) -> _Prepared:
        specs = self.catalog.fields_of(name)
        columns = [s.name for s in specs]
        extension = {s.name: s for s in added_columns(catalog, self.catalog, name)} if catalog is not None else {}
        missing = [c for c in columns if c not in frame.columns]
        extra = [str(c) for c in frame.columns if c not in columns and c not in extension]
        if missing or extra:
            hint = " (declare a field of your own in the directory's catalog.yaml, or --catalog FILE)"
            raise ValueError(
                f"table {name!r}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing columns {', '.join(missing)}" if missing else "",
                        f"columns not in the catalog {', '.join(extra)}{hint}" if extra else "",
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
        added: dict[str, tuple[FieldSpec, pd.Series]] = {}
        for column, spec in extension.items():
            if column not in frame.columns:
                continue  # not in this import: the stored values stay as they are
            broken = first_broken_rule(name, frame[column], spec)
            if broken is not None:
                raise ValueError(broken)
            try:
                added[column] = (spec, fr.canonical(frame[column], spec))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"table {name!r}, column {column!r}: not {spec.type} values ({exc})") from exc
            dtypes[column] = fr.read_dtype_for(frame[column], spec)
        return _Prepared(name, canonical, dtypes, positions, added)

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
