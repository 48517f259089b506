"""Real processes for the reliability tier: the service under uvicorn (``muzhang serve``) and CLI commands,
each in a subprocess of its own on 127.0.0.1, with every wait bounded.

A plain module, not a conftest: test modules load it through a fixture (``--import-mode=importlib`` puts
no test folder on ``sys.path``). Each process starts in a new session so that stopping it reaches its
children too; only the process group this module started is ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from muzhang.settings import STORE_ENV_VARS

HOST = "127.0.0.1"
START_SECONDS = 90.0  # import + county + four champions on a busy 2-core machine
STOP_SECONDS = 10.0
# Variables that would send a child to another store than the one the test gives it.
TRACKING_ENV = (
    *STORE_ENV_VARS,
    "MUZHANG_API_KEYS",
    "MUZHANG_AUDIT_LOG",
    "MUZHANG_POLL_SECONDS",
    "MUZHANG_HOST",
    "MUZHANG_PORT",
)


def muzhang_command() -> list[str]:
    """The ``muzhang`` entry point of the running interpreter's environment."""
    script = Path(sys.executable).with_name("muzhang")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cli.main import app; sys.argv[0] = 'muzhang'; app()"]


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def child_env(
    work_dir: Path,
    data_dir: Path,
    *,
    api_keys: Sequence[Mapping[str, Any]] = (),
    poll_seconds: float = 0,
    audit_log: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment without its tracking variables, pointed at ``work_dir``'s stores."""
    env = {k: v for k, v in os.environ.items() if k not in TRACKING_ENV}
    env.update(
        {
            "MUZHANG_WORK_DIR": str(work_dir),
            "MUZHANG_DATA_DIR": str(data_dir),
            "MUZHANG_POLL_SECONDS": str(poll_seconds),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    if api_keys:
        env["MUZHANG_API_KEYS"] = json.dumps(list(api_keys))
    if audit_log is not None:
        env["MUZHANG_AUDIT_LOG"] = str(audit_log)
    env.update(extra or {})
    return env


def start_process(args: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``args`` in a new session, stdout and stderr appended to ``log_path`` (a pipe could fill and block)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(args), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_SECONDS, sig: int = signal.SIGTERM) -> int:
    """Signal the process group this module started (the child and its children), then SIGKILL the group
    if the child outlives ``timeout``. The group is signalled only while the child is not yet reaped, so
    its id cannot have been reused by a process this module did not start."""
    if process.poll() is None:
        _signal_group(process, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)
    return int(process.returncode)


def kill_process(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL at once: a crash, not a shutdown."""
    return stop_process(process, timeout=STOP_SECONDS, sig=signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # start_new_session: the group id is the child's pid


def log_tail(log_path: Path, lines: int = 40) -> str:
    if not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Server:
    """A running ``muzhang serve`` child."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def wait_until_healthy(server: Server, timeout: float = START_SECONDS) -> None:
    """Poll ``/healthz`` until it answers 200; fail early if the child exits, with its log."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"the service exited with {server.process.returncode}:\n{server.log()}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"the service did not answer /healthz within {timeout:.0f} s:\n{server.log()}")


def start_server(env: Mapping[str, str], log_path: Path, cwd: Path, timeout: float = START_SECONDS) -> Server:
    """``muzhang serve`` on a free port of 127.0.0.1; returns once ``/healthz`` answers."""
    port = free_port()
    args = [*muzhang_command(), "serve", "--host", HOST, "--port", str(port)]
    server = Server(start_process(args, env, log_path, cwd), f"http://{HOST}:{port}", log_path)
    try:
        wait_until_healthy(server, timeout)
    except BaseException:
        stop_process(server.process)
        raise
    return server


@contextmanager
def running_server(
    env: Mapping[str, str], log_path: Path, cwd: Path, timeout: float = START_SECONDS
) -> Iterator[Server]:
    """:func:`start_server`, stopped (SIGTERM, then SIGKILL) on exit whatever happened."""
    server = start_server(env, log_path, cwd, timeout)
    try:
        yield server
    finally:
        stop_process(server.process)
