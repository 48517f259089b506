"""System routes: liveness, readiness, metrics, the models being served and reloading them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from serving.registry import family_models

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families


def test_healthz_answers_without_a_key(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_is_ready_when_every_family_is_loaded(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "families": dict.fromkeys(FAMILY_MODELS, True)}


def test_readyz_is_503_and_names_the_missing_family_when_one_has_no_model(degraded_client: TestClient) -> None:
    response = degraded_client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert [f for f, ok in body["families"].items() if not ok] == ["market"]


def test_models_lists_each_family_with_version_and_test_metrics(client: TestClient, auth: Any) -> None:
    response = client.get("/v1/models", headers=auth("health"))

    assert response.status_code == 200, response.text
    models = {m["family"]: m for m in response.json()["models"]}
    assert set(models) == set(FAMILY_MODELS)
    for family, model in models.items():
        assert model["registered_model"] == FAMILY_MODELS[family]
        assert model["serving"] and model["version"] == "1" and model["error"] is None
        assert model["run_id"] and model["trained_at"] and model["test_metrics"]


def test_models_reload_by_data_scientist_keeps_unchanged_champions(client: TestClient, auth: Any) -> None:
    response = client.post("/v1/models/reload", headers=auth("data_scientist"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["results"] == dict.fromkeys(FAMILY_MODELS, "unchanged (version 1)")
    assert all(m["serving"] and m["version"] == "1" for m in body["models"])
