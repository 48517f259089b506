"""The classical market forecast explained from the series' own past: exact on the task's log scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.bundle import TaskModel
from models.linear import LinearBooster
from serving.scoring.market import explain_classical, explain_classical_row, is_classical


def test_a_forecast_below_last_years_month_is_explained_from_it_exactly() -> None:
    row = pd.Series({"seasonal_naive_head_sold": 95.0, "head_sold_at_origin": 40.0, "classical_head_sold": 56.0})

    expl = explain_classical("head_sold", row, 56.0, "Expected yak sales: 56 head", "en")

    assert expl.base_value == pytest.approx(math.log1p(95.0))
    assert expl.raw_prediction == pytest.approx(math.log1p(56.0))
    [reason] = expl.reasons
    assert reason.feature == "classical_head_sold" and reason.direction == "down"
    assert expl.base_value + reason.contribution == pytest.approx(expl.raw_prediction, abs=1e-12)
    assert "below the same month a year earlier (95 head)" in expl.sentence


def test_without_last_years_month_the_value_at_origin_is_the_base() -> None:
    row = pd.Series({"seasonal_naive_price": np.nan, "price_at_origin": 4000.0, "classical_price": 4400.0})

    expl = explain_classical("price", row, 4400.0, "预计价格为4,400元/头", "zh")

    assert expl.base_value == pytest.approx(math.log(4000.0))
    assert expl.reasons[0].direction == "up"
    assert "高于上月" in expl.sentence and expl.sentence.endswith("。")


def test_a_series_with_no_past_value_gets_the_headline_and_no_reason() -> None:
    row = pd.Series({"seasonal_naive_price": np.nan, "price_at_origin": np.nan, "classical_price": 4400.0})

    expl = explain_classical("price", row, 4400.0, "Expected price: 4,400", "en")

    assert expl.reasons == [] and expl.sentence == "Expected price: 4,400."


def test_only_the_classical_candidate_takes_this_path() -> None:
    classical = TaskModel("price", "quantile", LinearBooster(3, kind="classical"))  # type: ignore[arg-type]
    glm = TaskModel("price", "quantile", LinearBooster(3, kind="glm"))  # type: ignore[arg-type]

    assert is_classical(classical) and not is_classical(glm)


def test_with_its_terms_known_the_forecast_is_split_into_level_trend_and_season_exactly() -> None:
    level, trend, season = math.log(4000.0), 0.02, -0.05
    median = math.exp(level + trend + season)
    row = pd.Series(
        {
            "classical_price": median,
            "classical_price_level": level,
            "classical_price_trend": trend,
            "classical_price_season": season,
            "seasonal_naive_price": 3900.0,
        }
    )

    expl = explain_classical_row("price", row, median, "Expected yak price in May 2025: 3,881", "en")

    assert expl.base_value == pytest.approx(level)
    assert [r.feature for r in expl.reasons] == ["classical_price_trend", "classical_price_season"]
    assert [r.direction for r in expl.reasons] == ["up", "down"]
    assert expl.base_value + sum(r.contribution for r in expl.reasons) == pytest.approx(math.log(median), abs=1e-12)
    assert "recent level is 4,000" in expl.sentence and "trend +2%" in expl.sentence and "month -5%" in expl.sentence
    assert "across the county's townships" in expl.sentence  # price is forecast from the species' townships


def test_terms_that_do_not_add_up_to_the_median_fall_back_to_last_years_month() -> None:
    row = pd.Series(
        {
            "classical_price": 4400.0,
            "classical_price_level": 8.0,
            "classical_price_trend": 0.0,
            "classical_price_season": 0.0,
            "seasonal_naive_price": 3900.0,
        }
    )

    expl = explain_classical_row("price", row, 4400.0, "Expected price: 4,400", "en")

    assert expl.base_value == pytest.approx(math.log(3900.0))
    assert [r.feature for r in expl.reasons] == ["classical_price"]
