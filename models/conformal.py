"""Intervals at their nominal coverage per group: locally weighted split-conformal quantiles.

A quantile model's own 10 % / 90 % forecasts need not cover 80 % of outcomes, and the miss differs by
group (the grazing warm season's interval covered 0.73, the others more). Here each validation row gets a
score ``(y - point) / w``, where ``w`` is half the width of the model's 80 % quantile interval (the model's
own sense of how uncertain the row is), and each group keeps the empirical quantiles of its scores at
:data:`LEVELS`. The forecast at level ``a`` is then ``point + w x score_a(group)``: on exchangeable rows it
falls below the outcome a fraction ``a`` of the time in every group, for any ``a`` (interpolated between
levels), so one table serves the 80 % interval and a planner's 20 % risk level alike.

Why by hand rather than MAPIE: MAPIE's conformalised quantile regression refits (or wraps) scikit-learn
estimators for one fixed confidence level at a time and calibrates one group; the boosters here are plain
LightGBM ``Booster`` objects already fitted with early stopping, serving needs any level from one table kept
in the model bundle as plain JSON, and the calibration is per group (Mondrian). The arithmetic is a few
quantiles; this module is it, tested.

Imported by training (to fit the table on the validation slice) and by serving (to apply it), so both
compute the same intervals.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

LEVELS: tuple[float, ...] = (
    0.02,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.75,
    0.8,
    0.85,
    0.9,
    0.95,
    0.98,
)
THRESHOLD_KEY = "conformal"  # a bundle's thresholds[THRESHOLD_KEY][task] holds the task's table
MIN_ROWS = 30  # a group with fewer validation rows takes the pooled scores
POOLED = "all"
FloatArray = npt.NDArray[np.float64]


def half_width(low: npt.ArrayLike, high: npt.ArrayLike, floor: float) -> FloatArray:
    """Half the width of the model's interval, at least ``floor`` (a zero width would make scores infinite)."""
    return np.maximum((np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / 2, floor)


def fit_conformal(
    y: npt.ArrayLike,
    point: npt.ArrayLike,
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    floor: float = 1.0,
) -> dict[str, Any]:
    """The score table (plain JSON) from validation rows: per group, the score at each of :data:`LEVELS`.

    Args:
        y: outcomes; rows with a missing outcome or forecast are ignored.
        point, low, high: the model's point forecast and its 80 % quantile interval.
        groups: each row's group (e.g. the season).
        floor: smallest half-width, in the target's unit.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(point, dtype=float)
    w = half_width(low, high, floor)
    g = np.asarray(groups)
    ok = np.isfinite(y) & np.isfinite(p) & np.isfinite(w)
    score = (y - p) / w
    if not ok.any():
        raise ValueError("no validation row with an outcome to calibrate intervals on")
    table: dict[str, list[float]] = {POOLED: _quantiles(score[ok])}
    for group in sorted({str(v) for v in g[ok]}):
        rows = ok & (g.astype(str) == group)
        table[group] = _quantiles(score[rows]) if rows.sum() >= MIN_ROWS else table[POOLED]
    return {"levels": list(LEVELS), "scores": table, "min_width": float(floor)}


def fit_conformal_with_year_shocks(
    y: npt.ArrayLike,
    point: npt.ArrayLike,
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    groups: npt.ArrayLike,
    shocks: Mapping[str, npt.ArrayLike],
    *,
    floor: float = 1.0,
) -> dict[str, Any]:
    """:func:`fit_conformal` when outcomes share a shock per year (the season's weather hits every grid).

    One validation year holds one draw of that shock, so its scores alone calibrate the next year only if
    the weather repeats. Here each group's scores are centred on their median (the validation year's own
    shock taken out) and combined with every past year's shock of the group (``shocks``: log of the
    group's typical outcome over its usual level, one per year, from the training years' data), expressed
    in score units at the group's typical ``point / half-width``. Groups without shocks keep their scores.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(point, dtype=float)
    w = half_width(low, high, floor)
    g = np.asarray(groups).astype(str)
    ok = np.isfinite(y) & np.isfinite(p) & np.isfinite(w)
    if not ok.any():
        raise ValueError("no validation row with an outcome to calibrate intervals on")
    score = (y - p) / w
    combined: dict[str, FloatArray] = {}
    for group in sorted(set(g[ok])):
        rows = ok & (g == group)
        own = score[rows] - np.median(score[rows])
        past = np.asarray(shocks.get(group, []), dtype=float)
        past = past[np.isfinite(past)]
        if past.size < 2:
            combined[group] = score[rows]
            continue
        scale = float(np.median(p[rows] / w[rows]))
        combined[group] = (own[:, None] + (np.exp(past - past.mean())[None, :] - 1) * scale).ravel()
    pooled = np.concatenate(list(combined.values()))
    table: dict[str, list[float]] = {POOLED: _quantiles(pooled)}
    for group, values in combined.items():
        table[group] = _quantiles(values) if (ok & (g == group)).sum() >= MIN_ROWS else table[POOLED]
    return {"levels": list(LEVELS), "scores": table, "min_width": float(floor)}


def _quantiles(scores: FloatArray) -> list[float]:
    return [float(v) for v in np.quantile(scores, LEVELS)]


def conformal_quantile(
    table: dict[str, Any],
    point: npt.ArrayLike,
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    groups: npt.ArrayLike,
    level: float,
) -> FloatArray:
    """The forecast at quantile ``level`` per row (a group not in the table takes the pooled scores)."""
    levels = table["levels"]
    scores: dict[Hashable, list[float]] = table["scores"]
    g = np.asarray(groups).astype(str)
    at = {k: float(np.interp(level, levels, v)) for k, v in scores.items()}
    factor = np.array([at.get(k, at[POOLED]) for k in g], dtype=float)
    return np.asarray(point, dtype=float) + half_width(low, high, table["min_width"]) * factor


def interval_coverage(
    y: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike, groups: npt.ArrayLike
) -> dict[str, float]:
    """Share of outcomes inside [low, high], per group and over all rows (rows without an outcome left out)."""
    y, lo, hi = (np.asarray(a, dtype=float) for a in (y, low, high))
    g = np.asarray(groups).astype(str)
    ok = np.isfinite(y)
    inside = (y >= lo) & (y <= hi)
    out = {POOLED: float(inside[ok].mean()) if ok.any() else float("nan")}
    for group in sorted(set(g[ok])):
        rows = ok & (g == group)
        out[group] = float(inside[rows].mean())
    return out
