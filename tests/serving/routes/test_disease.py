"""Disease routes (health staff only): JSON records and CSV upload, ranked risks with bands."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.domain import RiskBands
from serving.deps import AppState

BAND_ORDER = {"low": 0, "medium": 1, "high": 2}


def assert_disease_response(body: dict[str, Any], n: int, conditions: set[str], bands: dict[str, Any]) -> None:
    """``bands``: the served model's cut-offs per condition (``thresholds.condition_bands``)."""
    assert body["n"] == n == len(body["results"])
    assert sorted(r["index"] for r in body["results"]) == list(range(n))
    tops = [r["risks"][0]["probability"] for r in body["results"]]
    assert tops == sorted(tops, reverse=True), "people are not ranked by their highest risk"
    for result in body["results"]:
        risks = result["risks"]
        assert {r["condition"] for r in risks} == conditions
        assert [r["probability"] for r in risks] == sorted((r["probability"] for r in risks), reverse=True)
        for risk in risks:
            assert 0 <= risk["probability"] <= 1
            cuts = bands[risk["condition"]]
            assert risk["band"] == RiskBands(medium=cuts["medium"], high=cuts["high"]).band(risk["probability"])
            assert risk["cutoffs"] == {"medium": cuts["medium"], "high": cuts["high"]}
            assert risk["explanation"]["sentence"]
        assert result["highest_band"] == max((r["band"] for r in risks), key=BAND_ORDER.__getitem__)


def test_disease_score_health_worker_gets_every_condition_ranked(
    client: TestClient, auth: Any, patient_record: dict[str, Any], serving_state: AppState
) -> None:
    minimal = {"ref": "rec-002", "age": 9, "sex": "male"}

    response = client.post("/v1/disease/score", json={"records": [patient_record, minimal]}, headers=auth("health"))

    assert response.status_code == 200, response.text
    bundle = serving_state.registry.get("disease").bundle
    assert_disease_response(response.json(), 2, set(bundle.tasks), bundle.thresholds["condition_bands"])
    by_index = {r["index"]: r for r in response.json()["results"]}
    assert by_index[0]["ref"] == "rec-001" and by_index[1]["ref"] == "rec-002"


def test_disease_score_csv_scores_every_row_like_the_json_route(
    client: TestClient, auth: Any, patient_record: dict[str, Any], serving_state: AppState
) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(patient_record))
    writer.writeheader()
    for i in range(3):
        writer.writerow({**patient_record, "ref": f"csv-{i}", "age": 30 + 10 * i})
    rows = [{**patient_record, "ref": f"csv-{i}", "age": 30 + 10 * i} for i in range(3)]

    response = client.post(
        "/v1/disease/score-csv",
        files={"file": ("checks.csv", buffer.getvalue().encode(), "text/csv")},
        headers=auth("health"),
    )
    as_json = client.post("/v1/disease/score", json={"records": rows}, headers=auth("health"))

    assert response.status_code == 200, response.text
    bundle = serving_state.registry.get("disease").bundle
    assert_disease_response(response.json(), 3, set(bundle.tasks), bundle.thresholds["condition_bands"])
    assert response.json() == as_json.json()


# --- one rule for numbers, JSON and CSV alike (issue 14, item 18) ---------------------------------------
def test_csv_whole_floats_are_scored_like_json_numbers(client: TestClient, auth: Any) -> None:
    csv_text = "ref,age,sex,dogs_owned,systolic_bp,bmi\nw-1,52.0,male,3.0,134.00,23\n"
    record = {"ref": "w-1", "age": 52, "sex": "male", "dogs_owned": 3, "systolic_bp": 134, "bmi": 23.0}

    from_csv = client.post(
        "/v1/disease/score-csv", files={"file": ("c.csv", csv_text.encode(), "text/csv")}, headers=auth("health")
    )
    from_json = client.post("/v1/disease/score", json={"records": [record]}, headers=auth("health"))
    from_json_floats = client.post(
        "/v1/disease/score", json={"records": [{**record, "age": 52.0, "dogs_owned": 3.0}]}, headers=auth("health")
    )

    assert from_csv.status_code == 200, from_csv.text
    assert from_csv.json() == from_json.json() == from_json_floats.json()


