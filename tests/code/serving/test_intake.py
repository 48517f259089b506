"""One report at a time (the per-record path and its in-memory cache) against the frame path, on a real store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from serving.intake_cache import IntakeCache
from serving.reports import ingest_record, ingest_reports

JANUARY, FEBRUARY = pd.Timestamp("2020-01-01"), pd.Timestamp("2020-02-01")  # the tiny county ends in 2019-12
LATEST = pd.Timestamp("2020-03-01")


def county_of(store: Any) -> SimpleNamespace:
    """What the intake reads of a county state: closed grid_monthly rows, grids, last month and grid ids."""
    tables = store.read_tables(store.last_closed_month())
    monthly = tables["grid_monthly"]
    return SimpleNamespace(
        tables=SimpleNamespace(grid_monthly=monthly, grids=tables["grids"]),
        last_month=pd.Timestamp(monthly["month"].max()),
        grid_ids=frozenset(tables["grids"]["grid_id"].astype(str)),
    )


@pytest.fixture(scope="module")
def december(tiny_county: Path) -> pd.DataFrame:
    from features.tables import load_county

    monthly = load_county(tiny_county).grid_monthly
    return monthly[monthly["month"] == monthly["month"].max()].set_index("grid_id", drop=False)


def report(december: pd.DataFrame, grid: str, month: pd.Timestamp, sid: str, **changes: Any) -> dict[str, Any]:
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in december.loc[grid].to_dict().items()}
    return {**row, "month": month.date().isoformat(), "submission_id": sid, **changes}


def one(store: Any, cache: IntakeCache, record: dict[str, Any], **kw: Any) -> Any:
    return ingest_record(
        store, record, who="chief", role="reporter", source="api", cache=cache, latest_month=LATEST, **kw
    )


def test_the_record_path_and_the_frame_path_keep_refuse_and_flag_alike(
    make_county_store: Any, december: pd.DataFrame
) -> None:
    records = [
        report(december, "G001", JANUARY, "same-1"),
        report(december, "G002", JANUARY, "same-2", yak=int(december.at["G002", "yak"]) * 10, mediations=5),
        {**report(december, "G003", JANUARY, "same-3", sheep=-4), "month": "2020-01-15"},
        report(december, "G004", JANUARY, "bad id!"),
        report(december, "G005", JANUARY, "same-5"),  # not this chief's grid
    ]
    allowed = {"G001", "G002", "G003", "G004"}
    by_frame, by_record = make_county_store(), make_county_store()
    cache = IntakeCache(county_of(by_record), by_record)
    framed = ingest_reports(
        by_frame,
        pd.DataFrame(records, index=pd.RangeIndex(1, 6)),
        who="chief",
        role="reporter",
        source="api",
        known_grids=cache.county.grid_ids,
        latest_month=LATEST,
        history=cache.history(),
        allowed_grids=allowed,
        lang="en",
    )
    singles = [one(by_record, cache, r, allowed_grids=allowed, lang="en", row=i) for i, r in enumerate(records, 1)]
    assert [r for s in singles for r in s.rows] == framed.rows
    by_place = lambda p: (p["row"], p["field"], p["rule_id"])  # noqa: E731  (the frame lists rule by rule)
    assert sorted((p for s in singles for p in s.refused), key=by_place) == sorted(framed.refused, key=by_place)
    assert [f for s in singles for f in s.flags] == framed.flags
    assert {f["rule_id"] for f in framed.flags} == {"outlier", "herd_balance", "mediations_disputes"}
    assert {p["rule_id"] for p in framed.refused} == {"min", "month_not_first", "submission_id", "not_your_grid"}
    columns = ["grid_id", "field", "rule", "value", "detail", "submission_id"]
    stored = [s.flags(JANUARY)[columns].sort_values(columns).reset_index(drop=True) for s in (by_frame, by_record)]
    pd.testing.assert_frame_equal(*stored)


def test_a_report_and_its_flags_are_kept_once(make_county_store: Any, december: pd.DataFrame) -> None:
    store = make_county_store()
    cache = IntakeCache(county_of(store), store)
    typo = report(december, "G001", JANUARY, "typo-0001", yak=int(december.at["G001", "yak"]) * 10)
    first = one(store, cache, typo)
    again = one(store, cache, typo)
    assert first.rows[0]["outcome"] == "inserted" and again.rows[0]["outcome"] == "duplicate"
    flags = store.flags(JANUARY)
    assert len(flags) == len(first.flags) > 0 and set(flags["submission_id"]) == {"typo-0001"}


def test_a_written_month_is_the_next_months_history_in_memory_and_after_a_restart(
    make_county_store: Any, december: pd.DataFrame
) -> None:
    store = make_county_store()
    cache = IntakeCache(county_of(store), store)
    herd = {s: int(december.at["G001", s]) for s in ("yak", "sheep", "goat", "horse")}
    one(store, cache, report(december, "G001", FEBRUARY, "feb-0001"))  # February's context is built now
    one(store, cache, report(december, "G001", JANUARY, "jan-0001", yak=herd["yak"] + 300))
    for fresh in (cache, IntakeCache(county_of(store), store)):  # as kept, and read again from the store
        assert fresh.context("G001", FEBRUARY).herd_before[0] == sum(herd.values()) + 300
        assert JANUARY in set(pd.to_datetime(fresh.history(["G001"])["month"]))


def test_a_move_shared_by_the_months_grids_is_not_an_outlier_once_enough_grids_reported(
    make_county_store: Any, december: pd.DataFrame
) -> None:
    """A snowstorm: every grid reports five times its usual deaths. The first 19 reports stand out; from the
    20th grid on, the month's shared move explains most of them."""
    store = make_county_store()
    cache = IntakeCache(county_of(store), store)
    flagged = []
    for i, grid in enumerate(sorted(december.index)[:30]):
        deaths = max(int(december.at[grid, "deaths"]), 3) * 5
        result = one(store, cache, report(december, grid, JANUARY, f"storm-{i:04d}", deaths=deaths))
        flagged.append(any(f["field"] == "deaths" and f["rule_id"] == "outlier" for f in result.flags))
    assert all(flagged[:19]) and sum(flagged[19:]) <= 4  # left: the grids far from the shared move too
