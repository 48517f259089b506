"""Reports, one grid-month each: inserted, duplicate, updated (audited), unchanged, refused; flags; submissions."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from muzhang.store import Store

NEXT_MONTH = pd.Timestamp("2020-01-01")  # the tiny county ends in 2019-12


def report(tiny_tables: dict[str, pd.DataFrame], grid_id: str, month: pd.Timestamp, sid: str, **values: object):
    """One report row: the grid's December 2019 values moved to ``month``, with ``values`` changed."""
    monthly = tiny_tables["grid_monthly"]
    row = monthly[(monthly["grid_id"] == grid_id) & (monthly["month"] == monthly["month"].max())].copy()
    row["month"] = month
    for column, value in values.items():
        row[column] = value
    row.insert(0, "submission_id", sid)
    return row.reset_index(drop=True)


def test_outcomes_inserted_duplicate_updated_unchanged(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    first = report(tiny_tables, "G001", NEXT_MONTH, "r-1")
    resent = first.copy()
    corrected = report(
        tiny_tables, "G001", NEXT_MONTH, "r-2", yak=int(first.at[0, "yak"]) + 12, dispute_kind="trespass"
    )
    again = corrected.assign(submission_id="r-3")
    rows = pd.concat([first, resent, corrected, again], ignore_index=True)
    out = filled.apply_reports(rows, who="chief-1", role="reporter", source="api")

    assert list(out["outcome"]) == ["inserted", "duplicate", "updated", "unchanged"]
    assert list(out["submission_id"]) == ["r-1", "r-1", "r-2", "r-3"]
    assert set(out.at[2, "changed_fields"]) == {"yak", "dispute_kind"}
    assert (out["month"] == NEXT_MONTH).all() and (out["grid_id"] == "G001").all()

    history = filled.value_history("G001", NEXT_MONTH)
    assert sorted(history["field"]) == ["dispute_kind", "yak"]
    yak = history.set_index("field").loc["yak"]
    assert (yak["old_value"], yak["new_value"]) == (str(first.at[0, "yak"]), str(corrected.at[0, "yak"]))
    assert yak["changed_by"] == "chief-1" and yak["submission_id"] == "r-2" and yak["reason"] == "report"

    stored = filled.read_tables()["grid_monthly"]
    now = stored[(stored["grid_id"] == "G001") & (stored["month"] == NEXT_MONTH)].iloc[0]
    assert now["yak"] == corrected.at[0, "yak"] and now["dispute_kind"] == "trespass"
    assert filled.last_month() == NEXT_MONTH
    months = filled.months().set_index("month")
    assert months.at[NEXT_MONTH, "status"] == "open"  # a reported month is open until someone closes it
    assert filled.last_closed_month() == NEXT_MONTH - pd.DateOffset(months=1)

    subs = filled.submissions(NEXT_MONTH)
    assert list(subs["submission_id"]) == ["r-1", "r-2", "r-3"]  # the duplicate is not recorded twice
    assert set(subs["status"]) == {"accepted"} and set(subs["source"]) == {"api"}
    assert json.loads(subs.iloc[0]["payload"])["yak"] == int(first.at[0, "yak"])
    assert subs["received_at"].dt.tz is not None


def test_a_report_corrects_a_closed_month_and_is_audited(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    last = tiny_tables["grid_monthly"]["month"].max()
    old = report(tiny_tables, "G002", last, "c-1")
    out = filled.apply_reports(old.assign(sheep=old["sheep"] + 1), who="staff", role="admin", source="upload")
    assert list(out["outcome"]) == ["updated"] and list(out.at[0, "changed_fields"]) == ["sheep"]
    assert filled.months().set_index("month").at[last, "status"] == "closed"  # closing is not the store's call
    assert len(filled.value_history("G002", last)) == 1


def test_refused_rows_are_recorded_but_write_nothing(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    before = filled.fingerprint()
    unknown_grid = report(tiny_tables, "G001", NEXT_MONTH, "x-1").assign(grid_id="G999")
    empty = report(tiny_tables, "G002", NEXT_MONTH, "x-2", yak=None)
    mid_month = report(tiny_tables, "G003", NEXT_MONTH + pd.Timedelta(days=3), "x-3")
    refused_by_rules = report(tiny_tables, "G004", NEXT_MONTH, "x-4").assign(
        status="refused", problems=json.dumps([{"rule": "herd_balance"}])
    )
    out = filled.apply_reports(
        pd.concat([unknown_grid, empty, mid_month, refused_by_rules], ignore_index=True),
        who="chief",
        role="reporter",
        source="upload",
    )
    assert list(out["outcome"]) == ["refused"] * 4
    assert "FOREIGN KEY" in out.at[0, "detail"].upper() and "yak" in out.at[1, "detail"]
    assert "first day" in out.at[2, "detail"]
    assert filled.fingerprint() == before
    subs = filled.submissions().set_index("submission_id")
    assert list(subs.index) == ["x-1", "x-2", "x-3", "x-4"] and set(subs["status"]) == {"refused"}
    assert json.loads(subs.at["x-4", "problems"]) == [{"rule": "herd_balance"}]
    again = filled.apply_reports(unknown_grid, who="chief", role="reporter", source="upload")
    assert list(again["outcome"]) == ["duplicate"]


def test_reports_given_arrival_and_reporter(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    row = report(tiny_tables, "G005", NEXT_MONTH, "a-1").assign(
        received_at=pd.Timestamp("2020-02-03 04:05", tz="Asia/Shanghai"), submitted_by="chief-5", status="partial"
    )
    filled.apply_reports(row, who="uploader", role="admin", source="import")
    sub = filled.submissions().iloc[0]
    assert sub["submitted_by"] == "chief-5" and sub["status"] == "partial"
    assert sub["received_at"] == pd.Timestamp("2020-02-02 20:05", tz="UTC")


def test_bad_report_frames_raise(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    row = report(tiny_tables, "G001", NEXT_MONTH, "b-1")
    with pytest.raises(ValueError, match="submission_id"):
        filled.apply_reports(row.drop(columns="submission_id"), who="a", role="r", source="api")
    with pytest.raises(ValueError, match="yak"):
        filled.apply_reports(row.drop(columns="yak"), who="a", role="r", source="api")
    with pytest.raises(ValueError, match="source"):
        filled.apply_reports(row, who="a", role="r", source="fax")
    with pytest.raises(ValueError, match="yak"):
        filled.apply_reports(row.assign(yak=1.5), who="a", role="r", source="api")
    assert filled.submissions().empty


def test_flags_raised_listed_and_resolved(filled: Store, tiny_tables: dict[str, pd.DataFrame]) -> None:
    filled.apply_reports(report(tiny_tables, "G001", NEXT_MONTH, "f-1"), who="c", role="reporter", source="api")
    ids = filled.add_flags(
        pd.DataFrame(
            [
                {
                    "grid_id": "G001",
                    "month": NEXT_MONTH,
                    "field": "yak",
                    "rule": "outlier",
                    "value": "900",
                    "detail": "z 4.1",
                    "submission_id": "f-1",
                },
                {"grid_id": "G002", "month": "2019-12", "field": None, "rule": "late", "value": None},
            ]
        )
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    flags = filled.flags(month=NEXT_MONTH)
    assert list(flags["id"]) == [ids[0]] and flags.at[0, "value"] == "900" and flags.at[0, "status"] == "open"
    filled.resolve_flag(ids[0], "confirmed", who="staff", reason="counted again")
    assert filled.flags(status="open")["id"].tolist() == [ids[1]]
    done = filled.flags(status="confirmed").iloc[0]
    assert done["resolved_by"] == "staff" and done["resolution"] == "counted again" and done["resolved_at"].tzinfo
    with pytest.raises(KeyError):
        filled.resolve_flag(10_000, "corrected", who="staff")
    with pytest.raises(ValueError):
        filled.resolve_flag(ids[1], "open", who="staff")
    assert filled.add_flags(pd.DataFrame(columns=["grid_id", "month", "rule"])) == []
