"""Unit tests of the simulator's building blocks on small counties."""

import numpy as np
import pandas as pd
import pytest

from muzhang.calendar import festival_dates, festival_months
from muzhang.domain import DEFAULT_DOMAIN, SPECIES
from muzhang.simulate.county import generate_county
from muzhang.simulate.geography import build_geography
from muzhang.simulate.pastoral import simulate_pastoral
from muzhang.simulate.weather import simulate_weather


@pytest.fixture(scope="module")
def geo():
    return build_geography(np.random.default_rng(1), DEFAULT_DOMAIN)


def test_grid_polygons_tile_the_county_area(geo):
    assert len(geo.polygons) == 457
    assert sum(p.area for p in geo.polygons) == pytest.approx(14_842, rel=1e-9)
    assert all(p.is_valid and p.area > 0 for p in geo.polygons)


def test_admin_nesting_matches_dari(geo):
    g = geo.grids
    assert g["township_id"].nunique() == 10
    assert g.loc[~g["is_community"], "village_id"].nunique() == 33
    assert g.loc[g["is_community"], "village_id"].nunique() == 3
    assert g["cooperative_id"].dropna().nunique() == 109
    # every village lies in exactly one township
    assert (g.groupby("village_id")["township_id"].nunique() == 1).all()


def test_elevation_and_shares_in_range(geo):
    g = geo.grids
    assert g["elevation_m"].between(3_900, 5_200).all()
    shares = g[["warm_share", "cold_share", "transition_share"]].sum(axis=1)
    assert np.allclose(shares, 1, atol=2e-3)


def test_neighbours_are_symmetric(geo):
    pairs = set(zip(geo.neighbours["grid_id"], geo.neighbours["neighbour_id"], strict=True))
    assert pairs and all((b, a) in pairs for a, b in pairs)


def test_festival_table_covers_the_simulated_years():
    dates = festival_dates()
    assert set(range(2015, 2026)) <= set(dates["year"])
    assert (2024, 2) in festival_months() and (2024, 1) in festival_months()


def _run(geo, herd_scale):
    months = pd.date_range("2015-01-01", "2020-12-01", freq="MS")
    g = geo.grids
    weather = simulate_weather(
        np.random.default_rng(2),
        months,
        g["x_km"].to_numpy(),
        g["y_km"].to_numpy(),
        g["elevation_m"].to_numpy(dtype=float),
    )
    return simulate_pastoral(
        np.random.default_rng(3), g, geo.neighbours, weather, DEFAULT_DOMAIN, herd_scale=herd_scale
    )


def test_overgrazing_degrades_later_yields(geo):
    light, heavy = _run(geo, 0.5), _run(geo, 2.5)
    late = light.oracle["month"].dt.year >= 2019
    assert (
        heavy.oracle.loc[late, "expected_forage_yield_kg_ha"].mean()
        < 0.95 * light.oracle.loc[late, "expected_forage_yield_kg_ha"].mean()
    )
    # and more stock on the same pasture means more disputes
    assert heavy.oracle["p_any_dispute"].mean() > light.oracle["p_any_dispute"].mean()


def test_herd_balance_is_conserved(geo):
    m = _run(geo, 1.0).monthly.sort_values(["grid_id", "month"])
    head = m[list(SPECIES)].sum(axis=1)
    sold = m[[f"{s}_sold" for s in SPECIES]].sum(axis=1)
    change = head.groupby(m["grid_id"]).diff()
    expected = m["births"] - m["deaths"] - sold
    ok = change.notna()
    assert (change[ok] == expected[ok]).all()


def test_same_seed_same_county_different_seed_differs():
    a = generate_county(5, n_grids=25, last_month="2016-12-01")
    b = generate_county(5, n_grids=25, last_month="2016-12-01")
    c = generate_county(6, n_grids=25, last_month="2016-12-01")
    pd.testing.assert_frame_equal(a.tables["grid_monthly"], b.tables["grid_monthly"])
    assert not a.tables["grid_monthly"]["disputes"].equals(c.tables["grid_monthly"]["disputes"])


def test_small_county_is_calibrated_to_its_share():
    county = generate_county(11, n_grids=40, last_month="2017-12-01")
    totals = county.manifest["calibration"]["last_year_totals"]
    assert totals["livestock_head"] == pytest.approx(140_042 * 40 / 457, rel=0.03)
