"""Grazing reasons in kg DM/ha, exactly (issue 13): the move from the grid's expected yield to the forecast
shared in proportion to the log-ratio contributions; "usual" compared with the yield an answer shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.schemas import ExplanationOut, ReasonOut
from serving.scoring.grazing.explanations import in_kg, own_past


def kg_case(raw: float, base: float, contributions: list[float]) -> ExplanationOut:
    reasons = [
        ReasonOut(feature=f"f{i}", label="", value=None, display_value="", contribution=c, direction="up", text="")
        for i, c in enumerate(contributions)
    ]
    return ExplanationOut(sentence="", base_value=base, raw_prediction=raw, reasons=reasons)


@pytest.mark.parametrize(
    ("base", "contributions"), [(-0.02, [-0.1, 0.04, 0.05]), (0.03, [0.3, -0.1]), (0.01, [-0.01]), (0.0, [])]
)
def test_in_kg_shares_exactly_the_move_from_the_expected_yield_to_the_forecast(
    base: float, contributions: list[float]
) -> None:
    raw = base + sum(contributions)
    out = in_kg(kg_case(raw, base, contributions), "log_ratio", 420.0)

    assert (out.display_base, out.display_unit) == (420.0, "kg DM/ha")
    assert out.display_prediction is not None and out.display_average is not None
    assert out.display_prediction == pytest.approx(420.0 * np.exp(raw), rel=1e-12)
    shares = [r.display_contribution for r in out.reasons if r.display_contribution is not None]
    assert len(shares) == len(contributions)
    assert out.display_average + sum(shares) == pytest.approx(out.display_prediction - 420.0, abs=1e-9)
    # in proportion to the log ratios (at a log ratio of 0, the limit: the expected yield per unit)
    for share, c in zip(shares, contributions, strict=True):
        assert share == pytest.approx(c * (420.0 if abs(raw) < 1e-12 else 420.0 * np.expm1(raw) / raw), rel=1e-9)
    assert [(r.contribution, r.direction) for r in out.reasons] == [(c, "up") for c in contributions]


def test_in_kg_leaves_a_model_trained_on_kg_itself_unchanged() -> None:
    explanation = kg_case(455.0, 420.0, [20.0, 15.0])
    assert in_kg(explanation, "none", 400.0) == explanation
    assert in_kg(explanation, "log_ratio", float("nan")) == explanation


@pytest.mark.parametrize("transform", ["log_ratio", "none"])
def test_grids_own_past_is_compared_with_the_drought_year_yield_a_what_if_shows(transform: str) -> None:
    """The model's 520 kg DM/ha is above the grid's past mean of 500; in a drought year (x 0.85) the answer
    shows 442, below it: "usual" is compared with the shown yield, so the sentence says lower."""
    rows = pd.DataFrame({"yield_mean_past": [500.0, 500.0], "season": ["warm", "warm"]})
    expected = np.array([480.0, 480.0])
    raw = np.log(520.0 / 480.0) if transform == "log_ratio" else 520.0

    (normal, name), (drought, _) = own_past(rows, transform, expected, np.array([1.0, 0.85]), "en")

    assert raw >= normal and raw < drought
    assert name == "this grid's past warm-season mean (500 kg DM/ha)"
