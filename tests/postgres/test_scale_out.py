"""Scale-out path on real engines: two tuning workers share one Optuna study and one MLflow store on
PostgreSQL, then the service serves the champion they produced from that store.

Each worker is what an operator would start on its own machine: ``muzhang train dispute --tune N`` with
``OPTUNA_STORAGE`` and ``MLFLOW_TRACKING_URI`` pointing at PostgreSQL (MLflow's SQLAlchemy store straight on
the database). A real ``mlflow server`` on the same database, with proxied artifacts, then serves the same
champion: the production layout of docs/deploy.md. The tiny county and a fast experiment YAML keep the
whole module under about a minute on two cores.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from muzhang.settings import STORE_ENV_VARS, ApiKey

pytestmark = pytest.mark.slow

FAMILY = "dispute"
MODEL = "muzhang-dispute"
STUDY = "muzhang-dispute"  # the CLI's study name: workers find each other by it
WORKERS = 2
TRIALS_PER_WORKER = 3
WORKER_TIMEOUT_S = 240  # bounded: a hung worker fails the test instead of the CI job
SERVER_START_TIMEOUT_S = 90
FOREIGN_ENV = STORE_ENV_VARS  # settings the workers must not inherit from the machine running the tests
WORKER_CODE = "from cli.main import app; app()"


@dataclass(frozen=True)
class ScaleOut:
    """What the two workers left behind."""

    mlflow_url: str
    optuna_url: str
    work_dir: Path


def fast_experiment(folder: Path) -> Path:
    """The shipped dispute YAML with the test suite's fast settings (40 rounds, one LightGBM thread)."""
    from training.config import default_config_path

    cfg = yaml.safe_load(default_config_path(FAMILY).read_text(encoding="utf-8"))
    cfg.update(num_boost_round=40, early_stopping_rounds=10)
    cfg["lightgbm"]["num_threads"] = 1
    path = folder / f"{FAMILY}-fast.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def create_schemas(mlflow_url: str, optuna_url: str) -> None:
    """Create both stores' tables once, before any worker starts (concurrent first migrations collide)."""
    import optuna
    from mlflow.tracking import MlflowClient

    storage = optuna.storages.RDBStorage(optuna_url)
    storage.engine.dispose()
    MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url).search_experiments()


