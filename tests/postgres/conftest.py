"""A throwaway PostgreSQL cluster for the scale-out tests: started once per session, removed at the end.

``initdb`` + ``pg_ctl`` in a temp folder, listening on 127.0.0.1 and a free port (no service manager, no
systemd), with one login role owning two databases: ``mlflow`` and ``optuna`` (Optuna gets its own: both
keep an ``alembic_version`` table). PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` OS user, in a fresh folder of the system temp dir (pytest's own temp root is private to root).
Missing binaries fail the session with the command that installs them (never a skip).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BINARY_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = "run `bash .ci/install-postgres.sh` (Debian's postgresql package; needs root or sudo)"
START_TIMEOUT_S = 30  # pg_ctl -w -t: starting a fresh cluster takes about a second
COMMAND_TIMEOUT_S = 60
ROLE = "muzhang"
DATABASES = ("mlflow", "optuna")
# A cluster that lives for one test session: durability only costs time here.
THROWAWAY_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: SQLAlchemy URLs of its two databases (driver psycopg 3) and where it lives."""

    mlflow_url: str
    optuna_url: str
    port: int
    folder: Path


def find_binaries() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder (the one with ``initdb``); fails the session if none."""
    found = sorted(
        (Path(b) for b in glob.glob(BINARY_GLOB) if (Path(b) / "initdb").is_file()),
        key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(f"PostgreSQL server binaries not found ({BINARY_GLOB}/initdb): {INSTALL_HINT}", pytrace=False)
    return found[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Runs PostgreSQL's commands as the user that may own the cluster (``postgres`` under root)."""

    def __init__(self, binaries: Path, folder: Path) -> None:
        self.binaries = binaries
        self.folder = folder
        self.data = folder / "data"
        self.sockets = folder / "run"
        self.log = folder / "postgres.log"
        self.as_root = os.geteuid() == 0
        for path in (self.folder, self.data, self.sockets):
            path.mkdir(mode=0o700, exist_ok=True)
            if self.as_root:
                shutil.chown(path, "postgres", "postgres")

    def run(self, tool: str, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> None:
        # cwd="/": the postgres user may not enter the caller's working directory.
        extra: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []} if self.as_root else {}
        done = subprocess.run(
            [str(self.binaries / tool), *args],
            cwd="/",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **extra,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}\n{log}")

    def init(self) -> None:
        self.run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
        )

    def start(self, port: int) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {self.sockets} {THROWAWAY_OPTIONS}"
        self.run(
            "pg_ctl",
            *("-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"),
            timeout=START_TIMEOUT_S + 10,
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S), "stop")


def create_databases(server: Server, port: int, password: str) -> None:
    """A login role that owns one database per store (over the Unix socket, where the superuser is trusted)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(server.sockets), port=port, user="postgres", dbname="postgres", autocommit=True, connect_timeout=10
    ) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
        for name in DATABASES:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE)))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """A fresh cluster on 127.0.0.1 with databases ``mlflow`` and ``optuna``; stopped and removed at the end."""
    binaries = find_binaries()
    # Under root the server runs as postgres, which cannot enter pytest's temp root (0700 root).
    private = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="muzhang-pg-")) if private else tmp_path_factory.mktemp("postgres")
    server = Server(binaries, folder)
    started = False
    try:
        server.init()
        for attempt in range(3):  # the free port may be taken between the probe and the start
            port = free_port()
            try:
                server.start(port)
                started = True
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        password = secrets.token_urlsafe(16)
        create_databases(server, port, password)
        base = f"postgresql+psycopg://{ROLE}:{password}@127.0.0.1:{port}"
        yield PostgresCluster(f"{base}/mlflow", f"{base}/optuna", port, folder)
    finally:
        try:
            if started:
                server.stop()
        finally:
            if private:
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_postgres_database(postgres: PostgresCluster) -> Callable[[str], str]:
    """``new_postgres_database(name)``: one more empty database on the cluster, owned by the test role; its URL.

    For a test that must not share the ``mlflow`` database with the others (its experiments and models
    would show up in their counts).
    """

    def create(name: str) -> str:
        import psycopg
        from psycopg import sql

        # Over the Unix socket (``Server.sockets``), where the superuser is trusted.
        with psycopg.connect(
            host=str(postgres.folder / "run"),
            port=postgres.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE)))
        return f"{postgres.mlflow_url.rsplit('/', 1)[0]}/{name}"

    return create
