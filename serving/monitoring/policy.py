"""When to retrain: each family's ``monitoring:`` section of its experiment YAML, and the triggers it sets.

```yaml
monitoring:
  retrain:
    metric: brier          # a live metric whose whole 95 % interval is worse than the version's test value ...
    tolerance: 0.10        # ... by more than this share of it,
    months_in_a_row: 2     # ... in this many of the latest scored months in a row
    min_rows: 30           # months with fewer joined outcomes give no verdict
    drifted_share: 0.5     # or at least this share of the features drifted this month (null: never)
    prediction_drift: true # or the predictions themselves drifted
    new_months: 12         # or this many months closed since the data the version was trained on (null: never)
    recent_months: 3       # after a detected shift (live metric or drift): the gate judges the retrained model
                           # and the champion on the last 3 closed months, validation on the 3 before (null:
                           # the experiment's usual split)
    reference: seasonal    # test (default): a live month against the test value; seasonal: against the same
                           # calendar month of the version's test year, interval against interval
                           # (serving/monitoring/seasonal.py)
```

Pure: the verdicts take the live metrics, the drift table and the count of months, and say which triggers fired
and why, in words a data scientist can check.

A failed retrain is evidence: when a live-metric alarm made the gate judge a retrained model on the recent
months and the champion won, the champion's own score on those months (the gate's numbers, kept with the
decision as ``gate_metrics``) is what the county allows now. From then on that champion's live metric is held to it
(:func:`failed_retrain`, :func:`raise_reference`, :func:`raise_seasonal`): a county that got harder to forecast
does not ask for the same retrain every month. The evidence speaks for as many months after the judged ones as
were judged (``recent_months``); then the plain reference returns and an alarm may ask again, when a retrain has
those months of the changed county to learn from (after a shock, the first retrain cannot have seen it). A new
shift, drift or the months trigger fire as before; a promoted retrain makes a new champion, whose references
start from its own test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from muzhang.families import get_family
from serving.monitoring.live import direction_of, worse_than_test
from serving.monitoring.seasonal import worse_than_its_month


class RetrainPolicy(BaseModel):
    """The retrain triggers of one family."""

    model_config = ConfigDict(extra="forbid")
    metric: str | None = None
    tolerance: float = Field(0.0, ge=0, le=10)
    months_in_a_row: int = Field(1, ge=1, le=24)
    min_rows: int = Field(30, ge=1)
    drifted_share: float | None = Field(0.5, gt=0, le=1)
    prediction_drift: bool = True
    new_months: int | None = Field(12, ge=1, le=240)
    recent_months: int | None = Field(None, ge=1, le=36)
    reference: Literal["test", "seasonal"] = "test"


class MonitoringPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)  # type: ignore[arg-type]


class PolicyError(ValueError):
    """A monitoring section that does not read; the message names the file and the field."""


def read_policy(path: Path) -> MonitoringPolicy:
    """The ``monitoring:`` section of an experiment YAML (defaults when there is none)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read {path}: {exc}") from exc
    section = raw.get("monitoring") or {}
    try:
        policy = MonitoringPolicy.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(f"monitoring.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{path}: {problems}") from exc
    metric = policy.retrain.metric
    if metric is not None and direction_of(metric) is None:
        raise PolicyError(
            f"{path}: monitoring.retrain.metric {metric!r} has no better direction (use e.g. brier, mae, spl)"
        )
    return policy


def family_policy(family: str) -> MonitoringPolicy:
    return read_policy(get_family(family).experiment_path)


SHIFT_TRIGGERS = ("live ", "drift: ")  # how the words of a detected shift start (metric and drift triggers)


def is_shift(trigger: str) -> bool:
    """Whether a fired trigger says the county moved (a live metric or drift), not only that time passed."""
    return trigger.startswith(SHIFT_TRIGGERS)


def recent_split(policy: RetrainPolicy, triggers: list[str], last_month: Any) -> dict[str, Any]:
    """After a detected shift, the experiment overrides that make the gate judge on recent months: test = the
    last ``recent_months`` closed months up to ``last_month``, validation = as many before. Empty: no shift
    detected, no window set, or no month closed (the experiment's usual split)."""
    months = policy.recent_months
    if months is None or last_month is None or not any(is_shift(t) for t in triggers):
        return {}
    first = pd.Timestamp(last_month).to_period("M") - (months - 1)
    return {"split.test_from": f"{first}", "split.valid_months": months}


