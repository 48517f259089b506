"""Monthly livestock market per township and species: head sold (from the grids' sales) and price.

Head sold is the sum of what the township's grids sold, so market and grid records agree. Prices follow a
trend, a festival-shaped seasonal cycle, a county-wide shock per species (with one slump), a supply effect
after drought, and a remoteness discount for townships far from the county seat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from muzhang.calendar import festival_months
from muzhang.domain import SPECIES

# Yuan per head in 2015 (assumption; DOMAIN.md: ~4,500 yuan a yak in the 2020s).
BASE_PRICE_2015 = {"yak": 3_600.0, "sheep": 900.0, "goat": 650.0, "horse": 2_800.0}
PRICE_TREND_PER_YEAR = 0.028
# Demand rises before New Year, Spring Festival and Losar; autumn supply glut lowers prices.
PRICE_MONTH_FACTOR = np.array([1.05, 1.06, 1.02, 1.00, 1.00, 1.00, 1.00, 0.99, 0.97, 0.95, 0.96, 1.03])
FESTIVAL_PREMIUM = 0.03
SHOCK_AR, SHOCK_SD = 0.85, 0.025
SLUMP_DEPTH, SLUMP_MONTHS = 0.15, 6  # "prices can slump" (DOMAIN.md)
DROUGHT_PRICE_CUT = 0.05  # autumn destocking floods the market
REMOTENESS_DISCOUNT_PER_60KM = 0.04
TOWNSHIP_NOISE_SD = 0.02


def price_level(
    species: str, months: pd.DatetimeIndex, drought_years: frozenset[int], fest: frozenset[tuple[int, int]]
) -> np.ndarray:
    """County price per head before shocks and slumps: trend, month, festival premium, drought-autumn cut."""
    years = months.year + (months.month - 1) / 12 - 2015
    return (
        BASE_PRICE_2015[species]
        * (1 + PRICE_TREND_PER_YEAR) ** years
        * PRICE_MONTH_FACTOR[months.month - 1]
        * (1 + FESTIVAL_PREMIUM * np.array([(d.year, d.month) in fest for d in months]))
        * (1 - DROUGHT_PRICE_CUT * np.array([d.year in drought_years and d.month >= 9 for d in months]))
    )


def simulate_market(
    rng: np.random.Generator,
    monthly: pd.DataFrame,
    expected_sales: pd.DataFrame,
    grids: pd.DataFrame,
    townships: pd.DataFrame,
    drought_years: frozenset[int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (market records, market oracle) per township x species x month."""
    months = pd.DatetimeIndex(sorted(monthly["month"].unique()))
    town_of = grids.set_index("grid_id")["township_id"]
    long = monthly.melt(
        id_vars=["grid_id", "month"],
        value_vars=[f"{s}_sold" for s in SPECIES],
        var_name="species",
        value_name="sold",
    )
    long["species"] = long["species"].str.removesuffix("_sold")
    herd = monthly.melt(id_vars=["grid_id", "month"], value_vars=list(SPECIES), var_name="species", value_name="herd")
    long = long.merge(herd, on=["grid_id", "month", "species"])
    long["township_id"] = long["grid_id"].map(town_of)
    market = long.groupby(["township_id", "species", "month"], as_index=False)[["sold", "herd"]].sum()
    market = market.rename(columns={"sold": "head_sold", "herd": "herd_head"})

    exp = expected_sales.assign(township_id=expected_sales["grid_id"].map(town_of))
    exp = exp.groupby(["township_id", "species", "month"], as_index=False)[["expected"]].sum()

    fest = festival_months()
    seat = townships.set_index("township_id")
    remoteness = np.hypot(seat["seat_x_km"], seat["seat_y_km"]) / 60.0
    price_parts = []
    for sp in SPECIES:
        shock = np.zeros(len(months))
        for i in range(1, len(months)):
            shock[i] = SHOCK_AR * shock[i - 1] + rng.normal(0, SHOCK_SD)
        slump_start = int(rng.integers(len(months) // 5, len(months) - len(months) // 5))
        slump = np.zeros(len(months))
        slump[slump_start : slump_start + SLUMP_MONTHS] = SLUMP_DEPTH
        slump[slump_start + SLUMP_MONTHS : slump_start + 2 * SLUMP_MONTHS] = SLUMP_DEPTH / 2
        county = price_level(sp, months, drought_years, fest) * np.exp(shock) * (1 - slump)
        for tid in seat.index:
            expected = county * (1 - REMOTENESS_DISCOUNT_PER_60KM * remoteness[tid])
            observed = expected * (1 + rng.normal(0, TOWNSHIP_NOISE_SD, len(months)))
            price_parts.append(
                pd.DataFrame(
                    {
                        "township_id": tid,
                        "species": sp,
                        "month": months,
                        "price_yuan_per_head": np.round(observed),
                        "expected_price_yuan_per_head": expected,
                    }
                )
            )
    prices = pd.concat(price_parts, ignore_index=True)
    market = market.merge(prices, on=["township_id", "species", "month"])
    market["revenue_yuan"] = market["head_sold"] * market["price_yuan_per_head"]
    oracle = market[["township_id", "species", "month", "expected_price_yuan_per_head"]].merge(
        exp.rename(columns={"expected": "expected_head_sold"}), on=["township_id", "species", "month"]
    )
    market = market.drop(columns="expected_price_yuan_per_head")
    cols = [
        "township_id",
        "species",
        "month",
        "head_sold",
        "price_yuan_per_head",
        "revenue_yuan",
        "herd_head",
    ]
    key = ["township_id", "species", "month"]
    return market[cols].sort_values(key, ignore_index=True), oracle.sort_values(key, ignore_index=True)
