"""The data scientists' view in a real browser (issue 11): a data scientist's key gets the tab, a planner's not;
the view draws the live metric by month beside the test value, the drift table and the champion history that
GET /v1/monitoring gives, in Chinese and in English."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from muzhang.settings import ApiKey
from serving.deps import AppState

pytestmark = pytest.mark.slow

MONTHS = ["2025-01-01", "2025-02-01", "2025-03-01"]
REPORT = {
    "data_as_of": "2025-03-01",
    "store": True,
    "thresholds": {"psi": 0.25, "ks": 0.3},
    "families": [
        {
            "family": "dispute",
            "champion": "7",
            "error": None,
            "test_metrics": {"brier": 0.062},
            "live": [
                {
                    "model_version": "7",
                    "target_period": m,
                    "metric": "brier",
                    "value": v,
                    "low": v - 0.01,
                    "high": v + 0.01,
                    "n": 440,
                    "test": 0.062,
                    "reference": ref,
                    "worse": v - 0.01 > (ref if ref is not None else 0.062),
                }
                # the last month is held to the same month of the test year (a seasonal reference)
                for m, v, ref in zip(MONTHS, [0.060, 0.066, 0.081], [None, None, 0.075], strict=True)
            ],
            "outcomes": [
                {"target_period": m, "model_version": "7", "forecasts": 457, "joined": 440, "missing": 17}
                for m in MONTHS
            ],
            "champion_history": [
                {"month": "2024-12-01", "versions": ["6", "7"]},
                {"month": "2025-01-01", "versions": ["7"]},
            ],
            "drift": [
                {
                    "what": "snow_days_sum3",
                    "target": "feature",
                    "kind": "numeric",
                    "period": "3",
                    "n": 457,
                    "missing": 0.0,
                    "psi": 0.91,
                    "ks": 0.52,
                    "wasserstein": 1.7,
                    "psi_bar": 0.4,
                    "ks_bar": 0.3,
                    "watch_bar": 0.2,
                    "status": "drifted",
                },
                {
                    "what": "any_dispute",
                    "target": "prediction",
                    "kind": "numeric",
                    "period": "3",
                    "n": 457,
                    "missing": 0.0,
                    "psi": 0.05,
                    "ks": 0.08,
                    "wasserstein": 0.1,
                    "psi_bar": 0.3,
                    "ks_bar": 0.3,
                    "watch_bar": 0.1,
                    "status": "stable",
                },
            ],
            "triggers": [
                "live brier worse than its test value 0.062 beyond the interval: 2025-03 0.081 [0.071, 0.091]"
            ],
            "policy": {"metric": "brier"},
            "reference_raised": "held to v7's brier 0.07 on 2025-01..2025-03 after a retrain could not beat it",
            "months_since_training": 3,
            "decisions": [],
            "band_counts": [],
        }
    ],
}


@pytest.fixture
def scientist_key(browser_state: AppState) -> Iterator[str]:
    """A data scientist's key on the session's browser app, for this test only."""
    key = secrets.token_urlsafe(24)
    entry = ApiKey(
        name="browser-data-scientist", role="data_scientist", sha256=hashlib.sha256(key.encode()).hexdigest()
    )
    browser_state.keys.append(entry)
    try:
        yield key
    finally:
        browser_state.keys.remove(entry)


def enter(page: Any, key: str) -> None:
    page.goto("/")
    page.fill("#key-input", key)
    page.click("#login")
    page.wait_for_selector("#tabs [data-view]:not([hidden])")


def test_only_data_scientists_get_the_view_and_it_draws_the_monitoring_report(
    page: Any, guard: Any, scientist_key: str, browser_keys: dict[str, str]
) -> None:
    enter(page, browser_keys["planner"])
    assert page.locator("#tab-monitoring").is_hidden()
    page.click("#logout")

    enter(page, scientist_key)
    page.click("#tab-monitoring")
    view = page.locator("#view-monitoring")
    # The session app reads a county directory: no forecast log, said plainly.
    view.get_by_text("尚无监测数据", exact=False).wait_for()
    page.click("#logout")

    body = json.dumps(REPORT)
    page.route("**/v1/monitoring*", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    enter(page, scientist_key)
    page.click("#tab-monitoring")
    section = page.locator('.monitoring-family[data-family="dispute"]')
    section.wait_for()
    assert section.locator("svg.monitoring-chart circle").count() == len(MONTHS)
    assert section.locator("svg.monitoring-chart line").count() == 2  # the test value, dashed, and one tick
    assert section.locator("svg.monitoring-chart line.reference-tick").count() == 1
    held_to = section.locator("table").first.inner_text()
    assert "0.075" in held_to and "对照值" in held_to  # the latest month's reference beside its test value
    assert "after a retrain could not beat it" in section.locator(".reference-raised").inner_text()
    assert section.locator(".drift-drifted").inner_text() == "漂移"
    assert "live brier worse than its test value" in section.locator("ul.triggers").inner_text()
    assert "6, 7" in section.inner_text()  # replaced mid-month: both versions made forecasts from 2024-12

    page.click("[data-lang=en]")
    assert page.locator("#tabs [data-view=monitoring]").inner_text() == "Model monitoring"
    assert section.locator(".drift-drifted").inner_text() == "drifted"
    assert "Which version served when" in section.inner_text()
