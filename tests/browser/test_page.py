"""The one-screen page in a real browser: map, layers, explanations, views, health view, log out."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow

GRID_FILLS = "els => els.map(e => [e.dataset.grid, e.getAttribute('fill')])"


def county_grids(api: Any) -> list[dict[str, Any]]:
    return [f["properties"] for f in api("planner", "GET", "/v1/county/map")["grids"]["features"]]


def biggest_grid(api: Any) -> str:
    return str(max(county_grids(api), key=lambda p: p["area_km2"])["grid_id"])


def click_grid(page: Any, grid_point: Callable[[Any, str], dict[str, Any]], grid_id: str) -> None:
    """Hover and click a grid with the mouse, as a person would (not a synthetic event)."""
    point = grid_point(page, grid_id)
    assert point["hit"] == grid_id, f"the middle of {grid_id} shows {point['hit']} (scroll or overlap?)"
    page.mouse.move(point["x"], point["y"])
    page.mouse.click(point["x"], point["y"])


def fills(page: Any) -> dict[str, str]:
    return dict(page.eval_on_selector_all("#county-map path.grid", GRID_FILLS))


def wait_painted(page: Any, painted: str) -> None:
    page.wait_for_selector(f'#county-map[data-painted="{painted}"]', timeout=30_000)


def grazing_batch(api: Any, grid_ids: list[str], season: str = "warm", cap: int = 25) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(grid_ids), cap):
        items = [{"grid_id": g, "season": season} for g in grid_ids[i : i + cap]]
        for a in api("planner", "POST", "/v1/grazing/batch", json={"items": items})["items"]:
            out[a["grid_id"]] = a
    return out


def test_page_loads_without_a_key_and_asks_for_one(page: Any, guard: Any) -> None:
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/v1/" in r.url else None)

    response = page.goto("/")

    assert response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert page.locator("#key-input").is_visible()
    assert page.locator("#welcome").is_visible()
    assert page.title() == "牧长 Muzhang"
    assert api_calls == [], "the page called the API before a key was entered"


def test_map_draws_one_polygon_per_served_grid_with_township_names(sign_in: Any, api: Any) -> None:
    served = api("planner", "GET", "/v1/county/map")

    page = sign_in("planner")

    assert page.locator("#county-map path.grid").count() == len(served["grids"]["features"])
    wait_painted(page, "pressure-warm")
    labels = page.locator("#county-map .township-label").all_text_contents()
    towns_with_grids = {f["properties"]["township_id"] for f in served["grids"]["features"]}
    expected = {t["township_name_zh"] for t in served["townships"] if t["township_id"] in towns_with_grids}
    assert set(labels) == expected
    assert page.locator("#county-map .township-borders").get_attribute("d"), "no township border drawn"
    assert page.locator("#legend").inner_text().startswith("载畜压力指数")


def test_switching_layers_recolours_grids_by_what_the_api_says(sign_in: Any, api: Any) -> None:
    page = sign_in("planner")
    wait_painted(page, "pressure-warm")
    pressure = fills(page)
    assessments = grazing_batch(api, sorted(pressure))

    for layer, value in (("status", lambda a: a["status"]), ("advice", lambda a: a["advice"]["action"])):
        page.select_option("#layer", layer)
        wait_painted(page, f"{layer}-warm")
        now = fills(page)
        assert now != pressure, f"the {layer} layer left every fill as it was"
        colours = collections.defaultdict(set)
        for grid_id, fill in now.items():
            colours[value(assessments[grid_id])].add(fill)
        assert all(len(c) == 1 for c in colours.values()), f"one {layer} shown in several colours: {colours}"
        assert len({next(iter(c)) for c in colours.values()}) == len(colours), f"two {layer}s share a colour"

    page.select_option("#layer", "dispute")
    wait_painted(page, "dispute")
    assert fills(page) != pressure


def percent_text(value: float) -> str:
    """The page's percent (i18n.js ``percent``): no decimals, one below 1 %."""
    return f"{value:.1f}%" if value < 1 else f"{value:.0f}%"


def assert_risk_in_points(block: Any, explanation: dict[str, Any]) -> None:
    """A risk's bars in percentage points (issue 13 item 6): the average risk, each shown reason's points,
    the other inputs' rest, and this risk, as the API's display fields give them; no log-odds."""
    assert explanation["display_unit"] == "pp"
    base = block.locator("[data-testid=risk-base]").inner_text()
    assert base == f"平均风险：{percent_text(explanation['display_base'])}"
    total = block.locator("[data-testid=risk-total]").inner_text()
    assert total == f"= 本风险：{percent_text(explanation['display_prediction'])}"
    points = [r["display_contribution"] for r in explanation["reasons"]]
    rest = explanation["display_prediction"] - explanation["display_base"] - sum(points)
    shown = [f"{'+' if v >= 0 else '−'}{abs(v):.1f}" for v in points + ([rest] if abs(rest) >= 0.05 else [])]
    assert block.locator(".reason-contrib").all_inner_texts() == shown
    assert "对数几率" not in block.inner_text()


