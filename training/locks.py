"""Cross-process locks and conflict retries for the promotion step.

Promotion reads the champion, scores it, decides and moves the ``challenger`` and ``champion`` aliases.
Done by several trainers at once, that is a lost-update race (and, on PostgreSQL, MLflow's read-then-insert
alias write raises ``UniqueViolation``). :func:`promotion_lock` makes it a compare-and-set: one holder per
registered model at a time, on whatever the trainers share:

* a PostgreSQL database (the MLflow store itself, or the Optuna database when MLflow is reached through a
  tracking server): a session-level ``pg_advisory_lock`` on a connection of its own, keyed by the model
  name. The server releases it if the process dies;
* a SQLite store: ``flock`` on a file next to the database (the kernel releases it if the process dies);
* nothing (an http(s) tracking server without a shared PostgreSQL database): no lock; the caller re-reads
  the champion after writing and re-checks (see ``training.tracking``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

T = TypeVar("T")

LOCK_TIMEOUT_S = 600.0  # a holder scores one champion and writes a few rows: seconds, even on a busy machine
LockKind = Literal["postgresql", "file", "none"]
# How a unique-key or "already exists" conflict reads, from the SQL store or through a tracking server.
CONFLICT_MARKERS = (
    "uniqueviolation",
    "unique constraint",
    "duplicate key",
    "already exists",
    "resource_already_exists",
    "integrityerror",
    "model version creation error",  # MLflow gave up after its own retries of the next version number
)


@dataclass(frozen=True)
class LockPlan:
    """Which lock serialises promotions: its kind and where (a database URL or a lock-file folder)."""

    kind: LockKind
    target: str = ""

    def describe(self) -> str:
        return {
            "postgresql": "postgresql advisory lock",
            "file": "file lock",
            "none": "none (re-checked after writing)",
        }[self.kind]


def _backend(url: str | None) -> str | None:
    """``postgresql``, ``sqlite``, ... for a SQLAlchemy URL; ``None`` for anything else (http, databricks)."""
    if not url or "://" not in url or url.startswith(("http:", "https:", "databricks")):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return str(make_url(url).get_backend_name())
    except ArgumentError:
        return None


def plan_lock(tracking_uri: str, *, work_dir: Path, shared_database: str | None = None) -> LockPlan:
    """The lock for promotions on this tracking store.

    Args:
        tracking_uri: MLflow's tracking URI.
        work_dir: fallback folder for the lock file of a SQLite store without a file path.
        shared_database: another database URL every trainer shares (the Optuna storage), used when the
            tracking URI is a server: only a PostgreSQL one serves (a SQLite file is one machine's).
    """
    backend = _backend(tracking_uri)
    if backend == "postgresql":
        return LockPlan("postgresql", tracking_uri)
    if backend == "sqlite":
        from sqlalchemy.engine import make_url

        database = make_url(tracking_uri).database
        if database and database != ":memory:" and not database.startswith("file:"):
            return LockPlan("file", str(Path(database).resolve().parent))
        return LockPlan("file", str(Path(work_dir).resolve()))
    if backend is None and _backend(shared_database) == "postgresql":
        assert shared_database is not None
        return LockPlan("postgresql", shared_database)
    return LockPlan("none")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from a registered model's name."""
    digest = hashlib.sha256(f"muzhang-promotion:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(folder: Path, name: str) -> Path:
    """The lock file of one registered model in ``folder`` (the name hashed: any characters are safe)."""
    return Path(folder) / f".muzhang-promotion-{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"


@contextmanager
def promotion_lock(plan: LockPlan, name: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[LockPlan]:
    """Hold the promotion lock of registered model ``name`` for the ``with`` block.

    Raises:
        TimeoutError: another holder kept it longer than ``timeout_s``.
    """
    if plan.kind == "postgresql":
        with _advisory_lock(plan.target, lock_key(name), timeout_s):
            yield plan
    elif plan.kind == "file":
        with file_lock(lock_file(Path(plan.target), name), timeout_s):
            yield plan
    else:
        yield plan


@contextmanager
def _advisory_lock(url: str, key: int, timeout_s: float) -> Iterator[None]:
    """Session-level advisory lock on a connection of its own (autocommit: no transaction stays open)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"SET lock_timeout = {max(1, int(timeout_s * 1000))}"))
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            except sqlalchemy.exc.OperationalError as exc:  # lock_timeout: LockNotAvailable
                raise TimeoutError(f"promotion lock {key} not acquired within {timeout_s:.0f} s: {exc}") from exc
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


@contextmanager
def file_lock(path: Path, timeout_s: float = LOCK_TIMEOUT_S, poll_s: float = 0.05) -> Iterator[None]:
    """Exclusive ``flock`` on ``path`` (created if missing); polls until ``timeout_s``.

    Works between processes and between threads (each call opens its own file description).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"lock {path} not acquired within {timeout_s:.0f} s") from None
                time.sleep(poll_s * (0.5 + random.random()))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_conflict(exc: BaseException) -> bool:
    """True for a unique-key / "already exists" conflict anywhere in the exception's chain."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        text = f"{type(seen).__name__} {getattr(seen, 'error_code', '')} {seen}".lower()
        if any(marker in text for marker in CONFLICT_MARKERS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_on_conflict(
    action: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``; on a conflict (:func:`is_conflict`) try again after a jittered, growing pause.

    Other errors, and the last conflict, propagate.
    """
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts - 1 or not is_conflict(exc):
                raise
            sleep(base_delay_s * (2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover
