"""Each feature builder on a small generated county: declared columns, dtypes, keys, no leaks by name."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from pandas.api import types

from features import (
    CountyTables,
    FeatureSet,
    assess_grazing,
    build_features,
    features_for_condition,
    monotone_for_condition,
)
from features.disease import CONDITIONS
from features.grazing_level import GROWING_YEAR_FEATURES
from muzhang.domain import SPECIES, sheep_units
from muzhang.families import family_names
from muzhang.simulate.county import generate_county

FAMILIES = family_names()  # the built-in families (the registry at collection time)
ORACLE_LIKE = ("p_", "expected_", "dispute_rate")


@pytest.fixture(scope="session")
def small_tables() -> CountyTables:
    """30 grids, 2015-2018: every table of a county, in about half a second."""
    return CountyTables.from_mapping(generate_county(7, n_grids=30, last_month="2018-12-01").tables)


@pytest.fixture(scope="session")
def built(small_tables: CountyTables) -> dict[str, FeatureSet]:
    return {family: build_features(family, small_tables) for family in FAMILIES}


@pytest.fixture(scope="session")
def forecasts(small_tables: CountyTables) -> dict[str, FeatureSet]:
    return {family: build_features(family, small_tables, forecast=True) for family in FAMILIES}


def is_numeric_or_string(series: pd.Series) -> bool:
    plain_number = types.is_numeric_dtype(series) and not types.is_bool_dtype(series)
    return plain_number or types.is_string_dtype(series) or series.dtype == object


@pytest.mark.parametrize("family", FAMILIES)
def test_build_features_returns_rows_with_every_declared_column(built: dict[str, FeatureSet], family: str) -> None:
    fs = built[family]
    assert fs.family == family
    assert len(fs.frame) > 0 and fs.features and fs.targets
    declared = [*fs.keys, *fs.features, *fs.targets, *fs.decision_columns]
    assert set(declared) <= set(fs.frame.columns)
    assert set(fs.categorical) <= set(fs.features)
    assert set(fs.monotone) <= set(fs.features)


@pytest.mark.parametrize("family", FAMILIES)
def test_features_and_targets_are_numbers_or_strings_only(built: dict[str, FeatureSet], family: str) -> None:
    fs = built[family]
    bad = {c: str(fs.frame[c].dtype) for c in [*fs.features, *fs.targets] if not is_numeric_or_string(fs.frame[c])}
    assert not bad, f"{family}: columns with other dtypes (bool, category, nullable int...): {bad}"
    assert not [c for c in fs.frame.columns if isinstance(fs.frame[c].dtype, pd.CategoricalDtype)]


@pytest.mark.parametrize("family", FAMILIES)
def test_categorical_vocabularies_are_sorted_and_cover_the_values(built: dict[str, FeatureSet], family: str) -> None:
    fs = built[family]
    for name, vocab in fs.categorical.items():
        assert vocab == sorted(vocab), name
        assert set(fs.frame[name].dropna().unique()) <= set(vocab), name
        assert types.is_string_dtype(fs.frame[name]) or fs.frame[name].dtype == object, name
    strings = [c for c in fs.features if types.is_string_dtype(fs.frame[c]) or fs.frame[c].dtype == object]
    assert set(strings) <= set(fs.categorical), f"{family}: string features without a vocabulary"


@pytest.mark.parametrize("family", FAMILIES)
def test_keys_identify_rows(built: dict[str, FeatureSet], family: str) -> None:
    fs = built[family]
    assert not fs.frame.duplicated(fs.keys).any()
    assert fs.frame[fs.keys].notna().all().all()


@pytest.mark.parametrize("family", FAMILIES)
def test_no_column_is_named_like_an_oracle_column(built: dict[str, FeatureSet], family: str) -> None:
    names = built[family].frame.columns
    assert not [c for c in names if c.startswith(ORACLE_LIKE) or "dispute_rate" in c]


@pytest.mark.parametrize("family", ["grazing", "market", "dispute"])
def test_training_rows_have_targets_and_a_time_column(built: dict[str, FeatureSet], family: str) -> None:
    fs = built[family]
    assert fs.time_col is not None and types.is_datetime64_any_dtype(fs.frame[fs.time_col])
    assert fs.frame[fs.targets].notna().all().all()
    assert fs.as_of_col is not None and types.is_datetime64_any_dtype(fs.frame[fs.as_of_col])


@pytest.mark.parametrize("family", FAMILIES)
def test_forecast_rows_have_features_but_no_targets(forecasts: dict[str, FeatureSet], family: str) -> None:
    fs = forecasts[family]
    assert len(fs.frame) > 0
    assert fs.frame[fs.targets].isna().all().all()
    assert not fs.frame.duplicated(fs.keys).any()
    # grazing's growing-year features are empty on forecasts from winter data (known only in the growing year)
    features = [f for f in fs.features if f not in (GROWING_YEAR_FEATURES if family == "grazing" else [])]
    assert fs.frame[features].notna().any().all(), "a feature is empty on every forecast row"


def test_forecast_rows_start_after_the_data(small_tables: CountyTables, forecasts: dict[str, FeatureSet]) -> None:
    last = small_tables.grid_monthly["month"].max()
    assert (forecasts["dispute"].frame["month"] == last + pd.DateOffset(months=1)).all()
    assert (forecasts["market"].frame["origin_month"] == last).all()
    assert sorted(forecasts["market"].frame["horizon"].unique()) == [1, 2, 3, 4, 5, 6]
    grazing = forecasts["grazing"].frame
    assert (grazing["season_start"] > last).all() and (grazing["as_of_month"] <= last).all()
    # the next season of each kind, once per grid
    assert sorted(grazing["season"].unique()) == ["cold", "transition", "warm"]
    assert grazing["grid_id"].nunique() == len(small_tables.grids) == len(grazing) // 3
    assert (grazing["season_start"] <= last + pd.DateOffset(months=12)).all()


def test_build_features_unknown_family_raises(small_tables: CountyTables) -> None:
    with pytest.raises(ValueError, match="unknown family 'weather'; choose from grazing"):
        build_features("weather", small_tables)


def test_build_features_missing_column_names_table_and_column(small_tables: CountyTables) -> None:
    broken = dataclasses.replace(small_tables, grid_monthly=small_tables.grid_monthly.drop(columns="disputes"))
    with pytest.raises(KeyError, match=r"grid_monthly.*disputes"):
        build_features("dispute", broken)


def test_featureset_rejects_a_feature_that_is_also_a_target() -> None:
    frame = pd.DataFrame({"k": [1], "y": [0.0]})
    with pytest.raises(ValueError, match="both feature and target"):
        FeatureSet("x", frame, keys=["k"], time_col=None, features=["y"], targets=["y"])


def test_select_keeps_only_matching_rows(built: dict[str, FeatureSet]) -> None:
    fs = built["dispute"]
    month = fs.frame["month"].max()
    one = fs.select(grid_id="G001", month=month)
    assert len(one.frame) == 1 and one.features == fs.features
    assert len(fs.select(grid_id=["G001", "G002"]).frame) == 2 * fs.frame["month"].nunique()


# --- grazing -------------------------------------------------------------------------------------------


def test_grazing_target_is_the_peak_of_the_season_months(
    small_tables: CountyTables, built: dict[str, FeatureSet]
) -> None:
    monthly = small_tables.grid_monthly
    g = monthly[monthly["grid_id"] == "G003"]
    cold = g[(g["month"] >= "2016-10-01") & (g["month"] <= "2017-04-01")]
    row = built["grazing"].select(grid_id="G003", season="cold", season_year=2016).frame.iloc[0]
    assert row["forage_yield_kg_ha"] == cold["forage_yield_kg_ha"].max()
    assert row["season_start"] == pd.Timestamp("2016-10-01")
    assert row["as_of_month"] == pd.Timestamp("2016-09-01")
    su = cold[list(SPECIES)].to_numpy(dtype=float)
    expected_su = sheep_units({sp: su[:, i] for i, sp in enumerate(SPECIES)}).mean()
    assert row["stocking_su_season"] == pytest.approx(expected_su)


def test_grazing_has_every_complete_season_once(small_tables: CountyTables, built: dict[str, FeatureSet]) -> None:
    frame = built["grazing"].frame
    # 2015-2018: warm and transition 4 each, cold 2015-2017 (cold 2014 and 2018 are cut by the data).
    assert frame.groupby("season")["season_year"].nunique().to_dict() == {
        "cold": 3,
        "transition": 4,
        "warm": 4,
    }
    assert len(frame) == 11 * len(small_tables.grids) * 12  # 11 seasons per grid, 12 lead times each


def test_grazing_pressure_rises_with_stocking_on_the_same_yield(built: dict[str, FeatureSet]) -> None:
    frame = built["grazing"].frame.head(50)
    base = assess_grazing(frame, frame["forage_yield_kg_ha"])
    more = assess_grazing(
        frame.assign(stocking_su_season=frame["stocking_su_season"] * 1.5), frame["forage_yield_kg_ha"]
    )
    assert (more["pressure"] > base["pressure"]).all()
    assert set(base["status"]) <= {"under", "balanced", "over"}


def test_grazing_monotone_constraints_point_down_on_stocking(built: dict[str, FeatureSet]) -> None:
    assert built["grazing"].monotone == {"stocking_su_last": -1, "pressure_last_year": -1}


# --- market --------------------------------------------------------------------------------------------


def test_market_seasonal_naive_is_the_value_twelve_months_before_the_target(
    small_tables: CountyTables, built: dict[str, FeatureSet]
) -> None:
    market = small_tables.market_monthly.set_index(["township_id", "species", "month"])
    row = built["market"].select(species="yak", horizon=3, origin_month=pd.Timestamp("2017-11-01")).frame.iloc[0]
    town = row["township_id"]
    assert row["target_month"] == pd.Timestamp("2018-02-01")
    assert row["target_head_sold"] == market.loc[(town, "yak", pd.Timestamp("2018-02-01")), "head_sold"]
    assert row["seasonal_naive_head_sold"] == market.loc[(town, "yak", pd.Timestamp("2017-02-01")), "head_sold"]
    assert row["price_at_origin"] == market.loc[(town, "yak", pd.Timestamp("2017-11-01")), "price_yuan_per_head"]
    last3 = market.loc[(town, "yak"), "head_sold"].loc["2017-09-01":"2017-11-01"]
    assert row["head_sold_mean3"] == pytest.approx(last3.mean())


def test_market_training_rows_stop_at_the_last_month(small_tables: CountyTables, built: dict[str, FeatureSet]) -> None:
    frame = built["market"].frame
    assert frame["target_month"].max() == small_tables.market_monthly["month"].max()
    assert (frame["target_month"] > frame["origin_month"]).all()


# --- dispute -------------------------------------------------------------------------------------------


def test_dispute_target_is_any_dispute_in_the_row_month(
    small_tables: CountyTables, built: dict[str, FeatureSet]
) -> None:
    merged = built["dispute"].frame.merge(
        small_tables.grid_monthly[["grid_id", "month", "disputes"]], on=["grid_id", "month"]
    )
    assert (merged["any_dispute"] == (merged["disputes"] > 0).astype(int)).all()
    merged = merged.sort_values(["grid_id", "month"])
    last_month = merged.groupby("grid_id")["disputes"].shift(1)
    known = last_month.notna()
    assert (merged.loc[known, "disputes_sum1"] == last_month[known]).all()


def test_dispute_features_of_a_grid_subset_equal_the_whole_county_build(
    small_tables: CountyTables, built: dict[str, FeatureSet]
) -> None:
    ids = ["G004", "G017"]
    part = build_features("dispute", small_tables.for_grids(ids))
    whole = built["dispute"].select(grid_id=ids)
    pd.testing.assert_frame_equal(part.frame, whole.frame)


def test_dispute_monotone_only_on_past_dispute_counts_and_snow(built: dict[str, FeatureSet]) -> None:
    monotone = built["dispute"].monotone
    assert set(monotone.values()) == {1}
    assert all("disputes_sum" in name for name in set(monotone) - {"snow_days_sum3"})
    assert "snow_days_sum3" in monotone
    assert {"disputes_sum3", "neighbour_disputes_sum3"} <= set(monotone)


# --- disease -------------------------------------------------------------------------------------------


def test_disease_features_exclude_identifiers_and_keep_conditions_known_at_the_check(
    built: dict[str, FeatureSet],
) -> None:
    fs = built["disease"]
    assert not {"patient_id", "check_date"} & set(fs.features)
    assert {"baseline_hypertension", "baseline_cms"} <= set(fs.features)
    assert fs.time_col is None and fs.keys == ["patient_id"]
    assert fs.targets == list(CONDITIONS)


def test_disease_outcomes_are_nan_where_not_at_risk(small_tables: CountyTables, built: dict[str, FeatureSet]) -> None:
    frame = (
        built["disease"]
        .frame.drop(columns="baseline_hypertension")  # the feature, as 0/1: compare with the table's own flag
        .merge(small_tables.patients[["patient_id", "baseline_hypertension"]], on="patient_id")
    )
    assert frame.loc[frame["baseline_hypertension"], "hypertension_5y"].isna().all()
    assert frame.loc[~frame["baseline_hypertension"], "hypertension_5y"].notna().all()
    assert set(np.unique(frame["echinococcosis"])) == {0.0, 1.0}


def test_disease_features_for_condition_and_directions(built: dict[str, FeatureSet]) -> None:
    for condition in CONDITIONS:
        assert set(features_for_condition(condition)) <= set(built["disease"].features)
        assert set(monotone_for_condition(condition)) <= set(built["disease"].features)
    assert "baseline_hypertension" not in features_for_condition("hypertension_5y")
    assert "baseline_hypertension" in features_for_condition("cms_5y")
    with pytest.raises(KeyError, match="unknown condition"):
        features_for_condition("influenza")
