"""A monthly report's values of fields a catalog extension added (kept in ``added_values``, migration 0005).

A county imported with a ``catalog.yaml`` that adds a field to ``grid_monthly`` (e.g. ``herder_meetings``)
keeps its definition in ``added_fields``. A report of a later month may give a value for it: the value is
written in the report's own transaction, and on a grid-month already stored a changed value is audited with
the report's submission id, as the report's catalog items are. A field the report leaves out keeps its
stored value; one given empty (``None``) erases it, audited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from muzhang.catalog import FieldSpec
from muzhang.store import frames as fr
from muzhang.store.added import value_text
from muzhang.store.base import REPORT_TABLE
from muzhang.store.schema import added_fields, added_values, value_audit

REPORT_KEY = ("grid_id", "month")
# Statements with bound parameters: compiled once, not once per report.
_STORED = sa.select(added_values.c.field, added_values.c.value).where(
    added_values.c.table_name == REPORT_TABLE, added_values.c.row_key == sa.bindparam("key")
)
_INSERT = sa.insert(added_values).values(
    table_name=REPORT_TABLE, field=sa.bindparam("name"), row_key=sa.bindparam("key"), value=sa.bindparam("text")
)
_UPDATE = (
    sa.update(added_values)
    .where(
        added_values.c.table_name == REPORT_TABLE,
        added_values.c.field == sa.bindparam("name"),
        added_values.c.row_key == sa.bindparam("key"),
    )
    .values(value=sa.bindparam("text"))
)


def report_added_specs(conn: sa.Connection, shipped: frozenset[str] | set[str]) -> dict[str, FieldSpec]:
    """The added fields of ``grid_monthly`` the store keeps, by name (never required in a report: a report
    sent before the field was added, or by an app that does not know it, stays a report)."""
    rows = conn.execute(
        sa.select(added_fields.c.field, added_fields.c.spec)
        .where(added_fields.c.table_name == REPORT_TABLE)
        .order_by(added_fields.c.defined_at, added_fields.c.field)
    )
    out = {}
    for name, spec in rows:
        if name not in shipped:
            entry = {**json.loads(spec), "tables": [REPORT_TABLE], "nullable": True}
            out[name] = FieldSpec.model_validate(entry)
    return out


def unknown_added(given: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> str | None:
    """A sentence naming the given names the store keeps no definition for (``None`` if all are known)."""
    unknown = sorted(set(given) - set(specs))
    if not unknown:
        return None
    known = ", ".join(sorted(specs)) or "none"
    return f"{REPORT_TABLE}: no added field named {', '.join(map(repr, unknown))} (the store keeps {known})"


def write_report_added(
    conn: sa.Connection,
    grid_id: str,
    month: date,
    given: Mapping[str, Any],
    *,
    existed: bool,
    who: str,
    now: datetime,
    submission_id: str,
    reason: str,
) -> tuple[str, ...]:
    """Write one report's added values (name -> plain value, ``None`` for empty) for its grid-month; the
    names whose stored value changed. On a grid-month that ``existed`` before this report every change is
    audited (old, new, who, when, submission id); the values of a new grid-month are its first values."""
    if not given:
        return ()
    key = fr.key_text(list(REPORT_KEY), [grid_id, month])
    stored = {r.field: r.value for r in conn.execute(_STORED, {"key": key})}
    changed: list[str] = []
    for name, value in given.items():
        text = value_text(value)
        if name not in stored:
            if text is None:
                continue
            conn.execute(_INSERT, {"name": name, "key": key, "text": text})
            before = None
        elif stored[name] != text:
            conn.execute(_UPDATE, {"name": name, "key": key, "text": text})
            before = None if stored[name] is None else json.loads(stored[name])
        else:
            continue
        changed.append(name)
        if existed:
            conn.execute(
                sa.insert(value_audit).values(
                    table_name=REPORT_TABLE,
                    key=key,
                    field=name,
                    old_value=fr.text_value(before),
                    new_value=fr.text_value(value),
                    changed_by=who,
                    changed_at=now,
                    submission_id=submission_id,
                    reason=reason,
                )
            )
    return tuple(changed)
