"""Load: the real service (``muzhang serve`` in a subprocess) under 16 concurrent clients for a minute.

The service serves the session store's four champions; the clients mix every kind of call a county office
makes (grazing assessments and what-ifs, dispute risk and the watch-list, market forecasts, disease scores
with a health key, the model list and readiness). Every request is valid, so every answer must be a 200:
no 5xx, no refused or dropped connection. Latency percentiles and throughput are printed, recorded as the
test's ``record_property("load", ...)`` and written to ``load-report.json`` in the test's temp folder.

``MUZHANG_LOAD_SECONDS`` shortens the run while developing (default 60, what CI runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from muzhang.settings import Settings

pytestmark = pytest.mark.slow

LOAD_SECONDS = float(os.environ.get("MUZHANG_LOAD_SECONDS", "60"))
CLIENTS = 16
REQUEST_TIMEOUT = 30.0
SEASONS = ("warm", "cold", "transition")
SPECIES = ("yak", "sheep", "goat", "horse")
RECORD: dict[str, Any] = {  # a made-up health-check record; each request varies age and blood pressure
    "sex": "female",
    "ethnicity": "tibetan",
    "occupation": "herder",
    "township_id": "T01",
    "residence_altitude_m": 4210,
    "dogs_owned": 3,
    "plays_with_dogs": True,
    "water_source": "open_stream",
    "raw_milk": True,
    "bmi": 23.4,
    "diastolic_bp": 88,
    "spo2_pct": 87,
}
# Route -> share of the traffic.
MIX = {
    "grazing_assessment": 18,
    "grazing_what_if": 10,
    "dispute_risk": 18,
    "dispute_watchlist": 8,
    "market_forecast": 15,
    "disease_score": 12,
    "models": 10,
    "readyz": 9,
}

Request = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


@pytest.fixture(scope="module")
def live_service(
    champions: None,
    tracked_settings: Settings,
    api_keys: dict[str, str],
    servers: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """``muzhang serve`` on the session store, with the keys and no registry polling."""
    folder = tmp_path_factory.mktemp("load-service")
    keys = [
        {"name": f"load-{role}", "role": role, "sha256": hashlib.sha256(key.encode()).hexdigest()}
        for role, key in api_keys.items()
    ]
    env = servers.child_env(
        tracked_settings.work_dir, tracked_settings.data_dir, api_keys=keys, audit_log=folder / "audit.jsonl"
    )
    with servers.running_server(env, folder / "service.log", cwd=folder) as server:
        yield server


@dataclass
class Traffic:
    """The request generator: valid requests only, drawn from :data:`MIX` with a per-client seed."""

    grids: list[str]
    townships: list[str]
    markets: list[tuple[str, str]]  # (township, species) pairs with market records
    headers: dict[str, dict[str, str]]
    makers: dict[str, Callable[[random.Random], Request]] = field(init=False)

    def __post_init__(self) -> None:
        self.makers = {
            "grazing_assessment": lambda r: (
                "GET",
                f"/v1/grazing/assessment/{r.choice(self.grids)}",
                {"params": {"season": r.choice(SEASONS), "lang": r.choice(("zh", "en"))}},
            ),
            "grazing_what_if": lambda r: (
                "POST",
                "/v1/grazing/what-if",
                {
                    "json": {
                        "grid_id": r.choice(self.grids),
                        "season": r.choice(SEASONS),
                        "add_head": {r.choice(SPECIES): r.randint(-200, 500)},
                        "rest": r.random() < 0.2,
                        "drought": r.random() < 0.3,
                    }
                },
            ),
            "dispute_risk": lambda r: ("GET", f"/v1/dispute/risk/{r.choice(self.grids)}", {}),
            "dispute_watchlist": lambda r: (
                "GET",
                "/v1/dispute/watchlist",
                {
                    "params": {"top": r.randint(1, 30)}
                    | ({"township_id": r.choice(self.townships)} if r.random() < 0.5 else {})
                },
            ),
            "market_forecast": lambda r: (
                "GET",
                "/v1/market/forecast",
                {"params": dict(zip(("township_id", "species"), r.choice(self.markets), strict=True))},
            ),
            "disease_score": lambda r: (
                "POST",
                "/v1/disease/score",
                {
                    "json": {
                        "records": [
                            {**RECORD, "ref": f"r{i}", "age": r.randint(20, 75), "systolic_bp": r.randint(100, 170)}
                            for i in range(r.randint(1, 5))
                        ]
                    }
                },
            ),
            "models": lambda r: ("GET", "/v1/models", {}),
            "readyz": lambda r: ("GET", "/readyz", {}),
        }

    def role_of(self, name: str) -> str:
        return "health" if name == "disease_score" else "data_scientist" if name == "models" else "planner"

    def make(self, name: str, rng: random.Random) -> Request:
        method, path, kwargs = self.makers[name](rng)
        return method, path, {**kwargs, "headers": self.headers[self.role_of(name)]}


@pytest.fixture(scope="module")
def traffic(tiny_county: Path, api_keys: dict[str, str]) -> Traffic:
    grids = pd.read_csv(tiny_county / "grids.csv", dtype=str)
    market = pd.read_parquet(tiny_county / "market_monthly.parquet", columns=["township_id", "species"])
    pairs = sorted({(str(t), str(s)) for t, s in market.itertuples(index=False)})
    headers = {role: {"Authorization": f"Bearer {key}"} for role, key in api_keys.items()}
    return Traffic(sorted(grids["grid_id"]), sorted(grids["township_id"].unique()), pairs, headers)


@dataclass
class Outcome:
    route: str
    status: int | None  # None: no answer (connection refused, dropped, timed out)
    seconds: float
    problem: str = ""


def run_clients(base_url: str, traffic: Traffic, clients: int, seconds: float) -> tuple[list[Outcome], float]:
    """``clients`` threads, each with its own keep-alive connection, sending until the deadline."""
    names, weights = list(MIX), list(MIX.values())
    outcomes: list[list[Outcome]] = [[] for _ in range(clients)]
    start = time.monotonic()
    stop = start + seconds

    def client_loop(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            while time.monotonic() < stop:
                name = rng.choices(names, weights)[0]
                method, path, kwargs = traffic.make(name, rng)
                began = time.perf_counter()
                try:
                    response = client.request(method, path, **kwargs)
                    status, problem = response.status_code, "" if response.status_code == 200 else response.text[:300]
                except httpx.HTTPError as exc:
                    status, problem = None, f"{type(exc).__name__}: {exc}"
                outcomes[k].append(Outcome(name, status, time.perf_counter() - began, problem))

    threads = [threading.Thread(target=client_loop, args=(k,), name=f"load-{k}", daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT + 30)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads), "a load client did not finish in time"
    return [o for per_client in outcomes for o in per_client], elapsed


def latency_summary(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "n": len(ms),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ms.max(), 2),
    }


def test_every_route_answers_200_before_the_load(live_service: Any, traffic: Traffic) -> None:
    """One request of each kind, sequentially: the mix is valid (and the service's caches are warm)."""
    rng = random.Random(0)
    with httpx.Client(base_url=live_service.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        for name in MIX:
            method, path, kwargs = traffic.make(name, rng)
            response = client.request(method, path, **kwargs)
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:300]}"


