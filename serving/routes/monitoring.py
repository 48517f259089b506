"""Models in the world, for data scientists: live metrics beside test, outcomes, drift, champions, retraining."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serving.deps import ReloaderDep, StateDep
from serving.monitoring.report import memo_of, monitoring_report, update_gauges
from serving.schemas import KEY_RESPONSES

router = APIRouter(tags=["monitoring"])


class LiveMetricOut(BaseModel):
    model_version: str
    target_period: date = Field(description="The month (or season's first month) forecast.")
    metric: str = Field(description="As the test metrics are named, e.g. brier, mae, price_spl.")
    value: float | None
    low: float | None = Field(description="95 % bootstrap interval, lower end.")
    high: float | None
    n: int = Field(description="Forecasts with an outcome.")
    test: float | None = Field(description="The version's test metric, from its MLflow run.")
    worse: bool = Field(description="The whole interval is worse than the test value.")


class OutcomeCountOut(BaseModel):
    target_period: date
    model_version: str
    forecasts: int
    joined: int
    missing: int = Field(description="Target period closed, no outcome (e.g. the report was carried).")


class ChampionMonthOut(BaseModel):
    month: date = Field(description="The data month the forecasts were made from.")
    versions: list[str] = Field(description="Versions that made forecasts then (two when replaced mid-month).")


class DriftOut(BaseModel):
    what: str
    target: str = Field(description="feature or prediction")
    kind: str
    period: str = Field(description="Calendar month of the training reference compared with, or 'all'.")
    n: int
    missing: float | None
    psi: float | None
    ks: float | None
    wasserstein: float | None = Field(description="Divided by the reference's interquartile range.")
    psi_bar: float
    ks_bar: float
    watch_bar: float
    status: str = Field(description="stable, watch or drifted")


class DecisionOut(BaseModel):
    family: str
    decided_at: datetime
    data_month: date | None
    triggers: list[str]
    action: str = Field(description="skipped, retrained or failed")
    champion_before: str | None
    version: str | None
    promoted: bool | None
    run_id: str | None
    note: str
    gate_metrics: dict[str, Any] | None = Field(
        None,
        description="The promotion gate's numbers: metric, candidate and champion values per gate metric, "
        "champion_version, months judged on ([first, last] or null for the usual split); null without a gate.",
    )


class BandCountOut(BaseModel):
    month: date
    version: str
    bands: dict[str, Any] = Field(description="Counts per condition and band; never a person.")


class FamilyMonitoringOut(BaseModel):
    family: str
    champion: str | None = None
    error: str | None = None
    test_metrics: dict[str, float] = Field(default_factory=dict)
    live: list[LiveMetricOut] = Field(default_factory=list)
    outcomes: list[OutcomeCountOut] = Field(default_factory=list)
    champion_history: list[ChampionMonthOut] = Field(default_factory=list)
    drift: list[DriftOut] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list, description="Retrain triggers firing now, in words.")
    policy: dict[str, Any] | None = None
    months_since_training: int | None = None
    decisions: list[DecisionOut] = Field(default_factory=list)
    band_counts: list[BandCountOut] = Field(default_factory=list)


class MonitoringOut(BaseModel):
    data_as_of: date
    store: bool = Field(description="False when serving a directory: no forecast log to monitor.")
    thresholds: dict[str, float]
    families: list[FamilyMonitoringOut]


@router.get("/v1/monitoring", response_model=MonitoringOut, responses=KEY_RESPONSES)
def monitoring(state: StateDep, caller: ReloaderDep) -> MonitoringOut:
    """Models in the world (data scientists): live metrics beside test, drift, champion history, retraining."""
    report = monitoring_report(state, memo_of(state))
    update_gauges(state.metrics, report)
    return MonitoringOut.model_validate(report)
