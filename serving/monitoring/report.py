"""Everything the data scientists' view shows, per family: live metrics beside the test metrics, outcomes
joined and missing, which version served when, the drift table, the retrain triggers and decisions.

Reads the store's forecast log and the served models; computes nothing it computed before (live metrics of a
month are kept in a memo until a new outcome joins that month).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from muzhang.families import FamilySpec, family_specs
from muzhang.store.forecasts import read_decisions, read_forecasts
from serving.monitoring.drift import DriftThresholds, drift_table
from serving.monitoring.live import live_metrics, worse_than_test
from serving.monitoring.policy import (
    HeldTo,
    MonitoringPolicy,
    PolicyError,
    failed_retrain,
    family_policy,
    gate_record,
    months_since_training,
    new_evidence,
    raise_reference,
    raise_seasonal,
    reference_metrics,
    retrain_triggers,
)
from serving.monitoring.seasonal import test_year_by_month, worse_than_its_month
from serving.monitoring.versions import version_record
from serving.scoring.context import ScoringContext


@dataclass
class MonitoringMemo:
    """Live metrics already computed, per (family, version, month, joined rows): kept by the service."""

    live: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    seasonal: dict[tuple[str, str], Any] = field(default_factory=dict)  # (family, version): its test year by month
    lock: threading.Lock = field(default_factory=threading.Lock)


def plain(value: Any) -> Any:
    """A JSON-able value: NaN and infinities as None, timestamps as ISO dates."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return plain(value.item())
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def outcome_counts(log: pd.DataFrame, last_month: pd.Timestamp) -> list[dict[str, Any]]:
    """Per target period and version: forecasts kept, outcomes joined, and missing (period closed, no outcome)."""
    if log.empty:
        return []
    frame = log.assign(joined=log["outcome"].notna())
    grouped = frame.groupby(["target_period", "model_version"]).agg(forecasts=("id", "size"), joined=("joined", "sum"))
    out = grouped.reset_index()
    out["missing"] = (out["forecasts"] - out["joined"]).where(out["target_period"] <= last_month, 0)
    return records(out)


def champion_history(log: pd.DataFrame) -> list[dict[str, Any]]:
    """Which version(s) made forecasts from each month's data: the champion of that month (two when it was
    replaced during the month)."""
    if log.empty:
        return []
    history = log.groupby("as_of_month")["model_version"].apply(lambda v: sorted(set(v), key=_version_order))
    return [{"month": plain(m), "versions": list(v)} for m, v in history.items()]


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if str(version).isdigit() else (0, str(version))


def current_drift(ctx: ScoringContext, spec: FamilySpec, thresholds: DriftThresholds) -> pd.DataFrame:
    """The drift table of the county's forecast rows against the served model's training reference."""
    model = ctx.registry.slots[spec.name].model if spec.name in ctx.registry.slots else None
    reference = model.bundle.metadata.get("reference") if model is not None else None
    if model is None or not reference or not spec.serves_forecasts:
        return pd.DataFrame(columns=["what", "target", "status"])
    prep = ctx.prepared(model)
    predictions = {name: task.point(prep.x) for name, task in prep.bundle.tasks.items()}
    return drift_table(reference, prep.frame, predictions, thresholds)