def test_clicking_a_grid_shows_the_explanation_the_api_gives(sign_in: Any, api: Any, grid_point: Any) -> None:
    grid_id = biggest_grid(api)
    expected = api("planner", "GET", f"/v1/grazing/assessment/{grid_id}", params={"season": "warm", "lang": "zh"})
    dispute = api("planner", "GET", f"/v1/dispute/risk/{grid_id}", params={"lang": "zh"})
    page = sign_in("planner")
    wait_painted(page, "pressure-warm")

    click_grid(page, grid_point, grid_id)

    tooltip = page.locator("#map .tooltip")
    assert expected["grid_name"] in tooltip.inner_text()
    explanation = page.locator("[data-testid=grazing-explanation]")
    explanation.wait_for()
    assert explanation.locator(".sentence").inner_text() == expected["explanation"]["sentence"]
    assert explanation.locator(".reason-label").first.inner_text() == expected["explanation"]["reasons"][0]["label"]
    # the reasons in kg DM/ha: the grid's expected yield, each reason's share (and the model's average), the forecast
    expl = expected["explanation"]
    assert explanation.locator("[data-testid=yield-base]").inner_text() == (
        f"本网格预期产草量：{expl['display_base']:,.0f} 千克干物质/公顷"
    )
    assert explanation.locator("[data-testid=yield-forecast]").inner_text() == (
        f"= 预测产草量：{expected['yield_kg_ha']['predicted']:,.0f} 千克干物质/公顷"
    )
    shares = [r["display_contribution"] for r in expl["reasons"]] + (
        [expl["display_average"]] if expl["display_average"] else []
    )
    shown = [f"{'+' if v >= 0 else '−'}{abs(v):,.0f}" for v in shares]
    assert explanation.locator(".reason-contrib").all_inner_texts() == shown
    assert "对数比" not in explanation.inner_text()
    risk = page.locator("[data-testid=dispute] .explanation .sentence")
    risk.wait_for()
    assert risk.inner_text() == dispute["explanation"]["sentence"]
    assert_risk_in_points(page.locator("[data-testid=dispute] .explanation"), dispute["explanation"])
    assert page.locator("#county-map .selected-outline").get_attribute("d")


def test_what_if_form_answers_with_the_api_what_if(sign_in: Any, api: Any, grid_point: Any) -> None:
    grid_id = biggest_grid(api)
    body = {"grid_id": grid_id, "season": "warm", "add_head": {"yak": 300}, "rest": False, "drought": True}
    expected = api("planner", "POST", "/v1/grazing/what-if", json=body, params={"lang": "zh"})
    page = sign_in("planner")
    click_grid(page, grid_point, grid_id)
    page.locator("[data-testid=grazing-explanation]").wait_for()

    page.fill(".whatif input[name=yak]", "300")
    page.check(".whatif input[name=drought]")

    result = page.locator(".whatif-result .compare b")
    result.wait_for()
    assert result.inner_text() == f"{expected['pressure']:,.2f}"
    assert page.locator(".whatif-result .advice-text").inner_text() == expected["advice"]["text"]


def test_english_switch_translates_the_page_and_refetches_sentences(sign_in: Any, api: Any, grid_point: Any) -> None:
    grid_id = biggest_grid(api)
    expected = api("planner", "GET", f"/v1/grazing/assessment/{grid_id}", params={"season": "warm", "lang": "en"})
    page = sign_in("planner")
    click_grid(page, grid_point, grid_id)
    page.locator("[data-testid=grazing-explanation]").wait_for()

    page.click("[data-lang=en]")

    assert page.locator("#tabs [data-view=market]").inner_text() == "Market"
    sentence = page.locator("[data-testid=grazing-explanation] .sentence")
    page.wait_for_function(
        "s => document.querySelector('[data-testid=grazing-explanation] .sentence')?.textContent === s",
        arg=expected["explanation"]["sentence"],
    )
    assert sentence.inner_text() == expected["explanation"]["sentence"]
    base = page.locator("[data-testid=grazing-explanation] [data-testid=yield-base]")
    assert base.inner_text() == f"Expected for this grid: {expected['explanation']['display_base']:,.0f} kg DM/ha"


