"""The HTTP runs of benchmarks/reports_intake.py: report bodies, reports sent one by one, concurrently or as one
upload, a month closed under load, and route latencies; each run counts its answers, flags and failures."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from benchmarks.intake_service import service_cpu_seconds

DQ_MONTH = "2024-12"


@dataclass
class Failure:
    what: str
    status: int | str
    body: str


@dataclass
class Run:
    """One measured run: wall seconds, per-request seconds, failures."""

    wall: float = 0.0
    service_cpu: float = float("nan")  # CPU seconds the service process spent meanwhile (any load on the machine)
    latencies: list[float] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    flag_rules: dict[str, int] = field(default_factory=dict)
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (submission_id, field) of every flag raised
    refused: list[tuple[str, str]] = field(default_factory=list)  # (submission_id, field) of every refusal
    kept: set[str] = field(default_factory=set)  # submission ids inserted or updated (flagged, if at all, once)


# --- request bodies ----------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "item"):
        return value.item()
    return value


def report_bodies(rows: pd.DataFrame, month: str, tag: str) -> list[dict[str, Any]]:
    """One JSON report per row, for ``month`` (YYYY-MM), each with a new submission id."""
    bodies = []
    for record in rows.to_dict("records"):
        body = {str(k): plain(v) for k, v in record.items()}
        body.update(month=f"{month}-01", submission_id=f"{tag}-{uuid.uuid4()}")
        bodies.append(body)
    return bodies


def correction(record: dict[Any, Any], tag: str) -> dict[str, Any]:
    """A grid-month's report sent again with one value changed (one more dog)."""
    body = {str(k): plain(v) for k, v in record.items()}
    body.update(dogs=int(body["dogs"]) + 1, submission_id=f"{tag}-{uuid.uuid4()}")
    return body


# --- HTTP runs ---------------------------------------------------------------------------------------------


def check(resp: httpx.Response, what: str, run: Run, ids: dict[Any, str] | None = None) -> None:
    """Count the answer; ``ids``: row of a report -> its submission id (JSON: {1: id}; a file: line -> id)."""
    if resp.status_code != 200:
        run.failures.append(Failure(what, resp.status_code, resp.text[:400]))
        return
    if "/v1/reports" in what:
        body = resp.json()
        ids = ids or {}
        for name, n in body.get("counts", {}).items():
            run.outcomes[name] = run.outcomes.get(name, 0) + int(n)
        for flag in body.get("flags", []):
            rule = f"{flag['rule_id']}:{flag['field']}"
            run.flag_rules[rule] = run.flag_rules.get(rule, 0) + 1
            run.flagged.append((ids.get(flag["row"], "?"), flag["field"]))
        run.refused += [(ids.get(p["row"], "?"), p["field"]) for p in body.get("refused", [])]
        run.kept |= {r["submission_id"] for r in body.get("rows", []) if r["outcome"] in ("inserted", "updated")}


def timed(pid: int | None, measure: Any) -> Run:
    """Run ``measure()`` (a Run), recording the service's CPU seconds it caused."""
    before = service_cpu_seconds(pid)
    run: Run = measure()
    run.service_cpu = service_cpu_seconds(pid) - before
    return run


def sequential_posts(base: str, key: str, bodies: list[dict[str, Any]]) -> Run:
    run = Run()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=60, trust_env=False, headers=headers) as client:
        start = time.perf_counter()
        for body in bodies:
            t = time.perf_counter()
            resp = client.post("/v1/reports", json=body)
            run.latencies.append(time.perf_counter() - t)
            check(resp, f"POST /v1/reports {body['grid_id']} {body['month']}", run, {1: body["submission_id"]})
        run.wall = time.perf_counter() - start
    return run


async def concurrent_posts(base: str, key: str, bodies: list[dict[str, Any]], clients: int) -> Run:
    run = Run()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t = time.perf_counter()
            try:
                resp = await client.post("/v1/reports", json=body)
            except httpx.TransportError as exc:
                run.failures.append(Failure(f"POST /v1/reports {body['grid_id']}", type(exc).__name__, str(exc)))
                continue
            run.latencies.append(time.perf_counter() - t)
            check(resp, f"POST /v1/reports {body['grid_id']} {body['month']}", run, {1: body["submission_id"]})

    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False, headers=headers, limits=limits) as c:
        await c.get("/healthz")
        start = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        run.wall = time.perf_counter() - start
    return run


