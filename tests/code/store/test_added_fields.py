"""Fields a catalog extension adds to county tables are kept by the store: import, read back, refuse, roll back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from muzhang.catalog import Catalog, extend_catalog, load_catalog
from muzhang.store import AddedFieldConflict, Store, StoreError

MEETINGS = {
    "name": "herder_meetings",
    "zh": "牧户会议次数",
    "type": "integer",
    "unit": "meetings",
    "min": 0,
    "max": 50,
    "plausible_max": 20,
    "nullable": True,
    "tables": ["grid_monthly"],
    "families": ["dispute"],
}


def extended(**changes: object) -> Catalog:
    return extend_catalog(load_catalog(), {"fields": [{**MEETINGS, **changes}]})


def with_meetings(tables: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, pd.DataFrame]:
    monthly = tables["grid_monthly"].copy()
    monthly["herder_meetings"] = np.random.default_rng(seed).integers(0, 6, len(monthly))
    return {**tables, "grid_monthly": monthly}


def by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["grid_id", "month"], kind="stable").reset_index(drop=True)


def count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar())


def test_an_added_grid_monthly_field_round_trips_with_its_definition(
    store: Store, tables: dict[str, pd.DataFrame]
) -> None:
    given = with_meetings(tables)
    summary = store.import_tables(given, who="analyst", source="byod", catalog=extended())
    n = len(given["grid_monthly"])
    assert summary.added["grid_monthly.herder_meetings"].inserted == n
    assert "grid_monthly.herder_meetings" in str(summary)

    read, catalog = store.read_county()
    pd.testing.assert_frame_equal(read["grid_monthly"], by_key(given["grid_monthly"]))
    spec = catalog.field("herder_meetings")
    assert (spec.type, spec.max, spec.tables, spec.families) == ("integer", 50.0, ("grid_monthly",), ("dispute",))
    assert [f.name for f in store.added_catalog().added_fields()] == ["herder_meetings"]

    cutoff = pd.Timestamp(given["grid_monthly"]["month"].max()) - pd.DateOffset(months=6)
    cut = store.read_tables(cutoff)["grid_monthly"]
    assert pd.to_datetime(cut["month"]).max() == cutoff
    expected = by_key(given["grid_monthly"][pd.to_datetime(given["grid_monthly"]["month"]) <= cutoff])
    assert cut["herder_meetings"].tolist() == expected["herder_meetings"].tolist()

    again = store.import_tables(given, who="analyst", source="byod", catalog=extended())
    assert not again.changed and again.audited_values == 0


def test_a_changed_added_value_is_updated_and_audited(store: Store, tables: dict[str, pd.DataFrame]) -> None:
    given = with_meetings(tables)
    store.import_tables(given, who="analyst", source="byod", catalog=extended())
    changed = given["grid_monthly"].copy()
    changed.loc[0, "herder_meetings"] = 44  # inside the hard limits, beyond the plausible range: kept
    summary = store.import_tables({"grid_monthly": changed}, who="clerk", source="fix", catalog=extended())
    assert summary.added["grid_monthly.herder_meetings"].updated == 1 and summary.audited_values == 1
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT field, old_value, new_value, changed_by FROM value_audit WHERE field = 'herder_meetings'")
        ).one()
    old = str(given["grid_monthly"].loc[0, "herder_meetings"])
    assert (row.old_value, row.new_value, row.changed_by) == (old, "44", "clerk")
    read = store.read_tables()["grid_monthly"]
    first = read[(read["grid_id"] == changed.loc[0, "grid_id"]) & (read["month"] == changed.loc[0, "month"])]
    assert first["herder_meetings"].tolist() == [44]


def test_a_reimport_with_another_definition_is_refused_and_changes_nothing(
    store: Store, tables: dict[str, pd.DataFrame]
) -> None:
    given = with_meetings(tables)
    store.import_tables(given, who="analyst", source="byod", catalog=extended())
    before = store.fingerprint()
    with pytest.raises(AddedFieldConflict) as refused:
        other = extended(max=10, plausible_max=8)
        store.import_tables(with_meetings(tables, seed=1), who="analyst", source="other", catalog=other)
    message = str(refused.value)
    assert "table 'grid_monthly', field 'herder_meetings'" in message
    assert "integer, unit meetings, min 0.0, max 50.0" in message and "max 10.0" in message
    assert "defined by analyst" in message and "from byod" in message and "nothing imported" in message
    assert store.fingerprint() == before

    # Labels and the plausible range may change: the stored entry follows, the values stay.
    store.import_tables(given, who="analyst", source="byod", catalog=extended(display="Meetings", plausible_max=30))
    spec = store.added_catalog().field("herder_meetings")
    assert (spec.display, spec.plausible_max) == ("Meetings", 30.0)


def test_a_value_breaking_its_rule_is_refused_before_any_write(store: Store, tables: dict[str, pd.DataFrame]) -> None:
    given = with_meetings(tables)
    given["grid_monthly"].loc[3, "herder_meetings"] = 75
    broken = r"table 'grid_monthly', row 3, field 'herder_meetings', value 75: must be <= 50"
    with pytest.raises(ValueError, match=broken):
        store.import_tables(given, who="analyst", source="byod", catalog=extended())
    assert count(store, "grid_monthly") == 0 and count(store, "added_fields") == 0


def test_an_import_failing_in_the_database_keeps_the_stored_values(
    filled: Store, tables: dict[str, pd.DataFrame]
) -> None:
    given = with_meetings(tables)
    filled.import_tables(given, who="analyst", source="byod", catalog=extended())
    before = (filled.fingerprint(), count(filled, "added_values"), count(filled, "value_audit"))

    broken = with_meetings(tables, seed=2)  # every value changes ...
    market = broken["market_monthly"].copy()
    market.loc[0, "township_id"] = "T999"  # ... but a later table refers to no township: the write fails
    broken["market_monthly"] = market
    with pytest.raises(StoreError, match="import refused at table 'market_monthly', nothing changed"):
        filled.import_tables(broken, who="analyst", source="bad", catalog=extended(display="Other label"))
    assert (filled.fingerprint(), count(filled, "added_values"), count(filled, "value_audit")) == before
    assert filled.added_catalog().field("herder_meetings").display == "herder_meetings"


def test_an_undeclared_column_is_refused_with_how_to_declare_it(store: Store, tables: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match=r"columns not in the catalog herder_meetings \(declare a field"):
        store.import_tables(with_meetings(tables), who="analyst", source="byod")


def test_an_import_without_the_column_leaves_its_values(store: Store, tables: dict[str, pd.DataFrame]) -> None:
    given = with_meetings(tables)
    store.import_tables(given, who="analyst", source="byod", catalog=extended())
    store.import_tables(tables, who="clerk", source="shipped")  # the county's own files, without the field
    read = store.read_tables()["grid_monthly"]
    assert read["herder_meetings"].tolist() == by_key(given["grid_monthly"])["herder_meetings"].tolist()
