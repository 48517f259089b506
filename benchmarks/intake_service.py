"""The service as a child process for benchmarks/reports_intake.py: started with ``muzhang serve`` on a free port
of 127.0.0.1, stopped through its own process group, and its log read for failures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_env(work: Path, data_dir: Path, keys: list[dict[str, Any]]) -> dict[str, str]:
    """This environment without its store variables or any MUZHANG_ setting, pointed at ``work``'s store."""
    from muzhang.settings import STORE_ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in STORE_ENV_VARS and not k.startswith("MUZHANG_")}
    env.update(
        {
            "MUZHANG_WORK_DIR": str(work),
            "MUZHANG_DATA_DIR": str(data_dir),
            "MUZHANG_COUNTY_SOURCE": "store",
            "MUZHANG_POLL_SECONDS": "0",
            "MUZHANG_API_KEYS": json.dumps(keys),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    return env


def start_service(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [str(BIN / "muzhang"), "serve", "--host", HOST, "--port", str(port)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=base, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the service exited with {proc.returncode}:\n{log_tail(log_path)}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/healthz").status_code == 200:
                    return proc, base
            time.sleep(0.25)
    stop_service(proc)
    raise RuntimeError(f"the service did not answer /healthz in 180 s:\n{log_tail(log_path)}")


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, to the process group this script started (only while the child is unreaped)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def log_tail(log_path: Path, lines: int = 30) -> str:
    if not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def log_problems(log_path: Path, limit: int = 40) -> tuple[dict[str, int], list[str]]:
    """The service log's non-200 answers counted by route and status, and its other lines that name an error
    or a traceback (first ``limit``)."""
    if not log_path.exists():
        return {}, []
    answers: dict[str, int] = {}
    other: list[str] = []
    access = re.compile(r'"(\w+) ([^ ?"]+)[^"]*" (\d{3}) (.*)$')
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        hit = access.search(line)
        if hit:
            if hit.group(3) != "200":
                route = re.sub(r"/G\d{3,4}\b", "/{grid}", hit.group(2))
                key = f"{hit.group(1)} {route} -> {hit.group(3)} {hit.group(4)}"
                answers[key] = answers.get(key, 0) + 1
            continue
        low = line.lower()
        if "error" in low or "traceback" in low or "exception" in low or line.startswith(" "):
            other.append(line)
    return answers, other[:limit]


def service_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). Unlike wall time, this does
    not grow when other jobs share the machine's cores."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return float("nan")
