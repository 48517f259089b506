"""A fifth family is new files plus one registry entry: a toy family, defined only in this test file.

Its builder, training plan, experiment YAML, router and offline scorer live here. Registered through
:func:`muzhang.families.registered`, it trains and registers in MLflow, the service serves it (its routes in
the OpenAPI document, answered with an explanation, refused to a role it does not allow) and
``muzhang predict`` scores it offline: no file outside this test knows it exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from features import FeatureSet, load_county
from features.tables import CountyTables
from muzhang.domain import DEFAULT_DOMAIN, Domain
from muzhang.families import PLANNING_ROLES, FamilySpec, family_names, registered
from muzhang.settings import ApiKey, Settings
from serving.deps import Caller, StateDep, family_access, hash_key
from serving.errors import NotFound
from serving.explain import Lang
from serving.scoring.common import explain_many
from serving.scoring.context import ScoringContext
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan
from training.splits import Split

pytestmark = pytest.mark.slow
NAME = "toy"
TASK = "households"
FEATURES = ["households", "month_of_year", "precip_mm"]
EXPERIMENT = """
family: toy
registered_model: muzhang-toy
description: Households of a grid area next month (a toy family for the registry test).
split: {valid_months: 12, test_months: 12}
lightgbm: {learning_rate: 0.1, num_leaves: 7, min_data_in_leaf: 20, num_threads: 1}
num_boost_round: 40
early_stopping_rounds: 10
gate: {metric: mae, direction: minimize, margin: 0.0}
seed: 3
"""


# --- features floor: the builder --------------------------------------------------------------------
def build_toy_features(tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False) -> FeatureSet:
    """One row per grid and month: this month's households and rain -> next month's households."""
    frame = tables.grid_monthly[["grid_id", "month", "households", "precip_mm"]].copy()
    frame["month"] = pd.to_datetime(frame["month"])
    frame = frame.sort_values(["grid_id", "month"], ignore_index=True)
    frame["households_next"] = frame.groupby("grid_id")["households"].shift(-1).astype(float)
    frame["month_of_year"] = frame["month"].dt.month.astype(float)
    frame["households"] = frame["households"].astype(float)
    last = frame["month"] == frame["month"].max()
    rows = frame[last] if forecast else frame[~last & frame["households_next"].notna()]
    return FeatureSet(
        family=NAME,
        frame=rows.reset_index(drop=True),
        keys=["grid_id", "month"],
        time_col="month",
        features=FEATURES,
        targets=["households_next"],
        as_of_col="month",
    )


# --- training floor: the plan -----------------------------------------------------------------------
class ToyPlan(Family):
    name = NAME

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        return [TaskPlan(TASK, "households_next", "regression", unit="households")]

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        test = fs.frame.iloc[split.test]
        return {"last_value": pd.DataFrame({TASK: test["households"].to_numpy(dtype=float)})}


# --- serving floor: the scorer and the router -------------------------------------------------------
def forecast_households(ctx: ScoringContext, grid_ids: list[str], lang: Lang) -> list[dict[str, Any]]:
    model = ctx.served(NAME)
    prep = ctx.prepared(model)
    unknown = [g for g in grid_ids if (g,) not in prep.index]
    if unknown:
        raise NotFound(f"grid_id: unknown grid area(s) {', '.join(unknown)}")
    x = prep.x[prep.rows([(g,) for g in grid_ids])]
    values = model.bundle.tasks[TASK].point(x)
    heads = [f"about {v:,.0f} households next month" for v in values]
    explanations = explain_many(model.bundle, TASK, x, heads, lang, ctx.metrics)
    return [
        {"grid_id": g, "households": float(v), "explanation": e.model_dump()}
        for g, v, e in zip(grid_ids, values, explanations, strict=True)
    ]


def score_toy_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    rows = forecast_households(ctx, list(frame["grid_id"].astype(str)), lang)
    return pd.DataFrame([{"grid_id": r["grid_id"], "households": r["households"]} for r in rows])


toy_router = APIRouter(prefix=f"/v1/{NAME}", tags=[NAME])


@toy_router.get("/forecast/{grid_id}")
def toy_forecast(
    state: StateDep, caller: Annotated[Caller, Depends(family_access(NAME))], grid_id: str
) -> dict[str, Any]:
    """Households of a grid area next month, explained."""
    return forecast_households(state, [grid_id], "en")[0]


# --- the test ---------------------------------------------------------------------------------------
@pytest.fixture
def toy_spec(tmp_path: Path) -> FamilySpec:
    experiment = tmp_path / "toy.yaml"
    experiment.write_text(EXPERIMENT, encoding="utf-8")
    return FamilySpec(
        name=NAME,
        builder=build_toy_features,
        plan=ToyPlan,
        router=toy_router,
        scorer=score_toy_table,
        experiment=experiment,
        forecast_keys=("grid_id",),
        offline_columns=("grid_id",),
        roles=PLANNING_ROLES,
        intended_use="Tests: proves a family is one registry entry.",
    )


def test_a_toy_family_trains_registers_serves_and_scores_offline(
    toy_spec: FamilySpec, make_settings: Any, store_client: Any, tiny_county: Path, tmp_path: Path
) -> None:
    from serving.app import create_app
    from serving.offline import predict_file
    from training.pipeline import run_training

    keys = {"planner": "toy-planner-key", "health": "toy-health-key"}
    settings: Settings = make_settings().model_copy(
        update={
            "poll_seconds": 0,
            "api_keys": [ApiKey(name=f"t-{r}", role=r, sha256=hash_key(k)) for r, k in keys.items()],  # type: ignore[arg-type]
        }
    )
    with registered(toy_spec):
        assert NAME in family_names()
        summary = run_training(NAME, settings, log=lambda _: None)
        assert summary.version == "1" and set(summary.baselines) == {"last_value"}
        client = store_client(settings)
        assert client.get_registered_model("muzhang-toy").name == "muzhang-toy"
        if not summary.promoted:  # the gate is tested elsewhere; serving needs a champion
            client.set_registered_model_alias("muzhang-toy", "champion", summary.version)

        with TestClient(create_app(settings)) as http:
            paths = http.get("/openapi.json").json()["paths"]
            assert "/v1/toy/forecast/{grid_id}" in paths
            grid = sorted(load_county(tiny_county).grids["grid_id"])[0]
            answer = http.get(f"/v1/toy/forecast/{grid}", headers={"Authorization": f"Bearer {keys['planner']}"})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["households"] > 0 and body["explanation"]["reasons"]
            explained = body["explanation"]["base_value"] + sum(
                r["contribution"] for r in body["explanation"]["reasons"]
            )
            assert explained == pytest.approx(body["households"], rel=1e-6)  # 3 features: every reason is shown
            refused = http.get(f"/v1/toy/forecast/{grid}", headers={"Authorization": f"Bearer {keys['health']}"})
            assert refused.status_code == 403
            unknown = http.get("/v1/toy/forecast/G999", headers={"Authorization": f"Bearer {keys['planner']}"})
            assert unknown.status_code == 404 and "G999" in unknown.json()["detail"]
            models = http.get("/v1/models", headers={"Authorization": f"Bearer {keys['planner']}"}).json()["models"]
            assert {m["family"]: m["version"] for m in models}[NAME] == "1"

        grids = pd.DataFrame({"grid_id": sorted(load_county(tiny_county).grids["grid_id"])[:5]})
        grids.to_csv(tmp_path / "in.csv", index=False)
        assert predict_file(settings, NAME, tmp_path / "in.csv", tmp_path / "out.csv", "en") == 5
        scored = pd.read_csv(tmp_path / "out.csv")
        assert list(scored["grid_id"]) == list(grids["grid_id"]) and np.isfinite(scored["households"]).all()
    assert NAME not in family_names()  # registration ends with the block
