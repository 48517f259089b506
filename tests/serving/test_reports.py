"""Reports in: a herder chief's report and a township's file, checked, kept idempotently, months closed.

The app here reads a store of record holding the tiny county as its history (closed through 2019-12), with
the session's trained champions; a reporter key is bound to two grid areas.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from muzhang.settings import ApiKey
from serving.app import create_app
from serving.county import store_county_state
from serving.deps import AppState
from serving.observability import AuditLog, Metrics

REPORTER_KEY = "reporter-key-for-two-grids"
STAFF_ROLE = "planner"


@pytest.fixture(scope="module")
def store_state(
    serving_state: AppState, tiny_county: Path, make_county_store: Any, tmp_path_factory: pytest.TempPathFactory
) -> AppState:
    store = make_county_store()
    grids = sorted(serving_state.county.grid_ids)[:2]
    reporter = ApiKey(
        name="chief-1", role="reporter", sha256=hashlib.sha256(REPORTER_KEY.encode()).hexdigest(), grids=grids
    )
    return AppState(
        settings=serving_state.settings,
        registry=serving_state.registry,
        county=store_county_state(store, tiny_county),
        metrics=Metrics(),
        audit=AuditLog(tmp_path_factory.mktemp("reports-audit") / "a.jsonl"),
        keys=[*serving_state.keys, reporter],
        store=store,
    )


@pytest.fixture(scope="module")
def http(store_state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state=store_state), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def chief() -> dict[str, str]:
    return {"Authorization": f"Bearer {REPORTER_KEY}"}


def report_for(state: AppState, grid: str, month: str, submission_id: str, **changes: Any) -> dict[str, Any]:
    """A plausible report: the grid's last recorded month, moved to ``month``, with ``changes``."""
    monthly = state.county.tables.grid_monthly
    last = monthly[monthly["grid_id"] == grid].sort_values("month").iloc[-1]
    body = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in last.items()}
    body.update(month=month, submission_id=submission_id, **changes)
    return body


def test_a_chief_reports_a_new_month_and_resending_changes_nothing(
    http: TestClient, store_state: AppState, chief: dict[str, str]
) -> None:
    grid = sorted(store_state.keys[-1].grids)[0]
    body = report_for(store_state, grid, "2020-01-01", "dev1-2020-01-a")
    first = http.post("/v1/reports", json=body, headers=chief)
    assert first.status_code == 200, first.text
    assert [r["outcome"] for r in first.json()["rows"]] == ["inserted"] and not first.json()["refused"]
    again = http.post("/v1/reports", json=body, headers=chief)
    assert [r["outcome"] for r in again.json()["rows"]] == ["duplicate"]
    assert len(store_state.store.submissions("2020-01-01")) == 1


def test_a_correction_supersedes_and_is_audited(http: TestClient, store_state: AppState, chief: dict[str, str]) -> None:
    grid = sorted(store_state.keys[-1].grids)[1]
    http.post("/v1/reports", json=report_for(store_state, grid, "2020-01-01", "dev1-2020-01-b"), headers=chief)
    sent = report_for(store_state, grid, "2020-01-01", "dev1-2020-01-b-fix")
    fixed = {**sent, "disputes": sent["disputes"] + 2, "mediations": sent["mediations"] + 1}
    answer = http.post("/v1/reports", json=fixed, headers=chief).json()
    assert answer["rows"][0]["outcome"] == "updated"
    assert set(answer["rows"][0]["changed_fields"]) == {"disputes", "mediations"}
    history = store_state.store.value_history(grid, "2020-01-01")
    changed = history[history["field"] == "disputes"]
    assert changed["old_value"].iloc[-1] == str(sent["disputes"])
    assert changed["new_value"].iloc[-1] == str(fixed["disputes"]) and changed["changed_by"].iloc[-1] == "chief-1"


def test_a_chief_may_not_report_another_grid(http: TestClient, store_state: AppState, chief: dict[str, str]) -> None:
    other = sorted(store_state.county.grid_ids - set(store_state.keys[-1].grids))[0]
    response = http.post("/v1/reports", json=report_for(store_state, other, "2020-01-01", "dev1-other"), headers=chief)
    assert response.status_code == 403 and other in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/v1/grazing/assessment/G001", "/v1/dispute/watchlist", "/v1/models", "/v1/data-quality"]
)
def test_a_reporter_key_reads_nothing_else(http: TestClient, chief: dict[str, str], path: str) -> None:
    assert http.get(path, headers=chief).status_code == 403