def shift_judged(decisions: pd.DataFrame, version: str | None) -> str | None:
    """If ``version`` came from a retrain judged on the recent months after a detected shift, the champion it
    replaced (else None). ``decisions``: the family's retrain decisions (version, action, triggers as lists,
    champion_before)."""
    if version is None or decisions.empty:
        return None
    rows = decisions[(decisions["version"].astype(str) == str(version)) & (decisions["action"] == "retrained")]
    for row in rows.to_dict("records"):
        if any(is_shift(t) for t in row["triggers"]) and row.get("champion_before"):
            return str(row["champion_before"])
    return None


def reference_metrics(
    version: str | None,
    tests: Any,
    decisions: pd.DataFrame,
    recent_months: int | None,
) -> tuple[dict[str, float], str | None]:
    """The test values a version's live metrics are held to, and the version they come from when not its own.

    A version promoted after a detected shift was tested on the shocked recent months, so its own test value
    is the shocked one and a live metric would hardly ever be worse. Its reference is then, metric by
    metric, the better of its own test value and that of the last version before the shift (the chain of
    shift-judged champions followed back to one tested on the usual split). ``tests``: version -> test
    metrics (a mapping or a callable); ``recent_months``: the family's window (None: shift retrains used the
    usual split, so every version's own test value stands)."""
    get = tests if callable(tests) else (lambda v: tests.get(v, {}))
    own: dict[str, float] = dict(get(version) or {}) if version is not None else {}
    if recent_months is None:
        return own, None
    seen = {version}
    before = shift_judged(decisions, version)
    while before is not None and before not in seen:
        seen.add(before)
        earlier = shift_judged(decisions, before)
        if earlier is None:
            break
        before = earlier
    if before is None:
        return own, None
    normal = dict(get(before) or {})
    out = dict(own)
    for metric, value in normal.items():
        mine, direction = own.get(metric), direction_of(metric)
        if mine is None or not np.isfinite(mine):
            out[metric] = value
        elif direction == "minimize":
            out[metric] = min(mine, value)
        elif direction == "maximize":
            out[metric] = max(mine, value)
    return out, before


def gate_record(value: Any) -> Mapping[str, Any] | None:
    """A decision's ``gate_metrics`` as a mapping (stored as JSON text; None for a decision with no gate, or
    one kept before the store had the column)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def champion_score_on(gate: Mapping[str, Any] | None, champion: str, metric: str) -> float | None:
    """The champion's ``metric`` on the candidate's test rows as the gate measured it, if the gate judged
    that very version (else None)."""
    if gate is None or str(gate.get("champion_version")) != str(champion):
        return None
    value = (gate.get("champion") or {}).get(metric)
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


@dataclass(frozen=True)
class HeldTo:
    """A champion's score on the recent months a retrain judged it on and could not beat."""

    version: str
    metric: str
    score: float
    first: pd.Period  # the recent months the gate judged on
    last: pd.Period
    challenger: str | None
    until: pd.Period  # the last live month held to it: as many months after ``last`` as were judged on

    def holds(self, month: Any) -> bool:
        """Whether live month ``month`` is held to the champion's recent score (after the judged months,
        up to ``until``)."""
        period = pd.Timestamp(month).to_period("M") if not isinstance(month, pd.Period) else month
        return self.last < period <= self.until

    def words(self) -> str:
        return (
            f"held to v{self.version}'s {self.metric} {self.score:.4g} on {self.first}..{self.last} "
            f"after a retrain could not beat it"
            + (f" (v{self.challenger})" if self.challenger else "")
            + f", until {self.until}"
        )