@pytest.mark.parametrize(
    ("field", "cell", "rule"),
    [
        ("age", "²", "whole number written in digits 0-9"),
        ("age", "٣٤", "whole number written in digits 0-9"),
        ("age", "52.5", "whole number written in digits 0-9"),
        ("bmi", "²", "number written in digits 0-9"),
        ("bmi", "1_000", "number written in digits 0-9"),
    ],
)
def test_csv_cell_that_is_no_plain_number_names_row_field_value_and_rule(
    client: TestClient, auth: Any, field: str, cell: str, rule: str
) -> None:
    row = {"age": "40", "sex": "male", "bmi": "22", field: cell}
    csv_text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"

    response = client.post(
        "/v1/disease/score-csv", files={"file": ("c.csv", csv_text.encode(), "text/csv")}, headers=auth("health")
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert (problem["row"], problem["field"], problem["value"]) == (2, field, cell)
    assert rule in problem["rule"] and "literal" not in problem["rule"]


# --- conditions known at the check, horizons, incomplete records (issue 13, item 7) ---------------------
def _score(client: TestClient, auth: Any, records: list[dict[str, Any]], lang: str = "en") -> list[dict[str, Any]]:
    response = client.post(f"/v1/disease/score?lang={lang}", json={"records": records}, headers=auth("health"))
    assert response.status_code == 200, response.text
    return sorted(response.json()["results"], key=lambda r: r["index"])


def test_a_person_hypertensive_at_the_check_gets_no_hypertension_risk_or_band(
    client: TestClient, auth: Any, patient_record: dict[str, Any]
) -> None:
    free, hypertensive = _score(
        client, auth, [patient_record, {**patient_record, "ref": "h", "baseline_hypertension": True}]
    )

    risks = {r["condition"]: r for r in hypertensive["risks"]}
    known = risks["hypertension_5y"]
    assert known["known"] is True and known["probability"] is None and known["band"] is None
    assert known["explanation"] is None and known["note"].startswith("Already has hypertension")
    assert hypertensive["risks"][-1]["condition"] == "hypertension_5y"  # known conditions come last
    assert all(r["band"] is not None for c, r in risks.items() if c != "hypertension_5y")
    scored = {r["condition"]: r for r in free["risks"]}["hypertension_5y"]
    assert scored["known"] is False and scored["band"] in BAND_ORDER and 0 <= scored["probability"] <= 1


def test_each_condition_names_its_horizon_in_the_answer(
    client: TestClient, auth: Any, patient_record: dict[str, Any]
) -> None:
    [en] = _score(client, auth, [patient_record])
    [zh] = _score(client, auth, [patient_record], lang="zh")

    for risk in en["risks"]:
        assert risk["horizon"] == "five-year risk" and risk["horizon_years"] == 5
        assert risk["explanation"]["sentence"].startswith(f"Five-year risk of {risk['label'].lower()} is ")
    assert all(r["horizon"] == "5年风险" and "5年风险" in r["explanation"]["sentence"] for r in zh["risks"])


def test_an_incomplete_record_gets_the_note_lower_confidence_and_no_unrecorded_reason(
    client: TestClient, auth: Any, patient_record: dict[str, Any]
) -> None:
    left_out = ["systolic_bp", "diastolic_bp", "haemoglobin_g_dl", "dogs_owned", "smoking"]
    partial = {k: v for k, v in patient_record.items() if k not in left_out}

    complete, incomplete = _score(client, auth, [patient_record, partial])

    assert complete["complete"] is True and complete["missing"] == [] and complete["note"] is None
    assert complete["confidence"] == "normal"
    assert incomplete["complete"] is False and incomplete["confidence"] == "lower"
    assert sorted(incomplete["missing"]) == sorted(left_out)
    assert incomplete["note"].startswith("Incomplete record:") and "Systolic" in incomplete["note"]
    for risk in incomplete["risks"]:
        reasons = risk["explanation"]["reasons"]
        assert reasons, "every condition keeps reasons from what was recorded"
        assert not {r["feature"] for r in reasons} & set(left_out)
        assert all(r["value"] is not None for r in reasons)
        assert "not recorded" not in risk["explanation"]["sentence"]


def test_audit_line_of_a_known_condition_counts_no_band_for_it(
    client: TestClient, auth: Any, patient_record: dict[str, Any], audit_path: Any
) -> None:
    records = [{**patient_record, "ref": f"k{i}", "baseline_cms": True} for i in range(6)]

    _score(client, auth, records)

    import json

    last = json.loads(audit_path.read_text(encoding="utf-8").splitlines()[-1])
    assert "17.2" not in json.dumps(last) and "k0" not in json.dumps(last)
    if last.get("bands"):
        assert sum(last["bands"]["cms_5y"].values()) == 0
        assert sum(last["bands"]["echinococcosis"].values()) == len(records)
