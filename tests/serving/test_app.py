"""Bad input never reaches a model: each case is a 4xx that names the field, never a 500 or a traceback."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.deps import AppState
from serving.routes import system

OK_RECORD = {"age": 40, "sex": "male"}


def records(*items: dict[str, Any]) -> dict[str, Any]:
    return {"records": list(items)}


def csv_file(text: str | bytes) -> dict[str, Any]:
    return {"files": {"file": ("checks.csv", text.encode() if isinstance(text, str) else text, "text/csv")}}


def raw_json(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


# id -> (role, method, path, request keyword arguments, expected status, text the answer must contain)
CASES: dict[str, tuple[str, str, str, dict[str, Any], int, str]] = {
    "unknown-grid": ("planner", "GET", "/v1/grazing/assessment/G999", {}, 404, "grid_id"),
    "unknown-grid-dispute": ("planner", "GET", "/v1/dispute/risk/G0999", {}, 404, "grid_id"),
    "grid-id-pattern": ("planner", "GET", "/v1/grazing/assessment/x1;drop", {}, 422, "grid_id"),
    "grid-id-pattern-dispute": ("planner", "GET", "/v1/dispute/risk/G1", {}, 422, "grid_id"),
    "unknown-grid-in-batch": (
        "planner",
        "POST",
        "/v1/dispute/batch",
        {"json": {"grid_ids": ["G001", "G998"]}},
        404,
        "G998",
    ),
    "unknown-township": ("planner", "GET", "/v1/market/forecast?township_id=T99", {}, 404, "township_id"),
    "unknown-township-history": ("planner", "GET", "/v1/market/history?township_id=T98", {}, 404, "township_id"),
    "unknown-township-watchlist": ("planner", "GET", "/v1/dispute/watchlist?township_id=T97", {}, 404, "township_id"),
    "township-pattern": ("planner", "GET", "/v1/market/forecast?township_id=township1", {}, 422, "township_id"),
    "missing-township": ("planner", "GET", "/v1/market/forecast", {}, 422, "township_id"),
    "bad-species": ("planner", "GET", "/v1/market/forecast?township_id=T01&species=llama", {}, 422, "species"),
    "bad-season": ("planner", "GET", "/v1/grazing/assessment/G001?season=summer", {}, 422, "season"),
    "bad-season-plan": ("planner", "GET", "/v1/grazing/rotation-plan?season=spring", {}, 422, "season"),
    "bad-lang": ("planner", "GET", "/v1/dispute/risk/G001?lang=fr", {}, 422, "lang"),
    "negative-top": ("planner", "GET", "/v1/dispute/watchlist?top=-1", {}, 422, "top"),
    "zero-top": ("planner", "GET", "/v1/dispute/watchlist?top=0", {}, 422, "top"),
    "text-top": ("planner", "GET", "/v1/dispute/watchlist?top=ten", {}, 422, "top"),
    "history-months-too-many": ("planner", "GET", "/v1/market/history?township_id=T01&months=9999", {}, 422, "months"),
    "what-if-yak-string": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "add_head": {"yak": "5"}}},
        422,
        "add_head.yak",
    ),
    "what-if-yak-float": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "add_head": {"yak": 5.5}}},
        422,
        "add_head.yak",
    ),
    "what-if-yak-bool": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "add_head": {"yak": True}}},
        422,
        "add_head.yak",
    ),
    "what-if-yak-huge": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "add_head": {"yak": 10**9}}},
        422,
        "add_head.yak",
    ),
    "what-if-unknown-species": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "add_head": {"camel": 3}}},
        422,
        "add_head.camel",
    ),
    "what-if-rest-string": (
        "planner",
        "POST",
        "/v1/grazing/what-if",
        {"json": {"grid_id": "G001", "rest": "yes"}},
        422,
        "rest",
    ),
    "what-if-unknown-grid": ("planner", "POST", "/v1/grazing/what-if", {"json": {"grid_id": "G999"}}, 404, "grid_id"),
    "what-if-missing-grid": ("planner", "POST", "/v1/grazing/what-if", {"json": {"season": "warm"}}, 422, "grid_id"),
    "grazing-batch-empty": ("planner", "POST", "/v1/grazing/batch", {"json": {"items": []}}, 422, "items"),
    "disease-negative-age": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({"age": -1, "sex": "male"})},
        422,
        "records.0.age",
    ),
    "disease-age-500": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({"age": 500, "sex": "male"})},
        422,
        "records.0.age",
    ),
    "disease-age-nan": (
        "health",
        "POST",
        "/v1/disease/score",
        raw_json('{"records":[{"age": NaN, "sex": "male"}]}'),
        422,
        "records.0.age",
    ),
    "disease-age-infinity": (
        "health",
        "POST",
        "/v1/disease/score",
        raw_json('{"records":[{"age": Infinity, "sex": "male"}]}'),
        422,
        "records.0.age",
    ),
    "disease-bmi-nan": (
        "health",
        "POST",
        "/v1/disease/score",
        raw_json('{"records":[{"age": 30, "sex": "male", "bmi": NaN}]}'),
        422,
        "records.0.bmi",
    ),
    "disease-bmi-minus-infinity": (
        "health",
        "POST",
        "/v1/disease/score",
        raw_json('{"records":[{"age": 30, "sex": "male", "bmi": -Infinity}]}'),
        422,
        "records.0.bmi",
    ),
    "disease-unknown-sex": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({"age": 30, "sex": "x"})},
        422,
        "records.0.sex",
    ),
    "disease-unknown-water": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({**OK_RECORD, "water_source": "bottled"})},
        422,
        "records.0.water_source",
    ),
    "disease-extra-field": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({**OK_RECORD, "patient_name": "Dorje"})},
        422,
        "records.0.patient_name",
    ),
    "disease-missing-age": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({"sex": "female"})},
        422,
        "records.0.age",
    ),
    "disease-age-as-text": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({"age": "40", "sex": "male"})},
        422,
        "records.0.age",
    ),
    "disease-flag-as-text": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({**OK_RECORD, "raw_milk": "yes"})},
        422,
        "records.0.raw_milk",
    ),
    "disease-flag-as-number": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({**OK_RECORD, "raw_milk": 1})},
        422,
        "records.0.raw_milk",
    ),
    "disease-records-not-a-list": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": {"records": OK_RECORD}},
        422,
        "records",
    ),
    "disease-record-not-an-object": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": {"records": [40]}},
        422,
        "records.0",
    ),
    "disease-body-is-a-list": ("health", "POST", "/v1/disease/score", {"json": [OK_RECORD]}, 422, "body"),
    "disease-empty-records": ("health", "POST", "/v1/disease/score", {"json": {"records": []}}, 422, "records"),
    "disease-bad-ref": (
        "health",
        "POST",
        "/v1/disease/score",
        {"json": records({**OK_RECORD, "ref": "<script>"})},
        422,
        "records.0.ref",
    ),
    "malformed-json": (
        "health",
        "POST",
        "/v1/disease/score",
        raw_json('{"records": [{"age": 40,'),
        400,
        "malformed JSON",
    ),
    "malformed-json-grazing": ("planner", "POST", "/v1/grazing/batch", raw_json("{items: [}"), 400, "malformed JSON"),
    "csv-not-utf8": (
        "health",
        "POST",
        "/v1/disease/score-csv",
        csv_file(b"age,sex\n\xff\xfe40,m\xe4le\n"),
        422,
        "file",
    ),
    "csv-ragged-rows": ("health", "POST", "/v1/disease/score-csv", csv_file("age,sex\n40,male,1,2\n"), 422, "file"),
    "csv-empty": ("health", "POST", "/v1/disease/score-csv", csv_file(""), 422, "file"),
    "csv-header-only": ("health", "POST", "/v1/disease/score-csv", csv_file("age,sex\n"), 422, "file"),
    "csv-unknown-column": (
        "health",
        "POST",
        "/v1/disease/score-csv",
        csv_file("age,sex,name\n40,male,Dorje\n"),
        422,
        "name",
    ),
    "csv-formula-in-category": (
        "health",
        "POST",
        "/v1/disease/score-csv",
        csv_file("age,sex,occupation\n40,male,=cmd|' /C calc'!A0\n"),
        422,
        "occupation",
    ),
    "csv-formula-in-number": ("health", "POST", "/v1/disease/score-csv", csv_file("age,sex\n=1+2,male\n"), 422, "age"),
    "csv-formula-in-ref": (
        "health",
        "POST",
        "/v1/disease/score-csv",
        csv_file('ref,age,sex\n"=HYPERLINK(""http://x"")",40,male\n'),
        422,
        "ref",
    ),
    "csv-bad-flag": (
        "health",
        "POST",
        "/v1/disease/score-csv",
        csv_file("age,sex,raw_milk\n40,male,maybe\n"),
        422,
        "raw_milk",
    ),
    "csv-age-out-of-range": ("health", "POST", "/v1/disease/score-csv", csv_file("age,sex\n500,male\n"), 422, "age"),
    "csv-no-file": ("health", "POST", "/v1/disease/score-csv", {}, 422, "file"),
}


@pytest.mark.parametrize(("role", "method", "path", "kwargs", "status", "mention"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient,
    auth: Any,
    role: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    mention: str,
) -> None:
    headers = {**auth(role), **kwargs.get("headers", {})}

    response = client.request(method, path, **{**kwargs, "headers": headers})

    assert response.status_code == status, response.text
    assert mention in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_validation_error_lists_field_rule_and_type_for_each_problem(client: TestClient, auth: Any) -> None:
    body = records({"age": -1, "sex": "x"}, OK_RECORD, {"sex": "male", "bmi": 199.0})

    response = client.post("/v1/disease/score", json=body, headers=auth("health"))

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {d["field"] for d in detail} == {"records.0.age", "records.0.sex", "records.2.age", "records.2.bmi"}
    assert all(d["rule"] and d["type"] for d in detail)


def test_validation_error_does_not_echo_the_submitted_values(client: TestClient, auth: Any) -> None:
    """A 422 on a person's record must not copy the record into the answer (or into any log that keeps it)."""
    body = records({"age": 430, "sex": "male", "ref": "echo-check-91", "bmi": 77.7})

    response = client.post("/v1/disease/score", json=body, headers=auth("health"))

    assert response.status_code == 422
    assert "430" not in response.text and "77.7" not in response.text


