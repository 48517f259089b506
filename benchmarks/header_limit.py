"""What bounding request heads costs, and what it buys (issue 14, item 9).

Three uvicorn servers, each in its own process on 127.0.0.1 with one worker, serve the same tiny ASGI app
(the HTTP protocol is what differs; the app answers a few bytes, so the protocol's cost is not hidden):

* ``httptools``: uvicorn's default, no bound on a request head;
* ``bounded``: :class:`serving.http_limits.BoundedHeadProtocol` (httptools, 431 past ``--limit`` bytes),
  what ``muzhang serve`` runs;
* ``h11``: uvicorn's pure-Python protocol with ``h11_max_incomplete_event_size = --limit``.

For each it prints

* throughput of keep-alive ``GET /`` at 1 and 8 connections (asyncio raw-socket client in this process),
  and requests per second of the server's own CPU (client-independent: the protocol's cost per request);
* the stall: while one connection streams a ``--big-mb`` MB header, the slowest answer another connection
  got, and how the big request ended (431 / closed / answered) and after how long.

Figures, not asserts. Time: about 3 x (2 x ``--seconds`` + the stall) ~ 40 s.

    .venv/bin/python benchmarks/header_limit.py [--seconds 3] [--big-mb 20] [--limit 32768]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ("httptools", "bounded", "h11")
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


def serve(protocol: str, port: int, limit: int) -> None:
    """The server process: uvicorn with ``protocol`` (called through ``--serve``)."""
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from serving.http_limits import bounded_head_protocol

    options: dict[str, Any] = {"http": protocol}
    if protocol == "bounded":
        options["http"] = bounded_head_protocol(limit)
    if protocol == "h11":
        options["h11_max_incomplete_event_size"] = limit
    uvicorn.run(tiny_app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off", **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length:
        await reader.readexactly(length)
    elif b"chunked" in head.lower():
        await reader.readuntil(b"0\r\n\r\n")
    return head


async def load(port: int, connections: int, seconds: float) -> int:
    """Keep-alive GETs on ``connections`` connections for ``seconds``; the number answered."""
    stop = time.perf_counter() + seconds
    done = 0

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            writer.write(REQUEST)
            await read_answer(reader)
            done += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return done


async def stall(port: int, big_mb: int) -> tuple[float, str, float]:
    """(slowest small answer while a big header streams in, how the big request ended, after how long)."""
    finished = asyncio.Event()
    slowest = 0.0

    async def small() -> None:
        nonlocal slowest
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not finished.is_set():
            start = time.perf_counter()
            writer.write(REQUEST)
            await read_answer(reader)
            slowest = max(slowest, time.perf_counter() - start)
            await asyncio.sleep(0.005)
        writer.close()

    async def big() -> tuple[str, float]:
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        outcome = "answered"
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\nX-Big: ")
            chunk = b"a" * 1_048_576
            for _ in range(big_mb):
                writer.write(chunk)
                await writer.drain()
            writer.write(b"\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(200), timeout=120)
            outcome = answer.split(b"\r\n", 1)[0].decode() or "closed"
        except (ConnectionError, asyncio.IncompleteReadError):
            with_answer = b""
            with contextlib.suppress(ConnectionError, TimeoutError):
                with_answer = await asyncio.wait_for(reader.read(200), timeout=1)
            outcome = with_answer.split(b"\r\n", 1)[0].decode() or "closed"
        finally:
            writer.close()
            finished.set()
        return outcome, time.perf_counter() - start

    small_task = asyncio.create_task(small())
    outcome, seconds = await big()
    await small_task
    return slowest, outcome, seconds


def measure(protocol: str, args: argparse.Namespace) -> dict[int | str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", protocol, "--port", str(port), "--limit", str(args.limit)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{protocol} server did not start") from None
                time.sleep(0.1)
        out: dict[int | str, Any] = {}
        for connections in (1, 8):
            cpu0 = cpu_seconds(server.pid)
            n = asyncio.run(load(port, connections, args.seconds))
            cpu = cpu_seconds(server.pid) - cpu0
            out[connections] = (n / args.seconds, n / cpu if cpu else float("nan"))
        out["stall"] = asyncio.run(stall(port, args.big_mb))
        return out
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--big-mb", type=int, default=20)
    parser.add_argument("--limit", type=int, default=32_768)
    parser.add_argument("--serve", choices=PROTOCOLS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.limit)
        return
    load_avg = os.getloadavg()[0]
    print(f"header_limit: tiny app, one uvicorn worker each, head limit {args.limit:,} B, load average {load_avg:.1f}")
    results = {p: measure(p, args) for p in PROTOCOLS}
    print(
        f"\n| protocol | req/s, 1 conn | req/s, 8 conn | req per server CPU s (8 conn) | slowest other answer "
        f"while a {args.big_mb} MB header streams | the big request |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for protocol, r in results.items():
        slowest, outcome, seconds = r["stall"]
        print(
            f"| {protocol} | {r[1][0]:,.0f} | {r[8][0]:,.0f} | {r[8][1]:,.0f} | {slowest * 1000:,.0f} ms "
            f"| {outcome} after {seconds:.2f} s |"
        )
    base = results["httptools"][8][1]
    for protocol in ("bounded", "h11"):
        print(f"{protocol}: {results[protocol][8][1] / base:.2f}x httptools' requests per server CPU second")


if __name__ == "__main__":
    main()
