"""The grazing seasons and drought years of features.pasture follow the Domain they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import CountyTables
from features.common import month_number, month_timestamp
from features.pasture import drought_years, grid_panel, label_seasons, summarise_seasons
from muzhang.domain import DEFAULT_DOMAIN, Domain
from muzhang.simulate.county import generate_county

LATE_COLD = Domain(
    season_months={"warm": (6, 7, 8, 9, 10), "cold": (11, 12, 1, 2, 3, 4), "transition": (5,)},
    season_days={"warm": 153, "cold": 181, "transition": 31},
)


def rain(years: range, dry: dict[tuple[int, int], float]) -> pd.DataFrame:
    """Two grids, 100 mm every month except the (year, month)s given."""
    months = pd.date_range(f"{years.start}-01-01", f"{years.stop - 1}-12-01", freq="MS")
    precip = [dry.get((m.year, m.month), 100.0) for m in months]
    one = pd.DataFrame({"month": months, "precip_mm": precip})
    return pd.concat([one.assign(grid_id="G001"), one.assign(grid_id="G002")], ignore_index=True)


def test_drought_years_follow_the_domain_rain_ratio() -> None:
    monthly = rain(range(2015, 2019), {(2017, m): 85.0 for m in (5, 6, 7, 8)})  # 85 % of normal
    assert drought_years(monthly).to_dict() == {2015: 0, 2016: 0, 2017: 0, 2018: 0}
    assert drought_years(monthly, Domain(drought_rain_ratio=0.9)).to_dict() == {2015: 0, 2016: 0, 2017: 1, 2018: 0}


def test_drought_years_follow_the_domain_growing_months() -> None:
    monthly = rain(range(2015, 2019), {(2016, 9): 10.0})  # a dry September only
    assert drought_years(monthly).sum() == 0
    late = Domain(drought_growing_months=(6, 7, 8, 9))
    assert drought_years(monthly, late).to_dict() == {2015: 0, 2016: 1, 2017: 0, 2018: 0}


def test_label_seasons_start_months_come_from_the_domain() -> None:
    n = month_number(pd.to_datetime(["2021-02-01", "2021-05-01", "2021-10-01", "2021-11-01"]))
    default = label_seasons(n, DEFAULT_DOMAIN)
    assert default["season"].tolist() == ["cold", "transition", "cold", "cold"]
    assert [str(t)[:7] for t in month_timestamp(default["start_n"])] == ["2020-10", "2021-05", "2021-10", "2021-10"]
    late = label_seasons(n, LATE_COLD)
    assert late["season"].tolist() == ["cold", "transition", "warm", "cold"]
    assert [str(t)[:7] for t in month_timestamp(late["start_n"])] == ["2020-11", "2021-05", "2021-06", "2021-11"]
    assert late["season_year"].tolist() == [2020, 2021, 2021, 2021]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    tables = CountyTables.from_mapping(generate_county(7, n_grids=30, last_month="2018-12-01").tables)
    return grid_panel(tables, DEFAULT_DOMAIN)


def test_summarise_seasons_cuts_only_the_domain_drought_seasons(panel: pd.DataFrame) -> None:
    drought = pd.Series({2015: 0, 2016: 1, 2017: 0, 2018: 0})
    flagged = summarise_seasons(panel, drought, DEFAULT_DOMAIN)
    flagged = flagged[flagged["drought"] == 1]
    assert set(zip(flagged["season"], flagged["season_year"], strict=True)) == {("warm", 2016), ("cold", 2016)}
    only_transition = summarise_seasons(panel, drought, Domain(drought_seasons=("transition",)))
    flagged = only_transition[only_transition["drought"] == 1]
    assert set(zip(flagged["season"], flagged["season_year"], strict=True)) == {("transition", 2016)}
    assert np.all(only_transition.loc[only_transition["season"] != "transition", "drought"] == 0)