def family_report(
    ctx: ScoringContext, spec: FamilySpec, memo: MonitoringMemo, thresholds: DriftThresholds
) -> dict[str, Any]:
    store, county = ctx.store, ctx.county
    slot = ctx.registry.slots.get(spec.name)
    champion = slot.model.version if slot is not None and slot.model is not None else None
    out: dict[str, Any] = {"family": spec.name, "champion": champion, "error": None}
    log = read_forecasts(store, spec.name)
    if spec.personal:  # counts per band only
        out["band_counts"] = [
            {"month": plain(r["target_period"]), "version": r["model_version"], "bands": json.loads(r["prediction"])}
            for r in log.to_dict("records")
        ]
        return out
    with memo.lock:
        live = live_metrics(log, ctx.settings.monitor_bootstrap, memo.live)
    tracking_uri, name = ctx.registry.tracking_uri, spec.registered_model
    versions = sorted(set(live["model_version"]) | ({champion} if champion else set()), key=_version_order)
    records_by_version = {v: version_record(tracking_uri, name, v) for v in versions}
    tests = {v: r.test_metrics for v, r in records_by_version.items()}
    if champion and not tests.get(champion) and slot is not None and slot.model is not None:
        tests[champion] = dict(slot.model.bundle.metadata.get("test_metrics", {}))
    live["test"] = [tests.get(v, {}).get(m) for v, m in zip(live["model_version"], live["metric"], strict=True)]
    all_decisions = read_decisions(store, spec.name)
    all_decisions["triggers"] = [json.loads(t) for t in all_decisions["triggers"]]
    all_decisions["gate_metrics"] = pd.Series(
        [gate_record(g) for g in all_decisions["gate_metrics"]], index=all_decisions.index, dtype=object
    )
    try:
        policy: MonitoringPolicy | None = family_policy(spec.name)
    except PolicyError as exc:
        policy, out["error"] = None, str(exc)
    recent = policy.retrain.recent_months if policy is not None else None

    def test_of(version: str) -> dict[str, float]:
        if version not in tests:
            tests[version] = version_record(tracking_uri, name, version).test_metrics
        return tests[version]

    # A version promoted after a shift was tested on the shocked months: held to the pre-shift reference too.
    references = {v: reference_metrics(v, test_of, all_decisions, recent) for v in versions}
    # A seasonal metric: each live month against the same month of the version's own test year.
    seasonal: dict[str, dict[tuple[int, str], tuple[float, float, float]]] = {}
    if policy is not None and policy.retrain.reference == "seasonal" and spec.serves_forecasts:
        for v in versions:  # a version tested after a shift is held to the months of the version before it
            source = references[v][1] or v
            source_record = records_by_version.get(source) or version_record(tracking_uri, name, source)
            seasonal[v] = seasonal_reference(ctx, spec, source, source_record.data_cutoff, memo)
    # A failed retrain is evidence: a champion a retrain judged on the recent months could not beat is held,
    # for the months after that retrain, to its own score on those months when that is worse than its reference.
    metric = policy.retrain.metric if policy is not None else None
    raised: dict[str, tuple[HeldTo, dict[str, float], dict[tuple[int, str], tuple[float, float, float]], float]] = {}
    for v in versions:
        evidence = failed_retrain(all_decisions, v, metric, recent)
        if evidence is not None:
            plain_ref = raise_reference(references[v][0], evidence)
            months_raised, factor = raise_seasonal(seasonal.get(v, {}), evidence)
            moved = factor != 1.0 if seasonal.get(v) else plain_ref != references[v][0]
            if moved:
                raised[v] = (evidence, plain_ref, months_raised, factor)

    def held_to(version: str, month: Any) -> tuple[dict[str, float], dict[tuple[int, str], tuple[float, float, float]]]:
        """The reference and test year by month a version's live month is held to."""
        if version in raised and raised[version][0].holds(month):
            return raised[version][1], raised[version][2]
        return references[version][0] if version in references else {}, seasonal.get(version, {})

    scored: list[dict[str, Any]] = live.to_dict("records")  # type: ignore[assignment]
    held = [held_to(str(r["model_version"]), r["target_period"]) for r in scored]
    bands = [
        s.get((pd.Timestamp(r["target_period"]).month, str(r["metric"])))
        for (_, s), r in zip(held, scored, strict=True)
    ]
    live["reference"] = [
        b[0] if b is not None else ref.get(str(r["metric"])) for b, (ref, _), r in zip(bands, held, scored, strict=True)
    ]
    scored = live.to_dict("records")  # type: ignore[assignment]
    live["worse"] = [
        worse_than_its_month(str(r["metric"]), r["low"], r["high"], b)
        if b is not None
        else worse_than_test(str(r["metric"]), r["low"], r["high"], r["reference"])
        for b, r in zip(bands, scored, strict=True)
    ]
    drift = current_drift(ctx, spec, thresholds)
    if policy is not None:
        champion_live = live[live["model_version"] == champion] if champion else live.iloc[:0]
        record = records_by_version.get(champion) if champion else None
        since = months_since_training(record.data_cutoff if record else None, all_decisions, county.last_month)
        reference, reference_version = references.get(champion or "", ({}, None))
        by_month: dict[tuple[int, str], tuple[float, float, float]] | None = seasonal.get(champion or "")
        evidence_now = raised.get(champion) if champion is not None else None
        holding = evidence_now is not None and evidence_now[0].holds(county.last_month)
        if holding and evidence_now is not None:  # deciding now, within the failed retrain's months: held to it
            reference, by_month = evidence_now[1], evidence_now[2]
        fired = retrain_triggers(policy, champion_live, reference, drift, since, by_month)
        out["triggers"] = new_evidence(fired, all_decisions)
        out["policy"] = policy.retrain.model_dump()
        out["months_since_training"] = since
        out["reference_version"] = reference_version
        out["reference_raised"] = None
        if holding and evidence_now is not None:
            evidence, _, _, factor = evidence_now
            scale = f" (each month of its test year x {factor:.3g})" if factor != 1.0 else ""
            out["reference_raised"] = evidence.words() + scale
    else:
        out["triggers"], out["policy"] = [], None
    decisions = all_decisions.tail(20).reset_index(drop=True)
    out.update(
        {
            "test_metrics": tests.get(champion or "", {}),
            "live": records(live),
            "outcomes": outcome_counts(log, county.last_month),
            "champion_history": champion_history(log),
            "drift": records(drift),
            "decisions": records(decisions.drop(columns=["id"])),
        }
    )
    return out


