"""The disease access log (who, when, route, rows, bands; never a person's data) and Prometheus metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# Values no other test sends: finding any of them in the log or the metrics would mean a record leaked.
PRIVATE_REF = "leak-check-7Q2Z"
PRIVATE_RECORD: dict[str, Any] = {
    "ref": PRIVATE_REF,
    "age": 73,
    "sex": "female",
    "township_id": "T03",
    "residence_altitude_m": 4387,
    "years_above_4500m": 29,
    "systolic_bp": 187,
    "diastolic_bp": 113,
    "heart_rate": 97,
    "spo2_pct": 81,
    "bmi": 31.7,
    "haemoglobin_g_dl": 21.3,
    "butter_tea_cups_day": 17,
}
# The township id is sent but not searched for: "T03" also occurs in a timestamp written at 03:xx.
PRIVATE_VALUES = [PRIVATE_REF, "4387", "187", "113", "31.7", "21.3"]
AUDIT_KEYS = {"ts", "who", "role", "route", "status", "rows", "bands"}
MIN_ROWS = 5  # the default audit_min_rows: band counts only for this many people or more


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_disease_request_appends_one_line_with_who_route_rows_and_bands(
    client: TestClient, auth: Any, audit_path: Path, patient_record: dict[str, Any]
) -> None:
    before = read_lines(audit_path)
    records = [PRIVATE_RECORD, patient_record] + [{"age": 12 + i, "sex": "male"} for i in range(MIN_ROWS - 2)]

    response = client.post("/v1/disease/score", json={"records": records}, headers=auth("health"))

    assert response.status_code == 200, response.text
    after = read_lines(audit_path)
    assert after[: len(before)] == before, "earlier lines were rewritten"
    assert len(after) == len(before) + 1
    entry = json.loads(after[-1])
    assert set(entry) == AUDIT_KEYS
    assert (entry["who"], entry["role"], entry["route"], entry["status"], entry["rows"]) == (
        "test-health",
        "health",
        "/v1/disease/score",
        200,
        MIN_ROWS,
    )
    expected: dict[str, dict[str, int]] = {}
    for result in response.json()["results"]:
        for risk in result["risks"]:
            counts = expected.setdefault(risk["condition"], {"low": 0, "medium": 0, "high": 0})
            counts[risk["band"]] += 1
    assert entry["bands"] == expected


def test_audit_log_holds_no_value_of_any_submitted_record(client: TestClient, auth: Any, audit_path: Path) -> None:
    response = client.post("/v1/disease/score", json={"records": [PRIVATE_RECORD]}, headers=auth("health"))

    assert response.status_code == 200
    text = audit_path.read_text(encoding="utf-8")
    leaked = [v for v in PRIVATE_VALUES if v in text]
    assert not leaked, f"audit log contains submitted values {leaked}"
    for line in text.splitlines():
        assert set(json.loads(line)) == AUDIT_KEYS


def test_csv_upload_is_audited_under_its_own_route(client: TestClient, auth: Any, audit_path: Path) -> None:
    before = len(read_lines(audit_path))
    csv = "ref,age,sex\na-1,30,male\na-2,61,female\n"

    response = client.post(
        "/v1/disease/score-csv", files={"file": ("c.csv", csv.encode(), "text/csv")}, headers=auth("health")
    )

    assert response.status_code == 200, response.text
    lines = read_lines(audit_path)
    assert len(lines) == before + 1
    entry = json.loads(lines[-1])
    assert (entry["route"], entry["rows"]) == ("/v1/disease/score-csv", 2)
    assert "a-1" not in lines[-1] and "a-2" not in lines[-1]


@pytest.mark.parametrize("rows", [1, MIN_ROWS - 1])
def test_fewer_people_than_the_minimum_are_audited_without_band_counts(
    client: TestClient, auth: Any, audit_path: Path, rows: int
) -> None:
    """One person's band counts are that person's bands: below ``audit_min_rows`` the line has none."""
    records = [{"age": 30 + i, "sex": "female"} for i in range(rows)]

    response = client.post("/v1/disease/score", json={"records": records}, headers=auth("health"))

    assert response.status_code == 200, response.text
    entry = json.loads(read_lines(audit_path)[-1])
    assert set(entry) == AUDIT_KEYS
    assert (entry["rows"], entry["bands"], entry["status"]) == (rows, None, 200)


def test_planner_requests_to_other_families_add_no_audit_line(client: TestClient, auth: Any, audit_path: Path) -> None:
    before = read_lines(audit_path)

    client.get("/v1/grazing/assessment/G001", headers=auth("planner"))
    client.get("/v1/dispute/watchlist", headers=auth("planner"))
    client.get("/v1/market/forecast", params={"township_id": "T01"}, headers=auth("planner"))
    client.get("/v1/models", headers=auth("planner"))
    client.get("/v1/dispute/risk/G001", headers={"Authorization": "Bearer not-a-key"})

    assert read_lines(audit_path) == before


REFUSED_RECORD = {"ref": PRIVATE_REF, "age": 187, "sex": "female", "bmi": 31.7}
# id -> (headers: a role, "unknown" or None for no key; request arguments; status; who is audited)
REFUSALS: dict[str, tuple[str | None, dict[str, Any], int, str]] = {
    "no-key": (None, {"json": {"records": [REFUSED_RECORD]}}, 401, "anonymous"),
    "unknown-key": ("unknown", {"json": {"records": [REFUSED_RECORD]}}, 401, "anonymous"),
    "wrong-role": ("planner", {"json": {"records": [REFUSED_RECORD]}}, 403, "test-planner"),
    "bad-value": ("health", {"json": {"records": [REFUSED_RECORD]}}, 422, "test-health"),
    "duplicate-key": ("health", {"content": b'{"records": [], "records": []}'}, 400, "anonymous"),
}


@pytest.mark.parametrize(("who", "kwargs", "status", "audited_as"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_disease_request_is_audited_as_an_attempt_without_its_values(
    client: TestClient,
    auth: Any,
    audit_path: Path,
    who: str | None,
    kwargs: dict[str, Any],
    status: int,
    audited_as: str,
) -> None:
    headers = {} if who is None else {"Authorization": "Bearer not-a-key"} if who == "unknown" else auth(who)
    before = read_lines(audit_path)

    response = client.post("/v1/disease/score", headers={**headers, "Content-Type": "application/json"}, **kwargs)

    assert response.status_code == status, response.text
    after = read_lines(audit_path)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    entry = json.loads(after[-1])
    assert set(entry) == AUDIT_KEYS
    assert (entry["who"], entry["route"], entry["status"], entry["rows"], entry["bands"]) == (
        audited_as,
        "/v1/disease/score",
        status,
        None,
        None,
    )
    assert not [v for v in (*PRIVATE_VALUES, "not-a-key") if v in after[-1]]


AUDIT_PATHS = ["/v1/audit", "/v1/audit/log", "/audit", "/v1/disease/audit", "/v1/disease/audit-log"]
NOT_ROUTES = [(m, p) for p in AUDIT_PATHS for m in ("POST", "PUT", "PATCH", "DELETE", "GET")] + [
    (m, "/v1/disease/score") for m in ("PUT", "PATCH", "DELETE", "GET")
]


@pytest.mark.parametrize(("method", "path"), NOT_ROUTES)
def test_audit_log_cannot_be_written_or_read_through_the_api(
    client: TestClient, auth: Any, audit_path: Path, method: str, path: str
) -> None:
    before = read_lines(audit_path)

    response = client.request(method, path, json={"who": "intruder", "rows": 1}, headers=auth("admin"))

    assert response.status_code in (404, 405), response.text
    assert read_lines(audit_path) == before


def test_no_route_mentions_the_audit_log(client: TestClient) -> None:
    paths = list(client.app.openapi()["paths"])  # type: ignore[attr-defined]

    assert "/v1/disease/score" in paths
    assert not [p for p in paths if "audit" in p.lower()]


@pytest.fixture(scope="module")
def metrics_text(client: TestClient, auth: Any) -> str:
    """/metrics after one request of each family (and one refused), read once."""
    client.get("/v1/grazing/assessment/G001", headers=auth("planner"))
    client.get("/v1/market/forecast", params={"township_id": "T01"}, headers=auth("planner"))
    client.get("/v1/dispute/risk/G001", headers=auth("planner"))
    client.get("/v1/dispute/risk/G001", headers=auth("health"))
    client.post("/v1/disease/score", json={"records": [PRIVATE_RECORD]}, headers=auth("health"))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.mark.parametrize(
    ("family", "route"),
    [
        ("grazing", "/v1/grazing/assessment/{grid_id}"),
        ("market", "/v1/market/forecast"),
        ("dispute", "/v1/dispute/risk/{grid_id}"),
        ("disease", "/v1/disease/score"),
    ],
)
def test_metrics_count_requests_and_explanation_time_per_family(metrics_text: str, family: str, route: str) -> None:
    assert re.search(
        rf'^muzhang_requests_total\{{family="{family}",route="{re.escape(route)}",status="200"\}} [1-9]',
        metrics_text,
        re.M,
    )
    assert re.search(rf'^muzhang_explanation_seconds_count\{{family="{family}"\}} [1-9]', metrics_text, re.M)
    assert re.search(rf'^muzhang_rows_scored_total\{{family="{family}"\}} [1-9]', metrics_text, re.M)


def test_metrics_count_refusals_as_errors(metrics_text: str) -> None:
    assert re.search(
        r'^muzhang_errors_total\{family="dispute",route="/v1/dispute/risk/\{grid_id\}",status="403"\} [1-9]',
        metrics_text,
        re.M,
    )


def test_metrics_hold_route_templates_and_no_personal_values(metrics_text: str) -> None:
    routes = set(re.findall(r'route="([^"]*)"', metrics_text))
    labels = set(re.findall(r'="([^"]*)"', metrics_text))

    assert routes and all(r.startswith("/") or r == "unmatched" for r in routes)
    assert not [r for r in routes if re.search(r"G\d{3}", r)], f"concrete ids used as labels: {routes}"
    # Sample values are floats that may contain any digits; labels and the reference must not.
    leaked = [v for v in PRIVATE_VALUES if any(v in label for label in labels)]
    assert not leaked and PRIVATE_REF not in metrics_text, f"metrics labels contain {leaked}"
