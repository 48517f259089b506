"""Shocks in the simulator (issue 11): a drought year and a market shock change the county itself, so yields,
herds, sales and prices react together; without a scenario the continued months are exactly as before."""

from __future__ import annotations

import pandas as pd
import pytest

from muzhang.domain import SPECIES
from muzhang.simulate.county import generate_county
from muzhang.simulate.emit import emit_month
from muzhang.simulate.scenario import MARKET_PRICE_FACTOR, Scenario

SHOCKS = Scenario(drought_year=2025, market_shock_from=pd.Timestamp("2025-07-01"))


@pytest.fixture(scope="module")
def county():
    return generate_county(11, n_grids=30, last_month="2024-12-01")


def sold(frame: pd.DataFrame) -> float:
    return float(frame[[f"{sp}_sold" for sp in SPECIES]].to_numpy().sum())


def test_no_scenario_continues_the_county_exactly_as_before(county) -> None:
    plain = emit_month(county, "2025-08")
    none = emit_month(county, "2025-08", scenario=Scenario())
    pd.testing.assert_frame_equal(plain.reports, none.reports)
    pd.testing.assert_frame_equal(plain.market, none.market)
    assert "scenario" not in plain.manifest and "scenario" not in none.manifest


def test_a_scenario_leaves_the_months_before_its_shocks_alone(county) -> None:
    late = Scenario(drought_year=2026, market_shock_from=pd.Timestamp("2026-03-01"))
    plain, shocked = emit_month(county, "2025-06"), emit_month(county, "2025-06", scenario=late)
    pd.testing.assert_frame_equal(plain.truth, shocked.truth)
    pd.testing.assert_frame_equal(plain.market, shocked.market)


def test_a_drought_year_cuts_rain_and_the_season_yield_through_the_simulators_own_mechanism(county) -> None:
    plain, dry = emit_month(county, "2025-08"), emit_month(county, "2025-08", scenario=SHOCKS)
    assert dry.truth["precip_mm"].sum() < 0.8 * plain.truth["precip_mm"].sum()
    assert dry.truth["forage_yield_kg_ha"].mean() < 0.95 * plain.truth["forage_yield_kg_ha"].mean()
    assert dry.manifest["scenario"] == "drought year 2025, market shock from 2025-07"


def test_a_market_shock_lowers_prices_raises_sales_and_the_market_adds_up_the_grids(county) -> None:
    plain, shocked = (
        emit_month(county, "2025-07"),
        emit_month(county, "2025-07", scenario=Scenario(market_shock_from=pd.Timestamp("2025-07-01"))),
    )
    ratio = shocked.market["price_yuan_per_head"].sum() / plain.market["price_yuan_per_head"].sum()
    assert ratio == pytest.approx(MARKET_PRICE_FACTOR, rel=0.02)
    assert sold(shocked.truth) > 1.2 * sold(plain.truth)
    assert shocked.market["head_sold"].sum() == sold(shocked.truth)  # market head sold = the grids' sales
    later_plain = emit_month(county, "2025-10")
    later = emit_month(county, "2025-10", scenario=Scenario(market_shock_from=pd.Timestamp("2025-07-01")))
    herd = list(SPECIES)
    assert later.truth[herd].to_numpy().sum() < later_plain.truth[herd].to_numpy().sum()  # herds fall
