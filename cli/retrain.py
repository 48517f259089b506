"""``muzhang retrain [FAMILY|all] [--if-needed]``: retrain after a month closes, when a trigger fires.

Runs outside the web process (cron or a systemd timer after the month's close): it first catches the forecast
log up (the champions' forecasts of the current month, every outcome now known; both idempotent), reads each
family's triggers from the monitoring report (live metric worse than test beyond its interval, drift past its
bars, or N months closed since the training data; set in ``experiments/<family>.yaml``, ``monitoring.retrain``),
and retrains the families whose triggers fired (all asked for, without ``--if-needed``). The promotion gate
decides as for any run. Every decision, retrained or not and why, is kept in the store
(``retrain_decisions``, shown by ``GET /v1/monitoring``) and logged to MLflow (experiment
``muzhang-retrain``). A retrain that crashes is recorded as failed; the champion stays, nothing logged is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

DECISIONS_EXPERIMENT = "muzhang-retrain"


@dataclass
class Decision:
    family: str
    action: str  # skipped, retrained, failed
    triggers: list[str]
    note: str
    champion_before: str | None = None
    version: str | None = None
    promoted: bool | None = None
    run_id: str | None = None
    seconds: float = 0.0
    gate_metrics: dict[str, Any] | None = None  # the gate's numbers and the months it judged on (None: no gate)
    logged: dict[str, Any] = field(default_factory=dict)


def scoring_context(settings: Any) -> Any:
    """The service's view of the county store and the champions, built as the service builds it."""
    from muzhang.store import open_store
    from serving.county import store_county_state
    from serving.observability import AuditLog, Metrics
    from serving.registry import ModelRegistry
    from serving.scoring.context import ScoringContext

    store = open_store(settings.county_store_url())
    if store.last_closed_month() is None:
        raise RuntimeError("the county store has no closed month: import a county first (muzhang data import DIR)")
    registry = ModelRegistry(settings.tracking_uri())
    registry.reload()
    return ScoringContext(
        settings=settings,
        registry=registry,
        county=store_county_state(store, settings.data_dir),
        metrics=Metrics(),
        audit=AuditLog(settings.audit_path()),
        store=store,
    )