def worker_env(postgres: Any, work_dir: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(
        MLFLOW_TRACKING_URI=postgres.mlflow_url,
        OPTUNA_STORAGE=postgres.optuna_url,
        MUZHANG_WORK_DIR=str(work_dir),
        MUZHANG_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def scale_out(postgres: Any, tiny_county: Path, tmp_path_factory: pytest.TempPathFactory) -> ScaleOut:
    """Two ``muzhang train dispute --tune 3`` processes started together on the same PostgreSQL stores."""
    folder = tmp_path_factory.mktemp("scale-out")
    config = fast_experiment(folder)
    create_schemas(postgres.mlflow_url, postgres.optuna_url)
    env = worker_env(postgres, folder / "work", tiny_county)
    command = [sys.executable, "-c", WORKER_CODE, "train", FAMILY, "--tune", str(TRIALS_PER_WORKER)]
    command += ["--config", str(config)]
    logs = [folder / f"worker-{i}.log" for i in range(WORKERS)]
    procs = []
    for log in logs:
        with log.open("w") as out:  # the child keeps its own copy of the descriptor
            procs.append(subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        codes = [p.wait(timeout=WORKER_TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    outputs = [log.read_text(errors="replace") for log in logs]
    for i, (code, text) in enumerate(zip(codes, outputs, strict=True)):
        assert code == 0, f"worker {i} exited {code}:\n{text[-3000:]}"
    return ScaleOut(postgres.mlflow_url, postgres.optuna_url, folder / "work")


def test_two_workers_fill_one_optuna_study(scale_out: ScaleOut) -> None:
    import optuna

    study = optuna.load_study(study_name=STUDY, storage=scale_out.optuna_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == WORKERS * TRIALS_PER_WORKER
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert all(t.state in finished for t in trials), [t.state for t in trials]
    workers = [t.user_attrs.get("worker") for t in trials]
    assert len(set(workers)) == WORKERS and None not in workers, workers
    assert all(workers.count(w) == TRIALS_PER_WORKER for w in set(workers)), workers
    # Each worker samples its own points: none repeats a trial the other already ran.
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(points)) == len(points), points


def test_both_runs_are_tracked_in_postgres(scale_out: ScaleOut) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=scale_out.mlflow_url, registry_uri=scale_out.mlflow_url)
    experiment = client.get_experiment_by_name(f"muzhang-{FAMILY}")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == WORKERS
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        assert run.data.metrics["study_trials"] >= TRIALS_PER_WORKER  # saw its own trials, maybe the other's too
        assert any(k.startswith("best_") for k in run.data.params)
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert sorted(int(v.version) for v in versions) == list(range(1, WORKERS + 1))
    assert {v.run_id for v in versions} == {r.info.run_id for r in runs}
    model = client.get_registered_model(MODEL)
    assert "challenger" in model.aliases
    promoted = {r.data.tags["model_version"] for r in runs if r.data.tags.get("gate_decision") == "promoted"}
    # Both may have promoted (each saw no champion yet): the later alias write wins.
    champion = model.aliases.get("champion")
    assert (str(champion) in promoted) if promoted else champion is None, (model.aliases, promoted)


@pytest.fixture(scope="module")
def champion(scale_out: ScaleOut) -> Any:
    """The champion version the workers left; set by hand to the challenger if the gate promoted neither
    (fast tiny-county models need not beat their baselines, and serving only needs a champion)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=scale_out.mlflow_url, registry_uri=scale_out.mlflow_url)
    aliases = client.get_registered_model(MODEL).aliases
    if "champion" not in aliases:
        client.set_registered_model_alias(MODEL, "champion", aliases["challenger"])
    return client.get_model_version_by_alias(MODEL, "champion")


@pytest.fixture(scope="module")
def service(scale_out: ScaleOut, champion: Any, tiny_county: Path, new_store: Any) -> Iterator[tuple[Any, str]]:
    """The API built from the PostgreSQL registry (as a service worker would), with one planner key."""
    from fastapi.testclient import TestClient

    from serving.app import build_state, create_app

    key = secrets.token_urlsafe(24)
    api_key = ApiKey(name="test-planner", role="planner", sha256=hashlib.sha256(key.encode()).hexdigest())
    with new_store(scale_out.work_dir.parent / "serve", tiny_county) as settings:
        settings = settings.model_copy(
            update={"mlflow_tracking_uri": scale_out.mlflow_url, "api_keys": [api_key], "poll_seconds": 0}
        )
        state = build_state(settings)
        with TestClient(create_app(state=state), raise_server_exceptions=False) as client:
            yield client, key


def test_service_serves_the_champion_from_postgres(service: tuple[Any, str], champion: Any) -> None:
    client, key = service
    headers = {"Authorization": f"Bearer {key}"}
    models = client.get("/v1/models", headers=headers)
    assert models.status_code == 200, models.text
    status = {m["family"]: m for m in models.json()["models"]}
    assert status[FAMILY]["serving"] and status[FAMILY]["version"] == str(champion.version), status[FAMILY]
    assert status[FAMILY]["run_id"] == champion.run_id
    grid = sorted(client.app.state.muzhang.county.grid_ids)[0]
    risk = client.get(f"/v1/dispute/risk/{grid}", headers=headers)
    assert risk.status_code == 200, risk.text
    body = risk.json()
    assert body["grid_id"] == grid and 0 <= body["probability"] <= 1
    assert body["explanation"]["sentence"] and body["explanation"]["reasons"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"mlflow server not healthy after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def tracking_server(
    postgres: Any, scale_out: ScaleOut, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``mlflow server`` on the same PostgreSQL database, with proxied artifacts in a local folder (the
    production layout of docs/deploy.md, an object store standing in for the folder). Yields its URL and
    artifact folder."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    artifacts = folder / "artifacts"
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres.mlflow_url]
    command += ["--artifacts-destination", artifacts.as_uri(), "--serve-artifacts"]
    command += ["--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # it starts uvicorn by name
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # Muzhang runs no server-side jobs: 7 fewer processes
    log = folder / "server.log"
    with log.open("w") as out:
        # Its own process group: the server's uvicorn child is stopped with it.
        proc = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(url, proc, log, SERVER_START_TIMEOUT_S)
        yield url, artifacts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_tracking_server_on_postgres_serves_the_champion_and_proxies_artifacts(
    tracking_server: tuple[str, Path],
    champion: Any,
    tracking_client: Any,  # the client: for its sandbox
) -> None:
    from mlflow.tracking import MlflowClient

    from serving.registry import ModelRegistry

    url, artifacts = tracking_server
    registry = ModelRegistry(url, families={FAMILY: MODEL})
    outcome = registry.reload(FAMILY)[FAMILY]
    assert outcome == f"loaded version {champion.version}", outcome

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.get_experiment(client.create_experiment("deploy-check"))
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), experiment.artifact_location
    run = client.create_run(experiment.experiment_id)
    client.log_text(run.info.run_id, "proxied", "check.txt")
    client.set_terminated(run.info.run_id)
    stored = list(artifacts.rglob("check.txt"))
    assert [p.read_text() for p in stored] == ["proxied"], stored
