"""The classical market forecast explained from the series' own past: exact on the task's log scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.bundle import TaskModel
from models.linear import LinearBooster
from serving.scoring.market import explain_classical, is_classical


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
