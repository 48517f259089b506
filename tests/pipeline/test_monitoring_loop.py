"""Models in the world, on the tiny county's store: forecasts kept at close, outcomes joined to the version
that made them, carried reports never taken for outcomes, nothing lost or doubled when steps run twice."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from muzhang.settings import Settings
from muzhang.store.forecasts import read_decisions, read_forecasts
from serving.county import store_county_state
from serving.monitoring.cycle import log_and_join
from serving.monitoring.policy import MonitoringPolicy, RetrainPolicy
from serving.months import CloseResult, close_month
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry
from serving.scoring.context import ScoringContext

pytestmark = pytest.mark.slow

FIRST = pd.Timestamp("2020-01-01")
REPLACEMENT = "1000"  # a dispute version that replaced the champion mid-month


@dataclass
class Loop:
    ctx: ScoringContext
    before: dict[str, Any]  # log_and_join as of 2019-12 (the history's last month)
    closed: CloseResult  # closing 2020-01
    again: dict[str, Any]  # log_and_join once more: nothing new
    emitted: Any


@pytest.fixture(scope="module")
def loop(
    champions: None,
    tracked_settings: Settings,
    new_store: Any,
    make_county_store: Any,
    tiny_county: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Loop:
    from muzhang.simulate.emit import emit_month, write_emitted
    from serving.reports import import_month_files

    store = make_county_store()
    with new_store(tracked_settings.work_dir, tracked_settings.data_dir) as settings:
        registry = ModelRegistry(settings.tracking_uri())
        registry.reload()
        ctx = ScoringContext(
            settings=settings,
            registry=registry,
            county=store_county_state(store, settings.data_dir),
            metrics=Metrics(),
            audit=AuditLog(tmp_path_factory.mktemp("audit") / "a.jsonl"),
            store=store,
        )
        before = log_and_join(ctx)
        # The dispute champion is replaced during the month: the new version keeps its own forecasts too.
        replacement = dataclasses.replace(ctx.served("dispute"), version=REPLACEMENT)
        log_and_join(ctx, {"dispute": replacement})
        emitted = emit_month(tiny_county, "2020-01")
        folder = tmp_path_factory.mktemp("emitted")
        write_emitted(emitted, folder)
        import_month_files(store, folder, who="test")
        closed = close_month(ctx, FIRST, who="test")
        again = log_and_join(ctx)
    return Loop(ctx, before, closed, again, emitted)


def test_close_keeps_each_family_forecasts_once(loop: Loop) -> None:
    county = loop.ctx.county
    assert set(loop.before["logged"]) == {"grazing", "market", "dispute"} and all(loop.before["logged"].values())
    assert loop.closed.monitoring["logged"] == {f: len(county.forecasts[f].frame) for f in loop.before["logged"]}
    assert loop.again["logged"] == {"grazing": 0, "market": 0, "dispute": 0}  # idempotent
    dispute = read_forecasts(loop.ctx.store, "dispute")
    assert sorted(dispute["target_period"].unique()) == [FIRST, pd.Timestamp("2020-02-01")]
    first = json.loads(dispute["prediction"].iloc[0])["any_dispute"]
    assert first["target"] == "any_dispute" and 0 < first["point"] < 1
    market = json.loads(read_forecasts(loop.ctx.store, "market")["prediction"].iloc[0])
    assert set(market) == {"head_sold", "price"} and len(market["price"]["quantiles"]) >= 3
    assert market["head_sold"]["scale"] > 0  # the MASE scale, so live scaled pinball matches test's


def test_outcomes_of_the_closed_month_join_and_carried_reports_do_not(loop: Loop) -> None:
    store, county = loop.ctx.store, loop.ctx.county
    carried = {g for g, months in county.carried.items() if FIRST in months}
    dispute = read_forecasts(store, "dispute", target_to=FIRST)
    assert sorted(dispute["model_version"].unique()) == ["1", REPLACEMENT]
    replaced = dispute[dispute["model_version"] == REPLACEMENT]
    dispute = dispute[dispute["model_version"] == "1"]
    joined = dispute[dispute["outcome"].notna()]
    grids = {json.loads(k)["grid_id"] for k in joined["series_key"]}
    assert carried and not (grids & carried)  # a carried report is no outcome
    assert len(joined) == len(county.grid_ids) - len(carried)
    monthly = county.tables.grid_monthly
    reported = monthly[pd.to_datetime(monthly["month"]) == FIRST].set_index("grid_id")["disputes"]
    for key, outcome in zip(joined["series_key"], joined["outcome"], strict=True):
        assert json.loads(outcome)["any_dispute"] == float(reported[json.loads(key)["grid_id"]] > 0)
    market = read_forecasts(store, "market", target_to=FIRST)
    assert len(market) and market["outcome"].notna().all()  # horizon-1 forecasts of 2020-01 met their values
    assert replaced["outcome"].notna().sum() == len(joined)  # the replacement's forecasts met the same outcomes
    assert loop.closed.monitoring["joined"]["dispute"] == 2 * len(joined)
    assert loop.again["joined"] and not any(loop.again["joined"].values())  # joined once, never twice


def test_monitoring_report_shows_live_metrics_beside_test_drift_history_and_triggers(loop: Loop) -> None:
    from serving.monitoring.report import MonitoringMemo, monitoring_report

    memo = MonitoringMemo()
    report = monitoring_report(loop.ctx, memo)
    assert report["data_as_of"] == "2020-01-01"
    families = {f["family"]: f for f in report["families"]}
    assert set(families) == {"grazing", "market", "dispute", "disease"}
    dispute = families["dispute"]
    assert dispute["error"] is None and dispute["champion"] == "1"
    live = pd.DataFrame(dispute["live"])
    brier = live[(live["metric"] == "brier") & (live["model_version"] == "1")].iloc[0]
    assert brier["target_period"] == "2020-01-01" and brier["low"] <= brier["value"] <= brier["high"]
    assert brier["test"] == pytest.approx(dispute["test_metrics"]["brier"])  # from version 1's MLflow run
    assert set(live["model_version"]) == {"1", REPLACEMENT}  # each version scored on its own forecasts
    counts = pd.DataFrame(dispute["outcomes"]).set_index(["target_period", "model_version"])
    carried = sum(FIRST in months for months in loop.ctx.county.carried.values())
    assert counts.loc[("2020-01-01", "1"), "missing"] == carried
    # a missing outcome stays pending in the log and is left out of the live metric, not scored as anything
    assert brier["n"] == counts.loc[("2020-01-01", "1"), "joined"] == len(loop.ctx.county.grid_ids) - carried
    history = {h["month"]: h["versions"] for h in dispute["champion_history"]}
    assert history["2019-12-01"] == ["1", REPLACEMENT] and history["2020-01-01"] == ["1"]
    drift = pd.DataFrame(dispute["drift"])
    assert {"feature", "prediction"} <= set(drift["target"]) and drift["status"].isin(
        ["stable", "watch", "drifted"]
    ).all()
    assert isinstance(dispute["triggers"], list) and dispute["policy"]["metric"] == "brier"
    market = pd.DataFrame(families["market"]["live"])
    assert {"spl", "head_sold_spl", "price_spl"} <= set(market["metric"])
    assert memo.live  # a second report reuses the months already scored
    assert monitoring_report(loop.ctx, memo)["families"][2]["live"] == dispute["live"]


def test_monitoring_route_is_for_data_scientists_and_sets_the_gauges(loop: Loop) -> None:
    import hashlib

    from fastapi.testclient import TestClient

    from muzhang.settings import ApiKey
    from serving.app import create_app
    from serving.deps import AppState

    keys = {role: f"key-{role}" for role in ("data_scientist", "planner")}
    ctx = loop.ctx
    state = AppState(
        settings=ctx.settings,
        registry=ctx.registry,
        county=ctx.county,
        metrics=ctx.metrics,
        audit=ctx.audit,
        store=ctx.store,
        keys=[
            ApiKey(name=role, role=role, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
            for role, key in keys.items()
        ],
    )
    with TestClient(create_app(state=state)) as client:
        refused = client.get("/v1/monitoring", headers={"Authorization": f"Bearer {keys['planner']}"})
        answer = client.get("/v1/monitoring", headers={"Authorization": f"Bearer {keys['data_scientist']}"})
        metrics = client.get("/metrics").text
    assert refused.status_code == 403
    assert answer.status_code == 200, answer.text
    body = answer.json()
    dispute = next(f for f in body["families"] if f["family"] == "dispute")
    assert dispute["live"] and dispute["drift"] and dispute["champion_history"]
    assert 'muzhang_live_metric{family="dispute",metric="brier"}' in metrics
    assert 'muzhang_drifted_features{family="dispute"}' in metrics


# --- muzhang retrain on the same store (a fake training run: the gate's own tests train for real) -------------
QUIET = MonitoringPolicy(retrain=RetrainPolicy(metric=None, drifted_share=None, prediction_drift=False, new_months=12))


@pytest.fixture
def retrain_settings(loop: Loop, tracked_settings: Settings, new_store: Any) -> Any:
    """The session's MLflow store (its champions), this module's county store."""
    with new_store(tracked_settings.work_dir, tracked_settings.data_dir) as settings:
        url = loop.ctx.store.engine.url.render_as_string(hide_password=False)
        yield settings.model_copy(update={"store_url": url, "county_source": "store"})


@dataclass
class FakeRun:
    version: str = "77"
    promoted: bool = False
    gate_note: str = "kept as challenger: spl 0.2 not better than champion 0.18"
    run_id: str = "fake-run"
    gate_metrics: dict[str, Any] | None = None


def test_retrain_if_needed_skips_without_a_trigger_and_says_why(
    loop: Loop, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.retrain import retrain_families

    monkeypatch.setattr("serving.monitoring.report.family_policy", lambda family: QUIET)
    logged = len(read_forecasts(loop.ctx.store, "dispute"))
    (decision,) = retrain_families(retrain_settings, ["dispute"], if_needed=True, echo=lambda _: None)
    assert (decision.action, decision.triggers, decision.note) == ("skipped", [], "no trigger fired")
    assert read_decisions(loop.ctx.store, "dispute")["action"].tolist()[-1] == "skipped"
    assert len(read_forecasts(loop.ctx.store, "dispute")) == logged  # caught up already: nothing doubled


def test_retrain_records_the_gate_decision_in_the_store_and_mlflow(
    loop: Loop, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from cli.retrain import DECISIONS_EXPERIMENT, retrain_families

    monkeypatch.setattr("serving.monitoring.report.family_policy", lambda family: QUIET)
    monkeypatch.setattr("training.pipeline.run_training", lambda family, settings, **kw: FakeRun())
    (decision,) = retrain_families(retrain_settings, ["market"], if_needed=False, echo=lambda _: None)
    assert (decision.action, decision.version, decision.promoted) == ("retrained", "77", False)
    assert decision.triggers == ["asked: retrain without --if-needed"] and decision.note.startswith("gate: kept")
    stored = read_decisions(loop.ctx.store, "market").iloc[-1]
    assert (stored["action"], stored["version"], bool(stored["promoted"])) == ("retrained", "77", False)
    assert stored["gate_metrics"] is None  # a run that reported no gate numbers keeps none
    experiment = mlflow.get_experiment_by_name(DECISIONS_EXPERIMENT)
    (run,) = mlflow.search_runs([experiment.experiment_id], "tags.family = 'market'", output_format="list")
    assert run.data.tags["action"] == "retrained" and run.data.tags["version"] == "77"


def test_a_retrain_after_a_shift_is_judged_on_the_recent_months(
    loop: Loop, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.retrain import retrain_families

    shifted = {"families": [{"family": "market", "triggers": ["live spl worse than its test value 0.16 ..."]}]}
    monkeypatch.setattr("serving.monitoring.report.monitoring_report", lambda ctx, memo=None: shifted)
    monkeypatch.setattr(
        "serving.monitoring.policy.family_policy",
        lambda family: MonitoringPolicy(retrain=RetrainPolicy(metric="spl", recent_months=3)),
    )
    asked: dict[str, Any] = {}

    gate = {"metric": "spl", "candidate": {"spl": 0.2}, "champion": {"spl": 0.18}, "champion_version": "1"}

    def run(family: str, settings: Any, **kw: Any) -> FakeRun:
        asked.update(kw["overrides"])
        return FakeRun(gate_metrics=gate)

    monkeypatch.setattr("training.pipeline.run_training", run)
    (decision,) = retrain_families(retrain_settings, ["market"], if_needed=True, echo=lambda _: None)
    assert decision.action == "retrained"
    # the store's last closed month is 2020-01: test 2019-11..2020-01, validation the 3 months before
    assert asked == {"split.test_from": "2019-11", "split.valid_months": 3}
    # the gate's numbers are kept as data with the months it judged on (what the monitoring reads back)
    stored = read_decisions(loop.ctx.store, "market").iloc[-1]
    assert json.loads(stored["gate_metrics"]) == {**gate, "months": ["2019-11", "2020-01"]}


def test_a_crashed_retrain_is_recorded_the_champion_stays_and_no_forecast_is_lost(
    loop: Loop, retrain_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    kept = read_forecasts(loop.ctx.store, "dispute")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("the machine ran out of memory half-way")

    monkeypatch.setattr("training.pipeline.run_training", crash)
    env = {"MUZHANG_WORK_DIR": str(retrain_settings.work_dir), "MUZHANG_STORE_URL": retrain_settings.store_url}
    result = CliRunner().invoke(app, ["retrain", "dispute"], env=env)
    assert result.exit_code == 1, result.output
    assert "dispute  failed" in result.output and "MemoryError" in result.output
    assert "champion 1 stays" in result.output
    registry = ModelRegistry(retrain_settings.tracking_uri())
    registry.reload("dispute")
    assert registry.get("dispute").version == "1"
    after = read_forecasts(loop.ctx.store, "dispute")
    assert set(kept["id"]) <= set(after["id"])  # nothing of the log lost
    assert read_decisions(loop.ctx.store, "dispute")["action"].tolist()[-1] == "failed"


def test_a_failed_monitoring_step_never_fails_the_close_and_is_caught_up(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving import months

    def broken(ctx: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(months, "log_and_join", broken)
    assert months.monitor_closed_month(loop.ctx) == {"error": "OSError: disk full"}
    monkeypatch.undo()
    assert not any(log_and_join(loop.ctx)["logged"].values())  # the log was whole already: nothing to add


def test_the_test_year_month_by_month_is_scored_like_the_live_months(loop: Loop) -> None:
    """The market's seasonal reference: the champion's test year rebuilt from the served county and scored
    per calendar month as live months are; the year's test value lies among its months, each with its
    interval, and the same county gives the same months."""
    from serving.monitoring.seasonal import test_year_by_month
    from serving.monitoring.versions import version_record

    model = loop.ctx.served("market")
    record = version_record(loop.ctx.registry.tracking_uri, "muzhang-market", model.version)
    assert record.data_cutoff is not None

    def by_month() -> dict[tuple[int, str], tuple[float, float, float]]:
        return test_year_by_month("market", model.version, model.bundle, loop.ctx.county.tables, record.data_cutoff, 50)

    months = by_month()
    spl = {m: band for (m, metric), band in months.items() if metric == "spl"}
    assert sorted(spl) == list(range(1, 13))
    assert all(low <= value <= high for value, low, high in spl.values())
    values = [value for value, _, _ in spl.values()]
    assert min(values) < record.test_metrics["spl"] < max(values)
    assert by_month() == months
