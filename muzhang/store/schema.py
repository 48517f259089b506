"""The store's schema: one table per catalog table (columns from the catalog) and the record-keeping tables.

SQLAlchemy Core ``Table`` objects on one :data:`metadata`. The catalog tables are built from
``muzhang/catalog/catalog.yaml`` when this module is imported, but the database is only ever changed by
the Alembic migrations in ``muzhang/store/migrations/versions``: a catalog change (a new field, a new
table, a changed type, bound or ``nullable``) needs a new migration. ``tests/code/store/test_schema.py``
compares a migrated database with this metadata and fails until that migration exists.

Type mapping (catalog -> SQL): string and category -> String, integer -> Integer (BigInteger when the
catalog bounds do not fit 32 bits, i.e. every count without a max), float -> Float (double precision),
boolean -> Boolean, date -> Date. Primary and foreign keys and ``nullable`` come from the catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from muzhang.catalog import Catalog, FieldSpec, load_catalog

INT32 = (-(2**31), 2**31 - 1)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SUBMISSION_SOURCES = ("api", "upload", "import", "emit", "carry")  # carry: migration 0002
SUBMISSION_STATUSES = ("accepted", "partial", "refused", "duplicate")
FLAG_STATUSES = ("open", "confirmed", "corrected")
MONTH_STATUSES = ("open", "closed")
# Alembic's own bookkeeping table. Not the default ``alembic_version``: MLflow and Optuna keep one each, and
# the store must not read theirs if it is ever pointed at a database they share.
VERSION_TABLE = "store_alembic_version"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC; SQLite (which keeps no zone) reads back as UTC too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _integer_type(spec: FieldSpec) -> type[sa.Integer]:
    low = float(spec.min) if isinstance(spec.min, int | float) else None
    high = float(spec.max) if isinstance(spec.max, int | float) else None
    fits = low is not None and high is not None and INT32[0] <= low and high <= INT32[1]
    return sa.Integer if fits else sa.BigInteger


def column_type(spec: FieldSpec) -> Any:
    """The SQL type of a catalog field."""
    if spec.type == "integer":
        return _integer_type(spec)()
    return {
        "string": sa.String(),
        "category": sa.String(),
        "float": sa.Float(),
        "boolean": sa.Boolean(),
        "date": sa.Date(),
    }[spec.type]


def catalog_tables(metadata: sa.MetaData, catalog: Catalog) -> dict[str, sa.Table]:
    """One ``Table`` per catalog table, in catalog order, with the catalog's keys and nullability."""
    tables: dict[str, sa.Table] = {}
    for spec in catalog.tables:
        columns = []
        for field in catalog.fields_of(spec.name):
            args: list[Any] = [field.name, column_type(field)]
            target = spec.foreign_keys.get(field.name)
            if target is not None:
                (target_key,) = catalog.table(target).primary_key
                args.append(sa.ForeignKey(f"{target}.{target_key}"))
            in_key = field.name in spec.primary_key
            columns.append(sa.Column(*args, nullable=field.nullable and not in_key))
        # The key's columns in the catalog's key order (not the table's column order): it is the index too.
        key = sa.PrimaryKeyConstraint(*spec.primary_key)
        indexes = [sa.Index(None, "month")] if "month" in spec.primary_key and spec.primary_key[0] != "month" else []
        tables[spec.name] = sa.Table(spec.name, metadata, *columns, key, *indexes, comment=spec.description)
    return tables


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
CATALOG = load_catalog()
county_tables: dict[str, sa.Table] = catalog_tables(metadata, CATALOG)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("submission_id", sa.String(), primary_key=True),  # made by the client: resending is idempotent
    sa.Column("grid_id", sa.String(), nullable=False),
    sa.Column("month", sa.Date(), nullable=False),
    sa.Column("submitted_by", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("source", sa.String(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),  # JSON: the report as received
    sa.Column("problems", sa.Text(), nullable=False),  # JSON list
    sa.Index(None, "month", "grid_id"),
    _one_of("source", SUBMISSION_SOURCES, "source"),
    _one_of("status", SUBMISSION_STATUSES, "status"),
)

value_audit = sa.Table(
    "value_audit",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(), nullable=False),
    sa.Column("key", sa.Text(), nullable=False),  # JSON object of the row's primary key
    sa.Column("field", sa.String(), nullable=False),
    sa.Column("old_value", sa.Text(), nullable=True),
    sa.Column("new_value", sa.Text(), nullable=True),
    sa.Column("changed_by", sa.String(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("submission_id", sa.String(), sa.ForeignKey("submissions.submission_id"), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Index(None, "table_name", "key"),
)

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("grid_id", sa.String(), nullable=False),
    sa.Column("month", sa.Date(), nullable=False),
    sa.Column("field", sa.String(), nullable=True),  # null: a rule over the whole report
    sa.Column("rule", sa.String(), nullable=False),
    sa.Column("value", sa.Text(), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("raised_at", UTCDateTime(), nullable=False),
    sa.Column("submission_id", sa.String(), sa.ForeignKey("submissions.submission_id"), nullable=True),
    sa.Column("resolved_by", sa.String(), nullable=True),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("resolution", sa.Text(), nullable=True),  # the reason given when confirmed or corrected
    sa.Index(None, "month", "status"),
    _one_of("status", FLAG_STATUSES, "status"),
)

months = sa.Table(
    "months",
    metadata,
    sa.Column("month", sa.Date(), primary_key=True),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("closed_by", sa.String(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    _one_of("status", MONTH_STATUSES, "status"),
)

# How each catalog column looked as a pandas column when it was last imported: its place among the table's
# columns and its dtype (e.g. the outcome labels are Int8 in the files while the catalog calls them
# boolean), so that a read gives back frames equal to the files' (column order and dtypes included).
frame_columns = sa.Table(
    "frame_columns",
    metadata,
    sa.Column("table_name", sa.String(), primary_key=True),
    sa.Column("column_name", sa.String(), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("dtype", sa.String(), nullable=False),
)

# Migration 0003: every forecast the service made for a future period, once per model version, and the
# outcome it met once that period's reports were in (a closed month). Never per person: the disease family
# keeps counts per band only. ``series_key`` is JSON of the family's feature-set keys (e.g. grid and month).
forecast_log = sa.Table(
    "forecast_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("family", sa.String(), nullable=False),
    sa.Column("model_version", sa.String(), nullable=False),
    sa.Column("target_period", sa.Date(), nullable=False),  # the month (or season's first month) forecast
    sa.Column("series_key", sa.String(), nullable=False),
    sa.Column("as_of_month", sa.Date(), nullable=False),  # the last month of data the forecast used
    sa.Column("prediction", sa.Text(), nullable=False),  # JSON: task -> point, quantiles (or band counts)
    sa.Column("input_fingerprint", sa.String(), nullable=False),  # sha256 of the encoded inputs
    sa.Column("made_at", UTCDateTime(), nullable=False),
    sa.Column("outcome", sa.Text(), nullable=True),  # JSON: task -> realised value; null until joined
    sa.Column("outcome_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("family", "model_version", "target_period", "series_key"),
    sa.Index(None, "family", "target_period"),
)

# Migration 0003: each decision of `muzhang retrain` (retrained or not, and why), also logged to MLflow.
retrain_decisions = sa.Table(
    "retrain_decisions",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("family", sa.String(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Column("data_month", sa.Date(), nullable=True),  # the last closed month when deciding
    sa.Column("triggers", sa.Text(), nullable=False),  # JSON list of the triggers that fired
    sa.Column("action", sa.String(), nullable=False),  # skipped, retrained, failed
    sa.Column("champion_before", sa.String(), nullable=True),
    sa.Column("version", sa.String(), nullable=True),  # the version trained, if any
    sa.Column("promoted", sa.Boolean(), nullable=True),
    sa.Column("run_id", sa.String(), nullable=True),
    sa.Column("note", sa.Text(), nullable=False),
    # Migration 0004: JSON, the gate's numbers ({"metric", "candidate", "champion", "champion_version",
    # "months"}); null when no gate judged a candidate against a champion, and for decisions kept before 0004
    sa.Column("gate_metrics", sa.Text(), nullable=True),
    sa.Index(None, "family", "decided_at"),
)

# Migration 0005: fields a data directory's catalog extension added to a county table (a data scientist's
# own measurement, e.g. a grid-month's ``herder_meetings``), kept without changing the shipped schema. One row
# per (table, field) with the field's catalog entry (``FieldSpec`` as JSON): a later import with another
# definition of the same field is refused. Each value is one row of ``added_values``: the row's primary key
# as JSON (as in ``value_audit``) and the value as JSON (null: no value). Changed values are audited as any.
added_fields = sa.Table(
    "added_fields",
    metadata,
    sa.Column("table_name", sa.String(), primary_key=True),
    sa.Column("field", sa.String(), primary_key=True),
    sa.Column("spec", sa.Text(), nullable=False),  # JSON: the catalog entry
    sa.Column("defined_by", sa.String(), nullable=False),
    sa.Column("defined_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),  # where the definition came from (the import's source)
)

added_values = sa.Table(
    "added_values",
    metadata,
    sa.Column("table_name", sa.String(), primary_key=True),
    sa.Column("field", sa.String(), primary_key=True),
    sa.Column("row_key", sa.String(), primary_key=True),  # JSON object of the row's primary key
    sa.Column("value", sa.Text(), nullable=True),  # JSON value; null: none
    sa.ForeignKeyConstraint(["table_name", "field"], ["added_fields.table_name", "added_fields.field"]),
)

__all__ = [
    "CATALOG",
    "FLAG_STATUSES",
    "MONTH_STATUSES",
    "SUBMISSION_SOURCES",
    "SUBMISSION_STATUSES",
    "VERSION_TABLE",
    "UTCDateTime",
    "added_fields",
    "added_values",
    "column_type",
    "county_tables",
    "flags",
    "forecast_log",
    "frame_columns",
    "metadata",
    "months",
    "retrain_decisions",
    "submissions",
    "value_audit",
]