def upload(base: str, key: str, content: bytes, name: str, ids: dict[Any, str] | None = None) -> Run:
    run = Run()
    with httpx.Client(base_url=base, timeout=120, trust_env=False, headers={"Authorization": f"Bearer {key}"}) as c:
        c.get("/healthz")
        t = time.perf_counter()
        resp = c.post("/v1/reports/upload", files={"file": (name, content, "application/octet-stream")})
        run.wall = time.perf_counter() - t
        run.latencies.append(run.wall)
        check(resp, f"POST /v1/reports/upload {name}", run, ids)
    return run


@dataclass
class Switch:
    close_status: int | str = ""
    close_body: str = ""
    close_s: float = float("nan")  # request to response
    close_reported_s: float = float("nan")  # the answer's own `seconds`
    first_new: dict[str, float] = field(default_factory=dict)  # route -> s from sending the close
    answers: int = 0
    failures: list[Failure] = field(default_factory=list)
    latencies_before: list[float] = field(default_factory=list)
    latencies_during: list[float] = field(default_factory=list)


async def close_under_load(
    base: str, key: str, grids: list[str], month: str, new_dispute: str, new_asof: str, clients: int
) -> Switch:
    """``clients`` clients alternate dispute risk / grazing assessment over every grid; the month is closed
    after 1 s; the load stops 1 s after the close answered and both routes answered for the new month."""
    out = Switch()
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)
    stop = asyncio.Event()
    t_close: list[float] = []

    async def worker(client: httpx.AsyncClient, i: int) -> None:
        n = i
        while not stop.is_set():
            grid = grids[n % len(grids)]
            route = "dispute" if n % 2 == 0 else "grazing"
            path = f"/v1/dispute/risk/{grid}" if route == "dispute" else f"/v1/grazing/assessment/{grid}?season=warm"
            n += clients
            t = time.perf_counter()
            try:
                resp = await client.get(path)
            except httpx.TransportError as exc:
                out.failures.append(Failure(f"GET {path}", type(exc).__name__, str(exc)))
                continue
            done = time.perf_counter()
            out.answers += 1
            (out.latencies_during if t_close else out.latencies_before).append(done - t)
            if resp.status_code != 200:
                out.failures.append(Failure(f"GET {path}", resp.status_code, resp.text[:400]))
                continue
            body = resp.json()
            new = body.get("month") == new_dispute if route == "dispute" else body.get("as_of_month") == new_asof
            if new and t_close and t >= t_close[0]:
                out.first_new.setdefault(route, done - t_close[0])

    async def closer(client: httpx.AsyncClient) -> None:
        await asyncio.sleep(1.0)
        t_close.append(time.perf_counter())
        try:
            resp = await client.post(f"/v1/months/{month}/close", headers=headers, timeout=120)
            out.close_s = time.perf_counter() - t_close[0]
            out.close_status, out.close_body = resp.status_code, resp.text[:600]
            if resp.status_code == 200:
                out.close_reported_s = float(resp.json()["seconds"])
        except httpx.TransportError as exc:
            out.close_status, out.close_body = type(exc).__name__, str(exc)
        deadline = time.perf_counter() + 60
        while len(out.first_new) < 2 and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        stop.set()

    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False, headers=headers, limits=limits) as c:
        await asyncio.gather(closer(c), *(worker(c, i) for i in range(clients)))
    return out


def route_latencies(base: str, planner: str, reporter: str, n: int, posts: list[dict[str, Any]]) -> dict[str, Run]:
    """Sequential p50/p99 of the four routes of (d); ``posts`` are the report bodies to send (n of them)."""
    runs: dict[str, Run] = {}
    grids = [f"G{i:03d}" for i in range(1, 458)]
    gets = {
        "GET /v1/dispute/risk/{grid}": lambda i: f"/v1/dispute/risk/{grids[i % len(grids)]}",
        "GET /v1/grazing/assessment/{grid}": lambda i: f"/v1/grazing/assessment/{grids[i % len(grids)]}?season=warm",
        f"GET /v1/data-quality?month={DQ_MONTH}": lambda i: f"/v1/data-quality?month={DQ_MONTH}",
    }
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
        for name, path in gets.items():
            run = Run()
            headers = {"Authorization": f"Bearer {planner}"}
            client.get(path(0), headers=headers)  # warm
            for i in range(n):
                t = time.perf_counter()
                resp = client.get(path(i), headers=headers)
                run.latencies.append(time.perf_counter() - t)
                check(resp, f"GET {path(i)}", run)
            runs[name] = run
        run = Run()
        for body in posts:
            t = time.perf_counter()
            resp = client.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {reporter}"})
            run.latencies.append(time.perf_counter() - t)
            check(resp, f"POST /v1/reports {body['grid_id']} {body['month']} (correction)", run)
        runs["POST /v1/reports (one correction)"] = run
    return runs


# --- main -------------------------------------------------------------------------------------------------
