"""Faults around the model store: the service starts degraded instead of crashing, keeps serving what it has
loaded, refuses broken models, and a training run killed half-way moves no alias and loses nothing.

Each test that breaks a store builds its own: a new SQLite registry whose versions point at the session
champions' artifacts (read only), so the session store itself is never locked, deleted or corrupted.
Training runs go through ``muzhang train`` in a subprocess with a fast copy of ``experiments/dispute.yaml``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from muzhang.settings import ApiKey, Settings
from serving.app import create_app
from serving.registry import family_models
from training.config import default_config_path

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families

pytestmark = pytest.mark.slow

DISPUTE = FAMILY_MODELS["dispute"]
RECORD = {"age": 58, "sex": "male", "occupation": "herder", "systolic_bp": 150}
# One valid request per family: (method, path, json body, role).
FAMILY_CALLS: dict[str, tuple[str, str, dict[str, Any] | None, str]] = {
    "grazing": ("GET", "/v1/grazing/assessment/G001?season=warm", None, "planner"),
    "market": ("GET", "/v1/market/forecast?township_id=T01&species=yak", None, "planner"),
    "dispute": ("GET", "/v1/dispute/risk/G001", None, "planner"),
    "disease": ("POST", "/v1/disease/score", {"records": [RECORD]}, "health"),
}
# The fast overrides of tests/conftest.py, written into a YAML for the CLI (it has no override options).
FAST_YAML = {"num_boost_round": 40, "early_stopping_rounds": 10}
# A dispute model that cannot learn (one tree, no split): any normal run must beat it.
# LightGBM alone (the GLM candidate would make a strong champion), one tree on leaves as large as allowed.
WEAK = {
    "num_boost_round": 1,
    "lightgbm.min_data_in_leaf": 100_000,
    "lightgbm.num_threads": 1,
    "candidates": ["lightgbm"],
}
START_LIMIT_S = 50.0  # a degraded start must come back within this
TRAIN_LIMIT_S = 150.0  # a whole `muzhang train dispute` subprocess on the tiny county


def key_entries(keys: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"name": f"faults-{role}", "role": role, "sha256": hashlib.sha256(k.encode()).hexdigest()}
        for role, k in keys.items()
    ]


@pytest.fixture(scope="module")
def fault_auth(api_keys: dict[str, str]) -> Callable[[str], dict[str, str]]:
    return lambda role: {"Authorization": f"Bearer {api_keys[role]}"}


@pytest.fixture(scope="module")
def session_sources(
    trained_runs: dict[str, Any], tracked_settings: Settings, new_store: Any, store_client: Any
) -> dict[str, str]:
    """Family -> artifact URI of the session store's trained version (a local folder, read only here)."""
    with new_store(tracked_settings.work_dir, tracked_settings.data_dir) as settings:
        client = store_client(settings)
        return {
            family: client.get_model_version_download_uri(FAMILY_MODELS[family], summary.version)
            for family, summary in trained_runs.items()
        }


def registry_client(settings: Settings) -> Any:
    """An MlflowClient on ``settings``' store that leaves MLflow's process-wide URIs alone."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=settings.tracking_uri(), registry_uri=settings.tracking_uri())


def fill_store(settings: Settings, sources: dict[str, str], families: tuple[str, ...] = tuple(FAMILY_MODELS)) -> None:
    """Register each family's session artifacts as version 1 of its model in ``settings``' store, as champion."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    client = registry_client(settings)
    for family in families:
        name = FAMILY_MODELS[family]
        with contextlib.suppress(Exception):  # already registered by an earlier step
            client.create_registered_model(name)
        version = client.create_model_version(name, source=sources[family])
        client.set_registered_model_alias(name, "champion", version.version)


def store_file(settings: Settings) -> Path:
    return settings.work_dir / "mlflow.db"


def with_keys(settings: Settings, keys: dict[str, str], **update: Any) -> Settings:
    """``settings`` with the three keys, no registry polling and an audit log beside its work dir."""
    api_keys = [ApiKey(**entry) for entry in key_entries(keys)]  # type: ignore[arg-type]
    audit = settings.work_dir.parent / f"{settings.work_dir.name}-audit.jsonl"
    return settings.model_copy(update={"api_keys": api_keys, "poll_seconds": 0, "audit_log": audit, **update})


