"""Importing a county: counts, idempotence, audit of changes, atomicity, and reads equal to the files'."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features import build_features
from features.tables import CountyTables
from muzhang.catalog import load_catalog
from muzhang.store import Store, StoreError, load_order

CATALOG = load_catalog()


def by_key(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(CATALOG.table(name).primary_key)).reset_index(drop=True)


def assert_same_tables(read: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert list(read) == list(CATALOG.table_names)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(read[name], by_key(name, frame), obj=name)


def test_first_import_inserts_every_row_and_closes_the_history(
    store: Store, tiny_tables: dict[str, pd.DataFrame]
) -> None:
    summary = store.import_tables(tiny_tables, who="loader", source="tiny")
    assert list(summary.tables) == list(load_order(CATALOG))
    for name, counts in summary.tables.items():
        assert (counts.inserted, counts.updated, counts.unchanged) == (len(tiny_tables[name]), 0, 0)
    history = set(tiny_tables["grid_monthly"]["month"]) | set(tiny_tables["market_monthly"]["month"])
    months = store.months()
    assert summary.months_closed == len(history) == len(months)
    assert (months["status"] == "closed").all() and (months["closed_by"] == "loader").all()
    assert store.last_month() == tiny_tables["grid_monthly"]["month"].max() == store.last_closed_month()
    assert "grid_monthly" in str(summary)


def test_second_import_changes_nothing(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    before = filled.fingerprint()
    summary = filled.import_tables(tiny_tables, who="loader", source="tiny")
    assert not summary.changed and summary.months_closed == 0 and summary.audited_values == 0
    for name, counts in summary.tables.items():
        assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, len(tiny_tables[name]))
    assert filled.audit().empty
    assert filled.fingerprint() == before


def test_read_tables_equals_load_county(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    read = filled.read_tables()
    assert_same_tables(read, tiny_tables)
    # so the feature builders (pure functions of the frames) give the same features
    expected = build_features("dispute", CountyTables.from_mapping(tiny_tables)).frame
    got = build_features("dispute", CountyTables.from_mapping(read)).frame
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_read_tables_at_a_cutoff(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    cutoff = pd.Timestamp("2018-06-01")
    read = filled.read_tables("2018-06-17")  # any day of the month means the month
    for name, frame in tiny_tables.items():
        if name in ("grid_monthly", "market_monthly"):
            frame = frame[frame["month"] <= cutoff]
            assert read[name]["month"].max() == cutoff
        pd.testing.assert_frame_equal(read[name], by_key(name, frame), obj=name)
    assert filled.fingerprint(cutoff) == filled.fingerprint("2018-06")
    assert filled.fingerprint(cutoff) != filled.fingerprint()


def test_an_empty_store_reads_empty_frames_with_catalog_columns(store: Store) -> None:
    read = store.read_tables()
    for name, frame in read.items():
        assert frame.empty and list(frame.columns) == CATALOG.columns(name)
    assert store.last_month() is None and store.last_closed_month() is None


def test_a_changed_value_is_updated_and_audited(filled: Store, tables: dict[str, pd.DataFrame]) -> None:
    before = filled.fingerprint()
    monthly = tables["grid_monthly"]
    row = monthly.index[5]
    grid_id, month = monthly.at[row, "grid_id"], monthly.at[row, "month"]
    old_yak = int(monthly.at[row, "yak"])
    monthly.loc[row, "yak"] = old_yak + 7
    monthly.loc[row, "ndvi"] = 0.4321
    tables["grids"].loc[0, "grid_name"] = "Renamed grid"
    summary = filled.import_tables(tables, who="clerk", source="correction")
    assert summary.tables["grid_monthly"].updated == 1 and summary.tables["grids"].updated == 1
    assert summary.tables["grid_monthly"].unchanged == len(monthly) - 1
    assert summary.audited_values == 3

    history = filled.value_history(grid_id, month)
    assert sorted(history["field"]) == ["ndvi", "yak"]
    yak = history[history["field"] == "yak"].iloc[0]
    assert (yak["old_value"], yak["new_value"]) == (str(old_yak), str(old_yak + 7))
    assert yak["changed_by"] == "clerk" and yak["reason"] == "import (correction)"
    assert yak["changed_at"].tzinfo is not None and pd.isna(yak["submission_id"])
    assert json.loads(yak["key"]) == {"grid_id": grid_id, "month": month.date().isoformat()}
    grids_audit = filled.audit("grids")
    assert list(grids_audit["new_value"]) == ["Renamed grid"]

    assert_same_tables(filled.read_tables(), tables)
    assert filled.fingerprint() != before


def test_rows_the_import_lacks_are_kept(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    summary = filled.import_tables({"townships": tiny_tables["townships"].iloc[:2]}, who="x", source="part")
    assert summary.tables == {"townships": summary.tables["townships"]}
    assert summary.tables["townships"].unchanged == 2
    assert len(filled.read_tables()["townships"]) == len(tiny_tables["townships"])


def test_a_foreign_key_to_a_missing_grid_leaves_the_store_unchanged(
    filled: Store, tables: dict[str, pd.DataFrame]
) -> None:
    before = filled.fingerprint()
    tables["grids"].loc[0, "grid_name"] = "changed before the failure"
    extra = tables["grid_monthly"].iloc[[0]].copy()
    extra["grid_id"] = "G999"
    tables["grid_monthly"] = pd.concat([tables["grid_monthly"], extra], ignore_index=True)
    with pytest.raises(StoreError, match="grid_monthly"):
        filled.import_tables(tables, who="x", source="bad")
    assert filled.fingerprint() == before
    assert filled.audit().empty


def test_a_failure_midway_rolls_back_everything(
    store: Store, tiny_tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Store._upsert
    seen: list[str] = []

    def failing(self: Store, conn, prepared, **kwargs):
        seen.append(prepared.name)
        if prepared.name == "market_monthly":
            raise RuntimeError("killed mid-way")
        return original(self, conn, prepared, **kwargs)

    monkeypatch.setattr(Store, "_upsert", failing)
    with pytest.raises(RuntimeError, match="killed"):
        store.import_tables(tiny_tables, who="x", source="tiny")
    assert "grid_monthly" in seen  # tables before the failure were written inside the transaction
    monkeypatch.undo()
    assert all(frame.empty for frame in store.read_tables().values())
    assert store.months().empty


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(grids=t["grids"].drop(columns="grid_name")), "missing columns grid_name"),
        (lambda t: t["grids"].insert(0, "colour", "red"), "not in the catalog colour"),
        (lambda t: t.update(grids=pd.concat([t["grids"], t["grids"].iloc[[0]]])), "primary key"),
        (lambda t: t["grid_monthly"].__setitem__("yak", "many"), "yak"),
        (lambda t: t.update(oracle=t["grids"]), "not catalog tables"),
        (lambda t: t["grids"].loc.__setitem__((0, "grid_name"), None), "empty in row 0"),
    ],
)
def test_bad_frames_are_refused_before_any_write(
    store: Store, tables: dict[str, pd.DataFrame], change, message
) -> None:
    change(tables)
    with pytest.raises(ValueError, match=message):
        store.import_tables(tables, who="x", source="bad")
    assert all(frame.empty for frame in store.read_tables().values())


def test_reads_follow_the_imported_dtypes_and_column_order(store: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    """The outcome labels are Int8 in the files though the catalog calls them boolean: reads give Int8 back."""
    assert str(tiny_tables["patient_outcomes"]["echinococcosis"].dtype) == "Int8"
    store.import_tables(tiny_tables, who="x", source="tiny")
    read = store.read_tables()
    assert str(read["patient_outcomes"]["echinococcosis"].dtype) == "Int8"
    assert list(read["grids"].columns) == list(tiny_tables["grids"].columns)


def test_a_reopened_and_closed_month(filled: Store) -> None:
    last = filled.last_closed_month()
    assert last is not None
    assert filled.reopen_month(last, who="chief", reason="late reports")
    assert not filled.reopen_month(last, who="chief", reason="again")
    months = filled.months().set_index("month")
    assert months.at[last, "status"] == "open" and pd.isna(months.at[last, "closed_at"])
    assert filled.last_closed_month() == last - pd.DateOffset(months=1)
    assert filled.close_month(last, who="chief", reason="all in")
    assert filled.last_closed_month() == last
    audit = filled.audit("months")
    assert list(audit["new_value"]) == ["open", "closed"] and list(audit["old_value"]) == ["closed", "open"]


def test_full_sample_dtypes_need_no_file(tmp_path: Path) -> None:
    """The read dtypes of a never-imported table are the catalog defaults (what the files give)."""
    from muzhang.store.frames import default_dtype

    assert default_dtype(CATALOG.field("grid_id")) == "str"
    assert default_dtype(CATALOG.field("month")) == "datetime64[us]"
    assert default_dtype(CATALOG.field("hypertension_5y")) == "boolean"
