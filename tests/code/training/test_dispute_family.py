"""Dispute family's calibration-in-the-large (issue 13: 2024 risk was understated by about 20 %)."""

from __future__ import annotations

import math

import pandas as pd

from training.families.dispute import calibration_in_the_large


def test_understated_risk_reads_as_a_negative_share() -> None:
    assert math.isclose(calibration_in_the_large(pd.Series([0, 1, 0, 0]), pd.Series([0.2] * 4)), -0.2)


def test_rows_without_an_outcome_are_left_out() -> None:
    value = calibration_in_the_large(pd.Series([0, None, 1, 0]), pd.Series([0.25, 0.9, 0.25, 0.25]))
    assert math.isclose(value, -0.25)


def test_no_event_at_all_gives_nan_not_a_division_error() -> None:
    assert math.isnan(calibration_in_the_large(pd.Series([0, 0]), pd.Series([0.1, 0.1])))
