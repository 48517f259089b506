"""Unit tests of the promotion lock (file path, used on SQLite stores) and of the conflict retries."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from training.locks import (
    LockPlan,
    file_lock,
    is_conflict,
    lock_file,
    lock_key,
    plan_lock,
    promotion_lock,
    retry_on_conflict,
)

HOLD_S = 0.05  # long enough that unserialised sections would overlap
ROUNDS = 4


def critical_section(plan: LockPlan, name: str, journal: Path, who: str) -> None:
    """Enter the lock ROUNDS times; write enter/leave lines with a pause in between."""
    for _ in range(ROUNDS):
        with promotion_lock(plan, name, timeout_s=120):
            with journal.open("a") as out:
                out.write(f"enter {who}\n")
            time.sleep(HOLD_S)
            with journal.open("a") as out:
                out.write(f"leave {who}\n")


def assert_never_overlapped(journal: Path, holders: int) -> None:
    lines = journal.read_text().splitlines()
    assert len(lines) == 2 * holders * ROUNDS, lines
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("enter ") and leave == f"leave {enter.split()[1]}", lines


def test_file_lock_serialises_threads(tmp_path: Path) -> None:
    plan = LockPlan("file", str(tmp_path))
    journal = tmp_path / "journal.txt"
    threads = [
        threading.Thread(target=critical_section, args=(plan, "muzhang-dispute", journal, f"t{i}")) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert_never_overlapped(journal, 4)


# A separate interpreter, like a separate trainer: nothing shared but the lock file.
CHILD = """
import sys, time
from pathlib import Path
from training.locks import LockPlan, promotion_lock
folder, journal, who, rounds, hold = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
for _ in range(rounds):
    with promotion_lock(LockPlan("file", folder), "muzhang-dispute", timeout_s=120):
        with journal.open("a") as out:
            out.write(f"enter {who}\\n")
        time.sleep(hold)
        with journal.open("a") as out:
            out.write(f"leave {who}\\n")
"""


def test_file_lock_serialises_processes(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    args = [str(tmp_path), str(journal)]
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, *args, f"p{i}", str(ROUNDS), str(HOLD_S)]) for i in range(3)
    ]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0]
    assert_never_overlapped(journal, 3)


def test_locks_of_different_models_do_not_block_each_other(tmp_path: Path) -> None:
    plan = LockPlan("file", str(tmp_path))
    with promotion_lock(plan, "muzhang-dispute"), promotion_lock(plan, "muzhang-market", timeout_s=1):
        pass
    assert lock_file(tmp_path, "muzhang-dispute") != lock_file(tmp_path, "muzhang-market")


def test_file_lock_times_out_while_held(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with file_lock(path), pytest.raises(TimeoutError, match=r"x\.lock"), file_lock(path, timeout_s=0.2):
        pass
    with file_lock(path, timeout_s=0.2):  # released after the holder left
        pass


def test_plan_follows_the_tracking_store(tmp_path: Path) -> None:
    db = tmp_path / "store" / "mlflow.db"
    assert plan_lock(f"sqlite:///{db}", work_dir=tmp_path / "w") == LockPlan("file", str(db.parent))
    assert plan_lock("sqlite://", work_dir=tmp_path / "w") == LockPlan("file", str(tmp_path / "w"))
    pg = "postgresql+psycopg://u:p@127.0.0.1:5432/mlflow"
    assert plan_lock(pg, work_dir=tmp_path) == LockPlan("postgresql", pg)
    # A tracking server: the trainers' shared PostgreSQL Optuna database serves; a SQLite one does not.
    optuna_pg = "postgresql://u:p@db/optuna"
    assert plan_lock("http://mlflow:5000", work_dir=tmp_path, shared_database=optuna_pg) == LockPlan(
        "postgresql", optuna_pg
    )
    assert plan_lock("https://m", work_dir=tmp_path, shared_database=f"sqlite:///{db}").kind == "none"
    assert plan_lock("http://mlflow:5000", work_dir=tmp_path).kind == "none"
    assert plan_lock("databricks", work_dir=tmp_path).kind == "none"


def test_lock_key_is_stable_and_fits_bigint() -> None:
    key = lock_key("muzhang-dispute")
    assert key == lock_key("muzhang-dispute") != lock_key("muzhang-market")
    assert -(2**63) <= key < 2**63
    # Stable across processes (sha256, not the salted hash()): every trainer must compute the same key.
    code = "from training.locks import lock_key; print(lock_key('muzhang-dispute'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert int(other.stdout) == key


class UniqueViolation(Exception):
    pass


def test_conflicts_are_recognised_through_the_cause_chain() -> None:
    try:
        try:
            raise UniqueViolation('duplicate key value violates unique constraint "registered_model_alias_pk"')
        except UniqueViolation as inner:
            raise RuntimeError("(sqlalchemy.exc.IntegrityError) wrapped") from inner
    except RuntimeError as exc:
        assert is_conflict(exc)
    assert is_conflict(RuntimeError("Registered Model (name=m) already exists."))
    assert not is_conflict(RuntimeError("connection refused"))


def test_retry_on_conflict_retries_conflicts_only() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise UniqueViolation("duplicate key value violates unique constraint")
        return "ok"

    assert retry_on_conflict(flaky, sleep=pauses.append) == "ok"
    assert len(calls) == 3 and len(pauses) == 2 and all(p > 0 for p in pauses)

    def broken() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        retry_on_conflict(broken, sleep=pauses.append)
    assert len(pauses) == 2  # no pause: not a conflict

    def always() -> None:
        raise UniqueViolation("duplicate key")

    with pytest.raises(UniqueViolation):
        retry_on_conflict(always, attempts=3, sleep=pauses.append)
    assert len(pauses) == 4
