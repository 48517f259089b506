"""The promotion gate as pure functions: plain metrics in, a decision out (no MLflow, no I/O).

A candidate is promoted when it beats the current champion, scored on the candidate's own test rows, by
the configured margin on every gate metric (market: MASE and scaled pinball) and is never worse than the
gate's floor baselines; with no champion it must beat every baseline (or the floors) instead.
``training.tracking`` reads the champion, scores it and applies the decision under a promotion lock
(``training.locks``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from models.metrics import is_better

__all__ = ["GateDecision", "GateRule", "check_gate_metric", "decide_promotion", "gate_rules", "is_better"]


class MetricRule(Protocol):
    """One metric the gate checks (``training.config.GateMetric`` is one)."""

    @property
    def metric(self) -> str: ...

    @property
    def direction(self) -> str: ...

    @property
    def margin(self) -> float: ...


class GateRule(MetricRule, Protocol):
    """What the gate needs of its configuration (``training.config.GateConfig`` is one): the main metric,
    optionally further ones (``rules()``) and the baselines every candidate must beat (``floors``)."""


def gate_rules(gate: GateRule) -> list[MetricRule]:
    """Every metric the gate checks, the main one first (a rule without ``rules()`` checks one)."""
    rules = getattr(gate, "rules", None)
    return list(rules()) if callable(rules) else [gate]


def gate_floors(gate: GateRule) -> list[str] | None:
    floors = getattr(gate, "floors", None)
    return None if floors is None else list(floors)


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    metric: str
    candidate: float
    reference: float
    reference_kind: str  # "champion vN" or "baseline NAME"
    note: str
    # The numbers behind the note, as data: the candidate's and the champion's value on each gate metric
    # (champion_scores None: no champion judged), and which version the champion was (set by the caller that
    # knows it, ``training.tracking.ChampionScores.judge``).
    candidate_scores: Mapping[str, float] = field(default_factory=dict)
    champion_scores: Mapping[str, float] | None = None
    champion_version: str | None = None

    def gate_metrics(self) -> dict[str, Any]:
        """The gate's numbers as a JSON-ready record (kept with a retrain decision, read by the monitoring):
        ``{"metric", "candidate": {metric: value}, "champion": {metric: value} or None, "champion_version"}``;
        a non-finite value is None."""
        champion = self.champion_scores
        return {
            "metric": self.metric,
            "candidate": {k: _finite(v) for k, v in self.candidate_scores.items()},
            "champion": None if champion is None else {k: _finite(v) for k, v in champion.items()},
            "champion_version": self.champion_version,
        }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def check_gate_metric(
    gate: GateRule, candidate: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]], family: str = ""
) -> None:
    """Fail before anything is logged if the gate could not decide (a metric unknown to the model or to
    every baseline, or a floor that is no baseline).

    Raises:
        ValueError: naming the metric (or floor) and the ones that would work.
    """
    owner = family or "this model"
    for rule in gate_rules(gate):
        metric = rule.metric
        if metric not in candidate:
            raise ValueError(f"gate.metric {metric!r} is not a metric of {owner}: {', '.join(sorted(candidate))}")
        if not any(metric in m for m in baselines.values()):
            shared = set.intersection(*(set(m) for m in baselines.values())) if baselines else set()
            raise ValueError(
                f"gate.metric {metric!r} is not computed for any {owner} baseline, so a first model could not "
                f"be judged; choose one of: {', '.join(sorted(shared)) or '(no baselines)'}"
            )
    unknown = [f for f in gate_floors(gate) or [] if f not in baselines]
    if unknown:
        raise ValueError(f"gate.floors {unknown} are not baselines of {owner}: {', '.join(sorted(baselines))}")


def decide_promotion(
    gate: GateRule,
    candidate: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    champion_score: float | Mapping[str, float] | None = None,
    champion_label: str = "champion",
) -> GateDecision:
    """Promote only a candidate that passes on every gate metric.

    With a champion: beat it on each gate metric by that metric's margin, and beat each floor baseline
    (``gate.floors``) on each gate metric. Without one (a first model): beat every baseline, or only the
    floors when the gate names them, on each gate metric by its margin.

    Args:
        gate: main metric, direction and margin; ``also`` metrics and ``floors`` when it has them.
        candidate: the candidate's test metrics.
        baselines: baseline name -> its metrics on the same rows.
        champion_score: the champion's metrics on the candidate's test rows (a number: its main metric
            only); ``None``: no champion (or one that could not be scored, which cannot defend its title).
        champion_label: how the note names the champion, e.g. ``champion v3``.

    Raises:
        ValueError: a gate metric is not among the candidate's metrics, or (first model) no baseline's.
    """
    rules = gate_rules(gate)
    main = rules[0]
    for rule in rules:
        if rule.metric not in candidate:
            raise ValueError(f"gate metric {rule.metric!r} is not among the candidate's metrics: {sorted(candidate)}")
    floors = gate_floors(gate)
    checks: list[tuple[MetricRule, str, float, float]] = []  # rule, reference name, reference, margin
    if champion_score is not None:
        champion = champion_score if isinstance(champion_score, Mapping) else {main.metric: champion_score}
        checks += [(r, champion_label, float(champion[r.metric]), r.margin) for r in rules if r.metric in champion]
        chosen = floors or []
    else:
        chosen = list(baselines) if floors is None else floors
        if not any(main.metric in baselines.get(b, {}) for b in chosen):
            raise ValueError(f"gate metric {main.metric!r} is not computed for any baseline: {sorted(baselines)}")
    for rule in rules:
        scores = {b: float(baselines[b][rule.metric]) for b in chosen if rule.metric in baselines.get(b, {})}
        margin = rule.margin if champion_score is None else 0.0  # floors: never worse; the champion sets the bar
        checks += [(rule, f"baseline {b}", v, margin) for b, v in scores.items()]
    failed = [c for c in checks if not is_better(float(candidate[c[0].metric]), c[2], c[0].direction, c[3])]
    value = float(candidate[main.metric])
    main_checks = [c for c in checks if c[0] is main]
    _, ref_kind, reference, margin = (
        _strongest(main_checks, main.direction) if main_checks else (main, "none", math.nan, main.margin)
    )
    promoted = not failed
    first = "" if champion_score is not None else "first model: "
    verb = "beats" if promoted else "does not beat"
    note = f"{first}{main.metric} {value:.5g} {verb} {ref_kind} {reference:.5g}"
    if champion_score is not None and ref_kind == champion_label:
        note += f" by margin {margin}"
    if failed:
        note += "; fails " + ", ".join(
            f"{r.metric} {float(candidate[r.metric]):.5g} vs {name} {ref:.5g}" for r, name, ref, _ in failed
        )
    elif len(checks) > len(main_checks):
        note += f"; passes {', '.join(sorted({r.metric for r, *_ in checks}))} against {len(checks)} references"
    champion_scores = None
    if champion_score is not None:
        champion_scores = {r.metric: float(champion[r.metric]) for r in rules if r.metric in champion}
    return GateDecision(
        promoted,
        main.metric,
        value,
        reference,
        ref_kind,
        note,
        candidate_scores={r.metric: float(candidate[r.metric]) for r in rules},
        champion_scores=champion_scores,
    )


def _strongest(
    checks: list[tuple[MetricRule, str, float, float]], direction: str
) -> tuple[MetricRule, str, float, float]:
    """The champion when it is among the references, else the strongest baseline (NaN counts as weakest)."""
    for check in checks:
        if not check[1].startswith("baseline "):
            return check
    sign = 1.0 if direction == "minimize" else -1.0
    return min(checks, key=lambda c: sign * c[2] if math.isfinite(c[2]) else math.inf)
