"""Who may call what: keys are Bearer tokens matched by sha256 in constant time; each maps to one role."""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

import serving.deps
from serving.app import create_app
from serving.deps import AppState, hash_key, identify
from serving.guards import FailedKeyThrottle

DISEASE_BODY = {"records": [{"age": 40, "sex": "female"}]}
# route name -> (method, path, JSON body)
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "grazing": ("GET", "/v1/grazing/assessment/G001", None),
    "grazing-batch": ("POST", "/v1/grazing/batch", {"items": [{"grid_id": "G001"}]}),
    "market": ("GET", "/v1/market/forecast?township_id=T01&species=yak", None),
    "dispute": ("GET", "/v1/dispute/risk/G001", None),
    "watchlist": ("GET", "/v1/dispute/watchlist?top=3", None),
    "disease": ("POST", "/v1/disease/score", DISEASE_BODY),
    "models": ("GET", "/v1/models", None),
    "reload": ("POST", "/v1/models/reload", None),
}
PLANNING = {"planner": 200, "health": 403, "data_scientist": 200, "admin": 200}
# route -> role -> expected status
EXPECTED: dict[str, dict[str, int]] = {
    "grazing": PLANNING,
    "grazing-batch": PLANNING,
    "market": PLANNING,
    "dispute": PLANNING,
    "watchlist": PLANNING,
    "disease": {"planner": 403, "health": 200, "data_scientist": 403, "admin": 403},
    "models": {"planner": 200, "health": 200, "data_scientist": 200, "admin": 200},
    "reload": {"planner": 403, "health": 403, "data_scientist": 200, "admin": 200},
}
MATRIX = [(route, role, status) for route, by_role in EXPECTED.items() for role, status in by_role.items()]


def call(client: TestClient, route: str, headers: dict[str, str]) -> Any:
    method, path, body = ROUTES[route]
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("route", "role", "status"), MATRIX, ids=[f"{r}-{role}" for r, role, _ in MATRIX])
def test_route_answers_role_with_expected_status(
    client: TestClient, auth: Any, route: str, role: str, status: int
) -> None:
    response = call(client, route, auth(role))

    assert response.status_code == status, response.text
    if status == 403:
        assert f"role '{role}' may not use this route" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer not-a-key"}],
    ids=["no-header", "empty-bearer", "basic-scheme", "unknown-key"],
)
@pytest.mark.parametrize("route", ROUTES)
def test_route_without_a_valid_key_is_401_with_www_authenticate(
    client: TestClient, route: str, headers: dict[str, str]
) -> None:
    response = call(client, route, headers)

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_v1_route_requires_a_key(client: TestClient) -> None:
    """Guards against a new route that forgets its role dependency."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = [(method.upper(), path) for path, ops in paths.items() if path.startswith("/v1/") for method in ops]
    assert len(routes) >= 13

    for method, path in routes:
        response = client.request(method, path.replace("{grid_id}", "G001"))
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} without a key"


def test_key_holders_name_sent_as_the_key_is_refused(client: TestClient, serving_state: AppState) -> None:
    """Only the hash identifies a key: knowing a key holder's name or role gives nothing."""
    name = serving_state.keys[0].name

    response = client.get("/v1/models", headers={"Authorization": f"Bearer {name}"})

    assert response.status_code == 401


