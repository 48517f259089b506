"""Grazing: each grid's own level, read from its monthly record up to the decision month.

Issue 12: a forecaster can only approach one who knows each grid's reference yield and degradation by
reading the grid's level from its history. Every monthly yield reflects the year's peak x the calendar
month's share of it; against the county's mean that month the county-wide weather cancels, so recent months
say where the grid stands. :data:`LEVEL_FEATURES`, each as known at a row's decision month:

* ``yield_vs_county_recent``: the grid's recent yield against the county's (recent months weigh more);
* ``yield_vs_county_trend``: that level's trend (short memory over long memory);
* ``standing_forage_vs_usual``: last month's standing forage against the grid's usual for that calendar
  month, only once the season's own growing year has begun (:data:`GROWING_YEAR_FEATURES`);
* ``rain_vs_county_recent``: the grid's growing-season rain against the county's;
* ``yield_expected``: the county's usual yield of the season times the grid's level, with fall-backs so
  every row has one. It is the base of the yield's log-ratio target (:data:`TARGET_BASE`,
  :mod:`training.families.grazing`), so the trees learn departures from each grid's own level rather than
  every grid's level.

:func:`with_level_features` adds them to the season rows of :mod:`features.grazing`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.common import calendar_year, expanding_mean_within, month_number, month_of_year
from muzhang.domain import DEFAULT_DOMAIN, Domain

# Model inputs (the module docstring says what each is), as known at each row's decision month.
LEVEL_FEATURES = [
    "yield_vs_county_recent",
    "yield_vs_county_trend",
    "standing_forage_vs_usual",
    "rain_vs_county_recent",
    "yield_expected",
]
LEVEL_HALF_LIFE_MONTHS = 12.0  # recent months weigh more: degradation drifts by a few % a year
TREND_HALF_LIVES = (6.0, 24.0)  # the trend: the short-memory level over the long-memory one
RAIN_HALF_LIFE_MONTHS = 12.0  # growing-season months (about three seasons)
MIN_LEVEL_MONTHS = 6  # fewer months with a yield: no level (NaN)
# The expected yield's last fall-back, for a decision made before any yield is on record: the mean yield of
# the Three-River Headwaters alpine grassland, 466 kg hay/ha in 2010 (DOMAIN.md).
PRIOR_YIELD_KG_HA = 466.0
# The yield target is learnt relative to ``yield_expected`` (a log ratio), so the trees learn departures
# from each grid's level rather than 457 levels (training.families.grazing).
TARGET_BASE = "yield_expected"
# Known only when the forecast is made in the season's own growing year (so empty on forecasts from winter data).
GROWING_YEAR_FEATURES = ["standing_forage_vs_usual"]


def with_level_features(rows: pd.DataFrame, panel: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """:data:`LEVEL_FEATURES` of each row, as known at its decision month (shown as shares: 0.1 = 10 % above).

    ``standing_forage_vs_usual`` is last month's standing forage against the grid's usual for that calendar
    month (geometric mean of earlier years), only where the season's own growing year has begun by then
    (:func:`growth_seen`: a cold season forecast in summer sees the growth it will graze; a warm one forecast
    in winter does not, and is NaN: left unmasked, last year's growth cost 1 kg DM/ha of MAE and 1.4 points
    of cold recall in the 2024 backtest). ``yield_expected`` is the county's usual
    yield of the season (geometric mean over the rows' grids of their past mean for it, per season, year and
    lead) times the grid's level against the county; where that is unknown, the grid's own past mean of the
    season, else the geometric mean of its monthly yields so far, else the county's, else
    :data:`PRIOR_YIELD_KG_HA` (so every row has a base for the model's log-ratio target).

    Args:
        rows: season rows of :func:`features.grazing.build_grazing_features` with ``grid_id``, ``decision_n``,
            ``start_n``, ``season``, ``season_year``, ``lead_months`` and ``yield_mean_past``.
        panel: the county's grid-month panel (:func:`features.pasture.grid_panel`).
        domain: figures to use (its growing months).
    """
    level = grid_level_panel(panel, domain)
    out = rows.merge(level, on=["grid_id", "decision_n"], how="left")
    seen = growth_year(out["decision_n"] - 1, domain) == growth_year(out["start_n"], domain)
    log_past = np.log(out["yield_mean_past"].where(out["yield_mean_past"] > 0))
    county_usual = np.exp(log_past.groupby([out["season"], out["season_year"], out["lead_months"]]).transform("mean"))
    expected = county_usual * np.exp(out["level_log"])
    out["yield_vs_county_recent"] = np.expm1(out["level_log"])
    out["yield_vs_county_trend"] = np.expm1(out["trend_log"])
    out["standing_forage_vs_usual"] = np.where(seen, np.expm1(out["standing_log"]), np.nan)
    out["rain_vs_county_recent"] = np.expm1(out["rain_log"])
    fallbacks = (out["yield_mean_past"], np.exp(out["grid_log_so_far"]), np.exp(out["county_log_so_far"]))
    for fallback in fallbacks:
        expected = expected.fillna(fallback)
    out["yield_expected"] = expected.fillna(PRIOR_YIELD_KG_HA)
    return out.drop(
        columns=["level_log", "trend_log", "standing_log", "rain_log", "grid_log_so_far", "county_log_so_far"]
    )


def grid_level_panel(panel: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """Per grid and month ``n``, the grid's level as known at decision month ``n`` (months up to n - 1).

    Columns (besides ``grid_id`` and ``decision_n``): ``level_log`` (exponentially weighted mean of the
    grid's log monthly yield minus the county's mean log yield that month, half-life
    :data:`LEVEL_HALF_LIFE_MONTHS`), ``trend_log`` (short minus long memory of the same), ``standing_log``
    (last month's log yield minus the grid's mean log yield in that calendar month of earlier years),
    ``rain_log`` (weighted mean of the grid's log rain minus the county's, growing-season months only);
    ``grid_log_so_far`` and ``county_log_so_far``, the mean log monthly yield of the grid and of the county
    over every earlier month (the expected yield's fall-backs). The county is the grids of the panel.
    """
    g = panel["grid_id"]
    n = panel["month_n"]
    log_yield = np.log(panel["forage_yield_kg_ha"].where(panel["forage_yield_kg_ha"] > 0))
    versus_county = (log_yield - log_yield.groupby(n).transform("mean")).groupby(g, sort=False).shift(1)

    def weighted(values: pd.Series, half_life: float, min_periods: int, ignore_na: bool = False) -> pd.Series:
        means = values.groupby(g, sort=False).ewm(halflife=half_life, min_periods=min_periods, ignore_na=ignore_na)
        return means.mean().reset_index(level=0, drop=True).reindex(values.index)

    short, long = (weighted(versus_county, h, MIN_LEVEL_MONTHS) for h in TREND_HALF_LIVES)
    moy = pd.Series(month_of_year(n), index=panel.index)
    keyed = pd.DataFrame({"grid_id": g, "moy": moy, "log_yield": log_yield})
    usual = expanding_mean_within(keyed, ["grid_id", "moy"], "log_yield")
    growing = moy.isin(domain.drought_growing_months)
    log_rain = np.log(panel["precip_mm"].where(growing & (panel["precip_mm"] > 0)))
    rain = (log_rain - log_rain.groupby(n).transform("mean")).groupby(g, sort=False).shift(1)
    county_so_far = log_yield.groupby(n).mean().shift(1).expanding().mean()  # every earlier month
    return pd.DataFrame(
        {
            "grid_id": g,
            "decision_n": n,
            "level_log": weighted(versus_county, LEVEL_HALF_LIFE_MONTHS, MIN_LEVEL_MONTHS),
            "trend_log": short - long,
            "standing_log": (log_yield - usual).groupby(g, sort=False).shift(1),
            "rain_log": weighted(rain, RAIN_HALF_LIFE_MONTHS, 4, ignore_na=True),
            "grid_log_so_far": expanding_mean_within(keyed, ["grid_id"], "log_yield"),
            "county_log_so_far": n.map(county_so_far).to_numpy(dtype=float),
        }
    )


def growth_year(month_n: npt.ArrayLike, domain: Domain) -> npt.NDArray[np.int64]:
    """The growing year a month's standing forage comes from: it starts in the first growing month (May);
    January-April still stand on last year's growth."""
    n = np.asarray(month_n, dtype=np.int64)
    return calendar_year(n) - (month_of_year(n) < min(domain.drought_growing_months))


def growth_seen(frame: pd.DataFrame, domain: Domain = DEFAULT_DOMAIN) -> npt.NDArray[np.bool_]:
    """Whether each row's season stands on a growing year already under way at its last month of data (the
    season's weather is then partly in the data: a cold season forecast from July)."""
    as_of = month_number(frame["as_of_month"])
    return growth_year(as_of, domain) == growth_year(month_number(frame["season_start"]), domain)


def has_own_level(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Whether a row's expected yield comes from the grid's own record (its level against the county or its
    past mean of the season) rather than a fall-back (the first season of a record)."""
    return (frame["yield_vs_county_recent"].notna() | frame["yield_mean_past"].notna()).to_numpy()
