"""The forecast log and the retrain decisions (migrations 0003, 0004): written in batches, never on the request path.

A forecast is kept once per (family, model version, target period, series key): writing the same batch again
changes nothing (``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL), so a month closed twice, a
crashed close run again or two processes logging at once never duplicate or lose a row. An outcome is joined
once: :func:`record_outcomes` only fills rows whose outcome is still empty, and never touches the prediction.

Ground floor: plain frames in, plain frames out; what a prediction or an outcome *is* belongs to serving.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from muzhang.store.engine import WRITE_OPTION
from muzhang.store.schema import forecast_log, retrain_decisions

if TYPE_CHECKING:
    from muzhang.store.store import Store

FORECAST_COLUMNS = (
    "family",
    "model_version",
    "target_period",
    "series_key",
    "as_of_month",
    "prediction",
    "input_fingerprint",
)
UNIQUE = ("family", "model_version", "target_period", "series_key")
DECISION_ACTIONS = ("skipped", "retrained", "failed")


def series_key(names: Sequence[str], values: Sequence[Any]) -> str:
    """The JSON text of a forecast row's keys, e.g. ``{"grid_id":"G001","month":"2025-02-01"}``."""
    plain = {}
    for name, value in zip(names, values, strict=True):
        if isinstance(value, pd.Timestamp | datetime | date):
            value = pd.Timestamp(value).date().isoformat()
        elif hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value.is_integer():  # 2025.0 from a float column is the key 2025
            value = int(value)
        plain[name] = value
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _write(store: Store) -> Any:
    return store.engine.connect().execution_options(**{WRITE_OPTION: True})


def _insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose unique key is new; returns how many were inserted."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
        # RETURNING gives back the inserted rows only (a driver's executemany rowcount may be -1)
        statement = insert.on_conflict_do_nothing(index_elements=list(UNIQUE)).returning(table.c.id)
        return len(conn.execute(statement, rows).all())
    inserted = 0  # another database: look before writing (inside the one write transaction)
    for row in rows:
        where = [table.c[k] == row[k] for k in UNIQUE]
        if conn.execute(sa.select(table.c.id).where(*where)).first() is None:
            conn.execute(sa.insert(table).values(**row))
            inserted += 1
    return inserted


def record_forecasts(store: Store, rows: pd.DataFrame, *, made_at: datetime | None = None) -> int:
    """Keep a batch of forecasts (one transaction); rows already logged are left as they are.

    ``rows`` has :data:`FORECAST_COLUMNS`: ``prediction`` is JSON text (or a dict, serialised here),
    ``target_period`` and ``as_of_month`` anything :class:`pandas.Timestamp` reads.

    Returns:
        The number of new rows (0 when the batch was logged before).

    Raises:
        ValueError: a missing column, or a row with an empty family, version, key or prediction.
    """
    missing = [c for c in FORECAST_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"forecast rows lack column(s): {', '.join(missing)}")
    now = made_at or datetime.now(UTC)
    entries = []
    for i, record in enumerate(rows.reset_index(drop=True).to_dict("records")):
        empty = [c for c in FORECAST_COLUMNS if record[c] is None or (isinstance(record[c], str) and not record[c])]
        if empty:
            raise ValueError(f"forecast row {i}: empty {', '.join(empty)}")
        prediction = record["prediction"]
        entries.append(
            {
                "family": str(record["family"]),
                "model_version": str(record["model_version"]),
                "target_period": _day(record["target_period"]),
                "series_key": str(record["series_key"]),
                "as_of_month": _day(record["as_of_month"]),
                "prediction": prediction if isinstance(prediction, str) else json.dumps(prediction),
                "input_fingerprint": str(record["input_fingerprint"]),
                "made_at": now,
            }
        )
    with _write(store) as conn, conn.begin():
        return _insert_ignoring_duplicates(conn, forecast_log, entries)