def failed_retrain(
    decisions: pd.DataFrame, version: str | None, metric: str | None, recent_months: int | None
) -> HeldTo | None:
    """The latest retrain a live-metric alarm asked for, judged on the recent months, that left ``version``
    champion (kept as challenger), with the champion's ``metric`` on those months; None when there is none
    (or the family's shift retrains use the usual split, which says nothing about the recent months)."""
    if version is None or metric is None or recent_months is None or decisions.empty:
        return None
    rows = decisions[(decisions["action"] == "retrained") & (decisions["champion_before"].astype(str) == str(version))]
    for row in reversed(rows.to_dict("records")):
        promoted = row.get("promoted")
        if promoted is None or pd.isna(promoted) or bool(promoted) or pd.isna(row.get("data_month")):
            continue
        if not any(str(t).startswith("live ") for t in row["triggers"]):
            continue
        gate = gate_record(row.get("gate_metrics"))
        score = champion_score_on(gate, str(version), metric)
        months = (gate or {}).get("months")
        if score is None or not months or len(months) != 2:
            continue  # no numbers (a decision kept before 0004), or judged on the usual split
        first, last = (pd.Period(m, freq="M") for m in months)
        challenger = None if row.get("version") is None or pd.isna(row.get("version")) else str(row["version"])
        # The evidence speaks for as many months as it was judged on; then the monitor may ask again, with
        # those months of the changed county to learn from (a shock: the first retrain cannot have seen it).
        return HeldTo(str(version), metric, score, first, last, challenger, last + (last - first).n + 1)
    return None


def raise_reference(reference: Mapping[str, float], held: HeldTo | None) -> dict[str, float]:
    """A plain reference raised to the champion's recent score: max(reference, score) for a metric to
    minimise (min for one to maximise); unchanged without evidence."""
    out = dict(reference)
    direction = direction_of(held.metric) if held is not None else None
    if held is None or direction is None:
        return out
    value = out.get(held.metric)
    if value is None or not np.isfinite(value):
        out[held.metric] = held.score
    else:
        out[held.metric] = max(value, held.score) if direction == "minimize" else min(value, held.score)
    return out


def raise_seasonal(
    seasonal: Mapping[tuple[int, str], tuple[float, float, float]], held: HeldTo | None
) -> tuple[dict[tuple[int, str], tuple[float, float, float]], float]:
    """The test year by month scaled so its recent months average the champion's recent score: each month's
    value and interval times max(1, score / mean of the references of the judged months) (min for a metric
    to maximise). Returns the scaled months and the factor (1.0: unchanged, also when none of the judged
    months has a reference)."""
    out = dict(seasonal)
    direction = direction_of(held.metric) if held is not None else None
    if held is None or direction is None:
        return out, 1.0
    months = pd.period_range(held.first, held.last, freq="M")
    values = [out[(p.month, held.metric)][0] for p in months if (p.month, held.metric) in out]
    mean = float(np.mean(values)) if values else float("nan")
    if not np.isfinite(mean) or mean <= 0:
        return out, 1.0
    ratio = held.score / mean
    factor = max(1.0, ratio) if direction == "minimize" else min(1.0, ratio)
    if factor == 1.0:
        return out, 1.0
    for key, band in seasonal.items():
        if key[1] == held.metric:
            out[key] = (band[0] * factor, band[1] * factor, band[2] * factor)
    return out, factor


def metric_trigger(
    policy: RetrainPolicy,
    live: pd.DataFrame,
    test_metrics: dict[str, float],
    seasonal: Mapping[tuple[int, str], tuple[float, float, float]] | None = None,
) -> str | None:
    """The live-metric trigger: the last ``months_in_a_row`` scored months (with ``min_rows``) all worse than
    test beyond their intervals. ``live``: one version's live metrics (metric, target_period, value, low, high, n).
    ``seasonal``: the version's test year by (calendar month, metric) -> (value, low, high); a month it has is
    held to the same month of the test year instead (its whole interval beyond that month's interval)."""
    metric = policy.metric
    if metric is None or live.empty:
        return None
    rows = live[(live["metric"] == metric) & (live["n"] >= policy.min_rows)].sort_values("target_period")
    test = test_metrics.get(metric)
    if len(rows) < policy.months_in_a_row or (test is None and not seasonal):
        return None
    latest: list[dict[str, Any]] = rows.tail(policy.months_in_a_row).to_dict("records")  # type: ignore[assignment]
    verdicts, said, months = [], [], []
    for r in latest:
        month = pd.Timestamp(r["target_period"])
        band = (seasonal or {}).get((month.month, metric))
        where = f"{month:%Y-%m} {r['value']:.4g} [{r['low']:.4g}, {r['high']:.4g}]"
        months.append(where)
        if band is not None:
            verdicts.append(worse_than_its_month(metric, float(r["low"]), float(r["high"]), band, policy.tolerance))
            said.append(f"{where} against {month:%b} of its test year {band[0]:.4g} [{band[1]:.4g}, {band[2]:.4g}]")
        else:
            verdicts.append(worse_than_test(metric, float(r["low"]), float(r["high"]), test, policy.tolerance))
            said.append(f"{where} against its test value {test:.4g}" if test is not None else where)
    if not all(verdicts):
        return None
    if seasonal:
        return f"live {metric} worse than test beyond the intervals: {'; '.join(said)}"
    return f"live {metric} worse than its test value {test:.4g} beyond the interval: {', '.join(months)}"


