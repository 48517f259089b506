"""Leakage tests of the feature builders (data tier): each test names the risk it guards against."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features import CountyTables, FeatureSet, build_features
from muzhang.families import family_names
from muzhang.simulate.county import County, generate_county

FAMILIES = family_names()  # the built-in families (the registry at collection time)
CUTOFFS = ("2017-01-01", "2017-06-01", "2017-10-01")  # mid-winter, warm-season start, cold-season start
ORACLE_LIKE = ("p_", "expected_")


@pytest.fixture(scope="session")
def county() -> County:
    return generate_county(11, n_grids=30, last_month="2018-12-01")


@pytest.fixture(scope="session")
def tables(county: County) -> CountyTables:
    return CountyTables.from_mapping(county.tables)


@pytest.fixture(scope="session")
def built(tables: CountyTables) -> dict[str, FeatureSet]:
    return {family: build_features(family, tables) for family in FAMILIES}


def perturb_from(tables: CountyTables, cutoff: pd.Timestamp, seed: int = 0) -> CountyTables:
    """Change every grid_monthly and market_monthly value of months >= cutoff (counts scaled, disputes
    shuffled and raised, rest switched to a ban, weather and prices moved)."""
    rng = np.random.default_rng(seed)

    def scramble(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        out = frame.copy()
        later = out["month"] >= cutoff
        for col in out.columns.difference([*keys, "month"]):
            if pd.api.types.is_integer_dtype(out[col]):
                out.loc[later, col] = np.round(out.loc[later, col] * 1.7).astype(out[col].dtype) + 3
            elif pd.api.types.is_float_dtype(out[col]):
                out.loc[later, col] = out.loc[later, col] * 1.7 + 0.05
            else:
                out.loc[later, col] = "grazing_ban" if col == "rest_status" else "trespass"
        if "disputes" in out:
            out.loc[later, "disputes"] = rng.permutation(out.loc[later, "disputes"].to_numpy()) + 1
        return out

    return dataclasses.replace(
        tables,
        grid_monthly=scramble(tables.grid_monthly, ["grid_id"]),
        market_monthly=scramble(tables.market_monthly, ["township_id", "species"]),
    )


def last_month_seen(fs: FeatureSet) -> pd.Series:
    """The last month of data each row's features may use, from the family's own time column."""
    frame = fs.frame
    if fs.family == "dispute":  # a row for month t is forecast from data up to t - 1
        return frame["month"] - pd.DateOffset(months=1)
    if fs.family == "market":  # a forecast made at the end of origin t0 knows t0
        return frame["origin_month"]
    if fs.family == "grazing":  # a season starting at s, forecast L months ahead, sees data up to s - L
        start = frame["season_start"].dt.to_period("M")
        return (start - frame["lead_months"].to_numpy(dtype=int)).dt.to_timestamp()
    raise ValueError(fs.family)


@pytest.mark.parametrize("cutoff", CUTOFFS)
@pytest.mark.parametrize("family", ["grazing", "market", "dispute"])
def test_changing_future_rows_leaves_earlier_features_unchanged(
    tables: CountyTables, built: dict[str, FeatureSet], family: str, cutoff: str
) -> None:
    """Risk: look-ahead leakage. A feature that reads the current or a later month than its row may see
    would score well offline and fail in use; rewriting every record from ``cutoff`` on must not change
    any feature of a row whose decision came before ``cutoff``."""
    when = pd.Timestamp(cutoff)
    original = built[family]
    changed = build_features(family, perturb_from(tables, when))
    seen = last_month_seen(original)
    assert (original.frame[original.as_of_col] == seen).all(), "as_of column disagrees with the time column"

    columns = list(dict.fromkeys([*original.keys, *original.features]))
    before = original.frame.loc[seen < when, columns].sort_values(original.keys, ignore_index=True)
    after_seen = last_month_seen(changed)
    after = changed.frame.loc[after_seen < when, columns].sort_values(original.keys, ignore_index=True)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after)

    # The perturbation must reach the features of later rows, or this test could never fail.
    later = original.frame.loc[seen >= when, columns].sort_values(original.keys, ignore_index=True)
    later_changed = changed.frame.loc[after_seen >= when, columns].sort_values(original.keys, ignore_index=True)
    assert not later.equals(later_changed)


def test_disease_features_do_not_depend_on_outcomes(tables: CountyTables, built: dict[str, FeatureSet]) -> None:
    """Risk: target leakage. Disease features must come from the baseline check only; flipping every
    follow-up outcome must leave every feature as it was."""
    outcomes = tables.patient_outcomes.copy()
    for condition in built["disease"].targets:
        outcomes[condition] = 1 - outcomes[condition]
    changed = build_features("disease", dataclasses.replace(tables, patient_outcomes=outcomes))
    fs = built["disease"]
    pd.testing.assert_frame_equal(fs.frame[fs.features], changed.frame[fs.features])
    assert not fs.frame[fs.targets].equals(changed.frame[fs.targets])


@pytest.mark.parametrize("family", FAMILIES)
def test_no_column_is_named_like_an_oracle_column(built: dict[str, FeatureSet], family: str) -> None:
    """Risk: oracle leakage. The simulator's true probabilities and expectations (``p_*``, ``expected_*``,
    ``dispute_rate``) are for scoring models, never for features."""
    names = list(built[family].frame.columns)
    assert not [c for c in names if c.startswith(ORACLE_LIKE) or "dispute_rate" in c]


@pytest.mark.parametrize("family", FAMILIES)
def test_no_feature_equals_a_target(built: dict[str, FeatureSet], family: str) -> None:
    """Risk: target leakage under another name (a feature that is the target, copied or renamed)."""
    fs = built[family]
    for target in fs.targets:
        y = pd.to_numeric(fs.frame[target], errors="coerce")
        for feature in fs.features:
            x = pd.to_numeric(fs.frame[feature], errors="coerce")
            both = x.notna() & y.notna()
            assert not (both.sum() > 0 and np.allclose(x[both], y[both])), f"{feature} equals {target}"


ORACLE_JOINS = {
    "dispute": ("grid_monthly_oracle", ["grid_id", "month"], {}),
    "market": ("market_oracle", ["township_id", "species", "target_month"], {"month": "target_month"}),
    "disease": ("patient_oracle", ["patient_id"], {}),
}


@pytest.mark.parametrize("family", sorted(ORACLE_JOINS))
def test_no_feature_equals_an_oracle_column(county: County, built: dict[str, FeatureSet], family: str) -> None:
    """Risk: oracle leakage by value (a feature computed from the simulator's hidden truth)."""
    table, on, rename = ORACLE_JOINS[family]
    fs = built[family]
    oracle = county.oracle[table].rename(columns=rename)
    joined = fs.frame.merge(oracle, on=on, how="left", suffixes=("", "_oracle"))
    for truth in oracle.columns.difference(on):
        o = pd.to_numeric(joined[truth], errors="coerce")
        for feature in fs.features:
            x = pd.to_numeric(joined[feature], errors="coerce")
            both = x.notna() & o.notna()
            assert not (both.sum() > 0 and np.allclose(x[both], o[both])), f"{feature} equals oracle {truth}"
