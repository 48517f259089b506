"""Engines (one per URL, per process) and migrations to head, run from code.

SQLite: ``PRAGMA foreign_keys=ON`` and ``journal_mode=WAL`` on every new connection; the driver's own
transaction handling is switched off so that SQLAlchemy's ``begin()`` emits ``BEGIN`` itself (pysqlite
would otherwise start a transaction only at the first write, so a read-compare-write would not be one
snapshot). Writers ask for ``BEGIN IMMEDIATE`` (execution option ``store_write``): two writers queue for
the lock instead of failing half-way. PostgreSQL: any SQLAlchemy URL, e.g. ``postgresql+psycopg://...``.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from muzhang.store.schema import VERSION_TABLE

WRITE_OPTION = "store_write"
SQLITE_BUSY_TIMEOUT_S = 30
MIGRATION_LOCK_KEY = 0x6D757A68  # "muzh": the advisory lock that serialises migrations on PostgreSQL

_engines: dict[str, sa.Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def _sqlite_listeners(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin() below emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL's recommended level: a commit no longer waits for the disk (an fsync cost ~10 ms per report
            # here, five times the rest of the report's work); the database stays consistent, and a killed
            # process loses nothing; only a power cut or OS crash may undo the last commits before the next
            # checkpoint. PostgreSQL, the production store, keeps its own settings.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def get_engine(url: str) -> sa.Engine:
    """The process's engine for ``url`` (created on first use)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = sa.make_url(url)
            kwargs: dict[str, Any] = {}
            if parsed.get_backend_name() == "sqlite":
                kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
                if parsed.database not in (None, "", ":memory:") and not parsed.database.startswith("file:"):
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # a fresh work_dir
            else:
                kwargs["pool_pre_ping"] = True
            engine = sa.create_engine(parsed, **kwargs)
            if parsed.get_backend_name() == "sqlite":
                _sqlite_listeners(engine)
            _engines[url] = engine
        return engine


def alembic_config(url: str) -> Config:
    """An Alembic config for the store's migrations (the folder shipped inside the package)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("muzhang.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` on the store's engine (pragmas included)."""
    engine = get_engine(url)
    config = alembic_config(url)
    # One migrating process at a time: BEGIN IMMEDIATE on SQLite, a transaction-scoped lock on PostgreSQL.
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def migrated_engine(url: str) -> sa.Engine:
    """The engine for ``url``, migrated to head once per process."""
    engine = get_engine(url)
    if url not in _migrated:
        migrate(url)
        _migrated.add(url)
    return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url``'s engine and forget it (tests, or before deleting a file)."""
    with _lock:
        engine = _engines.pop(url, None)
        _migrated.discard(url)
    if engine is not None:
        engine.dispose()