@pytest.fixture
def compare_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records every ``hmac.compare_digest`` call that :mod:`serving.deps` makes."""
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(serving.deps.hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize("which", ["first", "last", "none"])
def test_identify_compares_every_key_in_constant_time_even_after_a_match(
    compare_spy: list[tuple[str, str]], serving_state: AppState, api_keys: dict[str, str], which: str
) -> None:
    keys = serving_state.keys
    presented = {"first": api_keys[keys[0].role], "last": api_keys[keys[-1].role], "none": "nobody's key"}[which]

    entry = identify(keys, presented)

    assert entry == {"first": keys[0], "last": keys[-1], "none": None}[which]
    assert len(compare_spy) == len(keys)
    assert sorted(stored for stored, _ in compare_spy) == sorted(k.sha256 for k in keys)
    assert {given for _, given in compare_spy} == {hash_key(presented)}


def test_request_with_a_key_compares_against_every_configured_key(
    compare_spy: list[tuple[str, str]], client: TestClient, auth: Any, serving_state: AppState
) -> None:
    response = client.get("/v1/models", headers=auth(serving_state.keys[0].role))

    assert response.status_code == 200
    assert len(compare_spy) == len(serving_state.keys)


def test_settings_hold_only_hashes_of_the_keys(serving_state: AppState, api_keys: dict[str, str]) -> None:
    dumped = serving_state.settings.model_dump_json()

    assert not any(key in dumped for key in api_keys.values())
    assert {k.sha256 for k in serving_state.keys} == {hash_key(key) for key in api_keys.values()}


# --- failed keys throttled per client address (issue 14, item 15) ---------------------------------------
def test_throttle_refuses_an_address_after_the_limit_until_its_oldest_failure_leaves_the_window() -> None:
    throttle = FailedKeyThrottle()
    for t in (0.0, 10.0, 20.0):
        assert throttle.retry_after("10.0.0.1", t, limit=3, window=60) is None
        throttle.record_failure("10.0.0.1", t, limit=3)

    assert throttle.retry_after("10.0.0.1", 30.0, limit=3, window=60) == 30  # the failure at 0 leaves at 60
    assert throttle.retry_after("10.0.0.2", 30.0, limit=3, window=60) is None  # another address: untouched
    assert throttle.retry_after("10.0.0.1", 60.5, limit=3, window=60) is None  # two failures left in the window


def test_throttle_tracks_a_bounded_number_of_addresses() -> None:
    throttle = FailedKeyThrottle(max_addresses=100)
    for i in range(1_000):
        throttle.record_failure(f"10.0.{i // 256}.{i % 256}", float(i), limit=3)

    assert len(throttle.failures) == 100
    assert "10.0.3.231" in throttle.failures  # the last to fail are kept


def throttled_client(serving_state: AppState, address: str, limit: int = 3) -> TestClient:
    """A client from ``address`` of an app that allows ``limit`` failed keys per address a minute."""
    settings = serving_state.settings.model_copy(update={"failed_key_limit": limit, "failed_key_window_seconds": 60})
    state = replace(serving_state, settings=settings, throttle=FailedKeyThrottle())
    return TestClient(create_app(state=state), client=(address, 50000))


def test_unknown_keys_from_one_address_get_429_with_retry_after(serving_state: AppState, auth: Any) -> None:
    wrong = {"Authorization": "Bearer guess"}
    with throttled_client(serving_state, "10.0.0.1") as attacker:
        tries = [attacker.get("/v1/models", headers=wrong).status_code for _ in range(3)]
        refused = attacker.get("/v1/models", headers=wrong)
        right_key_too = attacker.get("/v1/models", headers=auth("planner"))  # no guess gets through a block

    assert tries == [401, 401, 401]
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "retry in" in refused.json()["detail"]
    assert right_key_too.status_code == 429


def test_valid_keys_are_never_throttled(serving_state: AppState, auth: Any) -> None:
    settings = serving_state.settings.model_copy(update={"failed_key_limit": 3})
    app = create_app(state=replace(serving_state, settings=settings, throttle=FailedKeyThrottle()))
    with TestClient(app, client=("10.0.0.1", 1)) as attacker, TestClient(app, client=("10.0.0.9", 1)) as planner:
        for _ in range(5):
            attacker.get("/v1/models", headers={"Authorization": "Bearer guess"})
        answers = [planner.get("/v1/models", headers=auth("planner")).status_code for _ in range(20)]

    assert answers == [200] * 20