def test_hard_rules_refuse_the_row_naming_field_value_and_rule_in_the_requested_language(
    http: TestClient, store_state: AppState, chief: dict[str, str]
) -> None:
    grid = sorted(store_state.keys[-1].grids)[0]
    bad = report_for(store_state, grid, "2020-02-01", "dev1-2020-02-bad", yak=-5)
    answer = http.post("/v1/reports?lang=en", json=bad, headers=chief).json()
    assert answer["rows"] == []
    (problem,) = [p for p in answer["refused"] if p["field"] == "yak"]
    assert problem["value"] == "-5" and problem["rule"]
    zh = http.post("/v1/reports?lang=zh", json={**bad, "submission_id": "dev1-2020-02-bad2"}, headers=chief).json()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["refused"][0]["rule"])


def test_an_upload_keeps_the_good_rows_and_refuses_the_bad_ones(
    http: TestClient, store_state: AppState, auth: Any
) -> None:
    grids = sorted(store_state.county.grid_ids)[2:5]
    rows = [report_for(store_state, g, "2020-01-01", f"town-{g}-2020-01") for g in grids]
    rows[1]["sheep"] = "many"
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    files = {"file": ("township.csv", buffer.getvalue().encode(), "text/csv")}
    answer = http.post("/v1/reports/upload?lang=en", files=files, headers=auth(STAFF_ROLE)).json()
    assert sorted(r["grid_id"] for r in answer["rows"]) == sorted([grids[0], grids[2]])
    assert [(p["row"], p["field"], p["value"]) for p in answer["refused"]] == [(3, "sheep", "many")]


def test_closing_a_month_carries_the_missing_reports_and_moves_every_answer(
    http: TestClient, store_state: AppState, auth: Any
) -> None:
    grids = sorted(store_state.county.grid_ids)
    silent = grids[-2:]  # these two never report January
    rows = [report_for(store_state, g, "2020-01-01", f"close-{g}-2020-01") for g in grids if g not in silent]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    files = {"file": ("all.csv", buffer.getvalue().encode(), "text/csv")}
    assert http.post("/v1/reports/upload", files=files, headers=auth(STAFF_ROLE)).status_code == 200
    before = http.get("/v1/dispute/risk/G001", headers=auth(STAFF_ROLE)).json()["month"]
    early = http.post("/v1/months/2020-02/close", headers=auth(STAFF_ROLE))
    assert early.status_code == 409 and "2020-01" in early.json()["detail"]  # months close in order
    closed = http.post("/v1/months/2020-01/close", headers=auth(STAFF_ROLE))
    assert closed.status_code == 200, closed.text
    assert closed.json()["as_of"] == "2020-01-01" and closed.json()["carried_grids"] == silent
    again = http.post("/v1/months/2020-01/close", headers=auth(STAFF_ROLE)).json()
    assert again["closed"] is False and again["carried_grids"] == []
    after = http.get("/v1/dispute/risk/G001", headers=auth(STAFF_ROLE)).json()
    assert (before, after["month"]) == ("2020-01-01", "2020-02-01") and after["carried_months"] == []
    carried = http.get(f"/v1/dispute/risk/{silent[0]}", headers=auth(STAFF_ROLE)).json()
    assert carried["carried_months"] == ["2020-01-01"]
    grazing = http.get(f"/v1/grazing/assessment/{silent[0]}", headers=auth(STAFF_ROLE)).json()
    assert grazing["carried_months"] == ["2020-01-01"] and grazing["as_of_month"] == "2020-01-01"
    quality = http.get("/v1/data-quality?month=2020-01", headers=auth(STAFF_ROLE)).json()
    assert quality["county"]["expected"] == len(grids)
    assert quality["county"]["received"] == len(grids) - 2 and sorted(quality["missing_grids"]) == silent
    assert {(f["grid_id"], f["rule"]) for f in quality["flags"]} >= {(g, "carried") for g in silent}
    # after the answer, the close kept the champions' forecasts of the next month (issue 11)
    import json

    from muzhang.store.forecasts import read_forecasts

    february = read_forecasts(store_state.store, "dispute", target_from="2020-02-01", target_to="2020-02-01")
    assert sorted(json.loads(k)["grid_id"] for k in february["series_key"]) == grids


