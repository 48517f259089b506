"""API tier: one app per session, served from the tiny county's four trained families.

The app's state is built once (county read, every ``champion`` loaded from the session MLflow store that
``trained_runs`` filled); four API keys, one per role, are made up here and only their sha256 is given to
the settings, as in production. Tests that change models or the registry build their own state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.settings import ApiKey, Settings
from serving.app import build_state, create_app
from serving.deps import AppState
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry, family_models

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families

# Small on purpose: the cap and body-size tests stay cheap, and every real request still fits.
BATCH_CAP = 50
MAX_BODY_BYTES = 64_000
FAILED_KEY_LIMIT = 100_000
ABSENT_FAMILY = "market"  # the family with no champion in the degraded app


@pytest.fixture(scope="session")
def serving_settings(
    tracked_settings: Settings, api_keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The session store's settings with the four keys, no registry polling and small caps."""
    keys = [
        ApiKey(name=f"test-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
        for role, key in api_keys.items()
    ]
    audit = tmp_path_factory.mktemp("audit") / "disease-access.jsonl"
    return tracked_settings.model_copy(
        update={
            "api_keys": keys,
            "poll_seconds": 0,
            "batch_cap": BATCH_CAP,
            "max_body_bytes": MAX_BODY_BYTES,
            "audit_log": audit,
            # Every test here shares one client address: only the throttle's own tests use a low limit.
            "failed_key_limit": FAILED_KEY_LIMIT,
        }
    )


@pytest.fixture(scope="session")
def serving_state(champions: None, serving_settings: Settings, new_store: Any) -> AppState:
    """County and four champions loaded once (the registry moves MLflow's global URI: keep it sandboxed)."""
    with new_store(serving_settings.work_dir, serving_settings.data_dir):
        state = build_state(serving_settings)
    not_loaded = {f: s.error for f, s in state.registry.slots.items() if s.model is None}
    assert not not_loaded, f"session app could not load: {not_loaded}"
    return state


def make_client(state: AppState) -> Iterator[TestClient]:
    # A 500 must come back as a response (its body is under test), not as an exception in the test.
    with TestClient(create_app(state=state), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def client(serving_state: AppState) -> Iterator[TestClient]:
    """Test client of the session app (lifespan run, so start-up is exercised too)."""
    yield from make_client(serving_state)


@pytest.fixture(scope="session")
def audit_path(serving_state: AppState) -> Path:
    return serving_state.audit.path


@pytest.fixture(scope="session")
def degraded_state(serving_state: AppState, tmp_path_factory: pytest.TempPathFactory) -> AppState:
    """The session app's models, except that :data:`ABSENT_FAMILY` maps to a registered model that does
    not exist, so it has no champion. The other families share the loaded models (nothing reloads)."""
    registry = ModelRegistry(
        serving_state.registry.tracking_uri,
        families={**FAMILY_MODELS, ABSENT_FAMILY: f"muzhang-{ABSENT_FAMILY}-never-registered"},
    )
    for family, slot in serving_state.registry.slots.items():
        if family != ABSENT_FAMILY:
            registry.slots[family] = slot
    outcome = registry.reload(ABSENT_FAMILY)[ABSENT_FAMILY]
    assert "no 'champion' alias" in outcome, outcome
    return AppState(
        settings=serving_state.settings,
        registry=registry,
        county=serving_state.county,
        metrics=Metrics(),
        audit=AuditLog(tmp_path_factory.mktemp("degraded-audit") / "disease-access.jsonl"),
        keys=serving_state.keys,
    )


@pytest.fixture(scope="session")
def degraded_client(degraded_state: AppState) -> Iterator[TestClient]:
    yield from make_client(degraded_state)


@pytest.fixture(scope="session")
def grid_ids(serving_state: AppState) -> list[str]:
    """The tiny county's grid ids, sorted."""
    return sorted(serving_state.county.grid_ids)


@pytest.fixture(scope="session")
def township_ids(serving_state: AppState) -> list[str]:
    return sorted(serving_state.county.townships.index)


@pytest.fixture(scope="session")
def patient_record() -> dict[str, Any]:
    """A made-up but complete health-check record (every field the API accepts)."""
    return {
        "ref": "rec-001",
        "age": 46,
        "sex": "female",
        "ethnicity": "tibetan",
        "occupation": "herder",
        "township_id": "T01",
        "residence_altitude_m": 4210,
        "years_above_4500m": 12,
        "dogs_owned": 3,
        "plays_with_dogs": True,
        "water_source": "open_stream",
        "flies_on_food": True,
        "fox_skin": False,
        "butter_tea_cups_day": 8,
        "smoking": "never",
        "alcohol": False,
        "handles_livestock_births": True,
        "herd_abortion_history": False,
        "raw_milk": True,
        "bmi": 23.4,
        "systolic_bp": 138,
        "diastolic_bp": 88,
        "heart_rate": 76,
        "spo2_pct": 87,
        "haemoglobin_g_dl": 17.2,
        "baseline_hypertension": False,
        "baseline_cms": False,
    }
