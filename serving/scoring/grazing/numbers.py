"""One season's numbers per grid (yield, capacity, stocking, pressure with their ranges, and the one decision
taken at the risk quantile): what the assessment, the plan and the map layer all read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from features import assess_grazing
from models.bundle import ModelBundle
from models.conformal import THRESHOLD_KEY, conformal_quantile
from muzhang.domain import DEFAULT_DOMAIN, grazing_advice, grazing_pressure
from serving.scoring.context import ScoringContext
from serving.scoring.grazing.common import FAMILY, TASK
from serving.scoring.grazing.scenarios import Scenario, apply_scenarios


def yield_levels(
    bundle: ModelBundle, x: np.ndarray, seasons: np.ndarray, levels: Sequence[float]
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """The season yield's point forecast and its quantile at each of ``levels``, per row.

    With a conformal table in the bundle (:mod:`models.conformal`, per season; models trained before the
    yield was learnt relative to each grid's level carry one): its quantiles. Otherwise a normal shape through
    the 10 % / 90 % quantile models, whose interval is calibrated on the validation year by the engine's
    conformal shifts (training.families.grazing says why no per-season table is fitted now).
    """
    task = bundle.tasks[TASK]
    point = task.point(x)
    quantiles = task.quantiles(x)
    low, high = quantiles.get(0.1, point), quantiles.get(0.9, point)
    table = bundle.thresholds.get(THRESHOLD_KEY, {}).get(TASK)
    out = {}
    for level in levels:
        if table:
            values = conformal_quantile(table, point, low, high, seasons, level)
        else:
            z = NormalDist().inv_cdf(level) / NormalDist().inv_cdf(0.9)
            side = np.where(z < 0, point - np.minimum(low, point), np.maximum(high, point) - point)
            values = point + z * side
        out[level] = np.maximum(values, 0.0)
    return point, out


@dataclass(frozen=True)
class SeasonNumbers:
    """One season's numbers per row, as every grazing answer gives them (assessment, plan, map layer)."""

    rows: pd.DataFrame
    risk: float
    yield_point: np.ndarray
    yield_low: np.ndarray
    yield_high: np.ndarray
    capacity: np.ndarray
    capacity_low: np.ndarray
    capacity_high: np.ndarray
    capacity_at_risk: np.ndarray
    stocking: np.ndarray
    stocking_low: np.ndarray
    stocking_high: np.ndarray
    pressure: np.ndarray
    pressure_low: np.ndarray
    pressure_high: np.ndarray
    pressure_at_risk: np.ndarray
    status: np.ndarray
    action: np.ndarray
    su_to_move: np.ndarray
    yield_ratio: np.ndarray


def drought_factors(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yield factors (low, mid, high) of each row: the county's drought-year ratios where the row is a
    drought what-if, 1 elsewhere (a season's forecast already knows what it knows of the weather)."""
    dry = rows["drought"].to_numpy(dtype=float) > 0
    out = []
    for level in ("low", "mid", "high"):
        ratio = rows[f"drought_ratio_{level}"].to_numpy(dtype=float) if f"drought_ratio_{level}" in rows else 1.0
        out.append(np.where(dry, np.nan_to_num(ratio, nan=1.0), 1.0))
    return out[0], out[1], out[2]


def _log_range(center: np.ndarray, *ranges: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """An 80 % range of a product of independent factors: their relative log half-widths add in quadrature.
    Each range is given as (low / centre, high / centre)."""
    down = np.sqrt(sum(np.log(np.clip(lo, 1e-9, None)) ** 2 for lo, _ in ranges))
    up = np.sqrt(sum(np.log(np.clip(hi, 1e-9, None)) ** 2 for _, hi in ranges))
    return center * np.exp(-down), center * np.exp(up)


def season_numbers(bundle: ModelBundle, rows: pd.DataFrame, x: np.ndarray, risk: float) -> SeasonNumbers:
    """Yield, capacity, stocking and pressure (each with its 80 % range), the capacity at the ``risk``
    yield quantile, and the one decision (:func:`muzhang.domain.grazing_advice`) taken on it."""
    point, levels = yield_levels(bundle, x, rows["season"].to_numpy(), (0.1, 0.9, risk))
    low, high, at_risk = levels[0.1], levels[0.9], levels[risk]
    d_low, d_mid, d_high = drought_factors(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_point = point * d_mid
        y_low, y_high = _log_range(y_point, (low / point, high / point), (d_low / d_mid, d_high / d_mid))
        y_low, y_high = np.minimum(y_low, y_point), np.maximum(y_high, y_point)
        y_risk = np.minimum(at_risk * d_mid * np.where(d_mid < 1, d_low / d_mid, 1.0), y_point)
    now = assess_grazing(rows, y_point)
    capacity = now["capacity_su"].to_numpy(dtype=float)
    cap_low = assess_grazing(rows, y_low)["capacity_su"].to_numpy(dtype=float)
    cap_high = assess_grazing(rows, y_high)["capacity_su"].to_numpy(dtype=float)
    cap_risk = assess_grazing(rows, y_risk)["capacity_su"].to_numpy(dtype=float)
    stocking = rows["stocking_su_season"].to_numpy(dtype=float)
    s_low = np.minimum(rows["stocking_su_low"].to_numpy(dtype=float), stocking)
    s_high = np.maximum(rows["stocking_su_high"].to_numpy(dtype=float), stocking)
    pressure = now["pressure"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_low, p_high = _log_range(
            pressure, (s_low / stocking, s_high / stocking), (capacity / cap_high, capacity / cap_low)
        )
    p_low = np.where(stocking > 0, p_low, 0.0)
    p_high = np.where(stocking > 0, p_high, 0.0)
    p_risk = grazing_pressure(stocking, cap_risk)
    ratio = y_point / rows["yield_mean_past"].to_numpy(dtype=float)
    action, move = grazing_advice(p_risk, stocking, cap_risk, ratio)
    return SeasonNumbers(
        rows,
        risk,
        y_point,
        y_low,
        y_high,
        capacity,
        cap_low,
        cap_high,
        cap_risk,
        stocking,
        s_low,
        s_high,
        pressure,
        p_low,
        p_high,
        p_risk,
        now["status"].to_numpy(),
        action,
        move,
        ratio,
    )


def season_layer(ctx: ScoringContext, season: str, risk: float | None = None, drought: bool = False) -> SeasonNumbers:
    """Every grid's numbers for one season, from the served model (what the plan and a map layer use)."""
    model = ctx.served(FAMILY)
    prep = ctx.prepared(model)
    pos = np.flatnonzero((prep.frame["season"] == season).to_numpy())
    rows = prep.frame.iloc[pos].reset_index(drop=True)
    rows = apply_scenarios(rows, [Scenario(drought=drought)] * len(rows))
    return season_numbers(model.bundle, rows, prep.x[pos], DEFAULT_DOMAIN.plan_risk if risk is None else risk)
