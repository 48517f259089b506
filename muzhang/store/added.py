"""Fields a catalog extension added to county tables: their definitions and values, beside the shipped schema.

A data scientist's directory may carry a ``catalog.yaml`` that adds fields to the catalog's tables (e.g. a
grid-month's ``herder_meetings``). The store keeps them without a schema change per county: each field's
catalog entry in ``added_fields`` and each value in ``added_values`` (the row's primary key and the value, as
JSON). An import stores them in the same transaction as the table's own columns; a read attaches them as
columns again, and :meth:`AddedFields.added_catalog` gives the shipped catalog extended by the stored
definitions, so features built from the store carry them as they did from the directory.

A stored definition fixes what the values mean: a later import may change its labels, plausible range,
nullability or families, but one that changes its type, unit, hard limits, categories or pattern is refused
as a whole (rename the field, or keep the stored definition).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import Catalog, FieldSpec, extend_catalog
from muzhang.catalog.rules import column_rules
from muzhang.store import frames as fr
from muzhang.store.base import StoreBase
from muzhang.store.cells import plain_value
from muzhang.store.schema import added_fields, added_values, value_audit

# What a value means: a stored definition may not change these (the values kept would mean something else).
DEFINING_KEYS = ("type", "unit", "min", "max", "categories", "pattern")


class AddedFieldConflict(ValueError):
    """An import whose catalog defines an added field otherwise than the store keeps it (nothing imported)."""


def spec_json(spec: FieldSpec) -> dict[str, Any]:
    """A field's catalog entry as JSON (what ``added_fields.spec`` keeps)."""
    return spec.model_dump(mode="json", exclude_none=True)