@contextlib.contextmanager
def started(settings: Settings) -> Iterator[tuple[TestClient, float]]:
    """The app with its real start-up (lifespan: county, registry, champions); yields it and the start-up time."""
    began = time.monotonic()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, time.monotonic() - began


def call(client: TestClient, family: str, auth: Callable[[str], dict[str, str]]) -> Any:
    method, path, body, role = FAMILY_CALLS[family]
    return client.request(method, path, json=body, headers=auth(role))


def models_by_family(client: TestClient, auth: Callable[[str], dict[str, str]]) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/models", headers=auth("planner"))
    assert response.status_code == 200, response.text
    return {m["family"]: m for m in response.json()["models"]}


def assert_degraded(client: TestClient, auth: Callable[[str], dict[str, str]], reason: str) -> None:
    """Alive but not ready; every family route 503 saying why and how to train; /v1/models shows the cause."""
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "degraded" and not any(ready.json()["families"].values())
    for family in FAMILY_CALLS:
        response = call(client, family, auth)
        assert response.status_code == 503, (family, response.text)
        detail = response.json()["detail"]
        assert f"no {family} model is being served" in detail and reason in detail, detail
        assert f"muzhang train {family}" in detail and "/v1/models/reload" in detail, detail
    for family, model in models_by_family(client, auth).items():
        assert not model["serving"] and model["version"] is None, model
        assert reason in model["error"], (family, model["error"])


