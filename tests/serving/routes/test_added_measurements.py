"""A model trained with a measurement the shipped catalog does not know is served, scored and explained.

The disease family is trained on data_samples/byod (a health check whose catalog.yaml adds glucose) in a
temp work dir; the app serves that champion. Its bundle carries glucose's catalog entry, so a record may
give ``measurements: {"glucose_mmol_l": ...}`` (or a CSV column): the value is checked against glucose's
hard limits, scored, and named in the reasons; a name the model does not know is refused by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from muzhang.paths import DATA_SAMPLES
from muzhang.settings import ApiKey
from serving.app import build_state, create_app
from serving.deps import AppState
from serving.offline import OfflineInputError, score_frame
from training.pipeline import run_training

BYOD = DATA_SAMPLES / "byod"
GLUCOSE = "glucose_mmol_l"
MODEL = "muzhang-disease"
# A health check without hypertension at baseline (so its onset is scored); in the example onset is drawn from
# glucose.
PERSON: dict[str, Any] = {
    "age": 52,
    "sex": "male",
    "ethnicity": "tibetan",
    "occupation": "herder",
    "bmi": 26.0,
    "systolic_bp": 132,
    "diastolic_bp": 84,
    "baseline_hypertension": False,
    "baseline_cms": False,
}


@pytest.fixture(scope="module")
def byod_state(
    tiny_county: Path,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    store_client: Any,
    fast_overrides: dict[str, Any],
    api_keys: dict[str, str],
) -> Iterator[AppState]:
    """The app's state with the disease champion trained on the example (the tiny county as the county)."""
    work = tmp_path_factory.mktemp("byod-serving")
    with new_store(work / "work", tiny_county) as settings:
        summary = run_training("disease", settings, data_dir=BYOD, overrides=fast_overrides, log=lambda _: None)
        if not summary.promoted:
            store_client(settings).set_registered_model_alias(MODEL, "champion", summary.version)
        keys = [
            ApiKey(name=f"test-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
            for role, key in api_keys.items()
        ]
        served = settings.model_copy(update={"api_keys": keys, "poll_seconds": 0, "audit_log": work / "audit.jsonl"})
        state = build_state(served)
        assert state.registry.slots["disease"].model is not None, state.registry.slots["disease"].error
        yield state


@pytest.fixture(scope="module")
def byod_client(byod_state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state=byod_state), raise_server_exceptions=False) as client:
        yield client


def score(client: TestClient, auth: Callable[[str], dict[str, str]], *records: dict[str, Any], lang: str = "en") -> Any:
    return client.post(f"/v1/disease/score?lang={lang}", json={"records": list(records)}, headers=auth("health"))


def hypertension(result: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in result["risks"] if r["condition"] == "hypertension_5y")


def test_the_bundle_carries_the_added_field_and_the_service_lists_it(
    byod_state: AppState, byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    bundle = byod_state.served("disease").bundle
    assert GLUCOSE in bundle.encoder.features
    spec = bundle.added_fields[GLUCOSE]
    assert (spec["type"], spec["unit"], spec["min"], spec["max"]) == ("float", "mmol/L", 0.5, 60.0)
    assert (spec["plausible_min"], spec["plausible_max"]) == (2.5, 25.0)

    models = byod_client.get("/v1/models", headers=auth("health")).json()["models"]
    disease = next(m for m in models if m["family"] == "disease")
    assert disease["added_fields"][GLUCOSE]["max"] == 60.0


def test_glucose_is_scored_and_named_in_the_reasons(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    low, high = ({**PERSON, "ref": ref, "measurements": {GLUCOSE: g}} for ref, g in (("low", 4.6), ("high", 14.0)))
    response = score(byod_client, auth, low, high)

    assert response.status_code == 200, response.text
    by_ref = {r["ref"]: r for r in response.json()["results"]}
    risk = {ref: hypertension(by_ref[ref]) for ref in by_ref}
    # Only glucose differs: the model reads it (the example draws hypertension onset from it).
    assert risk["high"]["probability"] > risk["low"]["probability"]
    reasons = risk["high"]["explanation"]["reasons"]
    glucose = [r for r in reasons if r["feature"] == GLUCOSE]
    assert glucose, reasons
    assert glucose[0]["label"] == "Glucose" and glucose[0]["display_value"] == "14 mmol/L"
    assert glucose[0]["direction"] == "up"
    assert "the person's glucose was 14 mmol/L at the check" in risk["high"]["explanation"]["sentence"]
    assert GLUCOSE not in by_ref["high"]["missing"]


def test_a_left_out_measurement_is_unknown_and_the_record_incomplete(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = score(byod_client, auth, PERSON, lang="zh")

    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert GLUCOSE in result["missing"] and result["confidence"] == "lower"
    assert "血糖" in result["note"]  # named as the catalog entry names it
    for risk in result["risks"]:
        assert all(r["feature"] != GLUCOSE for r in (risk["explanation"] or {"reasons": []})["reasons"])


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (75.0, "must be <= 60 mmol/L (hard limit)"),
        (0.1, "must be >= 0.5 mmol/L (hard limit)"),
        ("5.4", "must be a number"),
        (True, "must be a number"),
    ],
)
def test_a_glucose_out_of_its_hard_limits_is_refused_naming_it(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]], value: Any, rule: str
) -> None:
    response = score(byod_client, auth, PERSON, {**PERSON, "measurements": {GLUCOSE: value}})

    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"field": f"records.1.measurements.{GLUCOSE}", "value": value, "rule": rule}]