def test_a_flagged_value_is_kept_and_staff_confirm_it(
    http: TestClient, store_state: AppState, chief: dict[str, str], auth: Any
) -> None:
    grid = sorted(store_state.keys[-1].grids)[0]
    sent = report_for(store_state, grid, "2020-03-01", "dev1-2020-03-outlier")
    sent["mediations"] = sent["disputes"] + 2  # more mediations than disputes: kept, flagged
    answer = http.post("/v1/reports?lang=en", json=sent, headers=chief).json()
    assert answer["rows"][0]["outcome"] == "inserted"
    assert "mediations_disputes" in {f["rule_id"] for f in answer["flags"]}
    open_flags = http.get("/v1/data-quality?month=2020-03", headers=auth(STAFF_ROLE)).json()["flags"]
    (flag,) = [f for f in open_flags if f["rule"] == "mediations_disputes" and f["grid_id"] == grid]
    assert flag["status"] == "open"
    body = {"status": "confirmed", "reason": "two mediations for one dispute: checked by phone"}
    resolved = http.post(f"/v1/flags/{flag['id']}", json=body, headers=auth(STAFF_ROLE))
    assert resolved.status_code == 200 and resolved.json()["status"] == "confirmed"
    assert http.post("/v1/flags/999999", json=body, headers=auth(STAFF_ROLE)).status_code == 404
    assert http.post(f"/v1/flags/{flag['id']}", json=body, headers=chief).status_code == 403


def test_the_audit_trail_of_a_grid_month_is_readable_by_staff(
    http: TestClient, store_state: AppState, chief: dict[str, str], auth: Any
) -> None:
    grid = sorted(store_state.keys[-1].grids)[1]
    sent = report_for(store_state, grid, "2020-04-01", "dev1-2020-04")
    http.post("/v1/reports", json=sent, headers=chief)
    http.post("/v1/reports", json={**sent, "submission_id": "dev1-2020-04-fix", "yak": sent["yak"] + 1}, headers=chief)
    trail = http.get(f"/v1/reports/history/{grid}/2020-04", headers=auth(STAFF_ROLE))
    assert trail.status_code == 200
    (change,) = [c for c in trail.json() if c["field"] == "yak"]
    assert (change["old_value"], change["new_value"]) == (str(sent["yak"]), str(sent["yak"] + 1))
    assert change["changed_by"] == "chief-1" and change["submission_id"] == "dev1-2020-04-fix"
    assert http.get(f"/v1/reports/history/{grid}/2020-04", headers=chief).status_code == 403


def test_a_report_missing_a_required_item_is_refused_naming_it(
    http: TestClient, store_state: AppState, chief: dict[str, str]
) -> None:
    """Before: a 500 (the store refused the batch for a missing column)."""
    grid = sorted(store_state.keys[-1].grids)[0]
    body = report_for(store_state, grid, "2020-05-01", "dev1-2020-05-noyak")
    del body["yak"]
    response = http.post("/v1/reports?lang=en", json=body, headers=chief)
    assert response.status_code == 200, response.text
    assert [(p["field"], p["value"], p["rule_id"]) for p in response.json()["refused"]] == [("yak", "", "required")]


def test_an_unknown_item_is_refused_not_dropped(http: TestClient, store_state: AppState, chief: dict[str, str]) -> None:
    grid = sorted(store_state.keys[-1].grids)[0]
    body = {**report_for(store_state, grid, "2020-05-01", "dev1-2020-05-typo"), "yak_head": 5}
    response = http.post("/v1/reports", json=body, headers=chief)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "yak_head" and "Extra inputs are not permitted" in problem["rule"]
    assert store_state.store.submissions("2020-05-01").empty


