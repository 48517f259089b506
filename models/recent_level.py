"""A probability model's level, recalibrated on the most recent closed months (issue 13, item 6).

A county's base rate moves (disputes rose from 3.8 % of grid-months in 2015 to 9.4 % in 2024 in the sample),
and a model calibrated on its validation year carries that year's level into the next. The recent level is
one log-odds offset ``delta`` added to the calibrated margin so that, over the last ``window`` closed months,
the mean predicted probability equals the observed rate:

    sum_i sigmoid(margin_i + delta) = sum_i y_i        (months t - window .. t - 1)

Only months whose outcomes are known before the forecast month enter, so the offset is what a forecaster
could know at forecast time. On test rows it is rolled month by month (each test month gets the offset of
the ``window`` months before it, earlier test months included, once they have happened); serving recomputes
it on the county's last closed months. ``experiments/dispute.yaml`` says how the window was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

BOUND = 3.0  # |delta| at most: a level 20x off is a broken model or no events, not a drift to follow


@dataclass(frozen=True)
class RecentLevel:
    """The offset a binary task adds to its calibrated log-odds, and the months it was fitted on."""

    window: int  # months
    offset: float
    first: str  # "YYYY-MM": the months the offset was fitted on
    last: str

    def to_json(self) -> dict[str, object]:
        return {"window": self.window, "offset": self.offset, "first": self.first, "last": self.last}

    @classmethod
    def from_json(cls, doc: dict[str, object] | None) -> RecentLevel | None:
        if not doc:
            return None
        window, offset = doc["window"], doc["offset"]
        assert isinstance(window, int | float | str) and isinstance(offset, int | float | str)
        return cls(int(window), float(offset), str(doc["first"]), str(doc["last"]))


def level_offset(margins: np.ndarray, outcomes: np.ndarray) -> float:
    """``delta`` with sum(sigmoid(margins + delta)) = sum(outcomes) over the rows with a known outcome;
    0 without rows, clipped to +-:data:`BOUND` (e.g. months with no event at all)."""
    margins = np.asarray(margins, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    known = np.isfinite(outcomes) & np.isfinite(margins)
    if not known.any():
        return 0.0
    m, events = margins[known], float(outcomes[known].sum())

    def gap(delta: float) -> float:
        return float(expit(m + delta).sum()) - events

    if gap(-BOUND) >= 0:
        return -BOUND
    if gap(BOUND) <= 0:
        return BOUND
    return float(brentq(gap, -BOUND, BOUND, xtol=1e-10))


def rolling_offsets(
    margins: np.ndarray, outcomes: np.ndarray, months: np.ndarray, score_months: np.ndarray, window: int
) -> dict[int, float]:
    """For each month in ``score_months`` (integer month numbers), the offset fitted on the rows of the
    ``window`` months before it (``months`` numbers each row; rows of later months never enter)."""
    months = np.asarray(months)
    out: dict[int, float] = {}
    for month in np.unique(np.asarray(score_months)).tolist():
        rows = (months >= month - window) & (months < month)
        out[int(month)] = level_offset(margins[rows], outcomes[rows])
    return out