def log_decision_to_mlflow(settings: Any, decision: Decision, data_month: Any) -> str | None:
    """One MLflow run per decision in the ``muzhang-retrain`` experiment: tags say what and why."""
    import mlflow

    from training.tracking import configure_tracking, ensure_experiment

    configure_tracking(settings)
    experiment_id = ensure_experiment(DECISIONS_EXPERIMENT, settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{decision.family}-{decision.action}") as run:
        mlflow.set_tags(
            {
                "family": decision.family,
                "action": decision.action,
                "triggers": " | ".join(decision.triggers)[:5000] or "none",
                "note": decision.note[:5000],
                "champion_before": decision.champion_before or "",
                "version": decision.version or "",
                "promoted": "" if decision.promoted is None else str(decision.promoted).lower(),
                "training_run_id": decision.run_id or "",
                "data_month": "" if data_month is None else f"{data_month:%Y-%m}",
            }
        )
        mlflow.log_metrics({"triggers_fired": float(len(decision.triggers)), "seconds": decision.seconds})
        return str(run.info.run_id)


def decide(
    ctx: Any,
    family: str,
    triggers: list[str],
    *,
    if_needed: bool,
    train: Callable[[str], Any],
) -> Decision:
    """Retrain one family or not; a crash is a failed decision (the champion stays)."""
    slot = ctx.registry.slots.get(family)
    champion = slot.model.version if slot is not None and slot.model is not None else None
    if if_needed and not triggers:
        return Decision(family, "skipped", [], "no trigger fired", champion)
    reasons = triggers or ["asked: retrain without --if-needed"]
    start = time.perf_counter()
    try:
        summary = train(family)
    except Exception as exc:  # a crashed retrain is a decision too: recorded, reported, the champion stays
        note = f"retrain failed, champion {champion or 'none'} stays: {type(exc).__name__}: {str(exc)[:500]}"
        return Decision(family, "failed", reasons, note, champion, seconds=time.perf_counter() - start)
    return Decision(
        family,
        "retrained",
        reasons,
        f"gate: {summary.gate_note}",
        champion,
        version=str(summary.version),
        promoted=bool(summary.promoted),
        run_id=summary.run_id,
        seconds=time.perf_counter() - start,
        gate_metrics=getattr(summary, "gate_metrics", None),
    )


def judged_months(recent: dict[str, Any], last_month: Any) -> list[str] | None:
    """The recent months a shift-judged retrain tested on, ``[first, last]`` as YYYY-MM (None: the
    experiment's usual split)."""
    if not recent or last_month is None:
        return None
    import pandas as pd

    return [str(recent["split.test_from"]), f"{pd.Timestamp(last_month):%Y-%m}"]


def with_months(gate_metrics: dict[str, Any] | None, months: list[str] | None) -> dict[str, Any] | None:
    """The gate's numbers with the months it judged on."""
    return None if gate_metrics is None else {**gate_metrics, "months": months}


def retrain_families(
    settings: Any,
    families: Sequence[str],
    *,
    if_needed: bool,
    overrides: dict[str, Any] | None = None,
    echo: Callable[[str], None] = print,
    ctx: Any = None,
) -> list[Decision]:
    """Catch the forecast log up, read the triggers, retrain where needed, record every decision.

    ``ctx``: a scoring context already open on the same store and champions (the replay keeps one across
    months, with its memo of live metrics); by default one is built as the service builds it.
    """
    from muzhang.store.forecasts import record_decision
    from serving.monitoring.cycle import log_and_join
    from serving.monitoring.policy import family_policy, recent_split
    from serving.monitoring.report import memo_of, monitoring_report
    from training.pipeline import run_training

    ctx = ctx if ctx is not None else scoring_context(settings)
    caught_up = log_and_join(ctx)
    month = f"{ctx.county.last_month:%Y-%m}"
    echo(f"forecast log as of {month}: logged {caught_up['logged']}, joined {caught_up['joined']}")
    report = {f["family"]: f for f in monitoring_report(ctx, memo_of(ctx))["families"]}

    def recent_of(family: str) -> dict[str, Any]:
        triggers = report.get(family, {}).get("triggers", [])
        return recent_split(family_policy(family).retrain, triggers, ctx.county.last_month)

    def train(family: str) -> Any:
        # After a detected shift the gate judges on the recent months, where a model that saw the shift can win.
        recent = recent_of(family)
        if recent:
            start, k = recent["split.test_from"], recent["split.valid_months"]
            echo(f"  [{family}] shift detected: test from {start}, validation the {k} months before")
        return run_training(
            family, settings, overrides={**(overrides or {}), **recent}, log=lambda msg: echo(f"  {msg}")
        )

    decisions = []
    for family in families:
        entry = report.get(family, {})
        decision = decide(ctx, family, list(entry.get("triggers", [])), if_needed=if_needed, train=train)
        if decision.gate_metrics is not None:
            decision.gate_metrics = with_months(
                decision.gate_metrics, judged_months(recent_of(family), ctx.county.last_month)
            )
        if decision.promoted:
            ctx.registry.reload(family)  # the new champion's forecasts of this month are kept beside the old's
            decision.logged = log_and_join(ctx, {family: ctx.served(family)})["logged"]
        record_decision(
            ctx.store,
            family=family,
            action=decision.action,
            triggers=decision.triggers,
            note=decision.note,
            data_month=ctx.county.last_month,
            champion_before=decision.champion_before,
            version=decision.version,
            promoted=decision.promoted,
            run_id=decision.run_id,
            gate_metrics=decision.gate_metrics,
        )
        try:
            log_decision_to_mlflow(settings, decision, ctx.county.last_month)
        except Exception as exc:  # the store has the decision; an unreachable tracking server is reported
            echo(f"  [{family}] decision not logged to MLflow: {type(exc).__name__}: {exc}")
        decisions.append(decision)
    return decisions


def retrain(
    family: Annotated[str, typer.Argument(help="grazing, market, dispute, disease or all.")] = "all",
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Only families whose retrain trigger fired (see GET /v1/monitoring).")
    ] = False,
) -> None:
    """Retrain after a month closes: the triggers in each experiment YAML decide with --if-needed; the gate
    decides promotion; every decision is kept (store and MLflow). Exit 1 if a retrain failed."""
    from cli.main import chosen_families
    from muzhang.settings import get_settings

    families = chosen_families(family)
    settings = get_settings()
    try:
        decisions = retrain_families(settings, families, if_needed=if_needed, echo=typer.echo)
    except RuntimeError as exc:
        typer.echo(f"cannot retrain: {exc}", err=True)
        raise typer.Exit(code=2) from None
    for d in decisions:
        version = f" -> version {d.version}{' (champion)' if d.promoted else ' (challenger)'}" if d.version else ""
        typer.echo(f"{d.family:<8} {d.action}{version}: {d.note}")
        for reason in d.triggers:
            typer.echo(f"           because {reason}")
    raise typer.Exit(code=1 if any(d.action == "failed" for d in decisions) else 0)