def test_sixteen_clients_for_a_minute_get_only_200s(
    live_service: Any, traffic: Traffic, record_property: Callable[[str, object], None], tmp_path: Path
) -> None:
    outcomes, elapsed = run_clients(live_service.base_url, traffic, CLIENTS, LOAD_SECONDS)
    routes = {name: latency_summary([o.seconds for o in outcomes if o.route == name]) for name in MIX}

    report = {
        "seconds": round(elapsed, 2),
        "clients": CLIENTS,
        "requests": len(outcomes),
        "requests_per_second": round(len(outcomes) / elapsed, 1),
        **latency_summary([o.seconds for o in outcomes]),
        "routes": routes,
        "failures": sum(o.status != 200 for o in outcomes),
    }
    record_property("load", json.dumps(report))
    (tmp_path / "load-report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(
        f"\nload: {report['requests']} requests in {report['seconds']} s from {CLIENTS} clients = "
        f"{report['requests_per_second']} req/s; latency p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
        f"p99 {report['p99_ms']} ms, max {report['max_ms']} ms (report: {tmp_path / 'load-report.json'})"
    )
    failures = [o for o in outcomes if o.status != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} requests failed, e.g. " + "; ".join(
        f"{o.route} -> {o.status} {o.problem}" for o in failures[:5]
    )
    assert all(r["n"] > 0 for r in routes.values()), routes
    assert live_service.alive(), live_service.log()
    assert "unhandled error" not in live_service.log_path.read_text(encoding="utf-8", errors="replace")
