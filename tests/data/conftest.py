"""A small generated county (30 grids, 2015-2018) and its grazing features, shared by the grazing data tests."""

from __future__ import annotations

import pytest

from features import CountyTables, FeatureSet, build_features
from muzhang.simulate.county import generate_county


@pytest.fixture(scope="module")
def small_tables() -> CountyTables:
    return CountyTables.from_mapping(generate_county(11, n_grids=30, last_month="2018-12-01").tables)


@pytest.fixture(scope="module")
def small_grazing(small_tables: CountyTables) -> FeatureSet:
    return build_features("grazing", small_tables)
