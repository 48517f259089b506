"""A monthly report carries the fields a catalog extension added to grid_monthly: written with the report,
audited when they change a stored grid-month, refused as a whole when the store keeps no such field."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from muzhang.catalog import extend_catalog, load_catalog
from muzhang.store import Store

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
NEXT = "2020-01-01"  # the tiny county ends in 2019-12


@pytest.fixture
def meetings_store(store: Store, tables: dict[str, pd.DataFrame]) -> Store:
    monthly = tables["grid_monthly"].copy()
    monthly["herder_meetings"] = 2
    catalog = extend_catalog(load_catalog(), {"fields": [MEETINGS]})
    store.import_tables({**tables, "grid_monthly": monthly}, who="analyst", source="byod", catalog=catalog)
    return store


def last_report(store: Store, grid: str) -> dict[str, Any]:
    monthly = store.read_tables()["grid_monthly"]
    row = monthly[monthly["grid_id"] == grid].sort_values("month").iloc[-1]
    values = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    values.pop("herder_meetings")
    return {**values, "month": pd.Timestamp(NEXT)}


def meetings(store: Store, grid: str, month: str) -> Any:
    monthly = store.read_tables()["grid_monthly"]
    row = monthly[(monthly["grid_id"] == grid) & (pd.to_datetime(monthly["month"]) == pd.Timestamp(month))]
    return row["herder_meetings"].iloc[0]


def test_a_report_with_an_added_value_reads_back_and_a_correction_is_audited(meetings_store: Store) -> None:
    store = meetings_store
    assert list(store.report_added_fields()) == ["herder_meetings"]
    values = last_report(store, "G001")
    first = store.apply_report(
        "s-001", values, who="chief", role="reporter", source="api", added={"herder_meetings": 7}
    )
    assert first[3] == "inserted" and meetings(store, "G001", NEXT) == 7

    kept = store.apply_report("s-002", values, who="chief", role="reporter", source="api")
    assert kept[3] == "unchanged" and meetings(store, "G001", NEXT) == 7  # left out: the stored value stays

    fixed = store.apply_report("s-003", values, who="clerk", role="staff", source="api", added={"herder_meetings": 9})
    assert (fixed[3], fixed[4]) == ("updated", ("herder_meetings",)) and meetings(store, "G001", NEXT) == 9
    trail = store.value_history("G001", NEXT)
    (change,) = trail[trail["field"] == "herder_meetings"].to_dict("records")
    assert (change["old_value"], change["new_value"], change["changed_by"], change["submission_id"]) == (
        "7",
        "9",
        "clerk",
        "s-003",
    )
    assert (
        '"measurements": {"herder_meetings": 9}'
        in store.submissions(NEXT).set_index("submission_id").at["s-003", "payload"]
    )


def test_an_added_name_the_store_does_not_keep_stores_nothing(meetings_store: Store) -> None:
    store = meetings_store
    with pytest.raises(ValueError, match="no added field named 'herder_meeting'"):
        store.apply_report(
            "s-010", last_report(store, "G002"), who="c", role="reporter", source="api", added={"herder_meeting": 1}
        )
    assert store.submissions(NEXT).empty
    assert NEXT not in set(store.read_tables()["grid_monthly"]["month"].astype(str))


def test_a_frame_of_reports_writes_its_added_column_and_an_empty_cell_erases_audited(meetings_store: Store) -> None:
    store = meetings_store
    rows = pd.DataFrame([last_report(store, g) for g in ("G001", "G002")])
    rows["submission_id"] = ["f-1", "f-2"]
    rows["herder_meetings"] = [4, 5]
    outcomes = store.apply_reports(rows, who="town", role="staff", source="upload")
    assert outcomes["outcome"].tolist() == ["inserted", "inserted"]
    assert (meetings(store, "G001", NEXT), meetings(store, "G002", NEXT)) == (4, 5)

    again = rows.assign(submission_id=["f-3", "f-4"], herder_meetings=pd.array([4, None], dtype="Int64"))
    outcomes = store.apply_reports(again, who="town", role="staff", source="upload")
    assert outcomes["outcome"].tolist() == ["unchanged", "updated"]
    assert pd.isna(meetings(store, "G002", NEXT))
    trail = store.value_history("G002", NEXT)
    assert trail.loc[trail["field"] == "herder_meetings", ["old_value", "new_value"]].values.tolist() == [["5", None]]
