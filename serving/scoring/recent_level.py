"""The served probabilities at the county's recent level, refitted as months close (issue 13, item 6).

A binary task trained with ``recent_level_months`` carries the log-odds offset of its data's latest months
(:class:`models.recent_level.RecentLevel`). Once the county closes months after those, the offset is
refitted on the county's own latest ``window`` closed months with their outcomes, so the next month is
forecast at the level the county is at now, not at the level of the months the model was trained on. Done
once per (model version, county version), when a family's forecast rows are prepared.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from features import build_features
from features.common import month_number
from models.bundle import ModelBundle, TaskModel
from models.recent_level import RecentLevel, level_offset
from serving.county import CountyState


def stale_levels(bundle: ModelBundle, last_month: pd.Timestamp) -> dict[str, TaskModel]:
    """The binary tasks whose recent level was fitted on months before the county's last closed month."""
    last = pd.Timestamp(last_month).to_period("M")
    return {
        name: task
        for name, task in bundle.tasks.items()
        if task.kind == "binary" and task.level is not None and pd.Period(task.level.last, "M") < last
    }


def refitted_level(task: TaskModel, bundle: ModelBundle, rows: pd.DataFrame, time_col: str) -> RecentLevel | None:
    """``task``'s level refitted on the latest ``window`` months of ``rows`` with a known outcome (None
    when the rows have no outcome column or no known outcome)."""
    assert task.level is not None
    if task.name not in rows.columns:
        return None
    y = pd.to_numeric(rows[task.name], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(y)
    if not known.any():
        return None
    when = month_number(rows[time_col])
    latest = int(when[known].max())
    chosen = np.flatnonzero(known & (when > latest - task.level.window) & (when <= latest))
    margins = task.calibrated_margin(bundle.encoder.encode(rows.iloc[chosen]))
    months = pd.to_datetime(rows[time_col].iloc[chosen])
    return RecentLevel(
        task.level.window, level_offset(margins, y[chosen]), f"{months.min():%Y-%m}", f"{months.max():%Y-%m}"
    )


def at_county_level(bundle: ModelBundle, county: CountyState) -> ModelBundle:
    """``bundle`` itself when its levels are current; else a copy whose stale levels are refitted on the
    county's latest closed months (the booster and calibration are shared, not copied)."""
    stale = stale_levels(bundle, county.last_month)
    if not stale:
        return bundle
    fs = build_features(bundle.family, county.tables)  # every labelled month; the latest ones are used
    if fs.time_col is None:
        return bundle
    tasks = dict(bundle.tasks)
    for name, task in stale.items():
        level = refitted_level(task, bundle, fs.frame, fs.time_col)
        if level is not None:
            tasks[name] = replace(task, level=level)
    return replace(bundle, tasks=tasks)
