"""Shared, expensive fixtures: a tiny county on disk, trained bundles, MLflow/Optuna stores in temp folders.

Everything here is lazy: a fixture is built the first time a test asks for it, once per session.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from features import FeatureSet, build_features, load_county
from muzhang.families import family_names
from muzhang.settings import STORE_ENV_VARS, Settings, get_settings
from serving.registry import family_models
from training.config import ExperimentConfig, default_config_path, load_config

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families

FAMILIES = family_names()  # the built-in families (the registry at collection time)
# Seed 7 gives a tiny county with enough disputes (~14 % of grid-months) for a dispute model that learns.
TINY_SEED = 7
TINY_GRIDS = 40
TINY_LAST_MONTH = "2019-12-01"  # five years: the time splits keep three years to train on
# A real run would take minutes; these make one family train in well under a second. One LightGBM thread:
# the suite shares 2 cores with itself and other jobs, and a 2-thread booster on a busy machine runs up to
# 30x slower (its threads wait for each other) while a 1-thread one barely notices.
FAST: dict[str, Any] = {"num_boost_round": 40, "early_stopping_rounds": 10, "lightgbm.num_threads": 1}
# Variables that would send runs, models or studies to another store than the test's temp folder.
TRACKING_ENV = STORE_ENV_VARS


def clear_tracking_env(mp: pytest.MonkeyPatch) -> None:
    """Unset every variable in :data:`TRACKING_ENV`, and restore the originals when ``mp`` is undone.

    MLflow's ``set_tracking_uri`` writes ``MLFLOW_TRACKING_URI`` into ``os.environ``; setting each
    variable before deleting it makes the monkeypatch record (and so restore) the original state
    even for variables that were absent, so a temp store never leaks into later tests.
    """
    for name in TRACKING_ENV:
        mp.setenv(name, "unset")
        mp.delenv(name)


def forget_tracking_uri() -> None:
    """Drop MLflow's process-wide URIs (a temp store's), so later code reads the environment again."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@contextmanager
def tracking_sandbox() -> Iterator[None]:
    """Tracking variables cleared inside; on exit MLflow forgets its URI and the environment is restored."""
    with pytest.MonkeyPatch.context() as mp:
        clear_tracking_env(mp)
        try:
            yield
        finally:
            forget_tracking_uri()


@contextmanager
def isolated_store(work_dir: Path, data_dir: Path) -> Iterator[Settings]:
    """Settings whose MLflow and Optuna stores are SQLite files under ``work_dir``, inside a sandbox."""
    with tracking_sandbox():
        yield get_settings(work_dir=work_dir, data_dir=data_dir)


def client_for(settings: Settings) -> Any:
    """Point MLflow's tracking and registry at ``settings``' store and return a client for it.

    Call it inside a sandbox (the ``tracking_client`` fixture is one): it moves process-wide state.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def load_fast_config(family: str, **overrides: Any) -> ExperimentConfig:
    """The family's shipped experiment YAML with :data:`FAST` (and any further dotted) overrides."""
    return load_config(default_config_path(family), **{**FAST, **overrides})


# Helpers as fixtures: with --import-mode=importlib test modules cannot import from conftest.
@pytest.fixture(scope="session")
def fast_overrides() -> dict[str, Any]:
    """``run_training(..., overrides=...)`` that make a run take about a second."""
    return dict(FAST)


@pytest.fixture(scope="session")
def fast_config() -> Callable[..., ExperimentConfig]:
    """``fast_config(family, **dotted_overrides)``: see :func:`load_fast_config`."""
    return load_fast_config


@pytest.fixture
def tracking_client() -> Iterator[Callable[[Settings], Any]]:
    """``tracking_client(settings)``: an MlflowClient on that store; the test runs in a tracking sandbox."""
    with tracking_sandbox():
        yield client_for


@pytest.fixture(scope="session")
def store_client() -> Callable[[Settings], Any]:
    """``store_client(settings)`` for module fixtures, inside a ``new_store`` block: :func:`client_for`."""
    return client_for


@pytest.fixture(scope="session")
def new_store() -> Callable[[Path, Path], Any]:
    """``with new_store(work_dir, data_dir) as settings`` (for module fixtures): :func:`isolated_store`."""
    return isolated_store


