"""Dispute probabilities at the county's recent level (issue 13 item 6), on the tiny county: training keeps the
level of the data's latest months, rolls it through the test year month by month without look-ahead, and the
service refits it on the county's own latest closed months once the county has moved past the model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from features import load_county
from features.common import month_number
from models.bundle import load_bundle_files, save_bundle
from models.recent_level import RecentLevel, level_offset
from serving.county import county_state
from serving.scoring.recent_level import at_county_level
from training.engine import train_family

TASK = "any_dispute"


@pytest.fixture(scope="module")
def result(tiny_feature_sets: dict[str, Any], fast_config: Any) -> Any:
    return train_family(tiny_feature_sets["dispute"], fast_config("dispute", recent_level_months=3))


def test_the_model_keeps_the_level_of_the_data_s_last_three_months(result: Any, tiny_feature_sets: Any) -> None:
    fs = tiny_feature_sets["dispute"]
    task = result.bundle.tasks[TASK]
    assert task.level is not None and task.level.window == 3
    months = pd.to_datetime(fs.frame["month"])
    assert (task.level.first, task.level.last) == ("2019-10", "2019-12")
    rows = fs.frame[months >= "2019-10-01"]
    margins = task.calibrated_margin(result.bundle.encoder.encode(rows))
    assert task.level.offset == pytest.approx(level_offset(margins, rows[TASK].to_numpy(dtype=float)))


def test_each_test_month_is_at_the_level_of_the_three_months_before_it(result: Any) -> None:
    task = result.bundle.tasks[TASK]
    frame = pd.concat([result.history_frame, result.test_frame], ignore_index=True)
    when = month_number(frame["month"])
    margins = task.calibrated_margin(result.bundle.encoder.encode(frame))
    y = frame[TASK].to_numpy(dtype=float)
    test_when = month_number(result.test_frame["month"])
    for month in np.unique(test_when)[[0, 5, -1]]:
        window = (when >= month - 3) & (when < month)
        expected = expit(
            margins[len(frame) - len(test_when) :][test_when == month] + level_offset(margins[window], y[window])
        )
        np.testing.assert_allclose(
            result.test_preds["p_any_dispute"].to_numpy()[test_when == month], expected, rtol=1e-9
        )


def test_a_level_travels_with_the_saved_bundle(result: Any, tmp_path: Any) -> None:
    loaded = load_bundle_files(save_bundle(result.bundle, tmp_path / "b")).tasks[TASK]
    assert loaded.level == result.bundle.tasks[TASK].level
    x = result.x_test
    np.testing.assert_allclose(loaded.point(x), result.bundle.tasks[TASK].point(x), rtol=1e-12)


def test_the_service_refits_the_level_once_the_county_has_moved_past_the_model(result: Any, tiny_county: Any) -> None:
    tables = load_county(tiny_county)
    county = county_state(tables, tiny_county, source="directory")
    task = result.bundle.tasks[TASK]
    assert at_county_level(result.bundle, county) is result.bundle  # current: nothing refitted

    older = replace(result.bundle, tasks={TASK: replace(task, level=RecentLevel(3, 0.0, "2019-07", "2019-09"))})
    served = at_county_level(older, county).tasks[TASK]
    assert served.level is not None and (served.level.first, served.level.last) == ("2019-10", "2019-12")
    assert served.level.offset == pytest.approx(task.level.offset)  # the same months as training's own level

    monthly = tables.grid_monthly.copy()
    late = pd.to_datetime(monthly["month"]) >= "2019-10-01"
    monthly.loc[late, "disputes"] = monthly.loc[late, "disputes"].clip(lower=1)  # every grid reports a dispute
    busier = county_state(replace(tables, grid_monthly=monthly), tiny_county, source="directory")
    raised = at_county_level(older, busier).tasks[TASK]
    assert raised.level is not None and raised.level.offset > served.level.offset + 0.5
    x = result.x_test
    assert (raised.point(x) > served.point(x)).all()
