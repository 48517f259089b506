"""Guards in front of every route: security headers, one value per JSON key, and a brake on guessed keys.

Pure ASGI middleware (cheaper than ``@app.middleware``) and one small in-memory throttle; no HTTP
framework state, no global state: each app holds its own.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API answer is data, never a document to render: nothing may load, run or frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", API_CSP.encode("ascii")),
)
JSON_TYPES = (b"application/json",)


class SecurityHeadersMiddleware:
    """Adds nosniff, frame protection, no referrer and a CSP to every answer that does not set its own
    (the page and the API docs set a CSP that fits them; every other answer gets :data:`API_CSP`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in SECURITY_HEADERS if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- duplicate JSON keys -----------------------------------------------------------------------------
class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def duplicate_json_key(body: bytes) -> str | None:
    """The first key that appears twice in one object of ``body``, or None (also for a body that is not
    JSON at all: the app's own parser names that problem)."""
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media in JSON_TYPES or media.endswith(b"+json")
    return False


class DuplicateKeyMiddleware:
    """Refuses a JSON body where one object names a key twice (400 naming the key): the last value would
    silently win (``{"age": 52, "age": 99}`` scored as 99). The body is read once and handed on as read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # a disconnect, or a body cut off as too large upstream
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        key = duplicate_json_key(body)
        if key is not None:
            detail = f"body: key {key!r} appears twice in one JSON object (rule: each key once)"
            await _send_json(send, 400, {"detail": detail})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- failed keys -------------------------------------------------------------------------------------
@dataclass
class FailedKeyThrottle:
    """Failed key attempts per client address in a sliding window.

    An address with ``limit`` failures in the last ``window`` seconds is refused (429) until its oldest
    failure leaves the window; a valid key costs one dictionary lookup. At most ``max_addresses`` are
    tracked (the least recently failing are forgotten first), so many addresses cannot grow memory.
    """

    max_addresses: int = 10_000
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, address: str, now: float, limit: int, window: float) -> int | None:
        """Seconds until ``address`` may try a key again, or None when it may now."""
        times = self.failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - window:
            times.popleft()
        if not times:
            del self.failures[address]
            return None
        if len(times) < limit:
            return None
        return max(1, math.ceil(times[-limit] + window - now))

    def record_failure(self, address: str, now: float, limit: int) -> None:
        """Note a failed key from ``address`` (only the last ``limit`` failures matter)."""
        times = self.failures.pop(address, None) or deque(maxlen=limit)
        times.append(now)
        self.failures[address] = times  # re-inserted: the dict's order is the order of last failure
        while len(self.failures) > self.max_addresses:
            del self.failures[next(iter(self.failures))]