@pytest.fixture(scope="session")
def tiny_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-grid county, 2015-2019, with its oracle folder, written once (about a second)."""
    from muzhang.simulate.county import generate_county, write_county

    folder = tmp_path_factory.mktemp("tiny") / "county"
    write_county(generate_county(TINY_SEED, n_grids=TINY_GRIDS, last_month=TINY_LAST_MONTH), folder)
    return folder


@pytest.fixture(scope="session")
def make_county_store(tiny_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Any]:
    """``make_county_store()``: a new SQLite county store holding the tiny county as its history (closed
    through 2019-12). Each call gives a store of its own, so tests that add months do not meet."""
    from dataclasses import fields

    from muzhang.store import open_store

    tables = load_county(tiny_county)
    frames = {f.name: getattr(tables, f.name) for f in fields(tables)}

    def make() -> Any:
        store = open_store(f"sqlite:///{tmp_path_factory.mktemp('county-store') / 'county.db'}")
        store.import_tables(frames, who="test", source="import")
        return store

    return make


@pytest.fixture(scope="session")
def tiny_feature_sets(tiny_county: Path) -> dict[str, FeatureSet]:
    tables = load_county(tiny_county)
    return {family: build_features(family, tables) for family in FAMILIES}


@pytest.fixture(scope="session")
def trained_results(tiny_county: Path, tiny_feature_sets: dict[str, FeatureSet]) -> dict[str, Any]:
    """``train_family`` in process with :func:`load_fast_config`, per family (the oracle included)."""
    from training.engine import train_family
    from training.pipeline import load_oracle

    oracle = load_oracle(tiny_county)
    return {f: train_family(fs, load_fast_config(f), oracle=oracle) for f, fs in tiny_feature_sets.items()}


@pytest.fixture(scope="session")
def tracked_settings(tmp_path_factory: pytest.TempPathFactory, tiny_county: Path) -> Settings:
    """Settings of the session's MLflow + Optuna store in a temp folder (built with tracking env cleared)."""
    with isolated_store(tmp_path_factory.mktemp("work"), tiny_county) as settings:
        return settings


@pytest.fixture(scope="session")
def trained_runs(tracked_settings: Settings) -> dict[str, Any]:
    """``run_training`` of every family on the tiny county, logged to the session store (RunSummary each)."""
    from training.pipeline import run_training

    with tracking_sandbox():
        return {f: run_training(f, tracked_settings, overrides=FAST) for f in FAMILIES}


@pytest.fixture
def make_settings(tmp_path: Path, tiny_county: Path) -> Iterator[Callable[..., Settings]]:
    """``make_settings(name="work", data_dir=None)``: settings with a fresh work dir under tmp_path.

    The test runs in a tracking sandbox; stores are created only when something is logged.
    """

    def make(name: str = "work", data_dir: Path | None = None) -> Settings:
        return get_settings(work_dir=tmp_path / name, data_dir=data_dir or tiny_county)

    with tracking_sandbox():
        yield make


# --- Shared by the API, reliability and browser tiers ------------------------------------------------
ROLES = ("planner", "health", "data_scientist", "admin", "reporter")  # the reporter here is bound to no grid


@pytest.fixture(scope="session")
def api_keys() -> dict[str, str]:
    """Role -> a random raw key (what a person would paste); the settings only ever see its sha256."""
    return {role: secrets.token_urlsafe(24) for role in ROLES}


@pytest.fixture(scope="session")
def auth(api_keys: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """``auth(role)``: the Authorization header of that role's key."""

    def header(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_keys[role]}"}

    return header


@pytest.fixture(scope="session")
def champions(trained_runs: dict[str, Any], tracked_settings: Settings, new_store: Any, store_client: Any) -> None:
    """Every family's version 1 is ``champion`` in the session store.

    Fast tiny-county models need not beat their baselines, so the gate may have left them challenger;
    serving only needs a champion, so the alias is set by hand where the gate did not.
    """
    with new_store(tracked_settings.work_dir, tracked_settings.data_dir) as settings:
        client = store_client(settings)
        for family, summary in trained_runs.items():
            if not summary.promoted:
                client.set_registered_model_alias(FAMILY_MODELS[family], "champion", summary.version)