def test_a_plausible_but_unusual_glucose_is_kept(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = score(byod_client, auth, {**PERSON, "measurements": {GLUCOSE: 31.0}})  # above 25, below 60

    assert response.status_code == 200, response.text


def test_a_measurement_the_model_does_not_know_is_refused_by_name(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = score(byod_client, auth, {**PERSON, "measurements": {"hba1c_pct": 6.1}})

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == "records.0.measurements.hba1c_pct"
    assert problem["rule"] == f"unknown measurement: the served model takes {GLUCOSE}"


def test_a_csv_upload_takes_the_measurement_as_a_column(
    byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    header = ",".join(["ref", *PERSON, GLUCOSE])
    rows = [",".join(["a", *map(str, PERSON.values()), "14"]), ",".join(["b", *map(str, PERSON.values()), "99"])]
    files = {"file": ("checks.csv", "\n".join([header, *rows]).encode(), "text/csv")}

    bad = byod_client.post("/v1/disease/score-csv?lang=en", files=files, headers=auth("health"))
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"] == [
        {"row": 3, "field": GLUCOSE, "value": "99", "rule": "must be <= 60 mmol/L (hard limit)"}
    ]

    files = {"file": ("checks.csv", "\n".join([header, rows[0]]).encode(), "text/csv")}
    good = byod_client.post("/v1/disease/score-csv?lang=en", files=files, headers=auth("health"))
    assert good.status_code == 200, good.text
    result = good.json()["results"][0]
    assert GLUCOSE not in result["missing"]
    assert any(r["feature"] == GLUCOSE for r in hypertension(result)["explanation"]["reasons"])


def test_only_health_roles_and_the_audit_holds_no_measurement(
    byod_state: AppState, byod_client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    refused = score(byod_client, auth, {**PERSON, "measurements": {GLUCOSE: 5.0}}).status_code
    planner = byod_client.post(
        "/v1/disease/score", json={"records": [{**PERSON, "measurements": {GLUCOSE: 13.7}}]}, headers=auth("planner")
    )
    assert refused == 200 and planner.status_code == 403
    lines = [json.loads(line) for line in byod_state.audit.path.read_text(encoding="utf-8").splitlines()]
    assert lines, "scoring and refusals are audited"
    assert all(GLUCOSE not in json.dumps(line) and "measurements" not in json.dumps(line) for line in lines)
    assert all(13.7 not in _values(line) and 5.0 not in _values(line) for line in lines)


def _values(item: Any) -> list[Any]:
    """Every scalar inside an audit line."""
    if isinstance(item, dict):
        return [v for value in item.values() for v in _values(value)]
    if isinstance(item, list):
        return [v for value in item for v in _values(value)]
    return [item]


def test_muzhang_predict_scores_the_measurement_column(byod_state: AppState) -> None:
    """``muzhang predict disease`` reads the same columns as the CSV upload (serving.offline)."""
    frame = pd.DataFrame([{**{k: str(v) for k, v in PERSON.items()}, GLUCOSE: g} for g in ("4.6", "14", "")])

    scored = score_frame(byod_state, "disease", frame, "en")

    assert list(scored["row"]) == [1, 2, 3]
    assert scored["p_hypertension_5y"].iloc[1] > scored["p_hypertension_5y"].iloc[0]
    assert "Glucose" in scored["note"].iloc[2] and "Glucose" not in scored["note"].iloc[1]
    with pytest.raises(OfflineInputError, match=r"glucose_mmol_l.*must be <= 60 mmol/L \(hard limit\)"):
        score_frame(byod_state, "disease", frame.assign(**{GLUCOSE: "61"}), "en")
