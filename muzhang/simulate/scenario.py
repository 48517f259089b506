"""Shocks written into a continued county (``emit_month(..., scenario=...)``, ``muzhang replay``).

A scenario changes the county's own future, not its reports: the simulator then runs its usual mechanisms, so
yields, herds, sales, the market's head sold and prices, and disputes react together and stay consistent.
With no scenario (or ``Scenario()``) the continuation is exactly what it was: the same draws, the same rows.

- **drought year**: that year's rain is a drought year's. The year's rain factor (``weather.py``: a year
  below ``DROUGHT_FACTOR`` = 0.82 of normal is a drought) is set to at most ``DROUGHT_RAIN_FACTOR`` (0.6, a
  severe drought; the worst sample years are ~0.74). The simulator's drought mechanism follows: the season's
  peak yield falls with the growing-season rain, NY/T 635 capacity takes its drought cut from July, herders
  destock in autumn (``DROUGHT_DESTOCK``), autumn prices fall (``DROUGHT_PRICE_CUT``), stress raises disputes.
  DOMAIN.md: drought years cut the edible share and call for supplementary feed (DB63/T 2298-2024).
- **market shock** (a destocking wave): from its month on, herders sell ``MARKET_SALES_FACTOR`` (1.4) times
  what they would (herds fall accordingly) and the county's prices stand at ``MARKET_PRICE_FACTOR`` (0.65)
  of their level, on top of the simulator's own price shocks. DOMAIN.md: "prices can slump"; the depth and
  the lasting fall are assumptions chosen to be larger than the sample's own slump (15 %, 6 months).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

DROUGHT_RAIN_FACTOR = 0.6
MARKET_PRICE_FACTOR = 0.65
MARKET_SALES_FACTOR = 1.4


@dataclass(frozen=True)
class Scenario:
    """The shocks of a continued county; ``Scenario()`` has none."""

    drought_year: int | None = None  # this year's rain is a drought year's
    market_shock_from: pd.Timestamp | None = None  # from this month: herders sell more, prices fall

    def rain_factor(self, year: int, drawn: float) -> float:
        """The year's rain factor: the drawn one, or at most the drought's in the drought year."""
        return min(drawn, DROUGHT_RAIN_FACTOR) if year == self.drought_year else drawn

    def market_shocked(self, month: pd.Timestamp) -> bool:
        return self.market_shock_from is not None and pd.Timestamp(month) >= pd.Timestamp(self.market_shock_from)

    def sales_factor(self, month: pd.Timestamp) -> float:
        return MARKET_SALES_FACTOR if self.market_shocked(month) else 1.0

    def price_factor(self, month: pd.Timestamp) -> float:
        return MARKET_PRICE_FACTOR if self.market_shocked(month) else 1.0

    def describe(self) -> str:
        parts = []
        if self.drought_year is not None:
            parts.append(f"drought year {self.drought_year}")
        if self.market_shock_from is not None:
            parts.append(f"market shock from {pd.Timestamp(self.market_shock_from):%Y-%m}")
        return ", ".join(parts) or "no shocks"
