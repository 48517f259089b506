"""Monthly reports and data quality in a real browser, on the store-backed app (``store_server``).

A herder chief's key (role ``reporter``, bound to two grid areas) sees the report view only, on a phone; a
report sent offline waits on the device and is sent once when the network returns; a refused value shows
its rule beside the input in the page's language; a planner sees the month's data quality and closes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from serving.deps import AppState

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
OUTBOX = "muzhang.outbox"
GRID_FILLS = "els => els.map(e => [e.dataset.grid, e.getAttribute('fill')])"
# A folder to keep screenshots of these views in, for a person to look at (none: no screenshots).
SCREENSHOTS = os.environ.get("MUZHANG_SCREENSHOTS")


def shoot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def form_of(store_api: Any) -> dict[str, Any]:
    return store_api("reporter", "GET", "/v1/reports/form").json()


def month_before(iso: str, back: int) -> str:
    return (pd.Timestamp(iso).to_period("M") - back).to_timestamp().strftime("%Y-%m-%d")


def fill_report(page: Any, fields: list[dict[str, Any]], values: dict[str, Any], grid: str, month: str) -> None:
    page.select_option("#rf-grid_id", grid)
    page.select_option("#rf-month", month)
    for f in fields:
        selector = f"#rf-{f['name']}"
        value = values[f["name"]]
        if f["type"] in ("category", "boolean"):
            page.select_option(selector, str(value).lower() if f["type"] == "boolean" else str(value))
        else:
            page.fill(selector, str(value))


def queued_ids(page: Any) -> list[str]:
    return page.evaluate(f"JSON.parse(localStorage.getItem('{OUTBOX}') ?? '[]').map(x => x.submission_id)")


def submissions_with(state: AppState, submission_id: str) -> int:
    frame = state.store.submissions()
    return int((frame["submission_id"] == submission_id).sum())


def test_reporter_on_a_phone_sees_only_the_report_view_and_sends_a_report(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
) -> None:
    form = form_of(store_api)
    page.set_viewport_size(PHONE)
    v1_calls: list[str] = []
    page.on("request", lambda r: v1_calls.append(r.url.split("?")[0].split("/v1/")[1]) if "/v1/" in r.url else None)

    store_sign_in("reporter")

    # Nothing but the report view: no tabs, no map, nothing fetched but the form (county/access: the role check).
    assert not page.locator("#tabs").is_visible()
    assert page.locator("#county-map").count() == 0
    assert not page.locator("#map-area").is_visible()
    assert set(v1_calls) <= {"county/access", "reports/form", "reports"}, v1_calls
    options = page.eval_on_selector_all("#rf-grid_id option", "els => els.map(e => e.value)")
    assert options == reporter_grids == form["grids"]
    assert page.input_value("#rf-month") == month_before(form["latest_month"], 1)
    month_options = page.eval_on_selector_all("#rf-month option", "els => els.map(e => e.value)")
    assert max(month_options) == form["latest_month"]
    for f in form["fields"]:
        field = page.locator(f"#rf-{f['name']}")
        assert field.count() == 1, f["name"]
        label = page.locator(f"label[for='rf-{f['name']}']").inner_text()
        assert f["label_zh"] in label
        assert (field.get_attribute("required") is not None) == f["required"], f["name"]
        if f["type"] in ("integer", "float"):
            if f["min"] is not None:
                assert float(field.get_attribute("min")) == f["min"], f["name"]
            if f["max"] is not None:
                assert float(field.get_attribute("max")) == f["max"], f["name"]
        if f["type"] == "category":
            values = field.evaluate("el => [...el.options].map(o => o.value).filter(Boolean)")
            assert values == f["categories"]

    grid, month = reporter_grids[0], month_before(form["latest_month"], 1)
    fill_report(page, form["fields"], usual_values(store_state, grid, form["fields"]), grid, month)
    page.click("#report-send")

    accepted = page.locator("#report-accepted")
    accepted.wait_for()
    assert accepted.get_attribute("data-outcome") == "inserted"
    assert "已收到" in accepted.inner_text()
    assert page.locator("#report-outbox").get_attribute("data-count") == "0"
    assert queued_ids(page) == []
    sent = page.locator("#report-log li[data-outcome=inserted]").get_attribute("data-submission")
    assert submissions_with(store_state, sent) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "null" not in page.inner_text("#view-report") and "undefined" not in page.inner_text("#view-report")
    shoot(page, "report-phone-sent")


def test_a_report_sent_offline_waits_on_the_device_and_is_sent_once_online(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
) -> None:
    form = form_of(store_api)
    answers: list[dict[str, Any]] = []

    def record(response: Any) -> None:
        if response.request.method == "POST" and response.url.split("?")[0].endswith("/v1/reports"):
            answers.append(response.json())

    page.on("response", record)
    store_sign_in("reporter")
    grid, month = reporter_grids[1], month_before(form["latest_month"], 1)
    body = usual_values(store_state, grid, form["fields"])
    fill_report(page, form["fields"], body, grid, month)

    page.context.set_offline(True)
    page.click("#report-send")

    page.wait_for_selector("#report-outbox[data-count='1']")
    assert page.locator("#report-result .queued").is_visible()
    assert "1" in page.inner_text("#outbox-count")
    [submission_id] = queued_ids(page)
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert submission_id in stored and "Bearer" not in stored
    assert all(key not in stored for key in page.evaluate("Object.values(sessionStorage)"))
    assert answers == [] and submissions_with(store_state, submission_id) == 0
    shoot(page, "report-offline-queued")

    page.context.set_offline(False)  # the page hears `online` and sends what waits

    page.wait_for_selector(f"#report-log li[data-outcome=inserted][data-submission='{submission_id}']")
    page.wait_for_selector("#report-outbox[data-count='0']")
    assert queued_ids(page) == []
    assert page.locator("#report-result .queued").count() == 0
    assert [a["rows"][0]["outcome"] for a in answers] == ["inserted"]
    assert answers[0]["rows"][0]["submission_id"] == submission_id
    assert submissions_with(store_state, submission_id) == 1
    # Sending it again (as a device whose answer was lost would) changes nothing.
    again = {"submission_id": submission_id, "grid_id": grid, "month": month, **body}
    assert store_api("reporter", "POST", "/v1/reports", json=again).json()["rows"][0]["outcome"] == "duplicate"
    assert submissions_with(store_state, submission_id) == 1


def test_sign_out_keeps_the_outbox_and_the_next_sign_in_sends_it(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
) -> None:
    form = form_of(store_api)
    store_sign_in("reporter")
    grid, month = reporter_grids[0], month_before(form["latest_month"], 2)
    fill_report(page, form["fields"], usual_values(store_state, grid, form["fields"]), grid, month)
    page.context.set_offline(True)
    page.click("#report-send")
    page.wait_for_selector("#report-outbox[data-count='1']")
    [submission_id] = queued_ids(page)

    page.click("#logout")
    page.context.set_offline(False)

    assert page.locator("#key-input").is_visible()
    assert "muzhang.key" not in page.evaluate("Object.keys(sessionStorage)")
    assert queued_ids(page) == [submission_id]  # the chief's report stays on the device
    store_sign_in("reporter")
    page.wait_for_selector(f"#report-log li[data-outcome=inserted][data-submission='{submission_id}']")
    assert queued_ids(page) == []
    assert submissions_with(store_state, submission_id) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_refused_value_shows_its_rule_beside_the_input_in_the_chosen_language(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
    lang: str,
) -> None:
    form = form_of(store_api)
    store_sign_in("reporter")
    page.click(f"[data-lang={lang}]")
    grid, month = reporter_grids[0], month_before(form["latest_month"], 3)
    values = {**usual_values(store_state, grid, form["fields"]), "yak": -3}
    fill_report(page, form["fields"], values, grid, month)

    page.click("#report-send")

    message = page.locator("#rf-yak-msg")
    page.wait_for_selector("#report-refused")
    probe = {"submission_id": f"probe-{lang}-refused", "grid_id": grid, "month": month, **values}
    expected = store_api("reporter", "POST", f"/v1/reports?lang={lang}", json=probe).json()["refused"]
    [rule] = [p["rule"] for p in expected if p["field"] == "yak"]
    assert rule in message.inner_text() and "-3" in message.inner_text()
    assert page.get_attribute("#rf-yak", "aria-invalid") == "true"
    assert "error" in (message.get_attribute("class") or "")
    label = page.locator("label[for='rf-yak']").inner_text()
    assert ("Yak" in label) if lang == "en" else ("牦牛" in label)
    assert page.locator("#report-outbox").get_attribute("data-count") == "0"  # answered: nothing waits
    shoot(page, f"report-refused-{lang}")


def test_report_view_has_no_serious_accessibility_violations(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
) -> None:
    form = form_of(store_api)
    page.set_viewport_size(PHONE)
    store_sign_in("reporter")
    values = {**usual_values(store_state, reporter_grids[0], form["fields"]), "yak": -1}
    fill_report(page, form["fields"], values, reporter_grids[0], month_before(form["latest_month"], 4))
    page.click("#report-send")
    page.wait_for_selector("#report-refused")  # the view with its messages, the busiest it gets

    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")

    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad


def test_data_quality_view_for_a_planner_and_closing_the_month(
    usual_values: Callable[..., dict[str, Any]],
    page: Any,
    store_sign_in: Any,
    store_api: Any,
    store_state: AppState,
    reporter_grids: list[str],
) -> None:
    # Months close in order, and only once a report of them has arrived: one for the month after the history.
    form = form_of(store_api)
    first_open = month_before(form["as_of"], -1)
    grid = reporter_grids[0]
    body = {"submission_id": "dq-test-first-open", "grid_id": grid, "month": first_open}
    store_api("planner", "POST", "/v1/reports", json={**body, **usual_values(store_state, grid, form["fields"])})
    store_sign_in("planner")
    for view in ("map", "report", "quality"):
        assert page.locator(f"#tabs [data-view={view}]").is_visible(), view
    expected = store_api("planner", "GET", "/v1/data-quality").json()

    page.click("#tabs [data-view=quality]")

    page.wait_for_selector("#dq-townships tbody tr")
    assert page.locator("#dq-townships tbody tr").count() == len(expected["townships"])
    rate = page.inner_text("#dq-reporting-rate b").replace("%", "").strip()
    assert float(rate) == pytest.approx(100 * expected["county"]["reporting_rate"], abs=1)
    assert page.locator("#dq-missing li").count() == len(expected["missing_grids"])
    page.wait_for_selector(f'#county-map[data-painted="quality-{expected["month"]}"]')
    fills = dict(page.eval_on_selector_all("#county-map path.grid", GRID_FILLS))
    assert {fills[g] for g in expected["missing_grids"]} <= {"#d73027"}
    # Sortable: worst reporting rate first, then the other way round.
    rates = page.eval_on_selector_all("#dq-townships tbody tr", "els => els.map(e => e.dataset.township)")
    by_rate = sorted(expected["townships"], key=lambda r: (r["reporting_rate"], r["key"]))
    assert rates == [r["key"] for r in by_rate]
    page.click("button[data-sort=reporting_rate]")
    assert page.get_attribute("#dq-townships th[aria-sort]", "aria-sort") == "descending"
    shoot(page, "data-quality")

    # A later month cannot close yet: the view says which month is next and leads there.
    later = month_before(first_open, -1)
    page.fill("#dq-month", later[:7])
    page.wait_for_selector("#dq-in-order")
    assert page.locator("#dq-close").count() == 0
    page.click("#dq-go-next")
    page.wait_for_selector("#dq-close")
    assert page.input_value("#dq-month") == first_open[:7]
    before = store_api("planner", "GET", f"/v1/data-quality?month={first_open[:7]}").json()["county"]

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    with page.expect_response(lambda r: "/close" in r.url) as closing:
        page.click("#dq-close")

    answer = closing.value.json()
    assert closing.value.status == 200, answer
    assert f"{before['received']} / {before['expected']}" in asked[0]  # the confirmation says how much is missing
    result = page.locator("#dq-close-result.ok")
    result.wait_for()
    assert answer["month"] == first_open and answer["as_of"] == first_open
    assert zh_month(answer["as_of"]) in result.inner_text()
    assert str(len(answer["carried_grids"])) in result.inner_text()
    page.wait_for_selector("#dq-is-closed")
    assert form_of(store_api)["as_of"] == first_open


def zh_month(iso: str) -> str:
    year, month, _ = iso.split("-")
    return f"{year}年{int(month)}月"
