"""The server's own bound on request heads (issue 14, item 9): uvicorn with :class:`BoundedHeadProtocol`.

A real uvicorn server on 127.0.0.1 in a thread of this process, serving a tiny ASGI app (the protocol never
lets an oversized head reach any app), spoken to over raw sockets: an HTTP client library refuses to send
such headers. No model, no county: well under a second.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from muzhang.settings import Settings
from serving import app as serving_app
from serving.http_limits import BoundedHeadProtocol, bounded_head_protocol

LIMIT = 32_768
START_SECONDS = 20.0
SOCKET_SECONDS = 10.0


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers how many body bytes and headers it got."""
    assert scope["type"] == "http"
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = f"body={size} headers={len(scope['headers'])}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        echo_app,
        host="127.0.0.1",
        port=port,
        http=bounded_head_protocol(LIMIT),
        lifespan="off",
        log_level="error",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=START_SECONDS)


def exchange(port: int, request: bytes, chunk: int = 65_536) -> tuple[bytes, bool]:
    """Send ``request`` in chunks, then read until the server closes. Returns (answer, whole request sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_SECONDS) as sock:
        sent_all = True
        try:
            for i in range(0, len(request), chunk):
                sock.sendall(request[i : i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False
        answer = b""
        try:
            while data := sock.recv(65_536):
                answer += data
        except ConnectionResetError:
            pass
        return answer, sent_all


def get(header_bytes: int, close: bool = True) -> bytes:
    extra = b"X-Padding: " + b"a" * header_bytes + b"\r\n" if header_bytes else b""
    return b"GET / HTTP/1.1\r\nHost: t\r\n" + extra + (b"Connection: close\r\n" if close else b"") + b"\r\n"


def test_a_head_just_over_the_limit_gets_431_and_the_connection_closed(server_port: int) -> None:
    answer, _ = exchange(server_port, get(LIMIT + 1_000))

    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer.lower()
    assert f"larger than {LIMIT:,} bytes".encode() in answer


def test_a_1_mb_header_is_refused_before_it_is_read_and_others_are_still_answered(server_port: int) -> None:
    answer, sent_all = exchange(server_port, get(1_000_000))
    after, _ = exchange(server_port, get(0))

    assert answer.startswith(b"HTTP/1.1 431 ") or not sent_all  # 431, or closed while the header streamed in
    assert after.startswith(b"HTTP/1.1 200 ") and b"body=0 headers=2" in after


def test_a_head_under_the_limit_and_a_large_body_are_served(server_port: int) -> None:
    under, _ = exchange(server_port, get(LIMIT - 1_000))
    body = b"b" * 500_000  # bodies are bounded by max_body_bytes in the app, not by the head limit
    post = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    posted, _ = exchange(server_port, post)

    assert under.startswith(b"HTTP/1.1 200 ") and b"body=0 headers=3" in under
    assert posted.startswith(b"HTTP/1.1 200 ") and b"body=500000 headers=3" in posted


def test_keep_alive_requests_each_get_the_whole_limit(server_port: int) -> None:
    """Heads are counted per request: three heads of 3/4 of the limit on one connection are all served."""
    three = get(LIMIT * 3 // 4, close=False) * 2 + get(LIMIT * 3 // 4)

    answer, _ = exchange(server_port, three)

    assert answer.count(b"HTTP/1.1 200 ") == 3 and b"431" not in answer


def test_serve_runs_uvicorn_with_the_bounded_protocol_and_the_settings_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))

    serving_app.serve(Settings(work_dir=tmp_path, max_header_bytes=20_000))

    assert issubclass(seen["http"], BoundedHeadProtocol)
    assert seen["http"].max_head_bytes == 20_000
