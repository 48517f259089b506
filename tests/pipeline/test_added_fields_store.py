"""A county with a field of the data scientist's own goes through the store: import, train, serve.

The tiny county gets a grid-month count the shipped catalog does not know (``herder_meetings``), declared
for the dispute family in the directory's catalog.yaml. ``muzhang data import DIR`` keeps it in the county
store; ``run_training`` from the store trains dispute with it; the service, reading the store, serves that
champion with the field in its rows (the value of each row's as-of month). A store imported without the
catalog.yaml answers 503 saying how to import it, and reloading the models after that import serves again.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from muzhang.settings import STORE_ENV_VARS, ApiKey, get_settings
from muzhang.store import dispose_engine, open_store
from serving.app import build_state, create_app
from serving.county import store_county_state
from serving.deps import AppState
from serving.offline import predict_file
from serving.scoring.common import explain_many
from training.pipeline import run_training

FIELD = "herder_meetings"
EXTENSION = f"""\
fields:
  - name: {FIELD}
    zh: 牧户会议次数
    description: Meetings of the grid's herders that month.
    unit: meetings
    type: integer
    min: 0
    max: 50
    nullable: true
    tables: [grid_monthly]
    families: [dispute]
    display: Herder meetings
"""


def import_county(folder: Path, work: Path, *extra: str) -> Any:
    """``muzhang data import FOLDER`` into ``work``'s store; the CLI's result."""
    env = {name: None for name in STORE_ENV_VARS} | {"MUZHANG_WORK_DIR": str(work)}
    return CliRunner().invoke(cli, ["data", "import", str(folder), "--who", "analyst", *extra], env=env)


@pytest.fixture(scope="module")
def own_county(tiny_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny county with ``herder_meetings`` in grid_monthly and its catalog.yaml."""
    folder = tmp_path_factory.mktemp("own") / "county"
    shutil.copytree(tiny_county, folder)
    monthly = pd.read_parquet(folder / "grid_monthly.parquet")
    monthly[FIELD] = np.random.default_rng(7).integers(0, 6, len(monthly))
    monthly.to_parquet(folder / "grid_monthly.parquet", index=False)
    (folder / "catalog.yaml").write_text(EXTENSION, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def served(
    own_county: Path,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    store_client: Any,
    fast_overrides: dict[str, Any],
    api_keys: dict[str, str],
) -> Iterator[AppState]:
    """The service's state on the store, serving the dispute champion trained from it with the field."""
    work = tmp_path_factory.mktemp("added-store") / "work"
    done = import_county(own_county, work)
    assert done.exit_code == 0, done.output
    assert f"grid_monthly.{FIELD}" in done.output
    with new_store(work, own_county) as settings:
        assert settings.reads_store()
        summary = run_training("dispute", settings, overrides=fast_overrides, log=lambda _: None)
        if not summary.promoted:
            store_client(settings).set_registered_model_alias("muzhang-dispute", "champion", summary.version)
        keys = [
            ApiKey(name=f"test-{role}", role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
            for role, key in api_keys.items()
        ]
        state = build_state(settings.model_copy(update={"api_keys": keys, "poll_seconds": 0}))
        model = state.registry.slots["dispute"].model
        assert model is not None and FIELD in model.bundle.added_fields
        yield state
    dispose_engine(settings.county_store_url())


def test_the_champion_trained_from_the_store_scores_with_the_stored_field(
    served: AppState, own_county: Path, auth: Callable[[str], dict[str, str]]
) -> None:
    with TestClient(create_app(state=served), raise_server_exceptions=False) as client:
        grid = sorted(served.county.grid_ids)[0]
        answer = client.get(f"/v1/dispute/risk/{grid}", headers=auth("planner"))
    assert answer.status_code == 200, answer.text
    rows = served.prepared(served.served("dispute")).frame
    monthly = pd.read_parquet(own_county / "grid_monthly.parquet")
    as_of = monthly[pd.to_datetime(monthly["month"]) == pd.to_datetime(rows["as_of_month"]).max()]
    expected = as_of.set_index("grid_id")[FIELD].astype(float)
    assert rows.set_index("grid_id")[FIELD].to_dict() == expected.loc[rows["grid_id"]].to_dict()


def test_reasons_name_the_added_field_by_its_catalog_entry(served: AppState) -> None:
    model = served.served("dispute")
    prep = served.prepared(model)
    features = model.bundle.encoder.features
    for lang, text in (("en", "herder meetings was 3 meetings"), ("zh", "牧户会议次数为3 meetings")):
        row = int(np.flatnonzero(prep.frame[FIELD].to_numpy() == 3)[0])
        (explanation,) = explain_many(
            model.bundle, "any_dispute", prep.x[[row]], ["Risk."], lang, served.metrics, k=len(features)
        )
        (reason,) = [r for r in explanation.reasons if r.feature == FIELD]
        assert reason.text == text and reason.label == ("Herder meetings" if lang == "en" else "牧户会议次数")


def test_muzhang_predict_reads_the_store_as_the_service_does(served: AppState, tmp_path: Path) -> None:
    grids = sorted(served.county.grid_ids)[:3]
    (tmp_path / "in.csv").write_text("grid_id\n" + "\n".join(grids) + "\n", encoding="utf-8")
    n = predict_file(served.settings, "dispute", tmp_path / "in.csv", tmp_path / "out.csv", "en")
    scored = pd.read_csv(tmp_path / "out.csv")
    assert n == 3 and scored["grid_id"].tolist() == grids and scored["probability"].between(0, 1).all()


def test_a_store_without_the_field_answers_503_saying_how_to_import_it_until_it_is(
    served: AppState, own_county: Path, tmp_path: Path, auth: Callable[[str], dict[str, str]]
) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(own_county, plain)
    (plain / "catalog.yaml").unlink()
    monthly = pd.read_parquet(plain / "grid_monthly.parquet").drop(columns=[FIELD])
    monthly.to_parquet(plain / "grid_monthly.parquet", index=False)
    assert import_county(plain, tmp_path / "work").exit_code == 0
    store = open_store(get_settings(work_dir=tmp_path / "work").county_store_url())
    kept, store_before = served.county, served.store
    try:
        served.county, served.store = store_county_state(store, plain), store
        with TestClient(create_app(state=served), raise_server_exceptions=False) as client:
            grid = sorted(served.county.grid_ids)[0]
            refused = client.get(f"/v1/dispute/risk/{grid}", headers=auth("planner"))
            assert refused.status_code == 503
            assert f"reads {FIELD}" in refused.text and "the county store holds no such field" in refused.text
            assert "muzhang data import DIR" in refused.text

            assert import_county(own_county, tmp_path / "work").exit_code == 0  # now with its catalog.yaml
            client.post("/v1/models/reload", headers=auth("data_scientist"))
            answer = client.get(f"/v1/dispute/risk/{grid}", headers=auth("planner"))
        assert answer.status_code == 200, answer.text
        assert FIELD in served.county.forecasts["dispute"].frame.columns
    finally:
        served.county, served.store = kept, store_before
        dispose_engine(store.engine.url.render_as_string(hide_password=False))


def test_a_conflicting_definition_is_refused_by_the_cli_and_the_store_keeps_its_own(
    own_county: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    assert import_county(own_county, work).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(EXTENSION.replace("type: integer", "type: float").replace("max: 50", "max: 500"), "utf-8")
    refused = import_county(own_county, work, "--catalog", str(other))
    assert refused.exit_code == 1, refused.output
    assert f"not imported: table 'grid_monthly', field '{FIELD}': the store keeps it as integer" in refused.output
    url = get_settings(work_dir=work).county_store_url()
    try:
        assert open_store(url).added_catalog().field(FIELD).type == "integer"
    finally:
        dispose_engine(url)
