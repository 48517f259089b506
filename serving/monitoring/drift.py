"""Drift: the current month's inputs and predictions against the training reference the bundle carries.

For each feature (and each task's predictions), the current rows are compared with the reference rows of the
same calendar month (``models.reference``; all rows when that month was never seen):

- **PSI** (population stability index) over the reference's ten decile bins plus a missing bin, or over the
  categories: ``sum((a - e) * ln(a / e))``; < 0.1 stable, 0.1-0.25 watch, > 0.25 drifted (the usual reading,
  the threshold in settings).
- **KS** distance (``scipy.stats.ks_2samp``) and **Wasserstein** distance (``scipy.stats.wasserstein_distance``,
  divided by the reference's interquartile range so features of any unit compare) against the reference's
  21 quantiles, for numeric features.

A feature drifts when its PSI or KS distance passes its bar: the threshold in settings, or, if higher, the
largest PSI / KS a single training month reached against its own period (``null`` in the reference): one
county month is one draw of the county's weather, and a snowy winter the model has seen is no drift. Pure
functions: no store, no model files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from models.reference import ALL, bin_shares, category_shares, period_of, stability_index

WATCH_PSI = 0.1


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.25
    ks: float = 0.3


def bars(profile: Mapping[str, Any], thresholds: DriftThresholds) -> dict[str, float]:
    """The PSI and KS a feature must pass to drift: the settings' thresholds, or the largest its single
    training months reached (``null``), whichever is higher; and the PSI to watch."""
    null = profile.get("null", {})

    def seen(metric: str, key: str) -> float:
        value = null.get(metric, {}).get(key)
        return float(value) if value is not None else 0.0

    return {
        "psi": max(thresholds.psi, seen("psi", "max")),
        "ks": max(thresholds.ks, seen("ks", "max")),
        "watch": max(WATCH_PSI, seen("psi", "q95")),
    }


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Population stability index of two share vectors over the same bins (an empty bin counts as 1e-4)."""
    return stability_index(expected, actual)


def present_shares(shares: list[float]) -> np.ndarray:
    """Bin shares of the values present: the missing share (last) dropped, the rest rescaled to one. A
    history's first months lack their lags; the current month does not, and that is no drift."""
    present = np.asarray(shares[:-1], dtype=float)
    total = present.sum()
    return present / total if total > 0 else present


def _reference_period(profile: Mapping[str, Any], period: str) -> tuple[str, Mapping[str, Any]]:
    by_period = profile["by_period"]
    if period in by_period and by_period[period].get("n", 0) > 0:
        return period, by_period[period]
    return ALL, by_period[ALL]


def numeric_drift(profile: Mapping[str, Any], values: np.ndarray, period: str = ALL) -> dict[str, Any]:
    """PSI, KS and scaled Wasserstein distance of ``values`` against a numeric reference profile."""
    used, ref = _reference_period(profile, period)
    values = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"kind": "numeric", "period": used, "n": len(values)}
    current = bin_shares(values, profile["edges"])
    out["missing"] = float(current[-1]) if len(values) else float("nan")
    usable = len(values) and current[-1] < 1
    out["psi"] = psi(present_shares(ref["shares"]), present_shares(current)) if usable else float("nan")
    quantiles = np.asarray([q for q in ref["quantiles"] if q is not None], dtype=float)
    finite = values[np.isfinite(values)]
    if len(finite) and len(quantiles):
        out["ks"] = float(stats.ks_2samp(finite, quantiles).statistic)
        spread = float(np.subtract(*np.quantile(quantiles, [0.75, 0.25]))) or float(np.ptp(quantiles)) or 1.0
        out["wasserstein"] = float(stats.wasserstein_distance(finite, quantiles)) / spread
    else:
        out["ks"] = out["wasserstein"] = float("nan")
    return out


def categorical_drift(profile: Mapping[str, Any], values: pd.Series, period: str = ALL) -> dict[str, Any]:
    """PSI of the categories' shares against a categorical reference profile."""
    used, ref = _reference_period(profile, period)
    expected: Mapping[str, float] = ref["shares"]
    actual = category_shares(values) if len(values) else {}
    names = sorted(set(expected) | set(actual))
    value = psi([expected.get(n, 0.0) for n in names], [actual.get(n, 0.0) for n in names]) if actual else np.nan
    missing = float(values.isna().mean()) if len(values) else float("nan")
    return {"kind": "categorical", "period": used, "n": len(values), "missing": missing, "psi": float(value)}


def drift_status(row: Mapping[Any, Any]) -> str:
    """``drifted`` when a row's PSI or KS passes its bar (NaN never does), ``watch`` past the watch bar."""
    psi_value, ks_value = row.get("psi", np.nan), row.get("ks", np.nan)
    by_psi = np.isfinite(psi_value) and psi_value > row["psi_bar"]
    by_ks = np.isfinite(ks_value) and ks_value > row["ks_bar"]
    if by_psi or by_ks:
        return "drifted"
    return "watch" if np.isfinite(psi_value) and psi_value > row["watch_bar"] else "stable"


COLUMNS = ["what", "target", "kind", "period", "n", "missing", "psi", "ks", "wasserstein", "psi_bar", "ks_bar"]
COLUMNS += ["watch_bar"]


def _bars(values: Mapping[str, float]) -> dict[str, float]:
    return {"psi_bar": values["psi"], "ks_bar": values["ks"], "watch_bar": values["watch"]}


def drift_table(
    reference: Mapping[str, Any],
    frame: pd.DataFrame,
    predictions: Mapping[str, np.ndarray] | None = None,
    thresholds: DriftThresholds | None = None,
) -> pd.DataFrame:
    """One row per feature and per task's predictions: what, kind, period compared, n, psi, ks, wasserstein,
    status (stable / watch / drifted), sorted with the worst first.

    Args:
        reference: a bundle's ``metadata["reference"]``.
        frame: the current rows (the county's forecast rows of the month).
        predictions: task -> the model's point prediction per row of ``frame``.
        thresholds: PSI and KS thresholds (settings).
    """
    thresholds = thresholds or DriftThresholds()
    period_col = reference.get("period_col")
    period = ALL
    if period_col and period_col in frame.columns and len(frame):
        months = period_of(frame[period_col])
        period = str(int(np.bincount(months).argmax()))  # the current rows share one as-of month
    rows = []
    for name, profile in reference.get("features", {}).items():
        if name not in frame.columns:
            continue
        if profile["kind"] == "categorical":
            row = categorical_drift(profile, frame[name], period)
        else:
            row = numeric_drift(profile, pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float), period)
        rows.append({"what": name, "target": "feature", **row, **_bars(bars(profile, thresholds))})
    for task, values in (predictions or {}).items():
        profile = reference.get("predictions", {}).get(task)
        if profile is not None:
            row = numeric_drift(profile, values, period)
            rows.append({"what": task, "target": "prediction", **row, **_bars(bars(profile, thresholds))})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["status"] = [drift_status(r) for r in table.to_dict("records")]
    return table.sort_values("psi", ascending=False, na_position="last", ignore_index=True)
