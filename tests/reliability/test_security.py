"""Security: who may call every route, what writes the audit log, and where personal data never goes.

Every route the app has is in :data:`ROUTES` with the roles allowed on it (a route that is not fails the
completeness test, so a new route cannot be forgotten): without a key each /v1 route is a 401, a role not
allowed is a 403, only the page, its files, health, readiness, metrics and the API docs are public. Every
request to a disease route appends one line to the audit log (a scoring, or a refused attempt: who or
"anonymous", route, status); no other route, method or role touches it. Distinctive
made-up patient values never reach the logs (every logger at DEBUG), the metrics or the MLflow store, and
the store holds no patient id of the training data and no real record as the disease model's input example.
(Constant-time key comparison is tested in tests/serving/test_deps.py.)
"""

from __future__ import annotations

import io
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features import FeatureSet, load_county
from muzhang.settings import Settings
from serving.offline import predict_file

PUBLIC: frozenset[str] = frozenset()
PLANNING = frozenset({"planner", "data_scientist", "admin"})
HEALTH = frozenset({"health"})
ANY_ROLE = frozenset({"planner", "health", "data_scientist", "admin"})  # every role but the reporter
RELOADERS = frozenset({"data_scientist", "admin"})
REPORTING = frozenset({"reporter", "planner", "admin"})
STAFF = frozenset({"planner", "admin"})
QUALITY = frozenset({"planner", "data_scientist", "admin"})
ROLES = sorted(ANY_ROLE | {"reporter"})
REPORT = {"submission_id": "sec-report-1", "grid_id": "G001", "month": "2020-01-01"}
REPORT_CSV = {
    "files": {"file": ("reports.csv", b"submission_id,grid_id,month\nsec-up-1,G001,2020-01-01\n", "text/csv")}
}
RECORD = {"ref": "sec-1", "age": 40, "sex": "female"}
CSV = {"files": {"file": ("checks.csv", b"ref,age,sex\nsec-2,52,male\n", "text/csv")}}
# (method, path) -> (roles allowed; empty: public, no key needed), request arguments that succeed
ROUTES: dict[tuple[str, str], tuple[frozenset[str], dict[str, Any]]] = {
    ("GET", "/"): (PUBLIC, {}),
    ("GET", "/static/{name}"): (PUBLIC, {}),
    ("GET", "/healthz"): (PUBLIC, {}),
    ("GET", "/readyz"): (PUBLIC, {}),
    ("GET", "/metrics"): (PUBLIC, {}),
    ("GET", "/openapi.json"): (PUBLIC, {}),
    ("GET", "/docs"): (PUBLIC, {}),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, {}),
    ("GET", "/redoc"): (PUBLIC, {}),
    ("GET", "/docs/vendor/{name}"): (PUBLIC, {}),
    ("GET", "/v1/models"): (ANY_ROLE, {}),
    ("POST", "/v1/models/reload"): (RELOADERS, {}),
    ("GET", "/v1/monitoring"): (RELOADERS, {}),
    ("GET", "/v1/county/map"): (ANY_ROLE, {}),
    ("GET", "/v1/county/access"): (ANY_ROLE, {}),
    ("GET", "/v1/county/summary"): (PLANNING, {}),
    ("GET", "/v1/grazing/assessment/{grid_id}"): (PLANNING, {}),
    ("POST", "/v1/grazing/what-if"): (PLANNING, {"json": {"grid_id": "G001", "add_head": {"yak": 3}}}),
    ("POST", "/v1/grazing/batch"): (PLANNING, {"json": {"items": [{"grid_id": "G001"}]}}),
    ("GET", "/v1/grazing/rotation-plan"): (PLANNING, {}),
    ("GET", "/v1/grazing/in-progress"): (PLANNING, {"params": {"grid_id": "G001"}}),
    ("GET", "/v1/market/forecast"): (PLANNING, {"params": {"township_id": "T01"}}),
    ("POST", "/v1/market/batch"): (PLANNING, {"json": {"items": [{"township_id": "T01"}]}}),
    ("GET", "/v1/market/history"): (PLANNING, {"params": {"township_id": "T01"}}),
    ("GET", "/v1/dispute/risk/{grid_id}"): (PLANNING, {}),
    ("POST", "/v1/dispute/batch"): (PLANNING, {"json": {"grid_ids": ["G001"]}}),
    ("GET", "/v1/dispute/watchlist"): (PLANNING, {"params": {"top": 3}}),
    ("POST", "/v1/disease/score"): (HEALTH, {"json": {"records": [RECORD]}}),
    ("POST", "/v1/disease/score-csv"): (HEALTH, CSV),
    ("GET", "/v1/reports/form"): (REPORTING, {}),
    ("POST", "/v1/reports"): (REPORTING, {"json": REPORT}),
    ("POST", "/v1/reports/upload"): (STAFF, REPORT_CSV),
    ("GET", "/v1/reports/history/{grid_id}/{month}"): (STAFF, {}),
    ("POST", "/v1/months/{month}/close"): (STAFF, {}),
    ("GET", "/v1/data-quality"): (QUALITY, {}),
    ("GET", "/v1/data-quality/chiefs/{chief}"): (QUALITY, {}),
    ("POST", "/v1/flags/{flag_id}"): (STAFF, {"json": {"status": "confirmed", "reason": "checked"}}),
}
# This app reads a county directory: the routes that keep reports answer 503 (no store) to an allowed role.
# The store-backed behaviour of these routes is tested in tests/serving/test_reports.py.
NEEDS_STORE = {
    ("POST", "/v1/reports"),
    ("POST", "/v1/reports/upload"),
    ("GET", "/v1/reports/history/{grid_id}/{month}"),
    ("POST", "/v1/months/{month}/close"),
    ("GET", "/v1/data-quality"),
    ("GET", "/v1/data-quality/chiefs/{chief}"),
    ("POST", "/v1/flags/{flag_id}"),
}
AUDITED = {("POST", "/v1/disease/score"), ("POST", "/v1/disease/score-csv")}
KEYED = [route for route, (roles, _) in ROUTES.items() if roles]
MATRIX = [(route, role) for route in KEYED for role in ROLES]


