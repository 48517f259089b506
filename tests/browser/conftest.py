"""Real-browser tier: the app under uvicorn on 127.0.0.1, driven through Playwright by Debian's chromium.

The app serves the tiny county's four families from the session MLflow store that ``trained_runs`` fills;
a planner key and a health key are made up here (the settings see only their sha256). Every page runs in
a context that aborts and records any request to a host other than 127.0.0.1 or localhost.

A second app (``store_server``) reads the county from a county store: the tiny county imported into a
temporary SQLite file, with a herder chief's ``reporter`` key bound to two grid areas, for the monthly
report and data-quality views.

A third app (``byod_server``) serves a disease model trained on data_samples/byod (plus a seeded category
and flag), whose catalog adds measurements, for the health form's inputs of a model's added fields.

Playwright's Python package and ``/usr/bin/chromium`` are required: when either is missing the tests fail
and say what to install (CI installs both: ``.ci/install-browser.sh`` and the dev extras).
"""

from __future__ import annotations

import hashlib
import importlib.util
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from muzhang.settings import ApiKey, Settings
from serving.app import build_state
from serving.deps import AppState
from serving.live import serve_state, with_keys
from serving.registry import family_models

FAMILY_MODELS = family_models()  # family -> registered model, for the built-in families

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
ROLES = ("planner", "health")
# Below the tiny county's 40 grids, so the page has to split its batch calls to fit the cap.
BATCH_CAP = 25
HAVE_PLAYWRIGHT = all(importlib.util.find_spec(m) is not None for m in ("playwright", "pytest_playwright"))
INSTALL_HINT = (
    "the browser tests need Playwright's Python package and Debian's chromium: "
    "`.venv/bin/pip install -e '.[dev]'` (playwright, pytest-playwright) and `.ci/install-browser.sh`"
)


def local_only(url: str) -> bool:
    return urlparse(url).hostname in LOCAL_HOSTS


if HAVE_PLAYWRIGHT:

    @pytest.fixture(scope="session")
    def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
        """pytest-playwright's launch options, pointed at the system chromium (Playwright cannot fetch its own)."""
        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}", pytrace=False)
        return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}

    @pytest.fixture(scope="session")
    def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
        """A laptop-sized window with a Chinese locale, as the county's planners use it."""
        return {**browser_context_args, "viewport": {"width": 1280, "height": 860}, "locale": "zh-CN"}

