"""Training scores grazing status with the decision serving makes (drought included), and finds a
month's season with the Domain's season months."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import CountyTables, assess_grazing, build_features
from features.grazing_level import TARGET_BASE
from models.conformal import THRESHOLD_KEY
from muzhang.domain import DEFAULT_DOMAIN, Domain, nyt635_capacity_su
from muzhang.simulate.county import generate_county
from training.families.grazing import GrazingFamily, over_stocked_recall_precision, season_start_of, season_status

YIELD = 600.0
CAPACITY = float(nyt635_capacity_su(YIELD, 100.0, "alpine_meadow", "warm"))  # no drought


def rows(drought: list[int], pressure_without_drought: float = 1.05) -> pd.DataFrame:
    """Warm-season rows stocked at the given pressure against the no-drought capacity."""
    n = len(drought)
    return pd.DataFrame(
        {
            "season": ["warm"] * n,
            "pasture_type": ["alpine_meadow"] * n,
            "area_ha_season": [100.0] * n,
            "stocking_su_season": [pressure_without_drought * CAPACITY] * n,
            "drought": drought,
            "forage_yield_kg_ha": [YIELD] * n,
        }
    )


def test_a_drought_year_cuts_capacity_in_the_status_training_scores() -> None:
    # 1.05 x capacity is balanced in a normal year; the DB63/T 2298 edible-share cut makes it over-stocked
    status = season_status(rows([0, 1]), np.array([YIELD, YIELD]))
    assert status.tolist() == ["balanced", "over"]


def test_status_metrics_compare_drought_cut_statuses() -> None:
    # Actual: over (drought). Predicted 10 % more yield: balanced with the cut (and without it, both balanced).
    test = rows([1])
    metrics = GrazingFamily().extra_metrics(test, pd.DataFrame({"yield": [YIELD * 1.1]}), None)  # type: ignore[arg-type]
    assert metrics["status_accuracy"] == 0.0


def test_season_status_follows_the_domain_balance_band() -> None:
    wide = Domain(balanced_high=1.2)
    assert season_status(rows([1]), np.array([YIELD]), wide).tolist() == ["balanced"]


@pytest.fixture(scope="module")
def grazing_rows() -> pd.DataFrame:
    tables = CountyTables.from_mapping(generate_county(7, n_grids=30, last_month="2018-12-01").tables)
    return build_features("grazing", tables).frame


def test_season_status_is_servings_assessment_on_built_rows(grazing_rows: pd.DataFrame) -> None:
    assert grazing_rows["drought"].any(), "the sample county has a drought year"
    y = grazing_rows["forage_yield_kg_ha"].to_numpy(dtype=float) * 0.97
    expected = assess_grazing(grazing_rows, y)["status"].to_numpy()
    assert (season_status(grazing_rows, y) == expected).all()


def months(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps)), name="month")


def test_season_start_of_default_seasons() -> None:
    starts = season_start_of(months("2021-02-01", "2021-05-01", "2021-07-01", "2021-10-01", "2021-12-01"))
    assert starts.dt.strftime("%Y-%m").tolist() == ["2020-10", "2021-05", "2021-06", "2021-10", "2021-10"]


def test_season_start_of_follows_a_domain_with_other_season_months() -> None:
    late = Domain(
        season_months={"warm": (5, 6, 7, 8, 9), "cold": (11, 12, 1, 2, 3, 4), "transition": (10,)},
        season_days={"warm": 153, "cold": 181, "transition": 31},
    )
    stamps = months("2021-02-01", "2021-05-01", "2021-10-01", "2021-11-01")
    assert season_start_of(stamps).dt.strftime("%Y-%m").tolist() == ["2020-10", "2021-05", "2021-10", "2021-10"]
    assert season_start_of(stamps, late).dt.strftime("%Y-%m").tolist() == ["2020-11", "2021-05", "2021-10", "2021-11"]


def test_the_grazing_plan_uses_the_default_domain_unless_given_one() -> None:
    late = Domain(balanced_high=1.2)
    assert GrazingFamily().domain is DEFAULT_DOMAIN and GrazingFamily(late).domain is late


def test_over_stocked_recall_and_precision_count_flags_against_realised() -> None:
    actual = np.array(["over", "over", "under", "balanced", "over"])
    flagged = np.array(["over", "under", "over", "balanced", "over"])
    out = over_stocked_recall_precision(actual, flagged)
    assert out["over_recall"] == pytest.approx(2 / 3) and out["over_precision"] == pytest.approx(2 / 3)
    assert out["over_flagged"] == 3 and out["over_realised"] == 3


def test_ahead_status_uses_the_forecast_herd_not_the_actual_one() -> None:
    test = rows([0, 0]).assign(stocking_su_forecast=[0.5 * CAPACITY, 2.0 * CAPACITY], area_ha_forecast=[100.0, 100.0])
    metrics = GrazingFamily().extra_metrics(test, pd.DataFrame({"yield": [YIELD, YIELD]}), None)  # type: ignore[arg-type]
    assert metrics["status_accuracy"] == 1.0  # the yield is right
    assert metrics["ahead_status_accuracy"] == 0.0  # but one herd forecast was too low and one too high
    assert metrics["ahead_over_flagged"] == 1 and metrics["ahead_over_precision"] == 0.0


def test_trained_grazing_model_learns_relative_to_each_grids_level_and_reports_coverage_and_the_fair_limit(
    tiny_feature_sets: dict[str, Any], tiny_county: Any, fast_config: Any
) -> None:
    from training.engine import train_family
    from training.pipeline import load_oracle

    fs = tiny_feature_sets["grazing"]
    result = train_family(fs, fast_config("grazing"), oracle=load_oracle(tiny_county))
    task = result.bundle.tasks["yield"]
    assert task.transform == "log_ratio" and result.features[task.base_index] == TARGET_BASE
    assert THRESHOLD_KEY not in result.bundle.thresholds  # the boosters' own interval (see the family's doc)
    cells = {k for k in result.metrics if k.startswith("coverage_80_") and "_lead" in k}
    leads = result.test_frame[["season", "lead_months"]].drop_duplicates()
    assert len(cells) == len(leads) > 0
    for season in ("warm", "cold", "transition"):
        assert 0 <= result.metrics[f"coverage_80_{season}"] <= 1
    gaps = [abs(result.metrics[k] - 0.8) for k in cells]
    assert result.metrics["coverage_80_worst_gap"] == pytest.approx(max(gaps))
    # the fair limit knows each grid but not the weather; the hindsight limit knows the weather too
    assert result.bayes["mae"] <= result.metrics["fair_limit_knowing_noise_mae"] <= result.metrics["fair_limit_mae"]
    assert "ahead_over_recall" in result.metrics and "fair_limit_ahead_over_recall" in result.metrics


def test_training_rows_without_the_grids_own_level_are_left_out_and_later_slices_kept(
    tiny_feature_sets: dict[str, Any], fast_config: Any
) -> None:
    """The record's first season has no level of its own: its log ratio to a fall-back base is not learnt."""
    from training.splits import split_by_time

    fs = tiny_feature_sets["grazing"]
    cfg = fast_config("grazing")
    plain = split_by_time(fs.frame[fs.time_col], cfg.split.valid_months, cfg.split.test_months)
    split = GrazingFamily().split(fs, cfg)
    frame = fs.frame
    own = frame["yield_vs_county_recent"].notna() | frame["yield_mean_past"].notna()
    assert (~own.iloc[plain.train]).any()  # the tiny county has such rows, so the test can fail
    assert own.iloc[split.train].all()
    assert set(split.train) == set(plain.train[own.iloc[plain.train].to_numpy()])
    assert (split.valid == plain.valid).all() and (split.test == plain.test).all()


def test_the_fair_limit_with_the_year_noise_unknown_is_the_error_of_a_forecast_without_it() -> None:
    """Monte Carlo: y = level x weather x noise; the oracle knows level x noise; a forecaster knowing only the
    level scores what mae_with_unknown_noise computes from the oracle's forecast alone."""
    from training.families.grazing import YEAR_NOISE_SD, mae_with_unknown_noise

    rng = np.random.default_rng(7)
    level = rng.uniform(200, 1500, 200_000)
    noise = np.exp(YEAR_NOISE_SD * rng.standard_normal(level.size))
    y = level * noise * rng.lognormal(0, 0.15, level.size)
    knowing = level * noise
    estimate = mae_with_unknown_noise(y, knowing)
    assert estimate == pytest.approx(float(np.mean(np.abs(y - level))), rel=0.01)
    assert estimate > float(np.mean(np.abs(y - knowing)))