def fill(path: str) -> str:
    return (
        path.replace("/docs/vendor/{name}", "/docs/vendor/swagger-ui.css")
        .replace("{grid_id}", "G001")
        .replace("{name}", "app.js")
        .replace("{month}", "2020-01")
        .replace("{flag_id}", "1")
        .replace("{chief}", "unassigned")
    )


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, included routers' routes flattened; HEAD aside."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x keeps included routers nested
    except ImportError:  # pragma: no cover - older FastAPI lists every route in app.routes
        routes: Any = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    return {(m, r.path) for r in routes for m in (r.methods or ()) if m != "HEAD"}


def audit_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_every_route_of_the_app_has_a_role_policy(client: TestClient) -> None:
    assert app_routes(client.app) == set(ROUTES), "a route was added or removed: give it a line in ROUTES"


@pytest.mark.parametrize("key", ["none", "unknown"])
@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_only_the_public_routes_answer_without_a_key(
    client: TestClient, audit_path: Path, route: tuple[str, str], key: str
) -> None:
    method, path = route
    roles, kwargs = ROUTES[route]
    headers = {} if key == "none" else {"Authorization": "Bearer not-a-key-of-anyone"}
    before = audit_lines(audit_path)

    response = client.request(method, fill(path), headers=headers, **kwargs)

    if roles:
        assert response.status_code == 401, response.text[:300]
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert response.status_code == 200, response.text[:300]
        assert not path.startswith("/v1/")
    after = audit_lines(audit_path)
    if route in AUDITED:  # the attempt, by nobody known
        assert after[: len(before)] == before and len(after) == len(before) + 1
        assert json.loads(after[-1])["who"] == "anonymous" and json.loads(after[-1])["status"] == 401
    else:
        assert after == before


@pytest.mark.parametrize(("route", "role"), MATRIX, ids=[f"{m} {p}-{role}" for (m, p), role in MATRIX])
def test_role_matrix_and_only_disease_routes_write_the_audit_log(
    client: TestClient, auth: Any, audit_path: Path, route: tuple[str, str], role: str
) -> None:
    method, path = route
    roles, kwargs = ROUTES[route]
    before = audit_lines(audit_path)

    response = client.request(method, fill(path), headers=auth(role), **kwargs)

    after = audit_lines(audit_path)
    if role in roles:
        assert response.status_code == (503 if route in NEEDS_STORE else 200), response.text[:300]
    else:
        assert response.status_code == 403, response.text[:300]
        assert f"role '{role}' may not use this route" in response.json()["detail"]
    if route in AUDITED:  # a scoring, or a refused attempt under the key's name
        assert after[: len(before)] == before and len(after) == len(before) + 1
        entry = json.loads(after[-1])
        assert (entry["who"], entry["status"]) == (f"test-{role}", response.status_code)
    else:
        assert after == before, f"{method} {path} as {role} wrote the audit log"


