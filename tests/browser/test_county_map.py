"""What the page is built on, over HTTP: GET /v1/county/map, and the page's own files served without a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.deps import AppState

STATIC = Path(__file__).resolve().parents[2] / "serving" / "static"
OUTBOX = "outbox.js"
PAGE_BUDGET_BYTES = 300_000  # the brief: page assets under 300 KB, the GeoJSON aside


@pytest.mark.parametrize("role", ["planner", "health"])
def test_county_map_any_role_gets_every_grid_and_township(api: Any, browser_state: AppState, role: str) -> None:
    body = api(role, "GET", "/v1/county/map")

    features = body["grids"]["features"]
    assert body["grids"]["type"] == "FeatureCollection"
    assert {f["properties"]["grid_id"] for f in features} == set(browser_state.county.grid_ids)
    assert set(features[0]["properties"]) == {
        "grid_id",
        "grid_name",
        "grid_name_zh",
        "township_id",
        "village_id",
        "area_km2",
    }
    assert {t["township_id"] for t in body["townships"]} == set(browser_state.county.townships.index)
    west, south, east, north = body["bounds"]
    for feature in features:
        for lon, lat in feature["geometry"]["coordinates"][0]:
            assert west <= lon <= east and south <= lat <= north


def test_county_map_without_key_returns_401(live_server: str) -> None:
    response = httpx.get(f"{live_server}/v1/county/map")

    assert response.status_code == 401


def test_county_map_is_documented_and_the_page_is_not(live_server: str) -> None:
    paths = httpx.get(f"{live_server}/openapi.json").json()["paths"]

    assert "/v1/county/map" in paths
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


def test_page_and_assets_load_without_key_with_their_types(live_server: str) -> None:
    page = httpx.get(f"{live_server}/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = httpx.get(f"{live_server}/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)


@pytest.mark.parametrize("path", ["/static/missing.js", "/static/..%2Fapp.py", "/static/app.py", "/static/.env"])
def test_static_serves_only_page_files(live_server: str, path: str) -> None:
    response = httpx.get(f"{live_server}{path}")

    assert response.status_code in (404, 422)


def test_page_assets_stay_small_and_local() -> None:
    files = [p for p in STATIC.iterdir() if p.is_file()]
    text = "\n".join(p.read_text(encoding="utf-8") for p in files if p.suffix in (".html", ".js", ".css"))

    assert sum(p.stat().st_size for p in files) < PAGE_BUDGET_BYTES
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    # Only the device's outbox of unsent monthly reports outlives the tab (outbox.js): never a key, never
    # health records, and no other module touches localStorage.
    keeps = sorted(p.name for p in files if p.suffix == ".js" and "localStorage" in p.read_text(encoding="utf-8"))
    assert keeps == [OUTBOX], f"nothing but the report outbox may outlive the browser tab: {keeps}"
    assert "localStorage" not in (STATIC / "index.html").read_text(encoding="utf-8")
