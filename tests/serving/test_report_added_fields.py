"""Monthly reports carry the fields a catalog extension added to grid_monthly (issue 13).

The county store here holds the tiny county imported with ``herder_meetings`` (a grid-month count, hard limits
0-50, plausible up to 20) and the value 2 in every month. A chief's JSON report gives it in ``measurements``,
a township's file as a column; a bad value or an unknown name stores nothing; a carried month carries it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.tables import load_county
from muzhang.catalog import extend_catalog, load_catalog
from muzhang.settings import ApiKey
from muzhang.store import dispose_engine, open_store
from serving.app import create_app
from serving.county import store_county_state
from serving.deps import AppState
from serving.observability import AuditLog, Metrics

FIELD = "herder_meetings"
MEETINGS = {
    "name": FIELD,
    "zh": "牧户会议次数",
    "display": "Herder meetings",
    "type": "integer",
    "unit": "meetings",
    "min": 0,
    "max": 50,
    "plausible_max": 20,
    "nullable": True,
    "tables": ["grid_monthly"],
    "families": ["dispute"],
}
CHIEF_KEY = "reporter-key-with-added-fields"
STAFF = "planner"
JANUARY = "2020-01-01"  # the tiny county ends in 2019-12


@pytest.fixture(scope="module")
def make_state(
    serving_state: AppState, tiny_county: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], AppState]]:
    """``make_state()``: an app state over a store of its own holding the tiny county with ``herder_meetings``."""
    county = load_county(tiny_county)
    frames = {f.name: getattr(county, f.name) for f in fields(county)}
    frames["grid_monthly"] = frames["grid_monthly"].assign(**{FIELD: 2})
    catalog = extend_catalog(load_catalog(), {"fields": [MEETINGS]})
    urls: list[str] = []

    def make() -> AppState:
        url = f"sqlite:///{tmp_path_factory.mktemp('added-reports') / 'county.db'}"
        urls.append(url)
        store = open_store(url)
        store.import_tables(frames, who="analyst", source="byod", catalog=catalog)
        grids = sorted(serving_state.county.grid_ids)[:2]
        chief = ApiKey(
            name="chief-a", role="reporter", sha256=hashlib.sha256(CHIEF_KEY.encode()).hexdigest(), grids=grids
        )
        return AppState(
            settings=serving_state.settings,
            registry=serving_state.registry,
            county=store_county_state(store, tiny_county),
            metrics=Metrics(),
            audit=AuditLog(tmp_path_factory.mktemp("added-audit") / "a.jsonl"),
            keys=[*serving_state.keys, chief],
            store=store,
        )

    yield make
    for url in urls:
        dispose_engine(url)


@pytest.fixture(scope="module")
def state(make_state: Callable[[], AppState]) -> AppState:
    return make_state()


@pytest.fixture(scope="module")
def http(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state=state), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def chief() -> dict[str, str]:
    return {"Authorization": f"Bearer {CHIEF_KEY}"}


def report_for(state: AppState, grid: str, month: str, submission_id: str) -> dict[str, Any]:
    """The grid's last recorded month moved to ``month`` (catalog items only)."""
    monthly = state.county.tables.grid_monthly
    last = monthly[monthly["grid_id"] == grid].sort_values("month").iloc[-1].drop(FIELD)
    body = {str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in last.items()}
    return {**body, "month": month, "submission_id": submission_id}


def stored_value(state: AppState, grid: str, month: str) -> Any:
    tables, catalog = state.store.read_county()
    monthly = tables["grid_monthly"]
    assert catalog.field(FIELD).max == 50
    row = monthly[(monthly["grid_id"] == grid) & (pd.to_datetime(monthly["month"]) == pd.Timestamp(month))]
    return row[FIELD].iloc[0] if len(row) else "no row"


def test_a_json_report_with_an_added_value_round_trips_to_the_county(
    http: TestClient, state: AppState, chief: dict[str, str]
) -> None:
    grid = sorted(state.keys[-1].grids)[0]
    body = {**report_for(state, grid, JANUARY, "added-json-1"), "measurements": {FIELD: 7}}
    answer = http.post("/v1/reports?lang=en", json=body, headers=chief)
    assert answer.status_code == 200, answer.text
    assert [r["outcome"] for r in answer.json()["rows"]] == ["inserted"] and not answer.json()["refused"]
    assert stored_value(state, grid, JANUARY) == 7

    unusual = {**body, "submission_id": "added-json-2", "measurements": {FIELD: 30}}  # kept, flagged
    answer = http.post("/v1/reports?lang=en", json=unusual, headers=chief).json()
    assert answer["rows"][0]["outcome"] == "updated" and answer["rows"][0]["changed_fields"] == [FIELD]
    (flag,) = [f for f in answer["flags"] if f["field"] == FIELD]
    assert (flag["value"], flag["rule_id"]) == ("30", "plausible_range")
    assert flag["rule"] == "outside the plausible range ... to 20 meetings; kept, check the record"
    assert stored_value(state, grid, JANUARY) == 30
    trail = state.store.value_history(grid, JANUARY)
    assert trail.loc[trail["field"] == FIELD, ["old_value", "new_value", "submission_id"]].values.tolist() == [
        ["7", "30", "added-json-2"]
    ]


