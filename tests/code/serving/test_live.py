"""The service in a thread of the test process (serving.live), as the browser tests and the page's benchmark
start it: it answers on 127.0.0.1 with the keys it was given, and is gone after the block."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from muzhang.settings import Settings
from serving.live import made_up_keys, serve_county, with_keys


def test_made_up_keys_are_named_by_role_and_kept_only_as_their_digest() -> None:
    keys = {"planner": "raw-planner-key", "health": "raw-health-key"}

    made = made_up_keys(keys, name="bench")

    assert [(k.name, k.role) for k in made] == [("bench-planner", "planner"), ("bench-health", "health")]
    assert [k.sha256 for k in made] == [hashlib.sha256(raw.encode()).hexdigest() for raw in keys.values()]
    assert "raw-planner-key" not in repr(made)


def test_the_served_county_answers_its_keys_on_localhost_and_stops_after_the_block(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    key = secrets.token_urlsafe(24)
    audit = tmp_path / "audit.jsonl"
    settings = with_keys(make_settings(), {"planner": key}, name="live", audit_log=audit)
    assert (settings.poll_seconds, settings.audit_log) == (0, audit)

    with serve_county(settings) as url:
        assert url.startswith("http://127.0.0.1:")
        mine = httpx.get(f"{url}/v1/county/access", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        other = httpx.get(f"{url}/v1/county/access", headers={"Authorization": "Bearer not-a-key"}, timeout=30)

    assert (mine.status_code, mine.json()["role"]) == (200, "planner")
    assert other.status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=5)
