"""Serving speed: one explained prediction over HTTP, and throughput against `mlflow models serve`.

Starts both servers on 127.0.0.1 (one uvicorn worker each), serving the same registered dispute champion:
Muzhang's GET /v1/dispute/risk/{grid} (with explanation) and MLflow's POST /invocations (no explanation).
Prints p50/p99 latency of sequential requests and requests/second with 4 concurrent clients, and the ratio.
Targets (issue 4): p50 <= 3 ms, p99 <= 8 ms, throughput >= 5x mlflow models serve. Figures, not asserts.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/serve_latency.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


def latencies(send, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        send()
        out[i] = time.perf_counter() - start
    return out * 1000


def throughput(make_send, clients: int, seconds: float) -> float:  # type: ignore[no-untyped-def]
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        send = make_send()
        while time.perf_counter() < stop:
            send()
            counts[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each throughput run.")
    parser.add_argument("--requests", type=int, default=2000, help="Sequential requests for latency.")
    args = parser.parse_args()

    from muzhang.settings import get_settings
    from serving.county import load_county_state

    settings = get_settings()
    key = secrets.token_urlsafe(16)
    import hashlib

    keys = [{"name": "bench", "role": "planner", "sha256": hashlib.sha256(key.encode()).hexdigest()}]
    env = {
        **os.environ,
        "MUZHANG_API_KEYS": json.dumps(keys),
        "MUZHANG_POLL_SECONDS": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ours_port, mlflow_port = free_port(), free_port()
    county = load_county_state(settings.data_dir)
    dispute_rows = county.forecasts["dispute"].frame
    import mlflow

    from models.pyfunc import load_bundle

    mlflow.set_tracking_uri(settings.tracking_uri())
    features = load_bundle("models:/muzhang-dispute@champion").features
    row = dispute_rows[features].iloc[[0]]
    payload = {"dataframe_split": json.loads(row.to_json(orient="split", index=False))}
    grid = str(dispute_rows["grid_id"].iloc[0])

    procs = [
        subprocess.Popen(
            [str(BIN / "muzhang"), "serve", "--host", "127.0.0.1", "--port", str(ours_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        ),
        subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                "models:/muzhang-dispute@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
                "-w",
                "1",
            ],
            env={**env, "MLFLOW_TRACKING_URI": settings.tracking_uri()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        ),
    ]
    try:
        ours = f"http://127.0.0.1:{ours_port}"
        theirs = f"http://127.0.0.1:{mlflow_port}"
        wait_until_up(f"{ours}/readyz")
        wait_until_up(f"{theirs}/ping")

        def ours_send() -> object:
            client = httpx.Client(headers={"Authorization": f"Bearer {key}"})
            url = f"{ours}/v1/dispute/risk/{grid}?lang=en"

            def send() -> None:
                r = client.get(url)
                assert r.status_code == 200, r.text

            return send

        def theirs_send() -> object:
            client = httpx.Client()
            url = f"{theirs}/invocations"

            def send() -> None:
                r = client.post(url, json=payload)
                assert r.status_code == 200, r.text

            return send

        for make in (ours_send, theirs_send):  # warm up
            s = make()
            for _ in range(100):
                s()  # type: ignore[operator]
        lat_ours = latencies(ours_send(), args.requests)
        lat_theirs = latencies(theirs_send(), args.requests)
        tput_ours = throughput(ours_send, 4, args.seconds)
        tput_theirs = throughput(theirs_send, 4, args.seconds)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["pkill", "-f", f"--port {mlflow_port}"], check=False)  # mlflow's uvicorn child

    print("one dispute prediction over HTTP, 1 uvicorn worker, 127.0.0.1")
    print(f"{'server':<34}{'p50 ms':>8}{'p99 ms':>8}{'req/s (4 clients)':>20}")
    print(
        f"{'muzhang (with explanation)':<34}{np.percentile(lat_ours, 50):>8.2f}{np.percentile(lat_ours, 99):>8.2f}"
        f"{tput_ours:>20.0f}"
    )
    print(
        f"{'mlflow models serve (no expl.)':<34}{np.percentile(lat_theirs, 50):>8.2f}"
        f"{np.percentile(lat_theirs, 99):>8.2f}{tput_theirs:>20.0f}"
    )
    ratio = tput_ours / tput_theirs
    p50, p99 = np.percentile(lat_ours, 50), np.percentile(lat_ours, 99)
    print(f"throughput ratio muzhang / mlflow = {ratio:.1f}x (target >= 5x: {'PASS' if ratio >= 5 else 'FAIL'})")
    print(
        f"latency target p50 <= 3 ms: {'PASS' if p50 <= 3 else 'FAIL'}; p99 <= 8 ms: {'PASS' if p99 <= 8 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
