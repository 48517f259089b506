"""Alembic environment of the store. Run from code (``muzhang.store.engine.migrate``) with a connection in
``config.attributes["connection"]``; ``alembic -c ...`` on the command line works too (URL from the config)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from muzhang.store.schema import VERSION_TABLE, metadata

config = context.config


def run_with(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=config.get_main_option("version_table") or VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite needs copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=config.get_main_option("version_table") or VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        run_with(conn)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
