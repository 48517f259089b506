"""The header's "data as of" month, and county staff's work in the data-quality view, in a real browser.

On the store-backed app (``store_server``): every signed-in key sees the month of county data every answer
uses, and it moves when a month is closed; a township's CSV is uploaded and its refused rows are shown with
the item's label; an open flag is confirmed with a reason, from the keyboard; axe-core finds nothing serious.

Each test reports for grid areas of its own, in the first month still open when it runs (``as_of`` + 1), so
the tests do not depend on each other's order nor on ``test_reports.py``'s.
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

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = os.environ.get("MUZHANG_SCREENSHOTS")
# Grid areas (by position in the sorted grid ids) each test reports for; 0 and 1 are the reporter key's.
UPLOAD_GRIDS = slice(2, 5)
FLAG_GRID = 5
CLOSE_GRID = 6


def shoot(page: Any, name: str) -> None:
    """A full-page picture, with the side panel (which scrolls on its own) grown to show all of it."""
    if not SCREENSHOTS:
        return
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    side = page.locator("#side")
    side.evaluate("el => { el.style.maxHeight = 'none'; el.style.position = 'static'; }")
    page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
    side.evaluate("el => { el.style.maxHeight = ''; el.style.position = ''; }")


def form_of(store_api: Any) -> dict[str, Any]:
    return store_api("reporter", "GET", "/v1/reports/form").json()


def grids(state: AppState) -> list[str]:
    return sorted(map(str, state.county.grid_ids))


def month_before(iso: str, back: int) -> str:
    return (pd.Timestamp(iso).to_period("M") - back).to_timestamp().strftime("%Y-%m-%d")


def zh_month(iso: str) -> str:
    year, month, _ = iso.split("-")
    return f"{year}年{int(month)}月"


def open_quality(page: Any, month: str) -> None:
    """The data-quality view of ``month`` (YYYY-MM-DD)."""
    page.click("#tabs [data-view=quality]")
    page.wait_for_selector("#dq-townships tbody tr")
    if page.input_value("#dq-month") != month[:7]:
        page.fill("#dq-month", month[:7])
        page.wait_for_selector(f"#panel-quality h2:has-text('{zh_month(month)}')")
        page.wait_for_selector("#dq-townships tbody tr")


def serious_violations(page: Any) -> list[Any]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_header_says_the_month_of_county_data_for_a_planner_and_a_reporter(
    page: Any, store_sign_in: Any, store_api: Any
) -> None:
    models = store_api("planner", "GET", "/v1/models").json()
    as_of = models["data_as_of"]
    assert models["data_source"] == "store"

    store_sign_in("planner")

    header = page.locator("#data-as-of")
    assert header.is_visible()
    assert header.inner_text() == f"数据截至 {zh_month(as_of)}"
    assert header.get_attribute("data-month") == as_of
    page.click("[data-lang=en]")
    assert header.inner_text() == f"Data as of {as_of[:7]}"
    page.click("#logout")
    assert not header.is_visible()

    store_sign_in("reporter")  # a herder chief's key may not read /v1/models: the report form says the month

    assert header.is_visible()
    assert header.inner_text() == f"Data as of {form_of(store_api)['as_of'][:7]}"
    page.click("[data-lang=zh]")
    assert header.inner_text() == f"数据截至 {zh_month(form_of(store_api)['as_of'])}"


def test_header_moves_when_a_month_is_closed(
    usual_values: Callable[..., dict[str, Any]], page: Any, store_sign_in: Any, store_api: Any, store_state: AppState
) -> None:
    form = form_of(store_api)
    first_open = month_before(form["as_of"], -1)
    grid = grids(store_state)[CLOSE_GRID]
    body = {"submission_id": f"header-close-{first_open}", "grid_id": grid, "month": first_open}
    store_api("planner", "POST", "/v1/reports", json={**body, **usual_values(store_state, grid, form["fields"])})
    store_sign_in("planner")
    header = page.locator("#data-as-of")
    assert header.get_attribute("data-month") == form["as_of"]
    open_quality(page, first_open)
    page.once("dialog", lambda dialog: dialog.accept())

    page.click("#dq-close")

    page.wait_for_selector("#dq-close-result.ok")
    page.wait_for_selector(f"#data-as-of[data-month='{first_open}']")
    assert header.inner_text() == f"数据截至 {zh_month(first_open)}"
    assert store_api("planner", "GET", "/v1/models").json()["data_as_of"] == first_open


def test_uploading_a_township_file_shows_the_counts_and_the_refused_row(
    usual_values: Callable[..., dict[str, Any]], page: Any, store_sign_in: Any, store_api: Any, store_state: AppState
) -> None:
    form = form_of(store_api)
    month = month_before(form["as_of"], -1)  # still open: nothing carried into it yet
    rows = [
        {
            "submission_id": f"upload-{g}-{month}",
            "grid_id": g,
            "month": month[:7],
            **usual_values(store_state, g, form["fields"]),
        }
        for g in grids(store_state)[UPLOAD_GRIDS]
    ]
    rows[2]["yak"] = -3  # the third report (line 4 of the file) breaks the rule "a count is not negative"
    csv = pd.DataFrame(rows).to_csv(index=False).encode("utf-8")
    [yak] = [f for f in form["fields"] if f["name"] == "yak"]
    store_sign_in("planner")
    open_quality(page, month)
    assert page.locator("label[for=dq-file]").is_visible()
    page.set_input_files("#dq-file", files=[{"name": "township.csv", "mimeType": "text/csv", "buffer": csv}])

    with page.expect_response(lambda r: "/reports/upload" in r.url) as uploading:
        page.click("#dq-upload-send")

    answer = uploading.value.json()
    assert uploading.value.status == 200, answer
    page.wait_for_selector("#dq-upload-summary")
    assert page.inner_text("#dq-upload-summary [data-count=inserted] b") == "2"
    assert page.inner_text("#dq-upload-summary [data-count=refused] b") == "1"
    assert "township.csv" in page.inner_text("#dq-upload-summary") and "3 行" in page.inner_text("#dq-upload-summary")
    assert answer["counts"]["inserted"] == 2 and answer["counts"]["refused"] == 1
    refused = page.locator("#dq-upload-refused tbody tr")
    assert refused.count() == len(answer["refused"]) >= 1
    [problem] = [p for p in answer["refused"] if p["field"] == "yak"]
    row = page.locator("#dq-upload-refused tbody tr[data-field=yak]")
    cells = row.locator("td").all_inner_texts()
    assert cells == [str(problem["row"]), yak["label_zh"], "-3", problem["rule"]]
    assert problem["row"] == 4
    assert page.evaluate("document.activeElement.id") == "dq-upload-summary"  # the answer is where focus goes
    # The view was fetched again: the two reports count as received in the month's rates.
    received = store_api("planner", "GET", f"/v1/data-quality?month={month[:7]}").json()["county"]["received"]
    assert f"已收 {received} / " in page.inner_text("#dq-reporting-rate")
    shoot(page, "data-quality-upload")
    assert not serious_violations(page)
    page.click("[data-lang=en]")  # the answer stays, its labels in the other language
    assert row.locator("td").nth(1).inner_text() == yak["label"]
    assert "not accepted 1" in page.inner_text("#dq-upload-summary")


def test_confirming_a_flag_with_a_reason_from_the_keyboard(
    usual_values: Callable[..., dict[str, Any]], page: Any, store_sign_in: Any, store_api: Any, store_state: AppState
) -> None:
    form = form_of(store_api)
    month = month_before(form["as_of"], -1)
    grid = grids(store_state)[FLAG_GRID]
    values = usual_values(store_state, grid, form["fields"])
    values["mediations"] = values["disputes"] + 2  # more disputes settled than there were: flagged, kept
    body = {"submission_id": f"flag-{grid}-{month}", "grid_id": grid, "month": month, **values}
    sent = store_api("planner", "POST", "/v1/reports", json=body).json()
    assert "mediations" in [f["field"] for f in sent["flags"]], sent
    flags = store_api("planner", "GET", f"/v1/data-quality?month={month[:7]}").json()["flags"]
    [flag] = [f for f in flags if f["grid_id"] == grid and f["field"] == "mediations" and f["status"] == "open"]
    [mediations] = [f for f in form["fields"] if f["name"] == "mediations"]
    store_sign_in("planner")
    open_quality(page, month)
    row = page.locator(f"#dq-flags tr[data-flag='{flag['id']}']")
    assert row.locator("td[data-field=mediations]").inner_text() == mediations["label_zh"]
    assert row.locator(".flag-status").inner_text() == "待核实"

    row.locator("button[data-resolve=confirmed]").focus()
    page.keyboard.press("Enter")  # opens the small form under the row, focus in its reason

    assert page.evaluate("document.activeElement.id") == f"dq-reason-{flag['id']}"
    assert page.locator(f"label[for='dq-reason-{flag['id']}']").is_visible()
    page.keyboard.press("Enter")  # no reason yet: refused on the page, nothing sent
    assert page.get_attribute(f"#dq-reason-{flag['id']}", "aria-invalid") == "true"
    assert page.inner_text(f"#dq-reason-{flag['id']}-msg") == "请填写原因"
    shoot(page, "data-quality-flag-form")
    assert not serious_violations(page)
    page.keyboard.type("checked with the township vet: two older disputes settled")
    with page.expect_response(lambda r: f"/flags/{flag['id']}" in r.url) as resolving:
        page.keyboard.press("Enter")

    assert resolving.value.status == 200
    page.wait_for_selector(f"#dq-flags tr[data-flag='{flag['id']}'][data-status=confirmed]")
    assert row.locator(".flag-status").inner_text() == "已确认"
    assert row.locator("button[data-resolve]").count() == 0
    assert page.locator(f"#dq-resolve-{flag['id']}").count() == 0
    assert "已确认" in page.inner_text("#dq-flag-result")
    assert page.evaluate("document.activeElement.classList.contains('flag-status')")
    after = store_api("planner", "GET", f"/v1/data-quality?month={month[:7]}").json()["flags"]
    assert [f["status"] for f in after if f["id"] == flag["id"]] == ["confirmed"]