def test_rotation_market_and_watchlist_views(sign_in: Any, api: Any) -> None:
    plan = api("planner", "GET", "/v1/grazing/rotation-plan", params={"season": "warm", "lang": "zh"})
    watch = api("planner", "GET", "/v1/dispute/watchlist", params={"top": 20, "lang": "zh"})
    page = sign_in("planner")

    page.click("#tabs [data-view=rotation]")
    wait_painted(page, "rotation-warm")
    assert page.locator("[data-testid=rotation-summary]").inner_text() == plan["summary"]
    assert page.locator("#county-map .overlay path.move").count() == min(60, len(plan["moves"]))

    page.click("#tabs [data-view=market]")
    page.locator(".fan-chart").nth(1).wait_for()
    assert page.locator(".fan-chart svg.fan polygon.band95").count() == 2
    assert page.locator(".fan-chart svg.fan polyline.history").count() == 2

    page.click("#tabs [data-view=watch]")
    rows = page.locator(".watchlist tr.pick")
    rows.first.wait_for()
    assert rows.count() == len(watch["items"])
    assert page.locator("#watch-level").inner_text() == watch["level"]["text"]  # the level every risk is at
    first = watch["items"][0]
    rows.first.click()
    page.locator("#panel-grid [data-testid=dispute] .explanation").wait_for()
    assert first["grid_id"] in page.locator("#panel-grid .panel-head").inner_text()
    assert page.locator("#county-map .selected-outline").get_attribute("d")


def test_planner_sees_no_health_tab_and_health_staff_only_theirs(sign_in: Any, page: Any) -> None:
    visible_tabs = "els => els.filter(e => !e.hidden).map(e => e.dataset.view)"

    sign_in("planner")
    planner_tabs = page.eval_on_selector_all("#tabs [role=tab]", visible_tabs)
    page.click("#logout")
    sign_in("health")
    health_tabs = page.eval_on_selector_all("#tabs [role=tab]", visible_tabs)
    page.wait_for_function("document.activeElement?.tagName === 'H2'")  # one view: its heading has the focus

    assert planner_tabs == ["map", "rotation", "market", "watch"]
    assert health_tabs == ["health"]
    assert page.locator("#county-map").count() == 0, "health staff's page drew the county map"


def test_health_key_scores_sample_patients_like_the_api(sign_in: Any, api: Any) -> None:
    page = sign_in("health")

    page.click("#health-samples")  # a health key lands on the health view
    csv_text = page.input_value("#health-csv")
    page.click("#health-score")

    people = page.locator("#health-results article.person")
    people.first.wait_for()
    expected = api(
        "health",
        "POST",
        "/v1/disease/score-csv",
        params={"lang": "zh"},
        files={"file": ("records.csv", csv_text.encode(), "text/csv")},
    )
    assert people.count() == expected["n"] == 3
    shown = people.locator("h3").all_inner_texts()
    assert shown == [f"记录 {r['ref']}" for r in expected["results"]], "people not ranked as the API ranks them"
    first_risks = people.first.locator("table.risks th").all_inner_texts()
    assert first_risks == [r["label"] for r in expected["results"][0]["risks"]]
    # Sample A is hypertensive at the check: no hypertension risk, said so; sample C's record is incomplete.
    known = [(p["ref"], r["condition"]) for p in expected["results"] for r in p["risks"] if r["known"]]
    assert known == [("sample-A", "hypertension_5y")]
    assert page.locator("#health-results tr.known").count() == 1
    notes = page.locator("#health-results .incomplete-note").all_inner_texts()
    assert notes == [p["note"] for p in expected["results"] if p["note"]] and len(notes) == 1
    assert set(page.locator("#health-results td.horizon").all_inner_texts()) == {"5年风险"}
    first = expected["results"][0]["risks"][0]["explanation"]
    assert_risk_in_points(people.first.locator(".explanation"), first)


def test_log_out_clears_patient_results_key_and_records(sign_in: Any, browser_keys: dict[str, str]) -> None:
    page = sign_in("health")
    page.click("#health-samples")
    page.click("#health-score")
    page.locator("#health-results article.person").first.wait_for()
    assert "sample-A" in page.inner_text("body")

    page.click("#logout")

    assert page.locator("#health-results").count() == 0
    assert page.locator("#health-csv").count() == 0
    assert "sample-" not in page.content()
    stored = page.evaluate("Object.entries(sessionStorage)")
    assert all(browser_keys["health"] not in v and "sample-" not in v for _, v in stored), stored
    assert page.locator("#key-input").is_visible()
    assert page.locator("#county-map").count() == 0


def test_tablet_width_stacks_the_side_panel_under_the_map(sign_in: Any) -> None:
    page = sign_in("planner")
    wait_painted(page, "pressure-warm")  # the "computing" line above the map is gone: nothing moves between boxes

    page.set_viewport_size({"width": 820, "height": 1180})

    map_box = page.locator("#map-area").bounding_box()
    side_box = page.locator("#side").bounding_box()
    assert side_box["y"] >= map_box["y"] + map_box["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 820


def test_guard_records_and_blocks_requests_to_other_hosts(page: Any, guard: Any) -> None:
    page.goto("about:blank")  # no CSP here, so the request reaches the route

    page.evaluate("fetch('http://outside.invalid/probe').catch(() => null)")
    page.wait_for_timeout(200)

    assert guard.outside == ["http://outside.invalid/probe"]
    guard.outside.clear()
