"""Dispute family's calibration-in-the-large (issue 13: 2024 risk was understated by about 20 %)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from training.artifacts import model_card
from training.families.dispute import calibration_in_the_large, citl_by_year


def test_understated_risk_reads_as_a_negative_share() -> None:
    assert math.isclose(calibration_in_the_large(pd.Series([0, 1, 0, 0]), pd.Series([0.2] * 4)), -0.2)


def test_rows_without_an_outcome_are_left_out() -> None:
    value = calibration_in_the_large(pd.Series([0, None, 1, 0]), pd.Series([0.25, 0.9, 0.25, 0.25]))
    assert math.isclose(value, -0.25)


def test_no_event_at_all_gives_nan_not_a_division_error() -> None:
    assert math.isnan(calibration_in_the_large(pd.Series([0, 0]), pd.Series([0.1, 0.1])))


def test_citl_is_reported_for_each_calendar_year() -> None:
    months = pd.Series(pd.to_datetime(["2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01"]))
    by_year = citl_by_year(months, pd.Series([0, 1, 1, 1]), pd.Series([0.5, 0.5, 0.8, 0.8]))
    assert set(by_year) == {"citl_2023", "citl_2024"}
    assert math.isclose(by_year["citl_2023"], 0.0) and math.isclose(by_year["citl_2024"], -0.2)


def test_trained_dispute_run_reports_citl_per_test_year(trained_results: dict[str, Any]) -> None:
    result = trained_results["dispute"]
    years = sorted(set(pd.to_datetime(result.test_frame["month"]).dt.year))
    for year in years:
        assert math.isfinite(result.metrics[f"citl_{year}"])
    card = model_card(result, run_id="r", fingerprint="f" * 16, rows={}, gate_note="-")
    assert f"| citl_{years[-1]} |" in card


def test_the_model_card_says_the_recent_level_and_the_months_it_was_fitted_on(trained_results: dict[str, Any]) -> None:
    result = trained_results["dispute"]
    level = result.bundle.tasks["any_dispute"].level
    assert level is not None
    card = model_card(result, run_id="r", fingerprint="f" * 16, rows={}, gate_note="-")
    assert f"fitted on {level.first}..{level.last}" in card
    assert "**Recent level.**" not in model_card(
        trained_results["grazing"], run_id="r", fingerprint="f" * 16, rows={}, gate_note="-"
    )
