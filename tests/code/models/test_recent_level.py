"""The recent level (models/recent_level.py): one log-odds offset that matches the observed rate of the last
closed months, rolled month by month without ever reading a month that has not happened."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from models.recent_level import BOUND, RecentLevel, level_offset, rolling_offsets


def test_the_offset_puts_the_mean_probability_at_the_observed_rate() -> None:
    rng = np.random.default_rng(3)
    margins = rng.normal(-2.5, 0.8, 2000)
    outcomes = rng.binomial(1, expit(margins + 0.4)).astype(float)  # the county runs above the model
    delta = level_offset(margins, outcomes)
    assert expit(margins + delta).sum() == pytest.approx(outcomes.sum(), rel=1e-8)
    assert 0.2 < delta < 0.6


def test_unknown_outcomes_are_left_out_and_no_rows_mean_no_offset() -> None:
    margins = np.array([-1.0, -1.0, -1.0, 5.0])
    outcomes = np.array([1.0, 0.0, 0.0, np.nan])
    assert expit(margins[:3] + level_offset(margins, outcomes)).sum() == pytest.approx(1.0)
    assert level_offset(np.array([]), np.array([])) == 0.0


def test_months_without_any_event_are_bounded_not_infinite() -> None:
    assert level_offset(np.full(50, -2.0), np.zeros(50)) == -BOUND
    assert level_offset(np.full(50, -2.0), np.ones(50)) == BOUND


def test_a_month_is_recalibrated_on_the_window_before_it_and_never_on_itself_or_later() -> None:
    rng = np.random.default_rng(7)
    months = np.repeat(np.arange(100, 112), 200)
    margins = rng.normal(-2.0, 0.5, months.size)
    outcomes = rng.binomial(1, 0.15, months.size).astype(float)
    before = rolling_offsets(margins, outcomes, months, np.array([108, 109]), window=3)
    window_rows = (months >= 105) & (months < 108)
    assert before[108] == pytest.approx(level_offset(margins[window_rows], outcomes[window_rows]))

    changed = outcomes.copy()
    changed[months >= 108] = 1.0  # month 108 and later: not yet happened when 108 is forecast
    changed[months == 104] = 1.0  # outside the 3-month window
    after = rolling_offsets(margins, changed, months, np.array([108, 109]), window=3)
    assert after[108] == pytest.approx(before[108])
    assert after[109] > before[109]  # month 108 has happened by 109: its events raise the level


def test_a_level_survives_json() -> None:
    level = RecentLevel(3, 0.25, "2024-10", "2024-12")
    assert RecentLevel.from_json(level.to_json()) == level
    assert RecentLevel.from_json(None) is None