def test_the_same_file_uploaded_twice_at_once_is_kept_once(http: TestClient, store_state: AppState, auth: Any) -> None:
    """Two staff upload one township file at the same moment: every report is inserted once, the rest are
    duplicates, nothing fails (the store serialises writers; the submission id decides)."""
    from concurrent.futures import ThreadPoolExecutor

    grids = sorted(store_state.county.grid_ids)[5:15]
    rows = [report_for(store_state, g, "2020-06-01", f"twice-{g}-2020-06") for g in grids]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    content = buffer.getvalue().encode()

    def upload(_: int) -> Any:
        files = {"file": ("same.csv", content, "text/csv")}
        return http.post("/v1/reports/upload", files=files, headers=auth(STAFF_ROLE))

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(upload, range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    outcomes = [r["outcome"] for a in answers for r in a.json()["rows"]]
    assert outcomes.count("inserted") == len(grids) and outcomes.count("duplicate") == len(grids)
    subs = store_state.store.submissions("2020-06-01")
    assert sorted(subs["grid_id"]) == grids


def test_completeness_and_timeliness_per_chief_and_a_chiefs_history(
    http: TestClient, store_state: AppState, chief: dict[str, str], auth: Any
) -> None:
    first, second = sorted(store_state.keys[-1].grids)
    sent = report_for(store_state, first, "2020-07-01", "dev1-2020-07")
    assert http.post("/v1/reports", json=sent, headers=chief).status_code == 200  # years after July 2020: late
    quality = http.get("/v1/data-quality?month=2020-07", headers=auth(STAFF_ROLE)).json()
    (mine,) = [c for c in quality["chiefs"] if c["key"] == "chief-1"]
    assert (mine["expected"], mine["received"], mine["on_time"], mine["late"]) == (2, 1, 0, 1)
    history = http.get("/v1/data-quality/chiefs/chief-1?months=2", headers=auth(STAFF_ROLE))
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["grids"] == [first, second] and [m["month"] for m in body["months"]][-1] == "2020-07-01"
    assert body["months"][-1]["received"] == 1 and "dev1-2020-07" in {s["submission_id"] for s in body["submissions"]}
    assert http.get("/v1/data-quality/chiefs/nobody", headers=auth(STAFF_ROLE)).status_code == 404
    assert http.get("/v1/data-quality/chiefs/chief-1", headers=chief).status_code == 403


def test_a_month_closed_by_itself_at_intake_answers_first_and_still_keeps_its_forecasts(
    serving_state: AppState,
    tiny_county: Path,
    make_county_store: Any,
    tmp_path: Path,
    auth: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The automatic close (close_at_completeness) runs the monitoring step after the answer, as the staff's
    close does: the close itself does not wait for it, and the next month's forecasts are logged all the same."""
    import json

    from muzhang.store.forecasts import read_forecasts
    from serving import months

    store = make_county_store()
    state = AppState(
        settings=serving_state.settings.model_copy(update={"close_at_completeness": 0.9}),
        registry=serving_state.registry,
        county=store_county_state(store, tiny_county),
        metrics=Metrics(),
        audit=AuditLog(tmp_path / "a.jsonl"),
        keys=serving_state.keys,
        store=store,
    )
    monitored_inside: list[bool] = []
    real_close = months.close_month

    def close_month(*args: Any, **kwargs: Any) -> Any:
        monitored_inside.append(kwargs.get("monitor", True))
        return real_close(*args, **kwargs)

    monkeypatch.setattr(months, "close_month", close_month)
    grids = sorted(state.county.grid_ids)
    rows = [report_for(state, g, "2020-01-01", f"auto-{g}-2020-01") for g in grids]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    with TestClient(create_app(state=state), raise_server_exceptions=False) as client:
        files = {"file": ("all.csv", buffer.getvalue().encode(), "text/csv")}
        answer = client.post("/v1/reports/upload", files=files, headers=auth(STAFF_ROLE))
    assert answer.status_code == 200, answer.text
    assert monitored_inside == [False]  # closed without waiting for the monitoring step
    assert store.last_closed_month() == pd.Timestamp("2020-01-01")
    february = read_forecasts(store, "dispute", target_from="2020-02-01", target_to="2020-02-01")
    assert sorted(json.loads(k)["grid_id"] for k in february["series_key"]) == grids