def assert_serving(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    for family in FAMILY_CALLS:
        response = call(client, family, auth)
        assert response.status_code == 200, (family, response.text)


# --- The store at start-up: missing, unreachable, locked ---------------------------------------------------


@pytest.mark.parametrize(
    ("store", "reason"),
    [("missing_folder", "does not exist"), ("empty_database", "no 'champion' alias")],
)
def test_start_without_a_store_is_degraded_and_says_how_to_train(
    store: str,
    reason: str,
    make_settings: Callable[..., Settings],
    api_keys: dict[str, str],
    fault_auth: Any,
    tmp_path: Path,
) -> None:
    if store == "missing_folder":
        db = tmp_path / "no-such-folder" / "mlflow.db"
    else:
        db = tmp_path / "empty.db"
        db.touch()  # an empty file is an empty SQLite database
    settings = with_keys(make_settings(), api_keys, mlflow_tracking_uri=f"sqlite:///{db}")

    with started(settings) as (client, seconds):
        assert seconds < START_LIMIT_S
        assert_degraded(client, fault_auth, reason)

    if store == "missing_folder":  # serving must not create a store where none was configured
        assert not db.parent.exists()


def test_start_with_an_unreachable_store_is_degraded_and_names_the_store(
    make_settings: Callable[..., Settings],
    api_keys: dict[str, str],
    fault_auth: Any,
    servers: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MLflow's defaults retry a refused connection 7 times with exponential backoff: minutes per family.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    store = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens there
    settings = with_keys(make_settings(), api_keys, mlflow_tracking_uri=store)

    with started(settings) as (client, seconds):
        assert seconds < START_LIMIT_S
        assert_degraded(client, fault_auth, "registry unreachable")
        for model in models_by_family(client, fault_auth).values():
            assert store in model["error"], model["error"]


def test_start_on_a_locked_store_is_degraded_then_reload_loads_the_champions(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    api_keys: dict[str, str],
    fault_auth: Any,
) -> None:
    settings = with_keys(make_settings(), api_keys)
    fill_store(settings, session_sources)
    lock = sqlite3.connect(store_file(settings), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # no other connection may read or write until released
    try:
        with started(settings) as (client, seconds):
            assert seconds < START_LIMIT_S, f"start-up waited {seconds:.0f} s on the lock"
            assert_degraded(client, fault_auth, "database is locked")

            lock.execute("ROLLBACK")
            lock.close()
            reload = client.post("/v1/models/reload", headers=fault_auth("data_scientist"))

            assert reload.status_code == 200, reload.text
            assert reload.json()["results"] == dict.fromkeys(FAMILY_MODELS, "loaded version 1")
            assert client.get("/readyz").status_code == 200
            assert_serving(client, fault_auth)
    finally:
        with contextlib.suppress(sqlite3.ProgrammingError):  # already closed
            lock.close()


# --- The store or a model breaks while the service runs -----------------------------------------------------


def test_store_deleted_under_the_service_keeps_serving_and_reload_reports_it(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    api_keys: dict[str, str],
    fault_auth: Any,
) -> None:
    settings = with_keys(make_settings(), api_keys)
    fill_store(settings, session_sources)
    with started(settings) as (client, _):
        assert client.get("/readyz").status_code == 200

        store_file(settings).unlink()
        reload = client.post("/v1/models/reload", headers=fault_auth("data_scientist"))

        assert reload.status_code == 200, reload.text
        for family, outcome in reload.json()["results"].items():
            assert "does not exist" in outcome, (family, outcome)
        for family, model in models_by_family(client, fault_auth).items():
            assert (model["version"], model["serving"]) == ("1", True), model
            assert "does not exist" in model["error"], (family, model["error"])
        assert client.get("/readyz").status_code == 200
        assert_serving(client, fault_auth)
    assert not store_file(settings).exists()  # nor did anything create an empty store in its place


def truncated_copy(source: str, folder: Path) -> tuple[str, str]:
    """A copy of a logged model with its first LightGBM text file cut in half; returns (URI, file name)."""
    shutil.copytree(Path(unquote(urlparse(source).path)), folder)
    (description,) = folder.rglob("bundle.json")
    booster = description.parent / json.loads(description.read_text(encoding="utf-8"))["tasks"][0]["booster"]
    text = booster.read_bytes()
    booster.write_bytes(text[: len(text) // 2])
    return folder.as_uri(), booster.name


def test_reload_refuses_a_truncated_lightgbm_file_and_keeps_serving_the_old_version(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    api_keys: dict[str, str],
    fault_auth: Any,
    tmp_path: Path,
) -> None:
    """A truncated booster file made LightGBM 4.7 abort the whole process (SIGABRT/SIGSEGV) on reload."""
    settings = with_keys(make_settings(), api_keys)
    fill_store(settings, session_sources)
    source, booster = truncated_copy(session_sources["dispute"], tmp_path / "truncated-model")
    with started(settings) as (client, _):
        store = registry_client(settings)
        broken = store.create_model_version(DISPUTE, source=source).version
        store.set_registered_model_alias(DISPUTE, "champion", broken)

        reload = client.post("/v1/models/reload", headers=fault_auth("data_scientist"))

        assert reload.status_code == 200, reload.text
        outcome = reload.json()["results"]["dispute"]
        assert f"version {broken} refused" in outcome and booster in outcome, outcome
        assert "still serving version 1" in outcome, outcome
        model = models_by_family(client, fault_auth)["dispute"]
        assert (model["version"], model["serving"]) == ("1", True) and f"version {broken} refused" in model["error"]
        assert_serving(client, fault_auth)


# --- Training killed half-way ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``experiments/dispute.yaml`` with the fast overrides (40 rounds, one LightGBM thread)."""
    doc = yaml.safe_load(default_config_path("dispute").read_text(encoding="utf-8"))
    doc.update(FAST_YAML)
    doc["lightgbm"]["num_threads"] = 1
    path = tmp_path_factory.mktemp("fast-config") / "dispute.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def count_rows(db: Path, sql: str) -> int:
    """``SELECT count(*) ...`` on a SQLite file opened read only (0 while the file or table does not exist).

    Read only on purpose: ``optuna.load_study`` on a URL would create the schema if it were missing,
    racing the training process that is creating it.
    """
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1)) as con:
            return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # no such table yet, or busy for a moment
        return 0


def wait_for(what: str, ready: Callable[[], bool], process: Any, log: Path, servers: ModuleType, limit: float) -> None:
    """Poll ``ready`` every 0.1 s until true; fail (with the log) if the process ends or ``limit`` passes."""
    deadline = time.monotonic() + limit
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"training ended (rc {process.returncode}) before {what}:\n{servers.log_tail(log)}")
        if time.monotonic() > deadline:
            servers.kill_process(process)
            pytest.fail(f"no {what} within {limit:.0f} s:\n{servers.log_tail(log)}")
        time.sleep(0.1)


def registry_snapshot(settings: Settings) -> tuple[dict[str, str], set[str]]:
    """(alias -> version, every version) of the dispute model."""
    client = registry_client(settings)
    aliases = {k: str(v) for k, v in client.get_registered_model(DISPUTE).aliases.items()}
    return aliases, {str(v.version) for v in client.search_model_versions(f"name='{DISPUTE}'")}


def train_command(servers: ModuleType, data: Path, config: Path, *extra: str) -> list[str]:
    return [*servers.muzhang_command(), "train", "dispute", "--data", str(data), "--config", str(config), *extra]


def test_training_killed_while_tuning_moves_no_alias_and_the_study_resumes(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    fast_yaml: Path,
    tiny_county: Path,
    tiny_feature_sets: dict[str, Any],
    fast_config: Callable[..., Any],
    servers: ModuleType,
    tmp_path: Path,
) -> None:
    import optuna

    from training.tune import tune_family

    settings = make_settings()
    fill_store(settings, session_sources, families=("dispute",))
    before = registry_snapshot(settings)
    optuna_db = settings.work_dir / "optuna.db"
    log = tmp_path / "train.log"
    env = servers.child_env(settings.work_dir, tiny_county)
    process = servers.start_process(
        train_command(servers, tiny_county, fast_yaml, "--tune", "30"), env, log, cwd=tmp_path
    )
    try:
        finished = "SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
        wait_for("two finished trials", lambda: count_rows(optuna_db, finished) >= 2, process, log, servers, 120)
    finally:
        returncode = servers.kill_process(process)

    assert returncode == -9, servers.log_tail(log)
    assert registry_snapshot(settings) == before  # no alias moved, no version added or lost
    storage = settings.study_storage()
    trials = len(optuna.load_study(study_name="muzhang-dispute", storage=storage).trials)
    assert 2 <= trials < 30, f"the kill did not land while tuning ({trials} trials)"

    summary = tune_family(tiny_feature_sets["dispute"], fast_config("dispute"), 2, storage)

    assert summary["study_name"] == "muzhang-dispute"
    assert summary["n_trials"] == trials + 2  # the same study, continued
    assert registry_snapshot(settings) == before


def test_training_killed_while_logging_to_mlflow_moves_no_alias(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    fast_yaml: Path,
    tiny_county: Path,
    servers: ModuleType,
    tmp_path: Path,
) -> None:
    settings = make_settings()
    fill_store(settings, session_sources, families=("dispute",))
    before_aliases, before_versions = registry_snapshot(settings)
    log = tmp_path / "train.log"
    process = servers.start_process(
        train_command(servers, tiny_county, fast_yaml), servers.child_env(settings.work_dir, tiny_county), log, tmp_path
    )
    try:  # a RUNNING run in the store: inside log_and_register, before its last step moves the aliases
        running = "SELECT count(*) FROM runs WHERE status = 'RUNNING'"
        wait_for("an MLflow run", lambda: count_rows(store_file(settings), running) >= 1, process, log, servers, 120)
    finally:
        returncode = servers.kill_process(process)

    assert returncode == -9, servers.log_tail(log)
    aliases, versions = registry_snapshot(settings)
    assert aliases == before_aliases  # champion where it was; challenger not set
    assert versions >= before_versions


# --- Training and serving on the same store at the same time ----------------------------------------------


@dataclass
class Caller:
    """A client thread calling the service until told to stop (bounded by ``limit`` seconds)."""

    base_url: str
    headers: dict[str, dict[str, str]]
    limit: float
    statuses: list[tuple[str, int | None, str]] = field(default_factory=list)
    dispute_versions: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        calls = [
            ("GET", "/v1/dispute/risk/G00{}", "planner"),
            ("GET", "/v1/dispute/watchlist?top=5", "planner"),
            ("GET", "/v1/grazing/assessment/G00{}?season=cold", "planner"),
            ("GET", "/v1/models", "data_scientist"),
        ]
        deadline = time.monotonic() + self.limit
        with httpx.Client(base_url=self.base_url, timeout=30, trust_env=False) as client:
            i = 0
            while not self.stop.is_set() and time.monotonic() < deadline:
                method, path, role = calls[i % len(calls)]
                path = path.format(1 + i % 9)
                try:
                    response = client.request(method, path, headers=self.headers[role])
                    self.statuses.append((path, response.status_code, response.text[:200]))
                    if path == "/v1/models" and response.status_code == 200:
                        served = {m["family"]: m["version"] for m in response.json()["models"]}
                        self.dispute_versions.add(served["dispute"])
                except httpx.HTTPError as exc:
                    self.statuses.append((path, None, f"{type(exc).__name__}: {exc}"))
                i += 1
                time.sleep(0.02)


def test_training_while_serving_the_same_store_fails_no_request_and_reload_follows_the_gate(
    make_settings: Callable[..., Settings],
    session_sources: dict[str, str],
    fast_yaml: Path,
    fast_overrides: dict[str, Any],
    tiny_county: Path,
    api_keys: dict[str, str],
    servers: ModuleType,
    tmp_path: Path,
) -> None:
    from training.pipeline import run_training

    settings = make_settings()
    weak = run_training("dispute", settings, overrides={**fast_overrides, **WEAK}, log=lambda _: None)
    registry_client(settings).set_registered_model_alias(DISPUTE, "champion", weak.version)
    fill_store(settings, session_sources, families=("grazing", "market", "disease"))
    audit = tmp_path / "audit.jsonl"
    env = servers.child_env(
        settings.work_dir, tiny_county, api_keys=key_entries(api_keys), poll_seconds=1, audit_log=audit
    )
    headers = {role: {"Authorization": f"Bearer {k}"} for role, k in api_keys.items()}

    with servers.running_server(env, tmp_path / "service.log", cwd=tmp_path) as service:
        caller = Caller(service.base_url, headers, limit=TRAIN_LIMIT_S + 30)
        thread = threading.Thread(target=caller.run, name="caller", daemon=True)
        thread.start()
        log = tmp_path / "train.log"
        training = servers.start_process(
            train_command(servers, tiny_county, fast_yaml),
            servers.child_env(settings.work_dir, tiny_county),
            log,
            tmp_path,
        )
        try:
            returncode = training.wait(timeout=TRAIN_LIMIT_S)
        finally:
            servers.stop_process(training)
            caller.stop.set()
            thread.join(timeout=60)

        assert returncode == 0, servers.log_tail(log)
        assert not thread.is_alive()
        failed = [s for s in caller.statuses if s[1] != 200]
        assert not failed, f"{len(failed)} of {len(caller.statuses)} requests failed during training: {failed[:5]}"
        assert len(caller.statuses) >= 20, "the client barely ran while training"

        aliases, _ = registry_snapshot(settings)
        with httpx.Client(base_url=service.base_url, timeout=60, trust_env=False) as client:
            reload = client.post("/v1/models/reload", headers=headers["data_scientist"])
            assert reload.status_code == 200, reload.text
            served = {m["family"]: m for m in client.get("/v1/models", headers=headers["planner"]).json()["models"]}
            risk = client.get("/v1/dispute/risk/G001", headers=headers["planner"])

        assert served["dispute"]["version"] == aliases["champion"], (served["dispute"], aliases)
        assert served["dispute"]["error"] is None
        assert risk.status_code == 200, risk.text
        # The weak first champion cannot defend its title: the gate promoted the new version.
        assert aliases == {"champion": "2", "challenger": "2"}, (aliases, servers.log_tail(log))
        assert caller.dispute_versions <= {weak.version, "2"}
        assert service.alive(), service.log()
