"""The service under uvicorn in a background thread of this process, on a free port of 127.0.0.1.

For whatever drives the page from a real browser: the browser tests (tests/browser/conftest.py), the page's
weight (benchmarks/page_weight.py) and the docs' screenshots (tests/browser/take_screenshots.py). Nothing
starts at import; :func:`serve_state` serves a state already built, :func:`serve_county` builds it from
settings first. The deployed service runs under ``muzhang serve`` (:func:`serving.app.serve`), not here.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from muzhang.settings import ApiKey, Settings
from serving.app import build_state, create_app
from serving.deps import AppState

START_SECONDS = 30  # uvicorn starts in well under a second; a slower start means it failed


class AppDidNotStart(RuntimeError):
    """uvicorn's thread ended, or did not report started within :data:`START_SECONDS`."""


def made_up_keys(keys: Mapping[str, str], *, name: str) -> list[ApiKey]:
    """One API key per role (role -> raw key), named ``<name>-<role>``: the settings see only its sha256."""
    return [
        ApiKey(name=f"{name}-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
        for role, key in keys.items()
    ]


def with_keys(settings: Settings, keys: Mapping[str, str], *, name: str, audit_log: Path) -> Settings:
    """``settings`` with :func:`made_up_keys`, no polling for new champions, and an access audit log of its own."""
    return settings.model_copy(
        update={"api_keys": made_up_keys(keys, name=name), "poll_seconds": 0, "audit_log": audit_log}
    )


@contextmanager
def serve_state(state: AppState) -> Iterator[str]:
    """The app of ``state`` under uvicorn in a daemon thread, on a free port of 127.0.0.1: yields its base URL,
    stops it on exit.

    Raises:
        AppDidNotStart: the server's thread ended or had not started after :data:`START_SECONDS` (its log says
            why).
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state=state), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="muzhang-live-app", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AppDidNotStart(f"the app did not start under uvicorn on 127.0.0.1:{port} (see its log)")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_county(settings: Settings) -> Iterator[str]:
    """The service of ``settings`` (its county and champions, :func:`serving.app.build_state`) under
    :func:`serve_state`: yields its base URL."""
    with serve_state(build_state(settings)) as url:
        yield url
