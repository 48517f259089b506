"""Following the registry: a new champion is served after a reload, a broken one is refused while the old
model keeps serving, and a family without a champion answers 503 while the others work.

The session store's own registered models are never touched: the reload tests register copies of the
session champions under test-only names and serve them from an app of their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from fastapi.testclient import TestClient

from muzhang.settings import Settings
from serving.app import create_app
from serving.deps import AppState
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry, family_models

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families

# Families served from test-only registered models in the reload app.
TEST_MODELS = {"dispute": "test-reload-dispute", "grazing": "test-reload-grazing"}


@dataclass(frozen=True)
class ReloadSetup:
    settings: Settings
    sources: dict[str, str]  # family -> artifact URI of the session champion
    state: AppState


@pytest.fixture(scope="module")
def reload_setup(
    serving_state: AppState, new_store: Any, store_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> ReloadSetup:
    """Version 1 of each test-only model is a copy of the session champion, and is loaded."""
    settings = serving_state.settings
    with new_store(settings.work_dir, settings.data_dir):
        client = store_client(settings)
        sources = {}
        for family, name in TEST_MODELS.items():
            champion = serving_state.registry.get(family).version
            sources[family] = client.get_model_version_download_uri(FAMILY_MODELS[family], champion)
            client.create_registered_model(name)
            version = client.create_model_version(name, source=sources[family])
            client.set_registered_model_alias(name, "champion", version.version)
        registry = ModelRegistry(settings.tracking_uri(), families={**FAMILY_MODELS, **TEST_MODELS})
        for family, slot in serving_state.registry.slots.items():
            if family not in TEST_MODELS:
                registry.slots[family] = slot
        for family in TEST_MODELS:
            assert registry.reload(family)[family] == "loaded version 1"
    state = AppState(
        settings=settings,
        registry=registry,
        county=serving_state.county,
        metrics=Metrics(),
        audit=AuditLog(tmp_path_factory.mktemp("reload-audit") / "a.jsonl"),
        keys=serving_state.keys,
    )
    return ReloadSetup(settings, sources, state)


@pytest.fixture(scope="module")
def reload_client(reload_setup: ReloadSetup) -> Iterator[TestClient]:
    with TestClient(create_app(state=reload_setup.state), raise_server_exceptions=False) as client:
        yield client


def served_versions(client: TestClient, auth: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/models", headers=auth("planner"))
    assert response.status_code == 200
    return {m["family"]: m for m in response.json()["models"]}


def test_reload_serves_the_new_champion_version(
    reload_setup: ReloadSetup, reload_client: TestClient, auth: Any, tracking_client: Any
) -> None:
    client = tracking_client(reload_setup.settings)
    name = TEST_MODELS["dispute"]
    new = client.create_model_version(name, source=reload_setup.sources["dispute"]).version
    client.set_registered_model_alias(name, "champion", new)

    response = reload_client.post("/v1/models/reload", headers=auth("data_scientist"))

    assert response.status_code == 200, response.text
    old = "1"
    assert response.json()["results"]["dispute"] == f"loaded version {new} (was {old})"
    model = served_versions(reload_client, auth)["dispute"]
    assert (model["version"], model["serving"], model["error"]) == (str(new), True, None)
    risk = reload_client.get("/v1/dispute/risk/G001", headers=auth("planner"))
    assert risk.status_code == 200 and 0 <= risk.json()["probability"] <= 1


def corrupt_copy(source: str, folder: Path) -> str:
    """A copy of a logged model whose bundle description is garbage; returns its URI."""
    shutil.copytree(Path(unquote(urlparse(source).path)), folder)
    bundles = list(folder.rglob("bundle.json"))
    assert len(bundles) == 1, bundles
    bundles[0].write_text("{this is not a bundle", encoding="utf-8")
    return folder.as_uri()


def test_reload_refuses_a_corrupt_champion_and_keeps_serving_the_old_version(
    reload_setup: ReloadSetup, reload_client: TestClient, auth: Any, tracking_client: Any, tmp_path: Path
) -> None:
    client = tracking_client(reload_setup.settings)
    name = TEST_MODELS["grazing"]
    before = served_versions(reload_client, auth)["grazing"]["version"]
    broken = client.create_model_version(name, source=corrupt_copy(reload_setup.sources["grazing"], tmp_path / "m"))
    client.set_registered_model_alias(name, "champion", broken.version)
    try:
        response = reload_client.post("/v1/models/reload", headers=auth("admin"))

        assert response.status_code == 200, response.text
        outcome = response.json()["results"]["grazing"]
        assert f"version {broken.version} refused" in outcome and f"still serving version {before}" in outcome
        model = served_versions(reload_client, auth)["grazing"]
        assert model["version"] == before and model["serving"]
        assert f"version {broken.version} refused" in model["error"]
        assessment = reload_client.get("/v1/grazing/assessment/G001", headers=auth("planner"))
        assert assessment.status_code == 200, assessment.text
    finally:
        client.set_registered_model_alias(name, "champion", before)
    # Pointing the alias back clears the error on the next reload.
    reload_client.post("/v1/models/reload", headers=auth("admin"))
    assert served_versions(reload_client, auth)["grazing"]["error"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "role"),
    [
        ("GET", "/v1/market/forecast?township_id=T01", None, "planner"),
        ("POST", "/v1/market/batch", {"items": [{"township_id": "T01"}]}, "planner"),
    ],
)
def test_family_without_champion_is_503_telling_how_to_train_one(
    degraded_client: TestClient, auth: Any, method: str, path: str, body: Any, role: str
) -> None:
    response = degraded_client.request(method, path, json=body, headers=auth(role))

    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "muzhang train market" in detail and "no 'champion' alias" in detail


@pytest.mark.parametrize(
    ("method", "path", "body", "role"),
    [
        ("GET", "/v1/grazing/assessment/G001", None, "planner"),
        ("GET", "/v1/dispute/risk/G001", None, "planner"),
        ("POST", "/v1/disease/score", {"records": [{"age": 40, "sex": "male"}]}, "health"),
        ("GET", "/v1/market/history?township_id=T01", None, "planner"),
    ],
)
def test_other_families_answer_while_one_has_no_champion(
    degraded_client: TestClient, auth: Any, method: str, path: str, body: Any, role: str
) -> None:
    response = degraded_client.request(method, path, json=body, headers=auth(role))

    assert response.status_code == 200, response.text


def test_models_lists_the_family_without_champion_with_its_error(degraded_client: TestClient, auth: Any) -> None:
    models = served_versions(degraded_client, auth)

    assert (models["market"]["serving"], models["market"]["version"]) == (False, None)
    assert "no 'champion' alias" in models["market"]["error"]
    assert all(m["serving"] for f, m in models.items() if f != "market")