else:

    @pytest.fixture
    def page() -> None:
        """Stands in for pytest-playwright's fixture so that every browser test fails, saying why."""
        pytest.fail(f"Playwright is not installed: {INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def browser_keys() -> dict[str, str]:
    """Role -> a random raw key, as a person would paste it."""
    return {role: secrets.token_urlsafe(24) for role in ROLES}


@pytest.fixture(scope="session")
def browser_state(
    trained_runs: dict[str, Any],
    tracked_settings: Settings,
    new_store: Any,
    store_client: Any,
    browser_keys: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AppState:
    """County and four champions of the session store, loaded once, with the two keys and a small cap."""
    audit_log = tmp_path_factory.mktemp("browser-audit") / "disease-access.jsonl"
    settings = with_keys(tracked_settings, browser_keys, name="browser", audit_log=audit_log)
    settings = settings.model_copy(update={"batch_cap": BATCH_CAP})
    with new_store(settings.work_dir, settings.data_dir) as sandboxed:
        client = store_client(sandboxed)
        for family, summary in trained_runs.items():
            if not summary.promoted:  # fast tiny-county models may not pass the gate; serving needs a champion
                client.set_registered_model_alias(FAMILY_MODELS[family], "champion", summary.version)
        state = build_state(settings)
    not_loaded = {f: s.error for f, s in state.registry.slots.items() if s.model is None}
    assert not not_loaded, f"browser app could not load: {not_loaded}"
    return state


@pytest.fixture(scope="session")
def live_server(browser_state: AppState) -> Iterator[str]:
    """The app under uvicorn in a background thread, on a free port of 127.0.0.1; yields its base URL."""
    with serve_state(browser_state) as url:
        yield url


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    """pytest-playwright opens relative URLs (``page.goto("/")``) on the live app."""
    return live_server


@pytest.fixture(scope="session")
def api(live_server: str, browser_keys: dict[str, str]) -> Callable[..., Any]:
    """``api(role, method, path, **httpx_kwargs)``: the JSON the API itself answers, to compare with the page."""
    import httpx

    def call(role: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {browser_keys[role]}"}
        response = httpx.request(method, f"{live_server}{path}", headers=headers, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    return call


@dataclass
class Guard:
    """What a page did that it must not: requests to other hosts (aborted) and uncaught script errors."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def guard(page: Any) -> Iterator[Guard]:
    """Abort and record every request whose host is not 127.0.0.1/localhost; record uncaught page errors.

    Checked again after the test, so no test can pass while the page reached out or threw.
    """
    seen = Guard()

    def block(route: Any) -> None:
        seen.outside.append(route.request.url)
        route.abort()

    page.context.route(lambda url: not local_only(url), block)
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    yield seen
    assert not seen.outside, f"the page requested other hosts: {seen.outside}"
    assert not seen.errors, f"uncaught errors in the page: {seen.errors}"


@pytest.fixture
def sign_in(page: Any, guard: Guard, browser_keys: dict[str, str]) -> Callable[[str], Any]:
    """``sign_in(role)``: open the page, enter that role's key and wait until the map is drawn."""

    def enter(role: str) -> Any:
        page.goto("/")
        page.fill("#key-input", browser_keys[role])
        page.click("#login")
        if role == "health":  # a health key has the health view only: no map is fetched or drawn
            page.wait_for_selector("#health-samples", state="visible")
        else:
            page.wait_for_selector("#county-map path.grid", state="visible")
        return page

    return enter


# --- the store-backed app: monthly reports and data quality ----------------------------------------------
REPORTER_GRIDS = 2  # the herder chief's key is bound to the county's first two grid areas


@pytest.fixture(scope="session")
def store_keys() -> dict[str, str]:
    """Role -> a random raw key for the store-backed app (planner, and a herder chief's reporter key)."""
    return {role: secrets.token_urlsafe(24) for role in ("planner", "reporter")}


@pytest.fixture(scope="session")
def store_state(
    browser_state: AppState,
    tracked_settings: Settings,
    new_store: Any,
    store_keys: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AppState:
    """The tiny county imported into a temp SQLite county store, served with the session's champions.

    Depends on ``browser_state`` for the champion aliases it sets. The reporter key is bound to two grids.
    """
    from features.tables import load_county
    from muzhang.store import open_store

    county = load_county(tracked_settings.data_dir)
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-store') / 'county.db'}"
    tables = {f.name: getattr(county, f.name) for f in fields(county)}
    open_store(url).import_tables(tables, who="loader", source="tiny")
    grids = sorted(county.grids["grid_id"].astype(str))[:REPORTER_GRIDS]
    digest = {role: hashlib.sha256(key.encode()).hexdigest() for role, key in store_keys.items()}
    keys = [
        ApiKey(name="store-planner", role="planner", sha256=digest["planner"]),
        ApiKey(name="store-chief", role="reporter", sha256=digest["reporter"], grids=grids),
    ]
    settings = tracked_settings.model_copy(
        update={
            "api_keys": keys,
            "poll_seconds": 0,
            "batch_cap": BATCH_CAP,
            "audit_log": tmp_path_factory.mktemp("store-audit") / "disease-access.jsonl",
            "county_source": "store",
            "store_url": url,
        }
    )
    with new_store(settings.work_dir, settings.data_dir):
        return build_state(settings)


@pytest.fixture(scope="session")
def reporter_grids(store_state: AppState) -> list[str]:
    return next(k.grids for k in store_state.keys if k.role == "reporter")


@pytest.fixture(scope="session")
def store_server(store_state: AppState) -> Iterator[str]:
    """The store-backed app under uvicorn; yields its base URL (open pages on it with absolute URLs)."""
    with serve_state(store_state) as url:
        yield url


@pytest.fixture(scope="session")
def store_api(store_server: str, store_keys: dict[str, str]) -> Callable[..., Any]:
    """``store_api(role, method, path, **httpx_kwargs)``: the store-backed app's JSON answer (any status)."""
    import httpx

    def call(role: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {store_keys[role]}"}
        response = httpx.request(method, f"{store_server}{path}", headers=headers, timeout=60, **kwargs)
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response

    return call


@pytest.fixture
def store_sign_in(page: Any, guard: Guard, store_server: str, store_keys: dict[str, str]) -> Callable[[str], Any]:
    """``store_sign_in(role)``: open the store-backed app, enter that role's key, wait for its first view."""

    def enter(role: str) -> Any:
        page.goto(f"{store_server}/")
        page.fill("#key-input", store_keys[role])
        page.click("#login")
        if role == "reporter":
            page.wait_for_selector("#report-form", state="visible")
        else:
            page.wait_for_selector("#county-map path.grid", state="visible")
        return page

    return enter


def _usual_values(state: AppState, grid_id: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The grid's last recorded month, as a chief would report it (plausible values: few or no flags)."""
    history = state.county.tables.grid_monthly
    last = history[history["grid_id"] == grid_id].sort_values("month").iloc[-1]
    out: dict[str, Any] = {}
    for f in fields:
        value = last[f["name"]]
        if f["type"] == "integer":
            out[f["name"]] = int(value)
        elif f["type"] == "float":
            out[f["name"]] = round(float(value), 3)
        elif f["type"] == "boolean":
            out[f["name"]] = bool(value)
        else:
            out[f["name"]] = str(value)
    return out


@pytest.fixture(scope="session")
def usual_values() -> Callable[[AppState, str, list[dict[str, Any]]], dict[str, Any]]:
    """``usual_values(state, grid_id, form_fields)``: a report of plausible values for the grid."""
    return _usual_values


# The screen point at the mean of a grid's vertices (inside: the cells are convex), and what is drawn there.
POINT_OF_GRID = """(id) => {
  const svg = document.getElementById('county-map');
  const path = svg.querySelector(`path.grid[data-grid="${id}"]`);
  const nums = path.getAttribute('d').match(/-?\\d+(\\.\\d+)?/g).map(Number);
  let x = 0, y = 0;
  for (let i = 0; i < nums.length; i += 2) { x += nums[i]; y += nums[i + 1]; }
  const p = new DOMPoint(x / (nums.length / 2), y / (nums.length / 2)).matrixTransform(svg.getScreenCTM());
  const hit = document.elementFromPoint(p.x, p.y);
  return {x: p.x, y: p.y, hit: hit && hit.dataset ? hit.dataset.grid : null};
}"""


@pytest.fixture(scope="session")
def grid_point() -> Callable[[Any, str], dict[str, Any]]:
    """``grid_point(page, grid_id)``: where the grid's middle is on screen and which grid is drawn there."""
    return lambda page, grid_id: page.evaluate(POINT_OF_GRID, grid_id)


# --- an app whose disease model added measurements (bring your own data) ---------------------------------
BYOD = Path(__file__).resolve().parents[2] / "data_samples" / "byod"  # its catalog.yaml adds glucose_mmol_l
# Beside the example's glucose (a number): a category and a flag, so the form shows each kind of input.
BYOD_EXTENSION = """
  - {name: diet, type: category, categories: [pastoral, mixed, town], nullable: true, tables: [patients],
     families: [disease], display: Diet, display_zh: 饮食}
  - {name: yak_dung_fire, type: boolean, nullable: true, tables: [patients], families: [disease],
     display: Yak-dung fire indoors, display_zh: 室内牛粪火}
"""
BYOD_SEED = 11


@pytest.fixture(scope="session")
def byod_state(
    tiny_county: Path,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    store_client: Any,
    fast_overrides: dict[str, Any],
    browser_keys: dict[str, str],
) -> AppState:
    """The app's state with a disease champion trained (fast) on data_samples/byod plus a seeded diet
    (category) and yak-dung-fire (flag) column, so the model adds glucose, diet and the flag; the tiny county
    is the county; only the disease family is served. Same keys as the main browser app."""
    import numpy as np
    import pandas as pd

    from training.pipeline import run_training

    work = tmp_path_factory.mktemp("browser-byod")
    folder = work / "data"
    folder.mkdir()
    patients = pd.read_csv(BYOD / "patients.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(BYOD_SEED)
    patients["diet"] = rng.choice(["pastoral", "mixed", "town"], size=len(patients))
    patients["yak_dung_fire"] = rng.choice(["True", "False"], size=len(patients))
    patients.to_csv(folder / "patients.csv", index=False)
    (folder / "patient_outcomes.csv").write_bytes((BYOD / "patient_outcomes.csv").read_bytes())
    (folder / "catalog.yaml").write_text((BYOD / "catalog.yaml").read_text("utf-8") + BYOD_EXTENSION, encoding="utf-8")
    with new_store(work / "work", tiny_county) as settings:
        summary = run_training("disease", settings, data_dir=folder, overrides=fast_overrides, log=lambda _: None)
        if not summary.promoted:
            store_client(settings).set_registered_model_alias(FAMILY_MODELS["disease"], "champion", summary.version)
        served = with_keys(settings, browser_keys, name="byod", audit_log=work / "audit.jsonl")
        served = served.model_copy(update={"batch_cap": BATCH_CAP})
        state = build_state(served)  # loaded here: the tracking sandbox ends before the other apps' fixtures
    assert state.registry.slots["disease"].model is not None, state.registry.slots["disease"].error
    return state


@pytest.fixture(scope="session")
def byod_server(byod_state: AppState) -> Iterator[str]:
    """The app serving the glucose-trained disease model under uvicorn; yields its base URL."""
    with serve_state(byod_state) as url:
        yield url


@pytest.fixture
def byod_sign_in(page: Any, guard: Guard, byod_server: str, browser_keys: dict[str, str]) -> Callable[[], Any]:
    """``byod_sign_in()``: open the glucose-trained app with the health key, wait for the health form."""

    def enter() -> Any:
        page.goto(f"{byod_server}/")
        page.fill("#key-input", browser_keys["health"])
        page.click("#login")
        page.wait_for_selector("#health-samples", state="visible")
        return page

    return enter
