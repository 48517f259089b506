"""The promotion gate as pure functions: plain metrics in, a decision out (no MLflow, no I/O).

A candidate is promoted when it beats the current champion, scored on the candidate's own test rows, by
the configured margin; with no champion it must beat every baseline instead. ``training.tracking`` reads
the champion, scores it and applies the decision under a promotion lock (``training.locks``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from models.metrics import is_better

__all__ = ["GateDecision", "GateRule", "check_gate_metric", "decide_promotion", "is_better"]


class GateRule(Protocol):
    """What the gate needs of its configuration (``training.config.GateConfig`` is one)."""

    @property
    def metric(self) -> str: ...

    @property
    def direction(self) -> str: ...

    @property
    def margin(self) -> float: ...


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    metric: str
    candidate: float
    reference: float
    reference_kind: str  # "champion vN" or "baseline NAME"
    note: str


def check_gate_metric(
    gate: GateRule, candidate: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]], family: str = ""
) -> None:
    """Fail before anything is logged if the gate could not decide (metric unknown to the model or baselines).

    Raises:
        ValueError: naming the metric and the ones that would work.
    """
    metric, owner = gate.metric, family or "this model"
    if metric not in candidate:
        raise ValueError(f"gate.metric {metric!r} is not a metric of {owner}: {', '.join(sorted(candidate))}")
    if not any(metric in m for m in baselines.values()):
        shared = set.intersection(*(set(m) for m in baselines.values())) if baselines else set()
        raise ValueError(
            f"gate.metric {metric!r} is not computed for any {owner} baseline, so a first model could not "
            f"be judged; choose one of: {', '.join(sorted(shared)) or '(no baselines)'}"
        )


def decide_promotion(
    gate: GateRule,
    candidate: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    champion_score: float | None = None,
    champion_label: str = "champion",
) -> GateDecision:
    """Challenger beats the champion on the same rows by the margin; a first model must beat every baseline.

    Args:
        gate: metric, direction (``minimize``/``maximize``) and margin.
        candidate: the candidate's test metrics.
        baselines: baseline name -> its metrics on the same rows (used only when there is no champion).
        champion_score: the champion's gate metric on the candidate's test rows; ``None``: no champion
            (or one that could not be scored, which cannot defend its title).
        champion_label: how the note names the champion, e.g. ``champion v3``.

    Raises:
        ValueError: the gate metric is not among the candidate's metrics, or (first model) no baseline's.
    """
    metric, direction, margin = gate.metric, gate.direction, gate.margin
    if metric not in candidate:
        raise ValueError(f"gate metric {metric!r} is not among the candidate's metrics: {sorted(candidate)}")
    value = float(candidate[metric])
    if champion_score is not None:
        promoted = is_better(value, champion_score, direction, margin)
        verb = "beats" if promoted else "does not beat"
        return GateDecision(
            promoted,
            metric,
            value,
            float(champion_score),
            champion_label,
            f"{metric} {value:.5g} {verb} {champion_label} {champion_score:.5g} by margin {margin}",
        )
    scores = {name: float(m[metric]) for name, m in baselines.items() if metric in m}
    if not scores:
        raise ValueError(f"gate metric {metric!r} is not computed for any baseline: {sorted(baselines)}")
    promoted = all(is_better(value, s, direction, margin) for s in scores.values())
    best_name = _best(scores, direction)
    verb = "beats" if promoted else "does not beat"
    return GateDecision(
        promoted,
        metric,
        value,
        scores[best_name],
        f"baseline {best_name}",
        f"first model: {metric} {value:.5g} {verb} baseline {best_name} {scores[best_name]:.5g}",
    )


def _best(scores: Mapping[str, float], direction: str) -> str:
    """Name of the strongest baseline (NaN scores count as weakest)."""
    sign = 1.0 if direction == "minimize" else -1.0
    return min(scores, key=lambda k: sign * scores[k] if math.isfinite(scores[k]) else math.inf)
