"""Explanations add up: base value + every contribution = the model's raw score, as SHAP computes it.

Responses list only the top reasons, so additivity is checked on :func:`serving.explain.contributions`;
the routes are then checked to report exactly those numbers for the row they scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.linear import GlmTreeBooster, LinearBooster
from serving.deps import AppState
from serving.explain import OTHER_FEATURE, TOP_K, contributions
from serving.scoring.grazing.explanations import QUESTION_FEATURES

# family -> tasks explained by the API
TASKS = {"grazing": ("yield",), "dispute": ("any_dispute",), "market": ("head_sold", "price")}
CASES = [(family, task) for family, tasks in TASKS.items() for task in tasks]


def forecast_matrix(state: AppState, family: str) -> np.ndarray:
    bundle = state.registry.get(family).bundle
    return bundle.encoder.encode(state.county.forecasts[family].frame)


@pytest.fixture(scope="module")
def shap_module() -> Any:
    import shap  # 2-3 s: only this module pays for it

    return shap


@pytest.mark.parametrize(("family", "task"), CASES)
def test_contributions_sum_to_the_raw_prediction_on_every_forecast_row(
    serving_state: AppState, family: str, task: str
) -> None:
    model = serving_state.registry.get(family).bundle.tasks[task]
    x = forecast_matrix(serving_state, family)

    contrib = contributions(model, x)

    assert contrib.shape == (len(x), x.shape[1] + 1)
    assert np.allclose(contrib.sum(axis=1), model.raw(x), rtol=1e-9, atol=1e-9)
    assert np.ptp(contrib[:, -1]) < 1e-9, "the base value must be the same for every row"


@pytest.mark.parametrize(("family", "task"), CASES)
def test_contributions_equal_shap_tree_explainer(
    shap_module: Any, serving_state: AppState, family: str, task: str
) -> None:
    model = serving_state.registry.get(family).bundle.tasks[task]
    x = forecast_matrix(serving_state, family)[:6]
    if isinstance(model.booster, LinearBooster):  # a GLM or classical candidate won: its terms are exact
        terms = model.booster.terms(x) - np.asarray(model.booster.term_means)
        assert np.allclose(terms, contributions(model, x)[:, :-1], rtol=1e-12, atol=1e-12)
        return

    glm = None
    trees = model.booster
    if isinstance(model.booster, GlmTreeBooster):  # trees learned a correction of a GLM: its terms + TreeSHAP
        glm = model.booster.glm.predict(x, pred_contrib=True)
        trees = model.booster.trees
    explainer = shap_module.TreeExplainer(trees)
    values = explainer.shap_values(x)
    expected = explainer.expected_value
    if isinstance(values, list):  # older shap: one array per class of a binary model; the last is class 1
        values, expected = values[-1], np.atleast_1d(expected)[-1]
    if glm is not None:
        values = np.asarray(values) + glm[:, :-1]
        expected = np.asarray(expected, dtype=float).ravel()[-1] + glm[:, -1]

    ours = contributions(model, x)
    assert np.allclose(np.asarray(values), ours[:, :-1], rtol=1e-7, atol=1e-9)
    assert np.allclose(np.asarray(expected, dtype=float).ravel()[-1], ours[:, -1], rtol=1e-7, atol=1e-9)


def test_dispute_risk_reports_the_bundles_calibrated_probability_and_raw_score(
    client: TestClient, auth: Any, serving_state: AppState, grid_ids: list[str]
) -> None:
    bundle = serving_state.registry.get("dispute").bundle
    model = bundle.tasks["any_dispute"]
    frame = serving_state.county.forecasts["dispute"].frame
    grid = grid_ids[4]
    x = bundle.encoder.encode(frame[frame["grid_id"] == grid])
    contrib = contributions(model, x)[0]

    risk = client.get(f"/v1/dispute/risk/{grid}", headers=auth("planner")).json()

    assert risk["probability"] == pytest.approx(float(model.point(x)[0]), rel=1e-12)
    expl = risk["explanation"]
    assert expl["raw_prediction"] == pytest.approx(float(model.raw(x)[0]), abs=1e-9)
    assert expl["base_value"] + contrib[:-1].sum() == pytest.approx(expl["raw_prediction"], abs=1e-9)
    assert expl["base_value"] == pytest.approx(contrib[-1], abs=1e-12)
    assert_top_reasons(expl["reasons"], bundle.encoder.features, contrib)


def test_grazing_assessment_reports_the_bundles_yield_and_raw_score(
    client: TestClient, auth: Any, serving_state: AppState, grid_ids: list[str]
) -> None:
    bundle = serving_state.registry.get("grazing").bundle
    model = bundle.tasks["yield"]
    frame = serving_state.county.forecasts["grazing"].frame
    grid = grid_ids[4]
    x = bundle.encoder.encode(frame[(frame["grid_id"] == grid) & (frame["season"] == "cold")])
    contrib = contributions(model, x)[0]

    item = client.get(f"/v1/grazing/assessment/{grid}", params={"season": "cold"}, headers=auth("planner")).json()

    assert item["yield_kg_ha"]["predicted"] == pytest.approx(float(model.point(x)[0]), rel=1e-12)
    expl = item["explanation"]
    assert expl["raw_prediction"] == pytest.approx(float(model.raw(x)[0]), abs=1e-9)
    assert expl["base_value"] + contrib[:-1].sum() == pytest.approx(expl["raw_prediction"], abs=1e-9)
    *listed, other = expl["reasons"]
    assert other["feature"] == OTHER_FEATURE
    kept = [f for f in bundle.encoder.features if f not in QUESTION_FEATURES]
    assert_top_reasons(listed, kept, contrib[[bundle.encoder.features.index(f) for f in kept] + [-1]])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_grazing_explanation_items_add_up_to_the_prediction_exactly(
    client: TestClient, auth: Any, grid_ids: list[str], lang: str
) -> None:
    items = [{"grid_id": g, "season": s} for g in grid_ids[:15] for s in ("warm", "cold", "transition")]
    out = client.post("/v1/grazing/batch", params={"lang": lang}, json={"items": items}, headers=auth("planner"))
    assert out.status_code == 200, out.text

    for item in out.json()["items"]:
        expl = item["explanation"]
        shown = sum(r["contribution"] for r in expl["reasons"])
        assert expl["base_value"] + shown == pytest.approx(expl["raw_prediction"], abs=1e-9)
        assert expl["reasons"][-1]["feature"] == OTHER_FEATURE
        # reasons that restate the question ("the forecast is for the warm season") are left out
        assert not {r["feature"] for r in expl["reasons"]} & set(QUESTION_FEATURES)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_grazing_reasons_in_kg_share_the_move_from_the_grids_expected_yield_to_the_forecast(
    client: TestClient, auth: Any, serving_state: AppState, grid_ids: list[str], lang: str
) -> None:
    model = serving_state.registry.get("grazing").bundle.tasks["yield"]
    assert model.transform == "log_ratio" and model.base_index is not None
    frame = serving_state.county.forecasts["grazing"].frame.set_index(["grid_id", "season"])
    items = [{"grid_id": g, "season": s} for g in grid_ids[:15] for s in ("warm", "cold")]
    out = client.post("/v1/grazing/batch", params={"lang": lang}, json={"items": items}, headers=auth("planner"))
    assert out.status_code == 200, out.text

    for item in out.json()["items"]:
        expl = item["explanation"]
        expected = float(frame.loc[(item["grid_id"], item["season"]), "yield_expected"])
        forecast = item["yield_kg_ha"]["predicted"]
        shares = [r["display_contribution"] for r in expl["reasons"]]
        assert expl["display_unit"] == "kg DM/ha"
        assert expl["display_base"] == pytest.approx(expected, rel=1e-12)
        assert expl["display_prediction"] == pytest.approx(forecast, rel=1e-9)
        # exact: the expected yield, the model's average and every reason add up to the forecast
        assert expl["display_average"] + sum(shares) == pytest.approx(forecast - expected, abs=1e-6)
        # in proportion to the log-ratio contributions, the raw fields keeping their meaning
        rate = (forecast - expected) / expl["raw_prediction"]
        assert expl["display_average"] == pytest.approx(expl["base_value"] * rate, rel=1e-9, abs=1e-9)
        for reason, share in zip(expl["reasons"], shares, strict=True):
            assert share == pytest.approx(reason["contribution"] * rate, rel=1e-9, abs=1e-9)
            assert (share > 0) == (reason["direction"] == "up")


def test_grazing_sentence_compares_with_the_grids_own_past_same_season(
    client: TestClient, auth: Any, serving_state: AppState, grid_ids: list[str]
) -> None:
    frame = serving_state.county.forecasts["grazing"].frame.set_index(["grid_id", "season"])
    items = [{"grid_id": g, "season": "warm"} for g in grid_ids]
    out = client.post("/v1/grazing/batch", params={"lang": "en"}, json={"items": items}, headers=auth("planner"))

    checked = 0
    for item in out.json()["items"]:
        own = frame.loc[(item["grid_id"], "warm"), "yield_mean_past"]
        sentence = item["explanation"]["sentence"]
        assert "pressure" in sentence and "forecast (data to" in sentence  # the pressure carries its period
        if "higher than" in sentence:
            assert item["yield_kg_ha"]["predicted"] >= own and "this grid's past warm-season mean" in sentence
            checked += 1
        elif "lower than" in sentence:
            assert item["yield_kg_ha"]["predicted"] < own and "this grid's past warm-season mean" in sentence
            checked += 1
    assert checked > 0


def test_grazing_drought_what_if_sentence_compares_the_yield_it_shows_with_the_grids_own_past(
    client: TestClient, auth: Any, serving_state: AppState, grid_ids: list[str]
) -> None:
    """A drought what-if shows the drought-year yield: "higher / lower than usual" is said of that yield."""
    frame = serving_state.county.forecasts["grazing"].frame.set_index(["grid_id", "season"])
    checked = 0
    for grid, season in [(g, s) for g in grid_ids for s in ("warm", "cold", "transition")]:
        body = {"grid_id": grid, "season": season, "drought": True}
        item = client.post("/v1/grazing/what-if", params={"lang": "en"}, json=body, headers=auth("planner")).json()
        own, ratio = frame.loc[(grid, season), ["yield_mean_past", "drought_ratio_mid"]]
        shown = item["yield_kg_ha"]["predicted"]
        usual = item["explanation"]["display_prediction"]  # the model's yield, before the drought
        assert shown == pytest.approx(usual * ratio, rel=1e-9)
        sentence = item["explanation"]["sentence"]
        if "higher than this grid's past" in sentence:
            assert shown >= own, sentence
            checked += 1
        elif "lower than this grid's past" in sentence:
            assert shown < own, sentence
            checked += 1
    assert checked > 0


def assert_top_reasons(reasons: list[dict[str, Any]], features: list[str], contrib: np.ndarray) -> None:
    """The listed reasons are the largest contributions, largest first, with their exact values."""
    values = dict(zip(features, contrib[:-1], strict=True))
    assert 0 < len(reasons) <= TOP_K
    for reason in reasons:
        assert reason["contribution"] == pytest.approx(values[reason["feature"]], abs=1e-12)
        assert reason["direction"] == ("up" if reason["contribution"] > 0 else "down")
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True)
    listed = {r["feature"] for r in reasons}
    assert all(abs(v) <= min(sizes) + 1e-12 for f, v in values.items() if f not in listed)
