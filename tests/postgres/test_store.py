"""The county store on PostgreSQL: migrations, import, idempotence, reads equal to the files', reports, atomicity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from features.tables import load_county
from muzhang.catalog import load_catalog
from muzhang.store import ImportSummary, Store, StoreError, dispose_engine, open_store
from muzhang.store.schema import VERSION_TABLE, metadata

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def tiny_tables(tiny_county: Path) -> dict[str, pd.DataFrame]:
    county = load_county(tiny_county)
    return {f.name: getattr(county, f.name) for f in fields(county)}


@pytest.fixture(scope="module")
def pg_store(new_postgres_database: Callable[[str], str]) -> Iterator[Store]:
    url = new_postgres_database("county_store")
    yield open_store(url)
    dispose_engine(url)


@pytest.fixture(scope="module")
def first_import(pg_store: Store, tiny_tables: dict[str, pd.DataFrame]) -> ImportSummary:
    return pg_store.import_tables(tiny_tables, who="loader", source="tiny")


def test_migrations_match_the_metadata(pg_store: Store) -> None:
    with pg_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "0005"


def test_import_is_idempotent_and_reads_equal_the_files(
    pg_store: Store, first_import: ImportSummary, tiny_tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    assert {t: c.inserted for t, c in first_import.tables.items()} == {t: len(f) for t, f in tiny_tables.items()}
    before = pg_store.fingerprint()
    again = pg_store.import_tables(tiny_tables, who="loader", source="tiny")
    assert not again.changed and again.audited_values == 0 and pg_store.audit().empty
    read = pg_store.read_tables()
    for name, frame in tiny_tables.items():
        key = list(CATALOG.table(name).primary_key)
        pd.testing.assert_frame_equal(read[name], frame.sort_values(key).reset_index(drop=True), obj=name)
    assert pg_store.fingerprint() == before
    # the same data gives the same fingerprint on SQLite
    url = f"sqlite:///{tmp_path / 'county.db'}"
    try:
        lite = open_store(url)
        lite.import_tables(tiny_tables, who="loader", source="tiny")
        assert lite.fingerprint() == before and lite.fingerprint("2018-03") == pg_store.fingerprint("2018-03")
    finally:
        dispose_engine(url)


def test_a_failed_import_changes_nothing(
    pg_store: Store, first_import: ImportSummary, tiny_tables: dict[str, pd.DataFrame]
) -> None:
    before = pg_store.fingerprint()
    tables = {name: frame.copy() for name, frame in tiny_tables.items()}
    tables["grids"].loc[0, "grid_name"] = "changed before the failure"
    orphan = tables["grid_monthly"].iloc[[0]].assign(grid_id="G999")
    tables["grid_monthly"] = pd.concat([tables["grid_monthly"], orphan], ignore_index=True)
    with pytest.raises(StoreError, match="grid_monthly"):
        pg_store.import_tables(tables, who="x", source="bad")
    assert pg_store.fingerprint() == before and pg_store.audit("grids").empty


def test_reports_on_postgres(
    pg_store: Store, first_import: ImportSummary, tiny_tables: dict[str, pd.DataFrame]
) -> None:
    monthly = tiny_tables["grid_monthly"]
    row = monthly[monthly["month"] == monthly["month"].max()].iloc[[0]].reset_index(drop=True)
    row["month"] = pd.Timestamp("2020-01-01")
    row.insert(0, "submission_id", "pg-1")
    changed = row.assign(submission_id="pg-2", horse=row["horse"] + 3)
    orphan = row.assign(submission_id="pg-3", grid_id="G999")
    out = pg_store.apply_reports(
        pd.concat([row, row, changed, orphan], ignore_index=True), who="chief", role="reporter", source="api"
    )
    assert list(out["outcome"]) == ["inserted", "duplicate", "updated", "refused"]
    history = pg_store.value_history(row.at[0, "grid_id"], "2020-01")
    assert list(history["field"]) == ["horse"] and list(history["submission_id"]) == ["pg-2"]
    assert pg_store.last_month() == pd.Timestamp("2020-01-01")
    assert pg_store.last_closed_month() == monthly["month"].max()
    ids = pg_store.add_flags(pd.DataFrame([{"grid_id": "G001", "month": "2020-01", "rule": "late"}]))
    pg_store.resolve_flag(ids[0], "confirmed", who="staff")
    assert pg_store.flags(status="confirmed")["id"].tolist() == ids


def test_forecast_log_on_postgres_is_idempotent_and_joins_once(pg_store: Store) -> None:
    """The forecast log's ON CONFLICT DO NOTHING and the join-once update, on PostgreSQL (issue 11)."""
    import json

    from muzhang.store.forecasts import read_forecasts, record_forecasts, record_outcomes, series_key

    rows = pd.DataFrame(
        {
            "family": "dispute",
            "model_version": ["1", "1", "2"],
            "target_period": pd.Timestamp("2020-02-01"),
            "series_key": [series_key(["grid_id"], [g]) for g in ("G001", "G002", "G001")],
            "as_of_month": pd.Timestamp("2020-01-01"),
            "prediction": json.dumps({"any_dispute": {"point": 0.2}}),
            "input_fingerprint": "0" * 64,
        }
    )
    assert record_forecasts(pg_store, rows) == 3
    assert record_forecasts(pg_store, rows) == 0
    ids = read_forecasts(pg_store, "dispute")["id"].tolist()
    assert record_outcomes(pg_store, [(ids[0], '{"any_dispute": 1.0}')]) == 1
    assert record_outcomes(pg_store, [(ids[0], '{"any_dispute": 0.0}')]) == 0
    assert read_forecasts(pg_store, "dispute", pending=True)["id"].tolist() == ids[1:]


def test_an_added_field_round_trips_and_a_conflict_changes_nothing_on_postgres(
    new_postgres_database: Callable[[str], str], tiny_tables: dict[str, pd.DataFrame]
) -> None:
    """A catalog extension's grid-month field kept beside the shipped schema (migration 0005), on PostgreSQL."""
    from muzhang.catalog import extend_catalog
    from muzhang.store import AddedFieldConflict

    entry = {"name": "herder_meetings", "type": "integer", "min": 0, "max": 50, "tables": ["grid_monthly"]}
    monthly = tiny_tables["grid_monthly"].assign(herder_meetings=lambda f: (f.index % 7).astype("int64"))
    given = {**tiny_tables, "grid_monthly": monthly}
    url = new_postgres_database("county_added")
    try:
        store = open_store(url)
        summary = store.import_tables(
            given, who="analyst", source="byod", catalog=extend_catalog(CATALOG, {"fields": [entry]})
        )
        assert summary.added["grid_monthly.herder_meetings"].inserted == len(monthly)
        read, catalog = store.read_county()
        expected = monthly.sort_values(["grid_id", "month"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(read["grid_monthly"], expected)
        assert catalog.field("herder_meetings").max == 50.0
        before = store.fingerprint()
        other = extend_catalog(CATALOG, {"fields": [{**entry, "type": "float"}]})
        with pytest.raises(AddedFieldConflict, match="the store keeps it as integer"):
            store.import_tables(given, who="analyst", source="other", catalog=other)
        assert store.fingerprint() == before
    finally:
        dispose_engine(url)