def defining(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a catalog entry (JSON) that fix what its values mean."""
    return {k: entry.get(k) for k in DEFINING_KEYS}


def describe_definition(entry: Mapping[str, Any]) -> str:
    """``integer, unit count, min 0, max 50`` (the defining keys that are set)."""
    parts = [str(entry.get("type"))]
    for key in DEFINING_KEYS[1:]:
        value = entry.get(key)
        if value is not None:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            parts.append(f"{key} {shown}")
    return ", ".join(parts)


def value_text(value: Any) -> str | None:
    """A stored value (plain Python, ``None`` for none) as the JSON text ``added_values.value`` keeps."""
    return None if value is None else json.dumps(fr.json_value(value), ensure_ascii=False)


def added_columns(catalog: Catalog, base: Catalog, table: str) -> tuple[FieldSpec, ...]:
    """The fields of ``table`` that ``catalog`` adds to ``base`` (the shipped catalog)."""
    added = {f.name for f in catalog.added_fields(base)}
    return tuple(f for f in catalog.fields_of(table) if f.name in added)


def first_broken_rule(table: str, column: pd.Series, spec: FieldSpec) -> str | None:
    """The first value of an added column that breaks a hard rule of its catalog entry, as a sentence naming
    the table, row, field, value and rule; ``None`` if every value keeps them."""
    values = column.reset_index(drop=True)
    for rule, mask in column_rules(values, spec):
        broken = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(broken):
            row = int(broken[0])
            return f"table {table!r}, row {row}, field {spec.name!r}, value {plain_value(values.iloc[row])!r}: {rule}"
    return None


class AddedFields(StoreBase):
    """Definitions and values of added fields: :meth:`added_catalog` and the import's and read's steps."""

    def added_catalog(self) -> Catalog:
        """The shipped catalog extended by every added field the store keeps (the catalog its reads follow)."""
        with self._read() as conn:
            return self._catalog_from(self._definitions(conn))

    def _definitions(self, conn: sa.Connection) -> dict[tuple[str, str], dict[str, Any]]:
        """(table, field) -> the stored row (``spec`` parsed), oldest definition first."""
        rows = conn.execute(sa.select(added_fields).order_by(added_fields.c.defined_at, added_fields.c.field))
        return {(r.table_name, r.field): {**r._asdict(), "spec": json.loads(r.spec)} for r in rows}

    def _catalog_from(self, definitions: Mapping[tuple[str, str], Mapping[str, Any]]) -> Catalog:
        if not definitions:
            return self.catalog
        entries: dict[str, dict[str, Any]] = {}
        for (table, name), row in definitions.items():  # the latest definition's labels; every table kept
            tables = [*entries.get(name, {}).get("tables", []), table]
            entries[name] = {**row["spec"], "tables": [t for t in self.catalog.table_names if t in tables]}
        return extend_catalog(self.catalog, {"fields": list(entries.values())}, source="the county store")

    def _check_and_record_definitions(
        self,
        conn: sa.Connection,
        incoming: Mapping[str, Sequence[FieldSpec]],
        *,
        who: str,
        source: str,
        now: datetime,
    ) -> None:
        """Refuse a definition that changes what stored values mean; record new ones, update the others."""
        stored = self._definitions(conn)
        by_field: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for (table, name), row in stored.items():
            by_field.setdefault(name, (table, row))
        for table, specs in incoming.items():
            for spec in specs:
                entry = spec_json(spec)
                kept = stored.get((table, spec.name)) or (by_field.get(spec.name) or (None, None))[1]
                if kept is not None and defining(kept["spec"]) != defining(entry):
                    raise AddedFieldConflict(
                        f"table {table!r}, field {spec.name!r}: the store keeps it as "
                        f"{describe_definition(kept['spec'])} (defined by {kept['defined_by']} on "
                        f"{kept['defined_at']:%Y-%m-%d} from {kept['source']}); this import's catalog defines it as "
                        f"{describe_definition(entry)}. Its type, unit, limits, categories and pattern cannot "
                        "change: give the new field another name, or keep the stored definition; nothing imported"
                    )
                values = {"spec": json.dumps(entry, ensure_ascii=False, sort_keys=True)}
                if (table, spec.name) not in stored:
                    conn.execute(
                        sa.insert(added_fields).values(
                            table_name=table, field=spec.name, defined_by=who, defined_at=now, source=source, **values
                        )
                    )
                elif stored[(table, spec.name)]["spec"] != entry:
                    conn.execute(
                        sa.update(added_fields)
                        .where(added_fields.c.table_name == table, added_fields.c.field == spec.name)
                        .values(defined_by=who, defined_at=now, source=source, **values)
                    )

    def _upsert_added_values(
        self,
        conn: sa.Connection,
        table: str,
        keys: Sequence[str],
        spec: FieldSpec,
        values: pd.Series,
        *,
        who: str,
        reason: str,
        now: datetime,
    ) -> tuple[tuple[int, int, int], int]:
        """Insert, update (audited) or keep each row's value of one added field; ``((inserted, updated,
        unchanged), audited)``. An empty value never erases a stored one silently: it is written as null and
        audited like any change."""
        texts = [value_text(v) for v in fr.stored(values, spec)]
        existing = {
            r.row_key: r.value
            for r in conn.execute(
                sa.select(added_values.c.row_key, added_values.c.value).where(
                    added_values.c.table_name == table, added_values.c.field == spec.name
                )
            )
        }
        inserts, updates, audits = [], [], []
        for key, text in zip(keys, texts, strict=True):
            if key not in existing:
                if text is not None:
                    inserts.append({"table_name": table, "field": spec.name, "row_key": key, "value": text})
            elif existing[key] != text:
                updates.append({"k_table": table, "k_field": spec.name, "k_key": key, "value": text})
                old = existing[key]
                audits.append(
                    {
                        "table_name": table,
                        "key": key,
                        "field": spec.name,
                        "old_value": fr.text_value(None if old is None else json.loads(old)),
                        "new_value": fr.text_value(None if text is None else json.loads(text)),
                        "changed_by": who,
                        "changed_at": now,
                        "submission_id": None,
                        "reason": reason,
                    }
                )
        if inserts:
            conn.execute(sa.insert(added_values), inserts)
        if updates:
            statement = (
                sa.update(added_values)
                .where(
                    added_values.c.table_name == sa.bindparam("k_table"),
                    added_values.c.field == sa.bindparam("k_field"),
                    added_values.c.row_key == sa.bindparam("k_key"),
                )
                .values(value=sa.bindparam("value"))
            )
            conn.execute(statement, updates)
        if audits:
            conn.execute(sa.insert(value_audit), audits)
        counts = (len(inserts), len(updates), len(keys) - len(inserts) - len(updates))
        return counts, len(audits)

    def _with_added_values(
        self, conn: sa.Connection, table: str, canonical: pd.DataFrame, specs: Sequence[FieldSpec]
    ) -> pd.DataFrame:
        """``canonical`` (a table's rows) with each added field's stored values as a canonical column (NA where
        a row has none). Values of rows outside ``canonical`` (e.g. months after a cut-off) are left out."""
        if not specs:
            return canonical
        key = list(self.catalog.table(table).primary_key)
        rows = conn.execute(
            sa.select(added_values.c.field, added_values.c.row_key, added_values.c.value).where(
                added_values.c.table_name == table
            )
        ).all()
        out = canonical
        for spec in specs:
            mine = [(k, v) for f, k, v in rows if f == spec.name]
            parsed = [json.loads(k) for k, _ in mine]
            data = {c: fr.canonical_from_stored([p[c] for p in parsed], self.catalog.field(c)) for c in key}
            data[spec.name] = fr.canonical_from_stored([None if v is None else json.loads(v) for _, v in mine], spec)
            out = out.merge(pd.DataFrame(data), on=key, how="left", validate="one_to_one")
        return out
