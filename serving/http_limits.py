"""A bound on request headers in the server itself: uvicorn's httptools protocol with a head-size limit.

uvicorn's default (httptools) protocol reads a request head of any size: one 100 MB header stalled every
other request for ~13 s while the parser grew its buffer. h11 bounds heads (``h11_max_incomplete_event_size``)
but serves fewer requests per second (``benchmarks/header_limit.py`` prints both). This protocol keeps
httptools and counts the bytes of each request's line and headers as they arrive: past the limit the client
gets ``431 Request Header Fields Too Large`` and the connection is closed, before the parser sees more.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_END = b"\r\n\r\n"


def refusal_431(limit: int) -> bytes:
    """The whole answer to an oversized head (written by the server: no app ever sees the request)."""
    body = json.dumps({"detail": f"request line and headers larger than {limit:,} bytes"}).encode("ascii")
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class BoundedHeadProtocol(HttpToolsProtocol):
    """httptools, refusing a request whose line and headers exceed :attr:`max_head_bytes` (431, then close).

    Bytes are counted only while a head is being read (from the end of one request to the blank line that
    ends the next one's headers); a body is bounded elsewhere (``max_body_bytes``).
    """

    max_head_bytes = 32_768

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_body = False
        self._tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._in_body:
            seen = self._tail + data
            end = seen.find(HEAD_END)
            head_here = len(data) if end < 0 else max(0, end + len(HEAD_END) - len(self._tail))
            if self._head_bytes + head_here > self.max_head_bytes:
                self._refuse()
                return
            self._head_bytes += head_here
            self._tail = seen[-(len(HEAD_END) - 1) :] if end < 0 else b""
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_body, self._head_bytes, self._tail = True, 0, b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def _refuse(self) -> None:
        self._refused = True
        self.logger.warning("refused a request head over %d bytes from %s", self.max_head_bytes, self.client)
        self.transport.write(refusal_431(self.max_head_bytes))
        self.transport.close()


def bounded_head_protocol(max_head_bytes: int) -> type[BoundedHeadProtocol]:
    """:class:`BoundedHeadProtocol` with this limit (uvicorn takes a protocol class, not an instance)."""
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"max_head_bytes": max_head_bytes})
