"""Festival calendar: Tibetan New Year (Losar) and Spring Festival dates, shipped as a small table.

Livestock demand rises before both (DOMAIN.md). Losar dates follow the Phugpa Tibetan calendar as
published for each year (±1 day between almanac traditions); Spring Festival follows the Chinese calendar.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd


@cache
def festival_dates() -> pd.DataFrame:
    """One row per year with ``losar`` and ``spring_festival`` as timestamps."""
    with resources.files("muzhang.data").joinpath("festivals.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh, parse_dates=["losar", "spring_festival"])


@cache
def festival_months() -> frozenset[tuple[int, int]]:
    """(year, month) pairs with a festival in them or in the month after (the pre-festival sales window)."""
    dates = pd.concat([festival_dates()["losar"], festival_dates()["spring_festival"]])
    out: set[tuple[int, int]] = set()
    for d in dates:
        out.add((d.year, d.month))
        before = d - pd.DateOffset(months=1)
        out.add((before.year, before.month))
    return frozenset(out)
