"""Serving speed: Muzhang (with explanations) against `mlflow models serve` on the same registered model.

Starts both servers on 127.0.0.1, one uvicorn worker each, serving the dispute champion
(``models:/muzhang-dispute@champion`` in the store the settings point at):

* Muzhang: ``GET /v1/dispute/risk/{grid}?lang=en`` -- probability, band and TreeSHAP explanation;
* MLflow: ``POST /invocations`` with the same grid's feature row -- probability only
  (``mlflow models serve --env-manager local``).

Requests rotate over every grid of the county (Muzhang) and the matching feature rows (MLflow). Prints

* sequential latency p50/p99 (one keep-alive connection, stdlib client);
* throughput and latency under load at 1, 4 and 16 concurrent connections, measured with ``wrk`` when it
  is installed (``apt-get install -y wrk``), else with a raw-socket asyncio client in ``--client-procs``
  processes; client and server CPU are shown so a client-bound run is visible;
* the load generator's ceiling (the same client against ``GET /healthz``);
* the ratio Muzhang / MLflow for each figure, and a markdown table for the README.

Targets (issue 4): p50 <= 3 ms, p99 <= 8 ms, throughput >= 5x mlflow models serve. Figures, not asserts.
Time: about ``2 x 3 x --seconds`` of load plus ~30 s of start-up and sequential requests.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/serve_vs_mlflow.py [--seconds 5] [--client python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL_URI = "models:/muzhang-dispute@champion"
CONCURRENCY = (1, 4, 16)


@dataclass(frozen=True)
class Req:
    """One HTTP request of the rotation: method, path, extra headers, body."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def raw(self, port: int) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        head += [f"{k}: {v}" for k, v in self.headers]
        if self.body:
            head.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class Load:
    """One load run: requests/s, latency under load, errors, client and server CPU (% of one core)."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu: float
    server_cpu: float


# --- servers --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server in its own process group, so stopping it stops its children (mlflow's uvicorn) too."""
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)  # the group we created in start(): only our server and its children
        if sig == signal.SIGTERM:
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)
    for p in procs:
        p.wait(timeout=10)


def wait_until_up(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for :{port} exited with {proc.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f":{port}{path} did not come up in {timeout:.0f} s")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc; 0 elsewhere)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "comm)": state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


# --- sequential latency ---------------------------------------------------------------------------------