@pytest.mark.parametrize("role", [None, "admin", "health"])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_no_path_takes_put_patch_or_delete(
    client: TestClient, auth: Any, audit_path: Path, method: str, role: str | None
) -> None:
    before = audit_lines(audit_path)
    headers = auth(role) if role else {}

    for path in sorted({p for _, p in ROUTES}):
        response = client.request(method, fill(path), headers=headers, json={"who": "intruder", "rows": 1})
        assert response.status_code in (401, 404, 405), f"{method} {path}: {response.status_code}"

    assert audit_lines(audit_path) == before


@pytest.mark.parametrize("route", sorted(AUDITED))
def test_refused_disease_request_writes_an_attempt_line_without_values(
    client: TestClient, auth: Any, audit_path: Path, route: tuple[str, str]
) -> None:
    before = audit_lines(audit_path)
    bad: dict[str, Any] = {"json": {"records": [{"age": -4, "sex": "male"}]}}
    if route[1].endswith("csv"):
        bad = {"files": {"file": ("c.csv", b"age,sex\n-4,male\n", "text/csv")}}

    response = client.request(route[0], route[1], headers=auth("health"), **bad)

    assert response.status_code == 422
    after = audit_lines(audit_path)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    entry = json.loads(after[-1])
    assert (entry["who"], entry["route"], entry["status"], entry["rows"], entry["bands"]) == (
        "test-health",
        route[1],
        422,
        None,
        None,
    )
    assert "-4" not in after[-1]


# --- personal data never leaves the response ---------------------------------------------------------
SENTINEL_REF = "zz-sentinel-ref"
SENTINEL = {
    "ref": SENTINEL_REF,
    "age": 87,
    "sex": "female",
    "bmi": 31.7,
    "haemoglobin_g_dl": 19.9,
    "residence_altitude_m": 4387,
}


def standalone(number: str) -> str:
    """A number as written alone (87, 87.0, 31.70), not digits of another number or word (0.0873, 0x7f87a)."""
    zeros = "0*" if "." in number else r"(?:\.0+)?"
    return rf"(?<![\w.]){re.escape(number)}{zeros}(?!\.?\w)"


SENTINEL_PATTERNS = [re.escape(SENTINEL_REF)] + [standalone(v) for v in ("87", "31.7", "19.9", "4387")]
LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "starlette", "mlflow", "muzhang", "serving")


