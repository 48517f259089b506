"""Prometheus metrics and the append-only disease access log.

Neither ever holds personal data: metrics carry route templates and families, the audit log carries
who (key name and role), when, which route, the answer's status, how many rows and, for enough people, the
count of each risk band. Refused attempts are audited too.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    """One registry per app (no global state), exported as Prometheus text at /metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "muzhang_requests", "HTTP requests", ["route", "family", "status"], registry=self.registry
        )
        self.errors = Counter(
            "muzhang_errors",
            "Responses with status >= 400",
            ["route", "family", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "muzhang_request_seconds",
            "Request latency",
            ["route", "family"],
            buckets=(0.001, 0.002, 0.003, 0.005, 0.008, 0.013, 0.021, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.explain = Histogram(
            "muzhang_explanation_seconds",
            "Time spent explaining predictions",
            ["family"],
            buckets=(0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 1),
            registry=self.registry,
        )
        self.rows = Counter("muzhang_rows_scored", "Rows scored", ["family"], registry=self.registry)
        # Models in the world (issue 11): set at month close and whenever GET /v1/monitoring is read.
        self.live_metric = Gauge(
            "muzhang_live_metric",
            "Champion's live metric, latest scored month",
            ["family", "metric"],
            registry=self.registry,
        )
        self.live_worse = Gauge(
            "muzhang_live_worse_than_test",
            "1 when that live metric is worse than its test value beyond its interval",
            ["family", "metric"],
            registry=self.registry,
        )
        self.drifted = Gauge(
            "muzhang_drifted_features",
            "Current month's features past their drift bar",
            ["family"],
            registry=self.registry,
        )
        self.missing_outcomes = Gauge(
            "muzhang_forecasts_missing_outcome",
            "Forecasts of closed months without an outcome",
            ["family"],
            registry=self.registry,
        )
        self.triggers = Gauge("muzhang_retrain_triggers", "Retrain triggers firing", ["family"], registry=self.registry)

    def observe_request(self, route: str, family: str, status: int, seconds: float) -> None:
        self.requests.labels(route, family, str(status)).inc()
        self.latency.labels(route, family).observe(seconds)
        if status >= 400:
            self.errors.labels(route, family, str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


ANONYMOUS = "anonymous"


@dataclass
class AuditLog:
    """Append-only JSON lines. The file is opened with O_APPEND for every entry; nothing rewrites it.

    Every line has the same keys: ``ts`` (to the second), ``who`` (the key's name, or ``anonymous`` when no
    known key was sent), ``role``, ``route``, ``status``, ``rows`` and ``bands``. A scoring writes its row
    count and, only for ``min_rows`` people or more, the count of each band per condition (one person's
    counts would be that person's bands). A refused attempt writes its status, no rows and no bands.
    """

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(
        self,
        *,
        who: str,
        role: str,
        route: str,
        rows: int,
        bands: dict[str, dict[str, int]],
        min_rows: int = 1,
    ) -> None:
        """One scoring: who, when, route, row count; band counts only when ``rows >= min_rows``."""
        self._append(who=who, role=role, route=route, status=200, rows=rows, bands=bands if rows >= min_rows else None)

    def write_refusal(self, *, who: str | None, role: str | None, route: str, status: int) -> None:
        """One refused attempt (no key, wrong key or role, bad input, too large, throttled)."""
        self._append(who=who or ANONYMOUS, role=role, route=route, status=status, rows=None, bands=None)

    def _append(self, **fields: Any) -> None:
        entry: dict[str, Any] = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
