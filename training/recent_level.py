"""Training's side of the recent level (issue 13 item 6; models/recent_level.py says what it is).

A binary task trained with ``recent_level_months`` keeps the offset of its data's latest months
(:func:`keep_recent_level`); its test rows, and a champion re-scored on them, are predicted month by month at
the level of the months before each (:func:`predict_at_recent_level`), from the labelled rows just before the
test year (:func:`history_before`) and the test months already past: what a forecaster had at the time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import FeatureSet
from features.common import month_number
from models.bundle import ModelBundle
from models.recent_level import RecentLevel, level_offset, rolling_offsets
from training.families import TaskPlan
from training.splits import Split

HISTORY_MONTHS = 12  # the longest recent-level window a champion may have been trained with


def history_before(fs: FeatureSet, split: Split, months: int) -> pd.DataFrame | None:
    """The labelled rows of the ``months`` months before the first test month (validation or training
    rows: what had happened when the test year began); None for a family not split by time."""
    if fs.time_col is None or len(split.test) == 0:
        return None
    when = month_number(fs.frame[fs.time_col])
    start = int(when[split.test].min())
    rows = np.flatnonzero((when >= start - months) & (when < start))
    rows = np.setdiff1d(rows, split.test)
    return fs.frame.iloc[rows].reset_index(drop=True)


def keep_recent_level(bundle: ModelBundle, fs: FeatureSet, tasks: list[TaskPlan], window: int) -> None:
    """Give each binary task the offset of the ``window`` latest months with outcomes (what serving starts
    from: the month after the data is forecast at that level)."""
    assert fs.time_col is not None, f"{fs.family}: a recent level needs a time column"
    when = month_number(fs.frame[fs.time_col])
    for plan in tasks:
        model = bundle.tasks[plan.name]
        if model.kind != "binary":
            continue
        y = pd.to_numeric(fs.frame[plan.target], errors="coerce").to_numpy(dtype=float)
        latest = int(when[np.isfinite(y)].max())
        rows = np.flatnonzero((when > latest - window) & (when <= latest) & np.isfinite(y))
        margins = model.calibrated_margin(bundle.encoder.encode(fs.frame.iloc[rows]))
        months = pd.to_datetime(fs.frame[fs.time_col].iloc[rows])
        model.level = RecentLevel(
            window, level_offset(margins, y[rows]), f"{months.min():%Y-%m}", f"{months.max():%Y-%m}"
        )


def predict_at_recent_level(
    bundle: ModelBundle,
    tasks: list[TaskPlan],
    history: pd.DataFrame | None,
    test: pd.DataFrame,
    time_col: str | None,
) -> pd.DataFrame:
    """The bundle's predictions for ``test``; a binary task that keeps a recent level gets, in each test
    month, the offset fitted on the months before it (``history``, then the test months already past), as a
    forecaster would have had it then. Without a level, plain predictions."""
    x_test = bundle.encoder.encode(test)
    preds = bundle.predict_matrix(x_test)
    rolled = [p for p in tasks if p.name in bundle.tasks and bundle.tasks[p.name].level is not None]
    if not rolled or time_col is None:
        return preds
    frame = test if history is None else pd.concat([history, test], ignore_index=True)
    x = bundle.encoder.encode(frame)
    when = month_number(frame[time_col])
    test_when = when[len(frame) - len(test) :]
    for plan in rolled:
        model = bundle.tasks[plan.name]
        assert model.level is not None
        margins = model.calibrated_margin(x)
        y = pd.to_numeric(frame[plan.target], errors="coerce").to_numpy(dtype=float)
        offsets = rolling_offsets(margins, y, when, test_when, model.level.window)
        shift = np.array([offsets[int(m)] for m in test_when])
        preds[f"p_{plan.name}"] = 1.0 / (1.0 + np.exp(-(margins[len(frame) - len(test) :] + shift)))
    return preds
