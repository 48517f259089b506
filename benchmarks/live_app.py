"""The service under uvicorn in a background thread, for the scripts that drive it from a browser
(benchmarks/page_weight.py, tests/browser/take_screenshots.py).

Import it with the project root on ``sys.path`` (``from benchmarks.live_app import ...``). It imports the
service only when called, so a script may set its environment first.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def with_keys(settings: Any, keys: Mapping[str, str], *, name: str, audit_log: Path) -> Any:
    """``settings`` with one made-up API key per role (role -> key, named ``<name>-<role>``), no polling for new
    champions, and an access audit log of its own."""
    from muzhang.settings import ApiKey

    api_keys = [
        ApiKey(name=f"{name}-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())
        for role, key in keys.items()
    ]
    return settings.model_copy(update={"api_keys": api_keys, "poll_seconds": 0, "audit_log": audit_log})


@contextmanager
def serve_county(settings: Any) -> Iterator[str]:
    """The service of ``settings`` under uvicorn, on a free port of 127.0.0.1: yields its base URL, stops it
    on exit."""
    import uvicorn

    from serving.app import build_state, create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(state=build_state(settings)), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
