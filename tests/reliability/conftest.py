"""Reliability tier: the session app again (fixtures in ``tests/serving`` are not visible here).

Built from the same helpers as ``tests/serving/conftest.py``: the tiny county's four champions from the
session MLflow store (``trained_runs``), one made-up key per role whose sha256 alone reaches the settings,
small caps, and an audit log of this folder's own, so audit assertions here see only these tests' writes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.settings import ApiKey, Settings
from serving.app import build_state, create_app
from serving.deps import AppState

BATCH_CAP = 50
MAX_BODY_BYTES = 64_000
FAILED_KEY_LIMIT = 100_000


@pytest.fixture(scope="session")
def serving_settings(
    tracked_settings: Settings, api_keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The session store's settings with the four keys, no registry polling, small caps, own audit log."""
    keys = [
        ApiKey(name=f"test-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
        for role, key in api_keys.items()
    ]
    return tracked_settings.model_copy(
        update={
            "api_keys": keys,
            "poll_seconds": 0,
            "batch_cap": BATCH_CAP,
            "max_body_bytes": MAX_BODY_BYTES,
            "audit_log": tmp_path_factory.mktemp("reliability-audit") / "disease-access.jsonl",
            # Every test here shares one client address: only the throttle's own tests use a low limit.
            "failed_key_limit": FAILED_KEY_LIMIT,
        }
    )


@pytest.fixture(scope="session")
def serving_state(champions: None, serving_settings: Settings, new_store: Any) -> AppState:
    """County and four champions loaded once (inside a sandbox: the registry moves MLflow's global URI)."""
    with new_store(serving_settings.work_dir, serving_settings.data_dir):
        state = build_state(serving_settings)
    not_loaded = {f: s.error for f, s in state.registry.slots.items() if s.model is None}
    assert not not_loaded, f"session app could not load: {not_loaded}"
    return state


@pytest.fixture(scope="session")
def client(serving_state: AppState) -> Iterator[TestClient]:
    """Test client of the session app; a 500 comes back as a response, never as an exception."""
    with TestClient(create_app(state=serving_state), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def audit_path(serving_state: AppState) -> Path:
    return serving_state.audit.path


@pytest.fixture(scope="session")
def servers() -> ModuleType:
    """``tests/reliability/servers.py`` (test folders are not importable under ``--import-mode=importlib``)."""
    name = "muzhang_reliability_servers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("servers.py"))
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]