def read_forecasts(
    store: Store,
    family: str | None = None,
    *,
    target_from: Any = None,
    target_to: Any = None,
    pending: bool | None = None,
) -> pd.DataFrame:
    """Logged forecasts (of one family; target periods in ``[target_from, target_to]``), oldest first.

    ``pending=True``: only rows still waiting for their outcome; ``False``: only joined ones.
    """
    query = sa.select(forecast_log).order_by(forecast_log.c.id)
    if family is not None:
        query = query.where(forecast_log.c.family == family)
    if target_from is not None:
        query = query.where(forecast_log.c.target_period >= _day(target_from))
    if target_to is not None:
        query = query.where(forecast_log.c.target_period <= _day(target_to))
    if pending is not None:
        query = query.where(forecast_log.c.outcome.is_(None) if pending else forecast_log.c.outcome.is_not(None))
    with store.engine.connect() as conn, conn.begin():
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(forecast_log.c.keys()))
    for column in ("target_period", "as_of_month"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    for column in ("made_at", "outcome_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def record_outcomes(store: Store, outcomes: Iterable[tuple[int, str]], *, at: datetime | None = None) -> int:
    """Join outcomes to logged forecasts by row id (JSON text each); a row joined before is left alone.

    Returns:
        The number of rows that got their outcome now.
    """
    params = [{"row_id": int(i), "value": text} for i, text in outcomes]
    if not params:
        return 0
    statement = (
        sa.update(forecast_log)
        .where(forecast_log.c.id == sa.bindparam("row_id"), forecast_log.c.outcome.is_(None))
        .values(outcome=sa.bindparam("value"), outcome_at=at or datetime.now(UTC))
    )
    with _write(store) as conn, conn.begin():
        waiting = set()
        ids = [p["row_id"] for p in params]
        for start in range(0, len(ids), 500):  # a bounded IN list per query
            chunk = ids[start : start + 500]
            query = sa.select(forecast_log.c.id).where(forecast_log.c.id.in_(chunk), forecast_log.c.outcome.is_(None))
            waiting |= {int(r[0]) for r in conn.execute(query)}
        todo = [p for p in params if p["row_id"] in waiting]
        if todo:
            conn.execute(statement, todo)
    return len(todo)


def record_decision(
    store: Store,
    *,
    family: str,
    action: str,
    triggers: Sequence[str],
    note: str,
    data_month: Any = None,
    champion_before: str | None = None,
    version: str | None = None,
    promoted: bool | None = None,
    run_id: str | None = None,
    decided_at: datetime | None = None,
    gate_metrics: Mapping[str, Any] | None = None,
) -> int:
    """Keep one retrain decision; returns its id. ``gate_metrics``: the promotion gate's numbers (metric,
    candidate and champion values per gate metric, champion version, months judged on), kept as JSON.

    Raises:
        ValueError: an action other than skipped, retrained or failed.
    """
    if action not in DECISION_ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(DECISION_ACTIONS)}")
    values = {
        "family": family,
        "decided_at": decided_at or datetime.now(UTC),
        "data_month": None if data_month is None else _day(data_month),
        "triggers": json.dumps(list(triggers), ensure_ascii=False),
        "action": action,
        "champion_before": champion_before,
        "version": version,
        "promoted": promoted,
        "run_id": run_id,
        "note": note,
        "gate_metrics": None if gate_metrics is None else json.dumps(dict(gate_metrics), ensure_ascii=False),
    }
    with _write(store) as conn, conn.begin():
        result = conn.execute(sa.insert(retrain_decisions).values(**values).returning(retrain_decisions.c.id))
        return int(result.scalar_one())


def read_decisions(store: Store, family: str | None = None, *, last: int | None = None) -> pd.DataFrame:
    """Retrain decisions (of one family), oldest first; ``last``: only the latest ones."""
    query = sa.select(retrain_decisions).order_by(retrain_decisions.c.id.desc())
    if family is not None:
        query = query.where(retrain_decisions.c.family == family)
    if last is not None:
        query = query.limit(last)
    with store.engine.connect() as conn, conn.begin():
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows[::-1], columns=list(retrain_decisions.c.keys()))
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    frame["data_month"] = pd.to_datetime(frame["data_month"]).astype("datetime64[us]")
    return frame
