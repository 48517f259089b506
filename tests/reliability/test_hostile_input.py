"""Hostile input: oversized, deeply nested, odd-character, formula and path-like values.

Every answer is a 4xx that names what is wrong (never a 500, never a traceback), oversized bodies are
cut off at ``max_body_bytes`` however they are sent, nothing hangs, no path-like id reaches the file
system, and ``muzhang predict`` writes no CSV cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import asyncio
import builtins
import csv
import io
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from muzhang.settings import Settings
from serving.app import create_app
from serving.deps import AppState
from serving.offline import FORMULA_START, OfflineInputError, neutralise_formulas, predict_file

DEPTH = 10_000
SECONDS = 10  # a request that takes longer than this is taken for a hang
RECORD = {"age": 40, "sex": "male"}


def check_clean(response: Any) -> None:
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text and 'File "' not in response.text


def names(response: Any, field: str) -> bool:
    """Whether a 4xx answer names ``field``: a problem's ``field`` (``path.``/``query.`` prefixes aside,
    a longer path below it allowed) or the start of its sentence (``grid_id: unknown ...``)."""
    detail = response.json()["detail"]
    named = [detail.split(":", 1)[0]] if isinstance(detail, str) else [str(d["field"]) for d in detail]
    bare = [n.removeprefix("path.").removeprefix("query.") for n in named]
    return any(n == field or n.startswith(field + ".") for n in bare)


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, or a failure if it has not returned after ``seconds``."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def csv_upload(rows: list[dict[str, str]]) -> dict[str, Any]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return {"files": {"file": ("checks.csv", out.getvalue().encode("utf-8"), "text/csv")}}


@pytest.fixture(scope="module")
def limit(serving_state: AppState) -> int:
    return serving_state.settings.max_body_bytes


# --- huge bodies ------------------------------------------------------------------------------------
def post_routes(client: TestClient) -> list[str]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(p for p, ops in paths.items() if "post" in ops)


ROLE_OF = {"/v1/disease/score": "health", "/v1/disease/score-csv": "health", "/v1/models/reload": "data_scientist"}
POST_ROUTES = [
    "/v1/disease/score",
    "/v1/disease/score-csv",
    "/v1/dispute/batch",
    "/v1/flags/{flag_id}",
    "/v1/grazing/batch",
    "/v1/grazing/what-if",
    "/v1/market/batch",
    "/v1/models/reload",
    "/v1/months/{month}/close",
    "/v1/reports",
    "/v1/reports/upload",
]
# Routes that read no body (reload, close) or refuse the path before reading one: no chunked case.
NO_BODY_READ = {"/v1/models/reload", "/v1/months/{month}/close", "/v1/flags/{flag_id}"}


def concrete(path: str) -> str:
    return path.replace("{month}", "2020-01").replace("{flag_id}", "1")


def test_post_routes_list_is_complete(client: TestClient) -> None:
    assert post_routes(client) == POST_ROUTES, "a new POST route: add it to POST_ROUTES (and ROLE_OF)"


BOUNDARY = "hostile-boundary"


def oversized(path: str, limit: int) -> tuple[bytes, str]:
    """A body over ``limit`` of the route's own kind (a CSV upload or JSON), and its content type."""
    if path.endswith(("score-csv", "upload")):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nage,sex\n'
        rows = b"40,male\n" * (limit // 8 + 1)
        return head.encode() + rows + f"\r\n--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"
    return json.dumps({"records": [RECORD], "padding": "x" * limit}).encode(), "application/json"


# Without a length header the size is only known once the body is read; a route that reads none never
# holds one, which leaves it out of the chunked cases.
CHUNKED = [(p, "chunked") for p in POST_ROUTES if p not in NO_BODY_READ]


@pytest.mark.parametrize(("path", "sent_as"), [(p, "content-length") for p in POST_ROUTES] + CHUNKED)
def test_body_over_the_limit_is_413(client: TestClient, auth: Any, limit: int, path: str, sent_as: str) -> None:
    body, content_type = oversized(path, limit)
    content: Any = body if sent_as == "content-length" else iter([body[: limit // 2], body[limit // 2 :]])
    headers = {**auth(ROLE_OF.get(path, "planner")), "Content-Type": content_type}

    response = client.post(concrete(path), content=content, headers=headers)

    check_clean(response)
    assert response.status_code == 413, response.text
    assert f"{limit:,} bytes" in response.json()["detail"]


def test_csv_file_over_the_limit_is_413(client: TestClient, auth: Any, limit: int) -> None:
    rows = [{"ref": f"r{i}", "age": "40", "sex": "male"} for i in range(limit // 10)]

    response = client.post("/v1/disease/score-csv", headers=auth("health"), **csv_upload(rows))

    check_clean(response)
    assert response.status_code == 413


def test_body_on_a_get_route_over_the_limit_is_413(client: TestClient, limit: int) -> None:
    response = client.request("GET", "/healthz", content=b"x" * (limit + 1))

    assert response.status_code == 413


@pytest.fixture(scope="module")
def raw_app(serving_state: AppState) -> Any:
    return create_app(state=serving_state)


async def send_raw(
    app: Any, method: str, raw_path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, str, str]:
    """One request straight into the ASGI app, as a server passes it on: the path exactly as sent (the
    test client would resolve '..' first) and the body in ``chunks`` (the test client sends one piece).

    Returns the status, the Location header ('' if none) and the body.
    """
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]).get(b"location", b"").decode(), body.decode("utf-8", "replace")


def call_raw(app: Any, method: str, raw_path: str, headers: dict[str, str], chunks: list[bytes] | None = None) -> Any:
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return within(SECONDS, lambda: asyncio.run(send_raw(app, method, raw_path, encoded, chunks or [])))


@pytest.mark.parametrize(
    "length",
    [None, "100", "abc", "-1", "99999999999999999999"],
    ids=["streamed-without-length", "length-lies-small", "length-not-a-number", "length-negative", "length-huge"],
)
def test_streamed_body_over_the_limit_is_413_whatever_its_length_header_says(
    raw_app: Any, auth: Any, limit: int, length: str | None
) -> None:
    headers = {**auth("planner"), "Content-Type": "application/json"}
    if length is not None:
        headers["Content-Length"] = length
    chunks = [b'{"grid_ids": ["G001"], "pad": "'] + [b"x" * 4096] * (limit // 4096 + 2) + [b'"}']

    status, _, body = call_raw(raw_app, "POST", "/v1/dispute/batch", headers, chunks)

    assert status == 413, body[:300]
    assert "Traceback" not in body


# --- deep nesting -----------------------------------------------------------------------------------
def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# id -> (role, path, body with NEST where the nested value goes, field the 422 names at a parseable depth)
NESTING: dict[str, tuple[str, str, str, str]] = {
    "disease-records": ("health", "/v1/disease/score", '{"records": NEST}', "records"),
    "disease-age": ("health", "/v1/disease/score", '{"records": [{"age": NEST, "sex": "male"}]}', "records.0.age"),
    "disease-ref": (
        "health",
        "/v1/disease/score",
        '{"records": [{"age": 40, "sex": "male", "ref": NEST}]}',
        "records.0.ref",
    ),
    "dispute-grid-ids": ("planner", "/v1/dispute/batch", '{"grid_ids": NEST}', "grid_ids"),
    "grazing-items": ("planner", "/v1/grazing/batch", '{"items": NEST}', "items"),
    "what-if-add-head": ("planner", "/v1/grazing/what-if", '{"grid_id": "G001", "add_head": NEST}', "add_head"),
    "market-item": ("planner", "/v1/market/batch", '{"items": [NEST]}', "items.0"),
}


@pytest.mark.parametrize("shape", [nested_list, nested_object], ids=["lists", "objects"])
@pytest.mark.parametrize("depth", [DEPTH, 200], ids=["deep", "parseable"])
@pytest.mark.parametrize(("role", "path", "template", "field"), NESTING.values(), ids=NESTING.keys())
def test_deeply_nested_json_is_a_quick_4xx(
    client: TestClient,
    auth: Any,
    limit: int,
    role: str,
    path: str,
    template: str,
    field: str,
    shape: Callable[[int], str],
    depth: int,
) -> None:
    body = template.replace("NEST", shape(depth))
    assert len(body) < limit, "the nesting must reach the parser, not the size limit"
    headers = {**auth(role), "Content-Type": "application/json"}

    response = within(SECONDS, lambda: client.post(path, content=body, headers=headers))

    check_clean(response)
    assert 400 <= response.status_code < 500
    if depth < DEPTH:  # a parseable body is refused by validation, naming the field
        assert response.status_code == 422
        assert names(response, field), response.text[:300]


# --- odd characters in string fields ----------------------------------------------------------------
ODD = {
    "nul": "\x00",
    "nul-after-id": "G001\x00",
    "rtl-override": "\u202eG001",
    "rtl-mark": "T01\u200f",
    "emoji": "G001\U0001f404",
    "crlf": "G001\r\nX-Injected: 1",
    "10kB": "G" + "1" * 10_000,
}
# id -> (role, method, path with VALUE, JSON body with VALUE or None, field the answer names)
ODD_FIELDS: dict[str, tuple[str, str, str, Any, str]] = {
    "grid-path-grazing": ("planner", "GET", "/v1/grazing/assessment/VALUE", None, "grid_id"),
    "grid-path-dispute": ("planner", "GET", "/v1/dispute/risk/VALUE", None, "grid_id"),
    "grid-what-if": ("planner", "POST", "/v1/grazing/what-if", {"grid_id": "VALUE"}, "grid_id"),
    "grid-grazing-batch": (
        "planner",
        "POST",
        "/v1/grazing/batch",
        {"items": [{"grid_id": "VALUE"}]},
        "items.0.grid_id",
    ),
    "grid-dispute-batch": ("planner", "POST", "/v1/dispute/batch", {"grid_ids": ["G001", "VALUE"]}, "grid_ids.1"),
    "township-forecast": ("planner", "GET", "/v1/market/forecast?township_id=VALUE", None, "township_id"),
    "township-watchlist": ("planner", "GET", "/v1/dispute/watchlist?township_id=VALUE", None, "township_id"),
    "township-market-batch": (
        "planner",
        "POST",
        "/v1/market/batch",
        {"items": [{"township_id": "VALUE"}]},
        "items.0.township_id",
    ),
    "patient-ref": ("health", "POST", "/v1/disease/score", {"records": [{**RECORD, "ref": "VALUE"}]}, "records.0.ref"),
    "patient-township": (
        "health",
        "POST",
        "/v1/disease/score",
        {"records": [{**RECORD, "township_id": "VALUE"}]},
        "records.0.township_id",
    ),
    "patient-occupation": (
        "health",
        "POST",
        "/v1/disease/score",
        {"records": [{**RECORD, "occupation": "VALUE"}]},
        "records.0.occupation",
    ),
}


def fill(template: Any, value: str) -> Any:
    if isinstance(template, str):
        return template.replace("VALUE", value)
    if isinstance(template, dict):
        return {k: fill(v, value) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, value) for v in template]
    return template


@pytest.mark.parametrize("value", ODD.values(), ids=ODD.keys())
@pytest.mark.parametrize(("role", "method", "path", "body", "field"), ODD_FIELDS.values(), ids=ODD_FIELDS.keys())
def test_odd_characters_in_a_string_field_are_a_4xx_naming_it(
    client: TestClient, auth: Any, role: str, method: str, path: str, body: Any, field: str, value: str
) -> None:
    url = path.replace("VALUE", quote(value, safe=""))

    response = client.request(method, url, json=fill(body, value), headers=auth(role))

    check_clean(response)
    assert response.status_code in (404, 422), response.text[:300]
    assert names(response, field), response.text[:300]


@pytest.mark.parametrize("value", ODD.values(), ids=ODD.keys())
@pytest.mark.parametrize("column", ["ref", "township_id", "occupation"])
def test_odd_characters_in_a_csv_cell_are_a_422_naming_the_column(
    client: TestClient, auth: Any, column: str, value: str
) -> None:
    rows = [{"age": "40", "sex": "male", column: value}]

    response = client.post("/v1/disease/score-csv", headers=auth("health"), **csv_upload(rows))

    check_clean(response)
    assert response.status_code == 422, response.text[:300]
    assert names(response, column), response.text[:300]


# --- formulas -------------------------------------------------------------------------------------
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "-2+3", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("column", ["ref", "age", "bmi", "occupation", "township_id", "raw_milk"])
def test_formula_in_a_csv_cell_is_a_422_naming_the_column(
    client: TestClient, auth: Any, column: str, formula: str
) -> None:
    rows = [{"age": "40", "sex": "male", column: formula}]

    response = client.post("/v1/disease/score-csv", headers=auth("health"), **csv_upload(rows))

    check_clean(response)
    assert response.status_code == 422, response.text[:300]
    assert names(response, column)


def test_neutralise_formulas_quotes_every_text_cell_a_spreadsheet_would_run() -> None:
    risky = ["=1+2", "+1", "-x", "@SUM(1)", "\tcmd", "\rcmd"]
    safe = ["plain", "", "'=quoted", " =spaced", "病人-1"]
    frame = pd.DataFrame(
        {
            "text": risky + safe,
            "strings": pd.array(risky + safe, dtype="string"),
            "numbers": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, -7.0, 8.0, 9.0, 10.0, -11.0],
        }
    )
    before = frame.copy()

    out = neutralise_formulas(frame)

    expected = ["'" + v for v in risky] + safe
    assert out["text"].tolist() == expected
    assert out["strings"].tolist() == expected
    assert out["numbers"].tolist() == frame["numbers"].tolist()
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone


def test_neutralise_formulas_leaves_missing_values_missing() -> None:
    out = neutralise_formulas(pd.DataFrame({"ref": ["-x", None]}, dtype=object))

    assert out["ref"].iloc[0] == "'-x" and pd.isna(out["ref"].iloc[1])


@pytest.fixture
def offline_settings(serving_settings: Settings, tmp_path: Path) -> Settings:
    return serving_settings.model_copy(update={"audit_log": tmp_path / "audit.jsonl"})


def test_predict_disease_quotes_a_ref_that_starts_like_a_formula(
    offline_settings: Settings, new_store: Any, tmp_path: Path
) -> None:
    """The ref pattern allows a leading '-' (``-x``): the output must not hand it to a spreadsheet as is."""
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("ref,age,sex\n-x,40,male\nok-1,63,female\n", encoding="utf-8")

    with new_store(offline_settings.work_dir, offline_settings.data_dir):
        written = predict_file(offline_settings, "disease", source, target, lang="en")

    assert written == 2
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["ref"] for r in rows] == ["'-x", "ok-1"]
    for row in rows:
        for column, cell in row.items():
            number = cell.lstrip("-").replace(".", "", 1).replace("e-", "", 1).isdigit()
            assert number or not cell.startswith(FORMULA_START), f"{column}: {cell!r}"


def test_predict_disease_refuses_a_formula_ref_naming_the_field(
    offline_settings: Settings, new_store: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("ref,age,sex\n=cmd|' /C calc'!A0,40,male\n", encoding="utf-8")

    with new_store(offline_settings.work_dir, offline_settings.data_dir), pytest.raises(OfflineInputError) as err:
        predict_file(offline_settings, "disease", source, tmp_path / "out.csv")

    assert "row 2, field ref, value =cmd" in str(err.value) and "should match pattern" in str(err.value)
    assert not (tmp_path / "out.csv").exists()


# --- path-like ids and the static folder ------------------------------------------------------------
@pytest.fixture
def suspicious_file_access(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths with '..' or 'passwd' that anything opens or stats while the test runs."""
    seen: list[str] = []

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
            if ".." in text or "passwd" in text:
                seen.append(text)
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    monkeypatch.setattr(os, "open", spy(os.open))
    monkeypatch.setattr(os, "stat", spy(os.stat))
    return seen


PATH_LIKE = [
    "../../etc/passwd",
    "G001/../G002",
    "%2e%2e%2f",
    "..%2f..%2fetc%2fpasswd",
    "G001%2f..%2fG002",
    "%252e%252e%252fetc%252fpasswd",
    "..%5c..%5cetc%5cpasswd",
    "%2fetc%2fpasswd",
    "G001%00",
]


@pytest.mark.parametrize("grid_id", PATH_LIKE)
@pytest.mark.parametrize("route", ["/v1/grazing/assessment/", "/v1/dispute/risk/"])
def test_path_like_grid_id_in_the_path_is_404_or_422_and_reads_no_file(
    raw_app: Any, auth: Any, suspicious_file_access: list[str], route: str, grid_id: str
) -> None:
    status, location, body = call_raw(raw_app, "GET", route + grid_id, auth("planner"))
    if status == 307:  # a trailing '/' (from '%2f'): the app points to the same path without it; follow that
        assert urlsplit(location).path == unquote(route + grid_id).rstrip("/"), location
        status, _, body = call_raw(raw_app, "GET", quote(urlsplit(location).path), auth("planner"))

    assert status in (404, 422), body[:300]
    assert "Traceback" not in body and "root:" not in body
    assert not suspicious_file_access


@pytest.mark.parametrize("grid_id", ["../../etc/passwd", "G001/../G002", "%2e%2e%2f", "/etc/passwd"])
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/dispute/batch", {"grid_ids": ["VALUE"]}, "grid_ids.0"),
        ("/v1/grazing/batch", {"items": [{"grid_id": "VALUE"}]}, "items.0.grid_id"),
        ("/v1/grazing/what-if", {"grid_id": "VALUE"}, "grid_id"),
    ],
)
def test_path_like_grid_id_in_a_body_is_422_and_reads_no_file(
    client: TestClient, auth: Any, suspicious_file_access: list[str], path: str, body: Any, field: str, grid_id: str
) -> None:
    response = client.post(path, json=fill(body, grid_id), headers=auth("planner"))

    check_clean(response)
    assert response.status_code == 422, response.text[:300]
    assert names(response, field)
    assert not suspicious_file_access


STATIC_ESCAPES = [
    "../app.py",
    "..%2fapp.py",
    "..%2F..%2Fpyproject.toml",
    "%2e%2e%2fapp.py",
    "%2e%2e",
    "....//app.py",
    "..%5capp.py",
    "%252e%252e%252fapp.py",
    "..;/app.py",
    "%2fetc%2fpasswd",
    "routes%2fui.py",
    ".env",
    "app.js%00.png",
    "app.py",
    "index.html%2f..",
]


@pytest.mark.parametrize("name", STATIC_ESCAPES)
def test_static_route_refuses_every_way_out_with_404(
    raw_app: Any, suspicious_file_access: list[str], name: str
) -> None:
    status, _, body = call_raw(raw_app, "GET", "/static/" + name, {})

    assert status == 404, body[:300]
    assert "Traceback" not in body and "import " not in body and "root:" not in body
    assert not suspicious_file_access


def test_static_route_still_serves_the_page_files(client: TestClient) -> None:
    response = client.get("/static/app.js")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