def sequential(port: int, reqs: list[Req], n: int, expect: bytes) -> np.ndarray:
    """Milliseconds per request, one after the other on one keep-alive connection (each answer checked)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = np.empty(n)
    for i in range(n):
        r = reqs[i % len(reqs)]
        t = time.perf_counter()
        conn.request(r.method, r.path, body=r.body or None, headers=dict(r.headers))
        resp = conn.getresponse()
        resp_body = resp.read()
        out[i] = time.perf_counter() - t
        if resp.status != 200 or expect not in resp_body:
            raise RuntimeError(f"{r.method} {r.path}: {resp.status} {resp_body[:200]!r}")
    conn.close()
    return out * 1000


# --- load: wrk ------------------------------------------------------------------------------------------


def lua_script(reqs: list[Req], port: int) -> str:
    def q(s: str) -> str:
        return f"[==[{s}]==]"

    lines = ["local reqs = {}", "function init(args)"]
    for r in reqs:
        headers = ", ".join(f"[ {q(k)} ] = {q(v)}" for k, v in (("Host", f"127.0.0.1:{port}"), *r.headers))
        body = q(r.body.decode()) if r.body else "nil"
        lines.append(f"  reqs[#reqs + 1] = wrk.format({q(r.method)}, {q(r.path)}, {{{headers}}}, {body})")
    lines += ["end", "local i = 0", "function request()", "  i = i % #reqs + 1", "  return reqs[i]", "end"]
    return "\n".join(lines) + "\n"


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def wrk_load(wrk: str, port: int, reqs: list[Req], clients: int, seconds: float, pgid: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(reqs, port))
    try:
        cmd = [wrk, "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", "-s", f.name]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server0, t0 = group_cpu_seconds(pgid), time.perf_counter()
        out = subprocess.run([*cmd, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=seconds + 60)
        wall = time.perf_counter() - t0
        server = group_cpu_seconds(pgid) - server0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(f.name)
    text = out.stdout
    if out.returncode != 0 or out.stderr.strip() or "Requests/sec" not in text:  # a Lua error only warns
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or text}")

    def latency(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    client = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Load(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        errors=(int(errors.group(1)) if errors else 0) + (sum(map(int, sock.groups())) if sock else 0),
        client_cpu=100 * client / wall,
        server_cpu=100 * server / wall,
    )


# --- load: Python fallback (raw sockets, asyncio, several processes) -------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at >= 0:
        await reader.readexactly(int(lower[at + 15 : lower.index(b"\r\n", at)]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _connection(port: int, reqs: list[bytes], offset: int, deadline: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors, i = 0, offset
    try:
        while time.time() < deadline:
            t = time.perf_counter()
            writer.write(reqs[i % len(reqs)])
            status = await _read_response(reader)
            out.append(time.perf_counter() - t)
            errors += status != 200
            i += 1
    finally:
        writer.close()
    return errors


def _client_process(
    port: int, reqs: list[bytes], connections: int, start_at: float, seconds: float, q: mp.Queue
) -> None:  # type: ignore[type-arg]
    async def run() -> tuple[list[float], int]:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        out: list[float] = []
        errs = await asyncio.gather(
            *(_connection(port, reqs, k * 97, start_at + seconds, out) for k in range(connections))
        )
        return out, sum(errs)

    cpu0 = time.process_time()
    lat, errors = asyncio.run(run())
    q.put((lat, errors, time.process_time() - cpu0))


def python_load(port: int, reqs: list[Req], clients: int, seconds: float, pgid: int, procs: int) -> Load:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    raw = [r.raw(port) for r in reqs]
    n_procs = min(procs, clients)
    share = [clients // n_procs + (k < clients % n_procs) for k in range(n_procs)]
    start_at = time.time() + 3.0  # spawned interpreters need a moment; all start together
    workers = [
        ctx.Process(target=_client_process, args=(port, raw, c, start_at, seconds, q), daemon=True) for c in share
    ]
    for w in workers:
        w.start()
    time.sleep(max(0.0, start_at - time.time()))
    server0 = group_cpu_seconds(pgid)
    results = [q.get(timeout=seconds + 60) for _ in workers]
    server = group_cpu_seconds(pgid) - server0
    for w in workers:
        w.join(timeout=10)
    lat = np.concatenate([np.asarray(r[0]) for r in results]) * 1000
    return Load(
        rps=len(lat) / seconds,
        p50_ms=float(np.percentile(lat, 50)),
        p99_ms=float(np.percentile(lat, 99)),
        errors=sum(r[1] for r in results),
        client_cpu=100 * sum(r[2] for r in results) / seconds,
        server_cpu=100 * server / seconds,
    )


# --- the load generator's own ceiling: a stub server that answers every request at once --------------


class _Stub(asyncio.Protocol):
    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        n = self.pending.count(b"\r\n\r\n")  # GETs only: a request ends with its blank line
        if n:
            self.pending = self.pending[self.pending.rindex(b"\r\n\r\n") + 4 :]
            self.transport.write(self.ANSWER * n)


def _stub_server(port: int, seconds: float) -> None:
    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", port)
        async with server:
            await asyncio.sleep(seconds)

    asyncio.run(run())


def client_ceiling(load: Callable[[int, list[Req], int, int], Load], reqs: list[Req], seconds: float) -> Load:
    """Requests/s the load generator reaches against a stub (pure-Python asyncio, one process)."""
    port = free_port()
    stub = mp.get_context("spawn").Process(target=_stub_server, args=(port, seconds + 120), daemon=True)
    stub.start()
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        assert stub.pid is not None
        return load(port, reqs, 16, stub.pid)
    finally:
        stub.terminate()
        stub.join(timeout=10)


# --- main -----------------------------------------------------------------------------------------------


def build_requests(key: str) -> tuple[list[Req], list[Req]]:
    """Muzhang GETs and MLflow POSTs for every grid's forecast row, same order."""
    from features import build_features, load_county
    from models.pyfunc import load_bundle
    from muzhang.settings import get_settings
    from training.tracking import point_mlflow_at

    settings = get_settings()
    point_mlflow_at(settings.tracking_uri())
    features = load_bundle(MODEL_URI).features
    frame = build_features("dispute", load_county(settings.data_dir), forecast=True).frame
    auth = (("Authorization", f"Bearer {key}"),)
    ours = [Req("GET", f"/v1/dispute/risk/{g}?lang=en", auth) for g in frame["grid_id"].astype(str)]
    split = json.loads(frame[features].to_json(orient="split", index=False))
    theirs = [
        Req(
            "POST",
            "/invocations",
            (("Content-Type", "application/json"),),
            json.dumps({"dataframe_split": {"columns": split["columns"], "data": [row]}}).encode(),
        )
        for row in split["data"]
    ]
    return ours, theirs


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="Duration of each load run (default 5).")
    parser.add_argument("--requests", type=int, default=2000, help="Sequential requests per server (default 2000).")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="Load generator: wrk if installed (auto), or the Python asyncio client.",
    )
    parser.add_argument("--client-procs", type=int, default=2, help="Processes of the Python client (default 2).")
    args = parser.parse_args()

    load1 = os.getloadavg()
    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")
    client_name = "wrk -t1 (C, epoll)" if wrk else f"Python asyncio raw sockets, {args.client_procs} processes"

    from muzhang.settings import get_settings

    settings = get_settings()
    key = secrets.token_urlsafe(16)
    keys = [{"name": "bench", "role": "planner", "sha256": hashlib.sha256(key.encode()).hexdigest()}]
    env = {
        **os.environ,
        "MUZHANG_API_KEYS": json.dumps(keys),
        "MUZHANG_POLL_SECONDS": "0",
        "MLFLOW_TRACKING_URI": settings.tracking_uri(),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ours_reqs, theirs_reqs = build_requests(key)
    ours_port, mlflow_port = free_port(), free_port()
    ours_cmd = [str(BIN / "muzhang"), "serve", "--host", "127.0.0.1", "--port", str(ours_port)]
    theirs_cmd = [str(BIN / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local"]
    theirs_cmd += ["-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"]

    def load(port: int, reqs: list[Req], clients: int, pgid: int, seconds: float = args.seconds) -> Load:
        if wrk:
            return wrk_load(wrk, port, reqs, clients, seconds, pgid)
        return python_load(port, reqs, clients, seconds, pgid, args.client_procs)

    seq: dict[str, np.ndarray] = {}
    runs: dict[tuple[str, int], Load] = {}
    procs = [start(ours_cmd, env), start(theirs_cmd, env)]
    try:
        t0 = time.perf_counter()
        wait_until_up(ours_port, "/readyz", procs[0])
        wait_until_up(mlflow_port, "/ping", procs[1])
        up = time.perf_counter() - t0
        servers = {"muzhang": (ours_port, ours_reqs, procs[0].pid), "mlflow": (mlflow_port, theirs_reqs, procs[1].pid)}
        expect = {"muzhang": b'"explanation"', "mlflow": b'"predictions"'}
        for name, (port, reqs, _) in servers.items():
            sequential(port, reqs, min(200, args.requests), expect[name])  # warm up: caches, first requests
            seq[name] = sequential(port, reqs, args.requests, expect[name])
        for name, (port, reqs, pgid) in servers.items():
            load(port, reqs, 4, pgid, seconds=1.0)  # warm up under load
            for clients in CONCURRENCY:
                runs[name, clients] = load(port, reqs, clients, pgid)
    finally:
        stop(procs)
    ceiling = client_ceiling(load, ours_reqs, args.seconds)  # after the servers: the stub gets the CPU they had

    print(f"# Serving: muzhang vs mlflow models serve ({MODEL_URI}), 1 uvicorn worker each, 127.0.0.1")
    print(
        f"{os.cpu_count()} cores; load average before {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}; "
        f"servers ready in {up:.1f} s; load generator: {client_name}; {args.seconds:g} s per run"
    )
    print(f"requests rotate over {len(ours_reqs)} grids; muzhang answers with explanation, mlflow without")
    print()
    print(f"{'sequential (1 keep-alive conn.)':<34}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, lat in seq.items():
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"{name:<34}{p50:>9.2f}{p99:>9.2f}{lat.mean():>9.2f}")
    print()
    head = ("server", "clients", "req/s", "p50 ms", "p99 ms", "errors", "server CPU", "client CPU")
    print("".join(f"{h:<10}" if i == 0 else f"{h:>{12 if 'CPU' in h else 9}}" for i, h in enumerate(head)))
    for (name, clients), r in runs.items():
        print(
            f"{name:<10}{clients:>9}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>9}"
            f"{r.server_cpu:>11.0f}%{r.client_cpu:>11.0f}%"
        )
    top = max(r.rps for r in runs.values())
    verdict = "the client is not the limit" if ceiling.rps > 2 * top else "CLOSE: the client may be the limit"
    print(
        f"load generator ceiling (16 clients against a stub server that answers at once): {ceiling.rps:,.0f} req/s, "
        f"client CPU {ceiling.client_cpu:.0f}% -- {ceiling.rps / top:.1f}x the best figure above: {verdict}"
    )
    print()
    s_ours, s_theirs = np.percentile(seq["muzhang"], [50, 99]), np.percentile(seq["mlflow"], [50, 99])
    print("| load | Muzhang (with explanation) | MLflow serve (no explanation) | Muzhang / MLflow |")
    print("|---|---:|---:|---:|")
    print(
        f"| sequential p50 / p99 | {s_ours[0]:.2f} / {s_ours[1]:.2f} ms | {s_theirs[0]:.2f} / {s_theirs[1]:.2f} ms "
        f"| {ratio(s_ours[0], s_theirs[0])} / {ratio(s_ours[1], s_theirs[1])} latency |"
    )
    for clients in CONCURRENCY:
        a, b = runs["muzhang", clients], runs["mlflow", clients]
        print(
            f"| {clients} client{'s' if clients > 1 else ''}: req/s (p50 / p99 ms) | {a.rps:,.0f} ({a.p50_ms:.2f} / "
            f"{a.p99_ms:.2f}) | {b.rps:,.0f} ({b.p50_ms:.2f} / {b.p99_ms:.2f}) | {ratio(a.rps, b.rps)} throughput |"
        )
    best = max(runs["muzhang", c].rps / runs["mlflow", c].rps for c in CONCURRENCY)
    worst = min(runs["muzhang", c].rps / runs["mlflow", c].rps for c in CONCURRENCY)
    print()
    print(
        f"targets (issue 4): p50 <= 3 ms {'PASS' if s_ours[0] <= 3 else 'FAIL'}; p99 <= 8 ms "
        f"{'PASS' if s_ours[1] <= 8 else 'FAIL'}; throughput >= 5x mlflow at every load "
        f"{'PASS' if worst >= 5 else 'FAIL'} ({worst:.1f}x-{best:.1f}x)"
    )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
