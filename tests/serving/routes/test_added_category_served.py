"""An added category (a declared list) and flag, end to end: trained on the example plus a diet and a
yak-dung-fire column, served, checked against the declared list, scored and named in the reasons."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from muzhang.paths import DATA_SAMPLES
from muzhang.settings import ApiKey
from serving.app import build_state, create_app
from training.pipeline import run_training

BYOD = DATA_SAMPLES / "byod"
EXTENSION = """
  - {name: diet, type: category, categories: [pastoral, mixed, town], nullable: true, tables: [patients],
     families: [disease], display: Diet, display_zh: 饮食}
  - {name: yak_dung_fire, type: boolean, nullable: true, tables: [patients], families: [disease],
     display: Yak-dung fire indoors, display_zh: 室内牛粪火}
"""
PERSON: dict[str, Any] = {"age": 60, "sex": "female", "bmi": 24.0, "baseline_hypertension": False}


@pytest.fixture(scope="module")
def client(
    tiny_county: Path,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    store_client: Any,
    fast_overrides: dict[str, Any],
    api_keys: dict[str, str],
) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("own") / "data"
    folder.mkdir()
    patients = pd.read_csv(BYOD / "patients.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(11)
    # Diet carries a signal here: most people who became hypertensive ate a town diet.
    onset = pd.read_csv(BYOD / "patient_outcomes.csv", dtype=str).set_index("patient_id")["hypertension_5y"]
    town = (onset.reindex(patients["patient_id"]).to_numpy() == "1") & (rng.random(len(patients)) < 0.9)
    patients["diet"] = np.where(town, "town", rng.choice(["pastoral", "mixed"], size=len(patients)))
    patients["yak_dung_fire"] = rng.choice(["True", "False"], size=len(patients))
    patients.to_csv(folder / "patients.csv", index=False)
    (folder / "patient_outcomes.csv").write_bytes((BYOD / "patient_outcomes.csv").read_bytes())
    (folder / "catalog.yaml").write_text((BYOD / "catalog.yaml").read_text("utf-8") + EXTENSION, encoding="utf-8")
    with new_store(folder.parent / "work", tiny_county) as settings:
        summary = run_training("disease", settings, data_dir=folder, overrides=fast_overrides, log=lambda _: None)
        if not summary.promoted:
            store_client(settings).set_registered_model_alias("muzhang-disease", "champion", summary.version)
        keys = [ApiKey(name="h", role="health", sha256=hashlib.sha256(api_keys["health"].encode()).hexdigest())]
        served = settings.model_copy(update={"api_keys": keys, "poll_seconds": 0, "audit_log": folder / "audit.jsonl"})
        with TestClient(create_app(state=build_state(served)), raise_server_exceptions=False) as test_client:
            yield test_client


def score(client: TestClient, auth: Callable[[str], dict[str, str]], measurements: dict[str, Any]) -> Any:
    body = {"records": [{**PERSON, "measurements": measurements}]}
    return client.post("/v1/disease/score?lang=en", json=body, headers=auth("health"))


def test_the_model_lists_the_category_with_its_declared_list(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    models = client.get("/v1/models", headers=auth("health")).json()["models"]
    added = next(m for m in models if m["family"] == "disease")["added_fields"]
    assert added["diet"]["categories"] == ["pastoral", "mixed", "town"]
    assert added["yak_dung_fire"]["type"] == "boolean"


def test_a_declared_category_and_a_flag_are_scored_and_shown_as_given(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = score(client, auth, {"diet": "town", "yak_dung_fire": True, "glucose_mmol_l": 5.0})

    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert not {"diet", "yak_dung_fire", "glucose_mmol_l"} & set(result["missing"])
    hypertension = next(r for r in result["risks"] if r["condition"] == "hypertension_5y")
    diet = [r for r in hypertension["explanation"]["reasons"] if r["feature"] == "diet"]
    assert diet and (diet[0]["label"], diet[0]["display_value"], diet[0]["direction"]) == ("Diet", "town", "up")
    assert "the person's diet was town at the check" in hypertension["explanation"]["sentence"]
    pastoral = score(client, auth, {"diet": "pastoral", "yak_dung_fire": True, "glucose_mmol_l": 5.0}).json()
    lower = next(r for r in pastoral["results"][0]["risks"] if r["condition"] == "hypertension_5y")
    assert lower["probability"] < hypertension["probability"]


@pytest.mark.parametrize(
    ("measurements", "field", "rule"),
    [
        ({"diet": "vegan"}, "diet", "must be one of pastoral, mixed, town"),
        ({"diet": 2}, "diet", "must be a string"),
        ({"yak_dung_fire": "yes"}, "yak_dung_fire", "must be true or false"),
    ],
)
def test_a_value_outside_the_declared_list_is_refused_naming_it(
    client: TestClient, auth: Callable[[str], dict[str, str]], measurements: dict[str, Any], field: str, rule: str
) -> None:
    response = score(client, auth, measurements)

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert (problem["field"], problem["rule"]) == (f"records.0.measurements.{field}", rule)
