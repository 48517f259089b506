"""The report form of a county imported with a field of its own (``herder_meetings``, added to grid_monthly):
the chief sees an input for it, the value sent reaches the store, and a value beyond its hard limit is
refused beside that input."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

import pandas as pd
import pytest

from muzhang.settings import ApiKey, Settings
from serving.deps import AppState
from serving.live import serve_state

pytestmark = pytest.mark.slow

FIELD = "herder_meetings"
MEETINGS = {
    "name": FIELD,
    "zh": "牧户会议次数",
    "display": "Herder meetings",
    "display_zh": "牧户会议次数",
    "type": "integer",
    "unit": "meetings",
    "min": 0,
    "max": 50,
    "nullable": True,
    "tables": ["grid_monthly"],
    "families": ["dispute"],
}
CHIEF_KEY = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def added_state(
    store_state: AppState, tracked_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppState]:
    """The store-backed app's models over a store of its own: the tiny county with ``herder_meetings`` = 2."""
    from features.tables import load_county
    from muzhang.catalog import extend_catalog, load_catalog
    from muzhang.store import dispose_engine, open_store
    from serving.county import store_county_state
    from serving.guards import FailedKeyThrottle
    from serving.observability import AuditLog, Metrics

    county = load_county(tracked_settings.data_dir)
    tables = {f.name: getattr(county, f.name) for f in fields(county)}
    tables["grid_monthly"] = tables["grid_monthly"].assign(**{FIELD: 2})
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-added') / 'county.db'}"
    store = open_store(url)
    store.import_tables(
        tables, who="analyst", source="byod", catalog=extend_catalog(load_catalog(), {"fields": [MEETINGS]})
    )
    grids = sorted(county.grids["grid_id"].astype(str))[:2]
    chief = ApiKey(
        name="added-chief", role="reporter", sha256=hashlib.sha256(CHIEF_KEY.encode()).hexdigest(), grids=grids
    )
    yield dataclasses.replace(
        store_state,
        county=store_county_state(store, tracked_settings.data_dir),
        store=store,
        keys=[chief],
        metrics=Metrics(),
        audit=AuditLog(tmp_path_factory.mktemp("browser-added-audit") / "a.jsonl"),
        encoded={},
        close_lock=threading.Lock(),
        throttle=FailedKeyThrottle(),
    )
    dispose_engine(url)


@pytest.fixture(scope="module")
def added_server(added_state: AppState) -> Iterator[str]:
    with serve_state(added_state) as url:
        yield url


@pytest.fixture
def chief_page(page: Any, guard: Any, added_server: str) -> Any:
    page.goto(f"{added_server}/")
    page.fill("#key-input", CHIEF_KEY)
    page.click("#login")
    page.wait_for_selector("#report-form", state="visible")
    return page


def stored(state: AppState, grid: str, month: str) -> Any:
    monthly = state.store.read_tables()["grid_monthly"]
    row = monthly[(monthly["grid_id"] == grid) & (pd.to_datetime(monthly["month"]) == pd.Timestamp(month))]
    return row[FIELD].iloc[0] if len(row) else "no row"


def fill(page: Any, form_fields: list[dict[str, Any]], values: dict[str, Any], grid: str, month: str) -> None:
    page.select_option("#rf-grid_id", grid)
    page.select_option("#rf-month", month)
    for f in form_fields:
        value = values[f["name"]]
        if f["type"] in ("category", "boolean"):
            page.select_option(f"#rf-{f['name']}", str(value).lower() if f["type"] == "boolean" else str(value))
        else:
            page.fill(f"#rf-{f['name']}", str(value))


def test_the_form_has_an_input_for_the_added_field_and_its_value_reaches_the_store(
    chief_page: Any, added_state: AppState, usual_values: Callable[..., dict[str, Any]]
) -> None:
    page = chief_page
    meetings = page.locator(f"#rf-{FIELD}")
    assert meetings.count() == 1 and meetings.get_attribute("required") is None
    assert meetings.get_attribute("max") == "50"
    assert "牧户会议次数" in page.locator(f"label[for='rf-{FIELD}']").inner_text()

    grids = next(k.grids for k in added_state.keys)
    month = page.input_value("#rf-month")
    shipped = [f for f in _form(added_state) if f["name"] != FIELD]
    fill(page, shipped, usual_values(added_state, sorted(grids)[0], shipped), sorted(grids)[0], month)
    page.fill(f"#rf-{FIELD}", "7")
    page.click("#report-send")
    page.locator("#report-accepted").wait_for()
    assert stored(added_state, sorted(grids)[0], month) == 7

    page.click("#report-new")
    fill(page, shipped, usual_values(added_state, sorted(grids)[1], shipped), sorted(grids)[1], month)
    page.fill(f"#rf-{FIELD}", "60")  # beyond the hard limit: refused, named beside its input
    page.click("#report-send")
    page.locator("#report-refused").wait_for()
    assert "50" in page.inner_text(f"#rf-{FIELD}-msg")
    assert page.get_attribute(f"#rf-{FIELD}", "aria-invalid") == "true"
    assert stored(added_state, sorted(grids)[1], month) == "no row"


def _form(state: AppState) -> list[dict[str, Any]]:
    """The report form's fields as GET /v1/reports/form gives them (the shipped catalog's items)."""
    from muzhang.catalog import load_catalog

    return [
        {"name": f.name, "type": f.type}
        for f in load_catalog().fields_of("grid_monthly")
        if f.name not in ("grid_id", "month")
    ]
