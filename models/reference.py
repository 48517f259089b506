"""The training reference a bundle carries: a compact profile of each feature and prediction, for drift.

Written at training time from the training rows (``profile_rows``) and kept in the bundle's metadata
(``metadata["reference"]``), so serving compares the current month's inputs with what the model learnt from,
without the training data. Per feature: for numeric ones, ten bins with edges at the training deciles (each
month's share of rows per bin, and of missing values) and 21 quantiles (for KS and Wasserstein distances);
for categorical ones, the share of each category. Shares are kept per calendar month of the rows' as-of
month as well as for all rows: a winter month's snow days are compared with winters, not with the year.

Plain JSON (lists and dicts of floats), a few hundred kilobytes at most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

REFERENCE_FORMAT = 1
BINS = 10
QUANTILE_LEVELS = tuple(np.round(np.linspace(0, 1, 21), 2).tolist())
MAX_ROWS = 60_000  # a seeded sample of larger training sets: shares and quantiles barely move
ALL = "all"


def _round(values: Sequence[float] | np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(f"{v:.6g}") for v in np.asarray(values, dtype=float)]


def bin_edges(values: np.ndarray, bins: int = BINS) -> list[float]:
    """Inner edges at the quantiles of ``values`` (duplicates dropped: a feature with few values has fewer)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return []
    inner = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(e) for e in np.unique(inner)]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Share of values in each bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``, then the share missing."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return [0.0] * (len(edges) + 2)
    finite = np.isfinite(values)
    index = np.searchsorted(np.asarray(edges, dtype=float), values[finite], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return [*(counts / len(values)).tolist(), float((~finite).mean())]


def category_shares(values: pd.Series) -> dict[str, float]:
    """Share of each category (missing values under ``""``)."""
    text = values.astype("string").fillna("")
    return {str(k): float(v) for k, v in text.value_counts(normalize=True).items()}


def _non_missing_shares(shares: Sequence[float]) -> np.ndarray:
    """Bin shares of the values present (the last entry, the missing share, dropped and the rest rescaled)."""
    present = np.asarray(shares[:-1], dtype=float)
    total = present.sum()
    return present / total if total > 0 else present


def stability_index(expected: npt.ArrayLike, actual: npt.ArrayLike, floor: float = 1e-4) -> float:
    """Population stability index ``sum((a - e) * ln(a / e))`` of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), floor, None)
    a = np.clip(np.asarray(actual, dtype=float), floor, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(sample: np.ndarray, reference: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov distance, as ``scipy.stats.ks_2samp(...).statistic`` computes it
    (the largest gap between the two empirical distribution functions), without its p-value and input checks:
    training measures it for every feature and month (~20 s a run through scipy)."""
    a, b = np.sort(np.asarray(sample, dtype=float)), np.sort(np.asarray(reference, dtype=float))
    pooled = np.concatenate([a, b])
    gap = np.searchsorted(a, pooled, side="right") / len(a) - np.searchsorted(b, pooled, side="right") / len(b)
    return float(max(gap.max(), -gap.min()))


def _summary(values: list[float]) -> dict[str, float | None]:
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if not len(finite):
        return {"months": 0, "q95": None, "max": None}
    return {
        "months": len(finite),
        **dict(zip(("q95", "max"), _round([np.quantile(finite, 0.95), finite.max()]), strict=True)),
    }


def numeric_profile(values: np.ndarray, periods: np.ndarray | None, months: np.ndarray | None = None) -> dict[str, Any]:
    """Edges from every row; shares, quantiles and counts for all rows and per period; and how far single
    months of the rows already stray from their period (``null``: the month-to-month variation to expect)."""
    values = np.asarray(values, dtype=float)
    edges = bin_edges(values)
    groups: dict[str, np.ndarray] = {ALL: np.ones(len(values), dtype=bool)}
    if periods is not None:
        groups |= {str(p): periods == p for p in np.unique(periods)}
    by_period: dict[str, dict[str, Any]] = {}
    for name, mask in groups.items():
        part = values[mask]
        finite = part[np.isfinite(part)]
        by_period[name] = {
            "n": len(part),
            "shares": _round(bin_shares(part, edges)),
            "quantiles": _round(np.quantile(finite, QUANTILE_LEVELS)) if len(finite) else [],
        }
    psis: list[float] = []
    kss: list[float] = []
    if periods is not None and months is not None:
        for month in np.unique(months):
            mask = months == month
            ref = by_period[str(periods[mask][0])]
            part = values[mask]
            finite = part[np.isfinite(part)]
            if not len(finite) or not ref["quantiles"]:
                continue
            psis.append(
                stability_index(_non_missing_shares(ref["shares"]), _non_missing_shares(bin_shares(part, edges)))
            )
            kss.append(ks_statistic(finite, np.asarray(ref["quantiles"], dtype=float)))
    null = {"psi": _summary(psis), "ks": _summary(kss)}
    return {"kind": "numeric", "edges": _round(edges), "by_period": by_period, "null": null}


def categorical_profile(
    values: pd.Series, periods: np.ndarray | None, months: np.ndarray | None = None
) -> dict[str, Any]:
    groups: dict[str, np.ndarray] = {ALL: np.ones(len(values), dtype=bool)}
    if periods is not None:
        groups |= {str(p): periods == p for p in np.unique(periods)}
    by_period: dict[str, dict[str, Any]] = {
        name: {"n": int(mask.sum()), "shares": category_shares(values[mask])} for name, mask in groups.items()
    }
    psis: list[float] = []
    if periods is not None and months is not None:
        for month in np.unique(months):
            mask = months == month
            expected = by_period[str(periods[mask][0])]["shares"]
            actual = category_shares(values[mask])
            names = sorted(set(expected) | set(actual))
            psis.append(stability_index([expected.get(n, 0.0) for n in names], [actual.get(n, 0.0) for n in names]))
    return {"kind": "categorical", "by_period": by_period, "null": {"psi": _summary(psis)}}


def period_of(months: pd.Series | np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of each as-of month: the period a reference is kept for."""
    return pd.to_datetime(pd.Series(months)).dt.month.to_numpy()


def profile_rows(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Mapping[str, Any],
    predictions: Mapping[str, np.ndarray] | None = None,
    *,
    period_col: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The reference profile of some rows (training rows) and of the model's predictions on them.

    Args:
        frame: the rows, with every feature (and ``period_col``).
        features: the model's features, in order.
        categorical: names of the categorical features (any mapping or set keyed by name).
        predictions: task -> point prediction per row of ``frame`` (optional).
        period_col: the as-of month column; None keeps one profile for all rows (disease).
        seed: for the sample of frames over :data:`MAX_ROWS` rows.
    """
    chosen = np.arange(len(frame))
    if len(frame) > MAX_ROWS:
        chosen = np.sort(np.random.default_rng(seed).choice(len(frame), MAX_ROWS, replace=False))
    rows = frame.iloc[chosen].reset_index(drop=True)
    periods = period_of(rows[period_col]) if period_col else None
    months = pd.to_datetime(rows[period_col]).to_numpy() if period_col else None
    profile: dict[str, Any] = {
        "format": REFERENCE_FORMAT,
        "period_col": period_col,
        "rows": len(frame),
        "features": {},
        "predictions": {},
    }
    for name in features:
        if name in categorical:
            profile["features"][name] = categorical_profile(rows[name], periods, months)
        else:
            values = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
            profile["features"][name] = numeric_profile(values, periods, months)
    for task, values in (predictions or {}).items():
        profile["predictions"][task] = numeric_profile(np.asarray(values, dtype=float)[chosen], periods, months)
    return profile


def bundle_reference(bundle: Any, frame: pd.DataFrame, *, period_col: str | None, seed: int = 0) -> dict[str, Any]:
    """The reference profile of a trained bundle's training rows and its point predictions on them.

    Args:
        bundle: a :class:`models.bundle.ModelBundle`.
        frame: the training rows (every feature, and ``period_col``).
        period_col: the as-of month column, or None.
        seed: for the sample of large frames.
    """
    if len(frame) > MAX_ROWS:
        chosen = np.sort(np.random.default_rng(seed).choice(len(frame), MAX_ROWS, replace=False))
        frame = frame.iloc[chosen]
    frame = frame.reset_index(drop=True)
    x = bundle.encoder.encode(frame)
    predictions = {name: task.point(x) for name, task in bundle.tasks.items()}
    return profile_rows(
        frame, bundle.features, bundle.encoder.vocabularies, predictions, period_col=period_col, seed=seed
    )
