"""The service's checks of a served model's added measurements: the catalog's rules per type, by name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from muzhang.catalog import FieldSpec
from serving.schemas import ExplanationOut, ReasonOut
from serving.scoring import measurements

SPECS = {
    "glucose_mmol_l": FieldSpec.model_validate(
        {
            "name": "glucose_mmol_l",
            "zh": "血糖",
            "description": "g",
            "unit": "mmol/L",
            "type": "float",
            "min": 0.5,
            "max": 60.0,
            "plausible_max": 25.0,
            "nullable": True,
            "tables": ["patients"],
            "display": "Glucose",
            "display_zh": "血糖",
        }
    ),
    "visits": FieldSpec.model_validate(
        {
            "name": "visits",
            "zh": "v",
            "description": "v",
            "type": "integer",
            "min": 0.0,
            "nullable": True,
            "tables": ["patients"],
            "display": "Visits",
            "display_zh": "就诊",
        }
    ),
    "diet": FieldSpec.model_validate(
        {
            "name": "diet",
            "zh": "d",
            "description": "d",
            "type": "category",
            "categories": ["pastoral", "mixed"],
            "nullable": True,
            "tables": ["patients"],
            "display": "Diet",
            "display_zh": "饮食",
        }
    ),
    "yak_dung_fire": FieldSpec.model_validate(
        {
            "name": "yak_dung_fire",
            "zh": "y",
            "description": "y",
            "type": "boolean",
            "nullable": True,
            "tables": ["patients"],
            "display": "Yak-dung fire",
            "display_zh": "牛粪火",
        }
    ),
}


@pytest.mark.parametrize(
    ("given", "text", "values", "problems"),
    [
        (
            {"glucose_mmol_l": 31.0, "visits": 3.0, "diet": "mixed", "yak_dung_fire": True},
            False,
            {"glucose_mmol_l": 31.0, "visits": 3, "diet": "mixed", "yak_dung_fire": True},
            [],
        ),
        ({"glucose_mmol_l": 60.5}, False, {}, [("glucose_mmol_l", 60.5, "must be <= 60 mmol/L (hard limit)")]),
        ({"visits": 2.5}, False, {}, [("visits", 2.5, "must be an integer")]),
        ({"visits": -1}, False, {}, [("visits", -1, "must be >= 0 (hard limit)")]),
        ({"diet": "vegan"}, False, {}, [("diet", "vegan", "must be one of pastoral, mixed")]),
        ({"diet": 1}, False, {}, [("diet", 1, "must be a string")]),
        ({"yak_dung_fire": 1}, False, {}, [("yak_dung_fire", 1, "must be true or false")]),
        ({"glucose_mmol_l": None}, False, {"glucose_mmol_l": None}, []),
        (
            {"hba1c": 6.0},
            False,
            {},
            [("hba1c", 6.0, "unknown measurement: the served model takes diet, glucose_mmol_l, visits, yak_dung_fire")],
        ),
        (
            {"glucose_mmol_l": "5.5", "yak_dung_fire": "yes", "visits": "", "diet": "pastoral"},
            True,
            {"glucose_mmol_l": 5.5, "yak_dung_fire": True, "visits": None, "diet": "pastoral"},
            [],
        ),
        ({"glucose_mmol_l": "high"}, True, {}, [("glucose_mmol_l", "high", "must be a number")]),
    ],
)
def test_each_value_is_checked_with_the_catalog_rules_of_its_field(
    given: dict[str, Any], text: bool, values: dict[str, Any], problems: list[tuple[str, Any, str]]
) -> None:
    assert measurements.check(SPECS, given, text=text) == (values, problems)


def test_records_become_one_column_per_added_field_unknown_where_left_out() -> None:
    records = [SimpleNamespace(measurements={"glucose_mmol_l": 5.0, "yak_dung_fire": False}), SimpleNamespace()]

    columns = measurements.frame_columns(SPECS, records)

    assert columns == {
        "glucose_mmol_l": [5.0, None],
        "visits": [None, None],
        "diet": [None, None],
        "yak_dung_fire": [0.0, None],
    }


def test_a_reason_about_an_added_field_is_named_as_its_catalog_entry() -> None:
    reason = ReasonOut(
        feature="glucose_mmol_l",
        label="glucose_mmol_l",
        value=9.25,
        display_value="9.25",
        contribution=0.4,
        direction="up",
        text="glucose_mmol_l is 9.25",
    )
    explanation = ExplanationOut(
        sentence="Risk is high, because glucose_mmol_l is 9.25.", base_value=0.0, raw_prediction=0.4, reasons=[reason]
    )

    en = measurements.relabel(explanation, SPECS, "en")
    zh = measurements.relabel(explanation, SPECS, "zh")

    assert en.reasons[0].label == "Glucose" and en.reasons[0].display_value == "9.25 mmol/L"
    assert en.sentence == "Risk is high, because the person's glucose was 9.25 mmol/L at the check."
    assert zh.reasons[0].text == "体检时此人血糖为9.25 mmol/L"
    assert measurements.reason_text("HbA1c", "6.1 %", "en") == "the person's HbA1c was 6.1 % at the check"