def test_a_bad_added_value_or_an_unknown_name_is_refused_by_name_and_nothing_is_stored(
    http: TestClient, state: AppState, chief: dict[str, str]
) -> None:
    grid = sorted(state.keys[-1].grids)[1]
    body = {**report_for(state, grid, JANUARY, "added-bad-1"), "measurements": {FIELD: 60}}
    answer = http.post("/v1/reports?lang=en", json=body, headers=chief)
    assert answer.status_code == 200 and answer.json()["rows"] == []
    assert [(p["row"], p["field"], p["value"], p["rule_id"], p["rule"]) for p in answer.json()["refused"]] == [
        (1, f"measurements.{FIELD}", "60", "max", "must be at most 50")
    ]
    typo = {**body, "submission_id": "added-bad-2", "measurements": {"herder_meeting": 3}}
    answer = http.post("/v1/reports?lang=en", json=typo, headers=chief)
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert (problem["row"], problem["field"], problem["value"]) == (1, "measurements.herder_meeting", "3")
    assert problem["rule"] == f"unknown added field: the county store keeps {FIELD}"
    assert state.store.submissions(JANUARY).query("grid_id == @grid").empty
    assert stored_value(state, grid, JANUARY) == "no row"


def test_an_upload_takes_the_added_column_and_refuses_a_bad_cell(http: TestClient, state: AppState, auth: Any) -> None:
    grids = sorted(state.county.grid_ids)[2:5]
    rows = [report_for(state, g, JANUARY, f"added-up-{g}") for g in grids]
    for row, value in zip(rows, ["3", "", "fifty"], strict=True):
        row[FIELD] = value
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    files = {"file": ("township.csv", buffer.getvalue().encode(), "text/csv")}
    answer = http.post("/v1/reports/upload?lang=en", files=files, headers=auth(STAFF))
    assert answer.status_code == 200, answer.text
    assert sorted(r["grid_id"] for r in answer.json()["rows"]) == grids[:2]
    assert [(p["row"], p["field"], p["value"], p["rule_id"]) for p in answer.json()["refused"]] == [
        (4, FIELD, "fifty", "type")
    ]
    assert stored_value(state, grids[0], JANUARY) == 3 and pd.isna(stored_value(state, grids[1], JANUARY))
    assert stored_value(state, grids[2], JANUARY) == "no row"
    other = pd.DataFrame([{**rows[0], "submission_id": "added-up-x", "meetings_typo": "1"}])
    files = {"file": ("typo.csv", other.to_csv(index=False).encode(), "text/csv")}
    refused = http.post("/v1/reports/upload?lang=en", files=files, headers=auth(STAFF))
    assert refused.status_code == 422 and "meetings_typo" in refused.text


def test_the_report_form_lists_the_added_field(http: TestClient, chief: dict[str, str]) -> None:
    form = http.get("/v1/reports/form", headers=chief).json()
    (entry,) = [f for f in form["fields"] if f["name"] == FIELD]
    assert (entry["added"], entry["required"], entry["max"], entry["unit"]) == (True, False, 50.0, "meetings")
    assert not any(f["added"] for f in form["fields"] if f["name"] != FIELD)


def test_a_carried_month_carries_the_added_value(make_state: Callable[[], AppState], auth: Any) -> None:
    state = make_state()
    grids = sorted(state.county.grid_ids)
    silent = grids[-1]
    rows = [{**report_for(state, g, JANUARY, f"carry-test-{g}"), FIELD: "5"} for g in grids if g != silent]
    with TestClient(create_app(state=state), raise_server_exceptions=False) as http:
        files = {"file": ("all.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv")}
        assert http.post("/v1/reports/upload", files=files, headers=auth(STAFF)).status_code == 200
        closed = http.post("/v1/months/2020-01/close", headers=auth(STAFF))
    assert closed.status_code == 200, closed.text
    assert closed.json()["carried_grids"] == [silent]
    assert stored_value(state, silent, JANUARY) == 2  # its December value, carried
    assert stored_value(state, grids[0], JANUARY) == 5
    assert (
        state.county.tables.grid_monthly.set_index(["grid_id", "month"]).at[(silent, pd.Timestamp(JANUARY)), FIELD] == 2
    )


def test_a_report_file_imported_offline_takes_the_added_column(
    make_state: Callable[[], AppState], tmp_path: Path
) -> None:
    """`muzhang data import FILE` of a month's reports (serving.reports.import_month_files): the same checks."""
    from serving.reports import import_month_files

    state = make_state()
    grids = sorted(state.county.grid_ids)[:2]
    rows = [
        {**report_for(state, g, JANUARY, f"file-{g}"), FIELD: value}
        for g, value in zip(grids, ["4", "-1"], strict=True)
    ]
    path = tmp_path / "reports.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    done = import_month_files(state.store, path, who="township", lang="en")
    assert done.reports is not None
    assert [r["grid_id"] for r in done.reports.rows] == [grids[0]]
    assert [(p["row"], p["field"], p["value"], p["rule_id"]) for p in done.reports.refused] == [(3, FIELD, "-1", "min")]
    assert stored_value(state, grids[0], JANUARY) == 4 and stored_value(state, grids[1], JANUARY) == "no row"
