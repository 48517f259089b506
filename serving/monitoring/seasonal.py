"""The test year month by month: what a version's live month is held to when its metric is seasonal.

A test value is the mean over a whole test year, yet a month's live metric is one calendar month. For the
market the months differ by far more than a month's bootstrap interval: the version trained on the replay's
county scored 0.10-0.27 scaled pinball month by month in its own test year (0.16 over the year), the autumn
destocking months the hardest (Sep 0.20, Oct 0.20, Dec 0.26), and a calm county's live autumn then looks
'worse than test' every year. So a family whose policy says ``reference: seasonal`` holds each live month to
the same calendar month of the version's test year, with its interval: the version's test rows (the 12
target months up to the month of its data, as the usual split held them out) are rebuilt from the served
county, predicted by the version and scored as the live months are (:func:`forecast_rows` and
:func:`group_metrics`: same horizons, same scales, same bootstrap). The rows' inputs only use data before
their target month, so a county that has moved on rebuilds the same test rows.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd

from features import build_features
from serving.monitoring.forecasts import forecast_rows
from serving.monitoring.live import direction_of, group_metrics

TEST_MONTHS = 12


def test_year_by_month(
    family: str, version: str, bundle: Any, tables: Any, data_cutoff: Any, resamples: int, catalog: Any = None
) -> dict[tuple[int, str], tuple[float, float, float]]:
    """(calendar month, metric) -> (value, low, high) of the version's test year, scored like live months.

    ``catalog``: the one the county's tables were read with (its added fields are the version's inputs too).
    Empty when the family has no time column, or no row falls in the test year."""
    fs = build_features(family, tables, catalog=catalog)
    if fs.time_col is None or fs.as_of_col is None or data_cutoff is None:
        return {}
    period = pd.to_datetime(fs.frame[fs.time_col]).dt.to_period("M")
    last = pd.Timestamp(data_cutoff).to_period("M")
    keep = ((period > last - TEST_MONTHS) & (period <= last)).to_numpy()
    frame = fs.frame[keep].reset_index(drop=True)
    if frame.empty:
        return {}
    test = dataclasses.replace(fs, frame=frame)
    rows = forecast_rows(family, version, test, bundle.encoder.encode(frame), bundle, tables)
    rows["outcome"] = [
        json.dumps({t: (float(v) if np.isfinite(v) else None) for t, v in zip(fs.targets, values, strict=True)})
        for values in frame[fs.targets].to_numpy(dtype=float)
    ]
    out: dict[tuple[int, str], tuple[float, float, float]] = {}
    for month, group in rows.groupby(pd.to_datetime(rows["target_period"]).dt.month):
        for m in group_metrics(group, resamples):
            out[(int(month), m["metric"])] = (float(m["value"]), float(m["low"]), float(m["high"]))
    return out


def worse_than_its_month(
    metric: str, low: float, high: float, band: tuple[float, float, float] | None, tolerance: float = 0.0
) -> bool:
    """Whether a live month's whole interval is worse than the whole interval of the same calendar month in
    the test year (by more than ``tolerance``, relative). No band, no direction or a missing value: never."""
    direction = direction_of(metric)
    if band is None or direction is None or not (np.isfinite(low) and np.isfinite(high)):
        return False
    _, band_low, band_high = band
    if direction == "minimize":
        return bool(np.isfinite(band_high) and low > band_high * (1 + tolerance))
    return bool(np.isfinite(band_low) and high < band_low * (1 - tolerance))