def leaks(text: str) -> list[str]:
    return [p for p in SENTINEL_PATTERNS if re.search(p, text)]


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG on every logger, including those that do not pass records up (mlflow's)."""
    names = set(LOGGERS) | set(logging.root.manager.loggerDict)
    loggers = [logging.getLogger(n) for n in names if not isinstance(logging.getLogger(n), logging.PlaceHolder)]
    saved = [(lg, lg.level) for lg in loggers]
    caplog.set_level(logging.DEBUG)
    attached = [lg for lg in loggers if not lg.propagate and caplog.handler not in lg.handlers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    for lg in attached:
        lg.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for lg in attached:
            lg.removeHandler(caplog.handler)
        for lg, level in saved:
            lg.setLevel(level)


@pytest.fixture(scope="module")
def sentinel_responses(client: TestClient, auth: Any) -> list[Any]:
    """The sentinel record scored (JSON, both languages, CSV), refused (bad value, wrong role) and shown."""
    csv_text = ",".join(SENTINEL) + "\n" + ",".join(str(v) for v in SENTINEL.values()) + "\n"
    health = auth("health")
    return [
        client.post("/v1/disease/score", json={"records": [SENTINEL]}, headers=health),
        client.post("/v1/disease/score?lang=en", json={"records": [SENTINEL, RECORD]}, headers=health),
        client.post("/v1/disease/score-csv", headers=health, files={"file": ("s.csv", csv_text.encode(), "text/csv")}),
        client.post("/v1/disease/score", json={"records": [{**SENTINEL, "spo2_pct": 7}]}, headers=health),
        client.post("/v1/disease/score", json={"records": [SENTINEL]}, headers=auth("planner")),
    ]


def test_sentinel_requests_were_scored_and_refused_as_meant(sentinel_responses: list[Any]) -> None:
    assert [r.status_code for r in sentinel_responses] == [200, 200, 200, 422, 403]
    assert sentinel_responses[0].json()["results"][0]["ref"] == SENTINEL_REF  # echoed to the caller only


def test_no_personal_value_in_any_log(
    every_log: pytest.LogCaptureFixture,
    client: TestClient,
    auth: Any,
    serving_settings: Settings,
    new_store: Any,
    tmp_path: Path,
) -> None:
    health = auth("health")
    client.post("/v1/disease/score", json={"records": [SENTINEL]}, headers=health)
    client.post("/v1/disease/score", json={"records": [{**SENTINEL, "age": 870}]}, headers=health)
    source = tmp_path / "in.csv"
    source.write_text(",".join(SENTINEL) + "\n" + ",".join(str(v) for v in SENTINEL.values()) + "\n")
    settings = serving_settings.model_copy(update={"audit_log": tmp_path / "audit.jsonl"})
    with new_store(settings.work_dir, settings.data_dir):
        predict_file(settings, "disease", source, tmp_path / "out.csv")

    assert every_log.records, "nothing was logged: the capture is not working"
    assert not leaks(every_log.text), f"logs hold {leaks(every_log.text)}"
    assert not leaks((tmp_path / "audit.jsonl").read_text(encoding="utf-8"))


def test_no_personal_value_in_metrics_or_audit_log(
    sentinel_responses: list[Any], client: TestClient, audit_path: Path
) -> None:
    text = client.get("/metrics").text
    labels = " ".join(re.findall(r'="([^"]*)"', text))  # sample values are counts and seconds: 87 may be one

    assert SENTINEL_REF not in text
    assert not leaks(labels), f"metric labels hold {leaks(labels)}"
    assert not leaks(audit_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def store_texts(
    trained_runs: dict[str, Any],
    sentinel_responses: list[Any],
    tracked_settings: Settings,
    new_store: Any,
    store_client: Any,
) -> dict[str, str]:
    """Where -> text, for everything in the session MLflow store: every run's params, metrics and tags,
    every artifact of every run and logged model, and registered model versions."""
    import mlflow

    texts: dict[str, str] = {}
    with (
        new_store(tracked_settings.work_dir, tracked_settings.data_dir) as settings,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = store_client(settings)
        names = {e.experiment_id: e.name for e in client.search_experiments()}
        experiments = list(names)
        for run in client.search_runs(experiments):
            rid = run.info.run_id
            texts[f"run {rid} params"] = repr(run.data.params)
            texts[f"run {rid} metrics"] = repr(run.data.metrics)
            texts[f"run {rid} tags"] = repr(run.data.tags)
            folder = Path(tmp) / rid
            folder.mkdir()
            if client.list_artifacts(rid):
                mlflow.artifacts.download_artifacts(run_id=rid, dst_path=str(folder))
            texts |= read_folder(folder, f"run {rid}")
        for model in client.search_logged_models(experiments):
            folder = Path(tmp) / model.model_id
            mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, dst_path=str(folder))
            texts[f"model {model.model_id} params/tags"] = repr((model.params, model.tags))
            texts |= read_folder(folder, f"model {model.model_id} of {names[model.experiment_id]}")
        for version in client.search_model_versions():
            texts[f"version {version.name} {version.version}"] = repr((version.tags, version.description))
    assert len(texts) > 20, "the store looks empty"
    return texts


def read_folder(folder: Path, where: str) -> dict[str, str]:
    return {
        f"{where}: {p.relative_to(folder)}": p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()
    }


def test_mlflow_store_holds_no_patient_id_and_no_request_value(store_texts: dict[str, str], tiny_county: Path) -> None:
    ids = set(load_county(tiny_county).patients["patient_id"].astype(str))
    shape = re.compile(r"P\d{5,6}")
    assert ids and all(shape.fullmatch(i) for i in ids), "patient ids changed shape: update the pattern"

    found = {where: sorted(set(shape.findall(text)) & ids) for where, text in store_texts.items()}
    found = {where: hits[:5] for where, hits in found.items() if hits}
    assert not found, f"patient ids in the MLflow store: {found}"
    assert not [where for where, text in store_texts.items() if SENTINEL_REF in text]


def test_disease_input_example_is_no_training_record(
    store_texts: dict[str, str], tiny_feature_sets: dict[str, FeatureSet]
) -> None:
    examples = [t for w, t in store_texts.items() if " of muzhang-disease: " in w and w.endswith("/input_example.json")]
    assert len(examples) == 1, [w for w in store_texts if w.endswith("input_example.json")]
    example = pd.read_json(io.StringIO(examples[0]), orient="split")
    people = tiny_feature_sets["disease"]
    rows = people.frame[people.features]
    assert set(example.columns) <= set(rows.columns)

    same = pd.Series(True, index=rows.index)
    for column in example.columns:
        value = example[column].iloc[0]
        same &= rows[column].isna() if pd.isna(value) else rows[column].astype(object) == value

    assert not same.any(), f"the input example is training row(s) {list(rows.index[same][:5])}"