def drift_trigger(policy: RetrainPolicy, drift: pd.DataFrame) -> list[str]:
    """The drift triggers: a share of features drifted, or the predictions drifted."""
    out: list[str] = []
    if drift.empty:
        return out
    features = drift[drift["target"] == "feature"]
    drifted = features[features["status"] == "drifted"]
    if policy.drifted_share is not None and len(features) and len(drifted) / len(features) >= policy.drifted_share:
        names = ", ".join(drifted["what"].head(5))
        out.append(
            f"drift: {len(drifted)} of {len(features)} features above their bars "
            f"(at least {policy.drifted_share:.0%} set): {names}"
        )
    predictions = drift[(drift["target"] == "prediction") & (drift["status"] == "drifted")]
    if policy.prediction_drift and len(predictions):
        worst = predictions.iloc[0]
        out.append(f"drift: predictions of {worst['what']} drifted (PSI {worst['psi']:.3g}, KS {worst['ks']:.3g})")
    return out


def months_trigger(policy: RetrainPolicy, months_since: int | None) -> str | None:
    if policy.new_months is None or months_since is None or months_since < policy.new_months:
        return None
    return f"{months_since} months closed since the data it was trained on (at least {policy.new_months} set)"


def retrain_triggers(
    policy: MonitoringPolicy,
    live: pd.DataFrame,
    test_metrics: dict[str, float],
    drift: pd.DataFrame,
    months_since: int | None,
    seasonal: Mapping[tuple[int, str], tuple[float, float, float]] | None = None,
) -> list[str]:
    """Every trigger that fired, each in words; empty: no reason to retrain."""
    rules = policy.retrain
    fired = [
        metric_trigger(rules, live, test_metrics, seasonal),
        *drift_trigger(rules, drift),
        months_trigger(rules, months_since),
    ]
    return [f for f in fired if f]


def months_between(first: Any, last: Any) -> int | None:
    """Whole months from ``first`` to ``last`` (None if either is unknown)."""
    if first is None or last is None or (isinstance(first, float) and np.isnan(first)):
        return None
    a, b = pd.Timestamp(first), pd.Timestamp(last)
    return (b.year - a.year) * 12 + b.month - a.month


def months_since_training(data_cutoff: Any, decisions: pd.DataFrame, last_month: Any) -> int | None:
    """Months closed since the champion's data, or since the data of the family's latest retrain if later: a
    retrain the gate did not promote has looked at those months already, so time alone does not ask again
    every month until a candidate wins (``decisions``: the family's, with action and data_month)."""
    since = months_between(data_cutoff, last_month)
    if decisions.empty:
        return since
    retrained = decisions.loc[decisions["action"] == "retrained", "data_month"].dropna()
    if retrained.empty:
        return since
    after_retrain = months_between(retrained.max(), last_month)
    return after_retrain if since is None or after_retrain is None else min(since, after_retrain)


def new_evidence(triggers: list[str], decisions: pd.DataFrame) -> list[str]:
    """The triggers minus the live-metric ones a retrain has already answered: the same words (same months,
    same values) as a trigger of the family's latest retrain. A family whose outcomes come once a season
    (grazing) otherwise retrained every month on the one season the gate had judged already."""
    if decisions.empty:
        return triggers
    retrained = decisions[decisions["action"] == "retrained"]
    if retrained.empty:
        return triggers
    answered = set(retrained["triggers"].iloc[-1])
    return [t for t in triggers if not (t.startswith("live ") and t in answered)]