def seasonal_reference(
    ctx: ScoringContext, spec: FamilySpec, version: str, data_cutoff: Any, memo: MonitoringMemo
) -> dict[tuple[int, str], tuple[float, float, float]]:
    """The version's test year month by month (:mod:`serving.monitoring.seasonal`), computed once per version;
    empty (the test value stands) when its data month is unknown or its model cannot be read."""
    key = (spec.name, str(version))
    with memo.lock:
        if key in memo.seasonal:
            return dict(memo.seasonal[key])
    out: dict[tuple[int, str], tuple[float, float, float]] = {}
    if data_cutoff is not None:
        try:
            slot = ctx.registry.slots.get(spec.name)
            if slot is not None and slot.model is not None and str(slot.model.version) == str(version):
                bundle = slot.model.bundle
            else:
                bundle = ctx.registry._load_bundle(spec.registered_model, str(version))
            out = test_year_by_month(
                spec.name,
                str(version),
                bundle,
                ctx.county.tables,
                data_cutoff,
                ctx.settings.monitor_bootstrap,
                catalog=ctx.county.catalog,
            )
        except Exception as exc:  # the annual test value stands; said once in the log
            logging.getLogger("muzhang.monitoring").warning(
                "%s version %s: no seasonal reference (%s: %s)", spec.name, version, type(exc).__name__, exc
            )
    with memo.lock:
        memo.seasonal[key] = out
    return dict(out)


def monitoring_report(ctx: ScoringContext, memo: MonitoringMemo | None = None) -> dict[str, Any]:
    """The monitoring view of every family (``GET /v1/monitoring``, ``muzhang retrain``)."""
    memo = memo or MonitoringMemo()
    thresholds = DriftThresholds(psi=ctx.settings.drift_psi_threshold, ks=ctx.settings.drift_ks_threshold)
    families = []
    if ctx.store is not None:
        for spec in family_specs():
            try:
                families.append(family_report(ctx, spec, memo, thresholds))
            except Exception as exc:  # one family's trouble (an unreadable model, a bad row) never hides the others
                families.append({"family": spec.name, "error": f"{type(exc).__name__}: {exc}"})
    return {
        "data_as_of": plain(ctx.county.last_month),
        "store": ctx.store is not None,
        "thresholds": {"psi": thresholds.psi, "ks": thresholds.ks},
        "families": families,
    }


def memo_of(ctx: ScoringContext) -> MonitoringMemo:
    """The service's memo of live metrics, kept on its context (made on first use)."""
    memo = ctx.__dict__.get("_monitoring_memo")
    if memo is None:
        memo = ctx.__dict__.setdefault("_monitoring_memo", MonitoringMemo())
    return memo


def update_gauges(metrics: Any, report: dict[str, Any]) -> None:
    """Set the Prometheus gauges from a report: the champion's latest live metrics (and whether each is worse
    than test), drifted features, forecasts missing their outcome, triggers firing."""
    for family in report["families"]:
        name = family["family"]
        if "live" not in family:
            continue
        live = pd.DataFrame(family["live"])
        if len(live) and family.get("champion"):
            latest = (
                live[live["model_version"] == family["champion"]].sort_values("target_period").groupby("metric").last()
            )
            for metric, row in latest.iterrows():
                if row["value"] is not None and math.isfinite(row["value"]):
                    metrics.live_metric.labels(name, metric).set(row["value"])
                    metrics.live_worse.labels(name, metric).set(1.0 if row["worse"] else 0.0)
        metrics.drifted.labels(name).set(
            sum(r["status"] == "drifted" for r in family["drift"] if r["target"] == "feature")
        )
        metrics.missing_outcomes.labels(name).set(sum(r["missing"] or 0 for r in family["outcomes"]))
        metrics.triggers.labels(name).set(len(family.get("triggers", [])))
