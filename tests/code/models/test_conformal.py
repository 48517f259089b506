"""Per-group split-conformal quantiles: nominal coverage in every group, any level from one table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.conformal import (
    POOLED,
    conformal_quantile,
    fit_conformal,
    fit_conformal_with_year_shocks,
    interval_coverage,
)


def draws(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """A point forecast whose quantile interval is too narrow in group b and too wide in group a."""
    groups = np.where(rng.random(n) < 0.5, "a", "b")
    point = rng.uniform(200, 800, n)
    spread = np.where(groups == "a", 20.0, 80.0)  # the truth's standard deviation
    y = point + rng.normal(0, spread)
    half = 40.0  # the model claims one width for both
    return y, point, point - half, point + half, groups


def test_calibrated_interval_covers_its_level_in_every_group_on_new_rows() -> None:
    rng = np.random.default_rng(3)
    y, point, low, high, groups = draws(rng, 20_000)
    table = fit_conformal(y, point, low, high, groups)
    y2, point2, low2, high2, groups2 = draws(rng, 20_000)

    before = interval_coverage(y2, low2, high2, groups2)
    c_low = conformal_quantile(table, point2, low2, high2, groups2, 0.1)
    c_high = conformal_quantile(table, point2, low2, high2, groups2, 0.9)
    after = interval_coverage(y2, c_low, c_high, groups2)

    assert before["a"] > 0.9 and before["b"] < 0.5  # the raw interval misses in opposite directions
    assert after["a"] == pytest.approx(0.8, abs=0.02) and after["b"] == pytest.approx(0.8, abs=0.02)
    below = np.mean(y2 < conformal_quantile(table, point2, low2, high2, groups2, 0.2))
    assert below == pytest.approx(0.2, abs=0.02)


def test_table_is_plain_json_and_unknown_groups_take_the_pooled_scores() -> None:
    rng = np.random.default_rng(4)
    y, point, low, high, groups = draws(rng, 2_000)
    table = json.loads(json.dumps(fit_conformal(y, point, low, high, groups)))
    pooled = conformal_quantile(table, [500.0], [460.0], [540.0], ["zzz"], 0.1)
    expected = 500.0 + 40.0 * np.interp(0.1, table["levels"], table["scores"][POOLED])
    assert pooled[0] == pytest.approx(expected)


def test_quantiles_rise_with_the_level() -> None:
    rng = np.random.default_rng(5)
    table = fit_conformal(*draws(rng, 2_000))
    levels = [0.05, 0.2, 0.5, 0.8, 0.95]
    values = [conformal_quantile(table, [500.0], [460.0], [540.0], ["a"], lv)[0] for lv in levels]
    assert values == sorted(values)


def test_fit_conformal_without_outcomes_says_so() -> None:
    with pytest.raises(ValueError, match="no validation row"):
        fit_conformal([np.nan], [1.0], [0.0], [2.0], ["a"])


def year_of_rows(rng: np.random.Generator, shock: float, n: int = 500) -> tuple[np.ndarray, ...]:
    """One year: every row's outcome moved by the year's common (log) shock, plus its own noise."""
    point = rng.uniform(400, 600, n)
    y = point * np.exp(shock) + rng.normal(0, 20, n)
    return y, point, point - 30, point + 30, np.full(n, "warm")


def test_year_shocks_give_nominal_coverage_over_years_where_one_validation_year_cannot() -> None:
    rng = np.random.default_rng(6)
    past = rng.normal(0, 0.12, 10)  # the training years' county-wide shocks
    valid = year_of_rows(rng, shock=0.02)
    plain = fit_conformal(*valid)
    shocked = fit_conformal_with_year_shocks(*valid, {"warm": past})

    covered: dict[str, list[float]] = {"plain": [], "shocked": []}
    for shock in rng.normal(0, 0.12, 300):  # later years
        y, point, low, high, groups = year_of_rows(rng, shock)
        for name, table in (("plain", plain), ("shocked", shocked)):
            lo = conformal_quantile(table, point, low, high, groups, 0.1)
            hi = conformal_quantile(table, point, low, high, groups, 0.9)
            covered[name].append(interval_coverage(y, lo, hi, groups)["warm"])

    assert np.mean(covered["shocked"]) == pytest.approx(0.8, abs=0.05)
    assert np.mean(covered["plain"]) < 0.6  # one year's weather is not every year's
