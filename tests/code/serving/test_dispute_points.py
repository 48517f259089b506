"""Dispute reasons in percentage points of probability, not log-odds (issue 13)."""

from __future__ import annotations

import math

import pytest

from serving.schemas import ExplanationOut, ReasonOut
from serving.scoring.common import in_percentage_points, percentage_points
from serving.scoring.dispute import with_percentage_points


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_points_add_up_to_the_move_from_the_average_risk() -> None:
    base, contributions, calibration = -2.5, [0.8, -0.3, 0.5], (0.9, 0.1)
    raw = base + sum(contributions)
    points = percentage_points(contributions, raw, base, calibration)
    moved = 100 * (sigmoid(0.9 * raw + 0.1) - sigmoid(0.9 * base + 0.1))
    assert sum(points) == pytest.approx(moved)
    assert points[0] > points[2] > 0 > points[1]


def test_no_move_uses_the_slope_at_the_prediction() -> None:
    points = percentage_points([0.2, -0.2], -1.0, -1.0, None)
    p = sigmoid(-1.0)
    assert points == pytest.approx([100 * 0.2 * p * (1 - p), -100 * 0.2 * p * (1 - p)])


@pytest.mark.parametrize(("lang", "suffix"), [("en", " pp)"), ("zh", "个百分点）")])
def test_each_reason_says_its_points(lang: str, suffix: str) -> None:
    reason = ReasonOut(
        feature="disputes_sum12",
        label="x",
        value=3.0,
        display_value="3",
        contribution=0.7,
        direction="up",
        text="3 disputes in the last year",
    )
    explanation = ExplanationOut(sentence="s", base_value=-2.5, raw_prediction=-1.8, reasons=[reason])
    out = with_percentage_points(explanation, (1.0, 0.0), lang)  # type: ignore[arg-type]
    assert out.reasons[0].text.startswith("3 disputes in the last year") and suffix in out.reasons[0].text
    assert out.reasons[0].contribution == 0.7  # the raw contribution stays: base + contributions = raw score


def test_display_fields_run_from_the_average_risk_to_this_risk_in_points() -> None:
    """What the page draws (dispute panel, health view): the average risk, each shown reason's points, this
    risk; the shown reasons and the rest (the other inputs) add up to the move."""
    reasons = [
        ReasonOut(feature=f"f{i}", label="x", value=1.0, display_value="1", contribution=c, direction="up", text="t")
        for i, c in enumerate((0.6, -0.2))
    ]
    explanation = ExplanationOut(sentence="s", base_value=-2.5, raw_prediction=-1.8, reasons=reasons)
    out = in_percentage_points(explanation, (0.9, 0.1))
    assert out.display_unit == "pp"
    assert out.display_base == pytest.approx(100 * sigmoid(0.9 * -2.5 + 0.1))
    assert out.display_prediction == pytest.approx(100 * sigmoid(0.9 * -1.8 + 0.1))
    shown = [r.display_contribution for r in out.reasons]
    assert shown == pytest.approx(percentage_points([0.6, -0.2], -1.8, -2.5, (0.9, 0.1)))
    rest = percentage_points([0.7 - 0.6 + 0.2], -1.8, -2.5, (0.9, 0.1))[0]  # the inputs not shown
    assert out.display_base + sum(shown) + rest == pytest.approx(out.display_prediction)
