"""The store's schema comes from migrations, matches the catalog, and ships with the package."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from muzhang.catalog import load_catalog
from muzhang.paths import PROJECT_ROOT
from muzhang.store import Store, load_order, migrate, open_store
from muzhang.store.engine import get_engine
from muzhang.store.schema import VERSION_TABLE, metadata

RECORD_TABLES = {
    "submissions",
    "value_audit",
    "flags",
    "months",
    "frame_columns",
    "forecast_log",
    "retrain_decisions",
    "added_fields",
    "added_values",
}


def test_migrations_create_every_table(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert names == set(load_catalog().table_names) | RECORD_TABLES | {VERSION_TABLE}


def test_migrated_database_matches_the_catalog(store: Store) -> None:
    """Fails after a catalog change until a migration brings existing databases along."""
    with store.engine.connect() as conn:
        diffs = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE}), metadata
        )
    assert diffs == []


def test_catalog_keys_types_and_nullability(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    catalog = load_catalog()
    for spec in catalog.tables:
        columns = {c["name"]: c for c in inspector.get_columns(spec.name)}
        assert list(columns) == catalog.columns(spec.name)
        assert tuple(inspector.get_pk_constraint(spec.name)["constrained_columns"]) == spec.primary_key
        for field in catalog.fields_of(spec.name):
            assert columns[field.name]["nullable"] == (field.nullable and field.name not in spec.primary_key)
        fks = {fk["constrained_columns"][0]: fk["referred_table"] for fk in inspector.get_foreign_keys(spec.name)}
        assert fks == dict(spec.foreign_keys)
    types = {c["name"]: c["type"] for c in inspector.get_columns("grid_monthly")}
    assert isinstance(types["month"], sa.Date) and isinstance(types["yak"], sa.BigInteger)
    assert isinstance(types["ndvi"], sa.Float) and isinstance(types["snow_days"], sa.Integer)


def test_sqlite_pragmas(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_open_twice_is_one_engine_and_migrations_are_idempotent(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    assert first.engine is second.engine is get_engine(store_url)

    migrate(store_url)  # already at head: nothing to do
    with first.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar() == "0005"


def test_load_order_puts_parents_first() -> None:
    catalog = load_catalog()
    order = load_order(catalog)
    assert sorted(order) == sorted(catalog.table_names)
    for name in order:
        for parent in catalog.table(name).foreign_keys.values():
            assert order.index(parent) < order.index(name)


def test_package_data_ships_the_migrations() -> None:
    """Every file of the migrations folder matches a package-data pattern (an installed store can migrate)."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["muzhang"]
    folder = PROJECT_ROOT / "muzhang" / "store" / "migrations"
    files = [p.relative_to(PROJECT_ROOT / "muzhang").as_posix() for p in folder.rglob("*") if p.is_file()]
    files = [f for f in files if "__pycache__" not in f]
    assert files and all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), files
    assert Path(folder / "env.py").is_file()


def test_migration_0002_lets_a_submission_be_carried_and_downgrades_cleanly(tmp_path: Path) -> None:
    """Upgrade adds the 'carry' source; the constraint still refuses unknown sources; downgrade removes it."""
    from alembic import command

    from muzhang.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url, "0001")
    engine = get_engine(url)
    insert = (
        "INSERT INTO submissions (submission_id, grid_id, month, submitted_by, role, source, received_at, status, "
        "payload, problems) "
        "VALUES (:id, 'G001', '2025-01-01', 'x', 'admin', :source, '2025-02-01 00:00:00', 'accepted', '{}', '[]')"
    )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(insert), {"id": "a1", "source": "carry"})
    migrate(url, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text(insert), {"id": "a2", "source": "carry"})
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(insert), {"id": "a3", "source": "fax"})
    command.downgrade(alembic_config(url), "0001")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM submissions").scalar() == 0


def test_migration_0004_keeps_old_decisions_and_adds_gate_metrics(tmp_path: Path) -> None:
    """Upgrade adds a nullable gate_metrics to retrain_decisions (old rows read NULL); downgrade drops it and
    keeps the rows."""
    from alembic import command

    from muzhang.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url, "0003")
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO retrain_decisions (family, decided_at, triggers, action, note) "
                "VALUES ('market', '2025-02-01 00:00:00', '[]', 'skipped', 'old')"
            )
        )
    migrate(url, "0004")
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("retrain_decisions")}
    assert "gate_metrics" in columns and columns["gate_metrics"]["nullable"]
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT note, gate_metrics FROM retrain_decisions").one() == ("old", None)
        conn.exec_driver_sql('UPDATE retrain_decisions SET gate_metrics = \'{"metric": "spl"}\'')
    command.downgrade(alembic_config(url), "0003")
    assert "gate_metrics" not in {c["name"] for c in sa.inspect(engine).get_columns("retrain_decisions")}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT note FROM retrain_decisions").scalar() == "old"


def test_migration_0005_adds_the_added_field_tables_and_downgrades_cleanly(tmp_path: Path) -> None:
    """Upgrade creates added_fields and added_values (a value needs its field's definition); downgrade drops them."""
    from alembic import command

    from muzhang.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url, "0004")
    engine = get_engine(url)
    assert not {"added_fields", "added_values"} & set(sa.inspect(engine).get_table_names())
    migrate(url, "0005")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO added_values VALUES ('grid_monthly', 'x', '{}', '1')"))
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO added_fields VALUES ('grid_monthly', 'x', '{}', 'me', '2025-02-01 00:00:00', 'here')")
        )
        conn.execute(sa.text("INSERT INTO added_values VALUES ('grid_monthly', 'x', '{}', '1')"))
    command.downgrade(alembic_config(url), "0004")
    assert not {"added_fields", "added_values"} & set(sa.inspect(engine).get_table_names())