BATCHES: dict[str, tuple[str, str, Any]] = {
    "grazing": ("planner", "/v1/grazing/batch", lambda n: {"items": [{"grid_id": "G001"}] * n}),
    "market": ("planner", "/v1/market/batch", lambda n: {"items": [{"township_id": "T01"}] * n}),
    "dispute": ("planner", "/v1/dispute/batch", lambda n: {"grid_ids": ["G001"] * n}),
    "disease": ("health", "/v1/disease/score", lambda n: records(*[OK_RECORD] * n)),
}


@pytest.mark.parametrize("family", BATCHES)
def test_batch_over_the_cap_is_413_naming_the_cap(client: TestClient, auth: Any, family: str) -> None:
    role, path, body = BATCHES[family]
    cap = client.app.state.muzhang.settings.batch_cap  # type: ignore[attr-defined]

    response = client.post(path, json=body(cap + 1), headers=auth(role))

    assert response.status_code == 413, response.text
    assert f"at most {cap}" in response.json()["detail"] and str(cap + 1) in response.json()["detail"]


@pytest.mark.parametrize("family", ["dispute", "disease"])
def test_batch_at_the_cap_is_accepted(client: TestClient, auth: Any, family: str) -> None:
    role, path, body = BATCHES[family]
    cap = client.app.state.muzhang.settings.batch_cap  # type: ignore[attr-defined]

    response = client.post(path, json=body(cap), headers=auth(role))

    assert response.status_code == 200, response.text


def test_csv_over_the_cap_is_413(client: TestClient, auth: Any) -> None:
    cap = client.app.state.muzhang.settings.batch_cap  # type: ignore[attr-defined]
    text = "age,sex\n" + "40,male\n" * (cap + 1)

    response = client.post("/v1/disease/score-csv", headers=auth("health"), **csv_file(text))

    assert response.status_code == 413 and f"at most {cap}" in response.text


@pytest.mark.parametrize(("role", "path"), [("health", "/v1/disease/score"), ("planner", "/v1/dispute/batch")])
def test_body_larger_than_the_limit_is_413_before_parsing(client: TestClient, auth: Any, role: str, path: str) -> None:
    limit = client.app.state.muzhang.settings.max_body_bytes  # type: ignore[attr-defined]
    body = json.dumps({"records": [], "padding": "x" * limit})

    response = client.post(path, content=body, headers={**auth(role), "Content-Type": "application/json"})

    assert response.status_code == 413, response.text
    assert f"{limit:,} bytes" in response.json()["detail"]


def test_csv_upload_larger_than_the_limit_is_413(client: TestClient, auth: Any) -> None:
    limit = client.app.state.muzhang.settings.max_body_bytes  # type: ignore[attr-defined]

    response = client.post(
        "/v1/disease/score-csv", headers=auth("health"), **csv_file("age,sex\n" + "40,male\n" * (limit // 8 + 1))
    )

    assert response.status_code == 413, response.text


def test_csv_with_a_valid_batch_is_scored(client: TestClient, auth: Any) -> None:
    text = "ref,age,sex,raw_milk,bmi\nr1,40,male,yes,22.5\nr2,71,female,0,\nr3,5,male,,\n"

    response = client.post("/v1/disease/score-csv", headers=auth("health"), **csv_file(text))

    assert response.status_code == 200, response.text
    assert sorted(r["ref"] for r in response.json()["results"]) == ["r1", "r2", "r3"]


def test_chunked_body_larger_than_the_limit_is_refused(client: TestClient, auth: Any) -> None:
    limit = client.app.state.muzhang.settings.max_body_bytes  # type: ignore[attr-defined]
    body = json.dumps({"records": [{"age": 40, "sex": "male", "ref": "x" * 60}] * (limit // 50)}).encode()

    def chunks() -> Any:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = client.post(
        "/v1/disease/score", content=chunks(), headers={**auth("health"), "Content-Type": "application/json"}
    )

    assert response.status_code in (411, 413)
    assert "bytes" in response.json()["detail"]


# --- one rule for whole numbers (issue 14, item 18) ----------------------------------------------------
def test_head_counts_take_a_whole_float_like_patient_fields(client: TestClient, auth: Any) -> None:
    def what_if(yak: float) -> Any:
        body = {"grid_id": "G001", "add_head": {"yak": yak}}
        return client.post("/v1/grazing/what-if", json=body, headers=auth("planner"))

    as_int, as_float = what_if(5), what_if(5.0)

    assert as_float.status_code == 200, as_float.text
    assert as_float.json()["stocking_su"] == as_int.json()["stocking_su"]
    assert as_float.json()["overrides"] == as_int.json()["overrides"]


# --- duplicate JSON keys (item 13) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "path", "body", "key"),
    [
        ("health", "/v1/disease/score", '{"records": [{"age": 52, "age": 99, "sex": "male"}]}', "age"),
        ("planner", "/v1/dispute/batch", '{"grid_ids": ["G001"], "grid_ids": ["G002"]}', "grid_ids"),
        ("planner", "/v1/grazing/what-if", '{"grid_id": "G001", "add_head": {"yak": 1, "yak": 900}}', "yak"),
    ],
    ids=["disease-record", "top-level", "nested"],
)
def test_duplicate_json_key_is_400_naming_the_key(
    client: TestClient, auth: Any, role: str, path: str, body: str, key: str
) -> None:
    response = client.post(path, content=body.encode(), headers={**auth(role), "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert f"key '{key}' appears twice" in response.json()["detail"]


def test_the_same_key_in_two_objects_is_no_duplicate(client: TestClient, auth: Any) -> None:
    body = '{"records": [{"age": 52, "sex": "male"}, {"age": 61, "sex": "female"}]}'

    response = client.post(
        "/v1/disease/score", content=body.encode(), headers={**auth("health"), "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text


# --- headers (item 14) ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "role", "status"),
    [
        ("GET", "/v1/models", "planner", 200),
        ("GET", "/v1/models", None, 401),
        ("GET", "/v1/dispute/risk/G999", "planner", 404),
        ("GET", "/healthz", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/no-such-thing", None, 404),
    ],
)
def test_api_answers_carry_nosniff_frame_protection_and_a_csp(
    client: TestClient, auth: Any, method: str, path: str, role: str | None, status: int
) -> None:
    response = client.request(method, path, headers=auth(role) if role else {})

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_too_large_answer_from_the_guard_carries_the_headers_too(client: TestClient, auth: Any) -> None:
    response = client.post("/v1/dispute/batch", content=b"{" + b" " * 70_000 + b"}", headers=auth("planner"))

    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_keeps_its_own_csp(client: TestClient) -> None:
    csp = client.get("/").headers["Content-Security-Policy"]

    assert "script-src 'self'" in csp and csp.count("default-src") == 1  # its own, not the API's added


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_results_are_never_cached(client: TestClient, path: str) -> None:
    assert client.get(path).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/v1/models/", "/healthz/", "/v1/dispute/watchlist/"])
def test_trailing_slash_is_no_redirect_to_the_callers_host(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


# --- probes and uploads off the event loop (item 11) ----------------------------------------------------
@pytest.mark.parametrize("probe", [system.healthz, system.readyz], ids=["healthz", "readyz"])
def test_probes_run_on_the_event_loop_not_in_the_thread_pool(probe: Any) -> None:
    assert inspect.iscoroutinefunction(probe), f"{probe.__name__} would wait for a free thread under load"


def test_healthz_answers_while_a_csv_upload_is_being_scored(
    serving_state: AppState, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload's parsing holds until /healthz has answered; parsed on the event loop, it would hold /healthz
    instead, until the stand-in gives up waiting (10 s) and reports that it was never released."""
    from serving.scoring import disease

    entered, released, outcome = threading.Event(), threading.Event(), {}
    parse = disease.parse_csv

    def slow_parse(content: bytes, cap: int, *added: Any) -> Any:
        entered.set()
        outcome["released"] = released.wait(timeout=10)
        return parse(content, cap, *added)

    monkeypatch.setattr(disease, "parse_csv", slow_parse)
    with TestClient(create_app(state=serving_state)) as own:
        upload = threading.Thread(
            target=lambda: outcome.setdefault(
                "upload",
                own.post(
                    "/v1/disease/score-csv",
                    files={"file": ("c.csv", b"age,sex\n40,male\n", "text/csv")},
                    headers=auth("health"),
                ).status_code,
            )
        )
        upload.start()
        assert entered.wait(timeout=30)
        health = own.get("/healthz")
        released.set()
        upload.join(timeout=60)

    assert health.status_code == 200
    assert outcome == {"released": True, "upload": 200}


# --- API docs from vendored files (item 12) -------------------------------------------------------------
SERVED_PAGES = ["/", "/docs", "/redoc", "/docs/oauth2-redirect"]


def asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"url:\s*'([^']+)'", html)


@pytest.mark.parametrize("path", SERVED_PAGES)
def test_served_pages_load_nothing_from_another_host(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    urls = asset_urls(response.text)
    elsewhere = [u for u in urls if u.startswith("//") or not (u.startswith("/") or u.startswith("data:"))]
    assert not elsewhere, elsewhere
    assert not re.search(r"cdn|googleapis|jsdelivr|unpkg", response.text, re.I)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_assets_are_served_by_the_app(client: TestClient, path: str) -> None:
    html = client.get(path).text
    assets = [u for u in asset_urls(html) if u.startswith("/docs/vendor/")]

    assert assets, "the page names no vendored asset"
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 500, url


def test_docs_csp_allows_only_the_pages_own_inline_script(client: TestClient) -> None:
    response = client.get("/docs")
    csp = response.headers["Content-Security-Policy"]
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()

    assert len(inline) == 1
    assert f"'sha256-{digest}'" in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "http" not in csp


def test_unknown_docs_asset_is_404(client: TestClient) -> None:
    assert client.get("/docs/vendor/..%2F..%2Fapp.py").status_code == 404
    assert client.get("/docs/vendor/LICENSE").status_code == 404


# --- compressed answers ---------------------------------------------------------------------------------
def test_large_answers_are_gzipped_for_a_client_that_asks(client: TestClient, auth: Any) -> None:
    plain = client.get("/v1/county/map", headers={**auth("planner"), "Accept-Encoding": "identity"})
    zipped = client.get("/v1/county/map", headers={**auth("planner"), "Accept-Encoding": "gzip"})

    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()  # the client decodes it: the same answer, fewer bytes on the wire
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.headers["X-Content-Type-Options"] == "nosniff"  # the security headers survive compression
