"""Field facts from shared DOMAIN.md as named, configurable constants, and the rules built on them.

Every figure here is either published (the source is named) or marked *assumption*. Code takes a
:class:`Domain` argument (default :data:`DEFAULT_DOMAIN`) instead of reading module globals, so a county
with other figures is a new ``Domain(...)``, not an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Season = Literal["warm", "cold", "transition"]
SEASONS: tuple[Season, ...] = ("warm", "cold", "transition")
SPECIES: tuple[str, ...] = ("yak", "sheep", "goat", "horse")
PASTURE_TYPES: tuple[str, ...] = ("alpine_meadow", "alpine_steppe", "swamp_meadow")
GRAZING_STATUSES: tuple[str, ...] = ("under", "balanced", "over")

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Domain:
    """The published figures and stated assumptions Muzhang is grounded in (see DOMAIN.md)."""

    # --- The county (Dari, Golog): published figures -------------------------------------------
    county_area_km2: float = 14_842.0
    county_people: int = 31_000
    county_livestock_head: int = 140_042
    n_grid_areas: int = 457
    n_townships: int = 10  # 1 town + 9 townships
    n_villages: int = 33
    n_communities: int = 3
    n_cooperatives: int = 109
    n_herder_chiefs: int = 1_457

    # --- NY/T 635-2015 carrying capacity -----------------------------------------------------------
    su_daily_intake_kg: float = 1.8  # one sheep unit eats 1.8 kg hay (DM) a day
    # Sheep-unit factors (DOMAIN.md defaults; Tibetan sheep factor is an assumption).
    su_factors: dict[str, float] = field(
        default_factory=lambda: {
            "yak": 4.0,
            "sheep": 1.0,
            "goat": 0.8,
            "horse": 6.0,
            "donkey": 3.0,
            "mule": 5.0,
        }
    )
    # Edible share of standing forage by pasture type (assumption, NY/T 635 tables give 0.6-0.9).
    edible_share: dict[str, float] = field(
        default_factory=lambda: {"alpine_meadow": 0.80, "alpine_steppe": 0.70, "swamp_meadow": 0.75}
    )
    # Standard-hay conversion coefficient by pasture type (assumption within NY/T 635's 0.8-1.05 range).
    hay_coefficient: dict[str, float] = field(
        default_factory=lambda: {"alpine_meadow": 1.00, "alpine_steppe": 0.95, "swamp_meadow": 0.85}
    )
    # Utilization rate by season (DOMAIN.md assumption for alpine meadow: warm 0.55-0.65, cold 0.60-0.70,
    # year-round 0.50-0.55; the transition season takes the year-round figure).
    utilization_rate: dict[str, float] = field(default_factory=lambda: {"warm": 0.60, "cold": 0.65, "transition": 0.52})
    # DB63/T 2298-2024: cut the edible share 5-10 % in drought years (we take the midpoint).
    drought_edible_cut: float = 0.075
    # DB63/T 2298-2024: supplementary feed counts 0.5 kg per SU per day.
    feed_kg_per_su_day: float = 0.5
    # Which years are drought years, from observed rain (DB63/T 2298-2024 names the cut, not the test).
    # Assumption: a year whose county growing-season (May-Aug) rain falls below 82 % of the mean of earlier
    # years is a drought year, and the cut applies to the seasons grazing that year's growth (warm and cold;
    # the May transition is grazed before the year's growth).
    drought_growing_months: tuple[int, ...] = (5, 6, 7, 8)
    drought_rain_ratio: float = 0.82
    drought_seasons: tuple[Season, ...] = ("warm", "cold")

    # --- Seasons (Henan county figures: summer 119-148 d, winter 190-222 d, transition 24-30 d) ----
    # Whole months: warm = Jun-Sep (122 d), cold = Oct-Apr (212 d), transition = May (31 d). Each season's
    # months are listed from its first month (a season that crosses the new year starts in the year of its
    # first month); ``season_days`` are the NY/T 635 grazing days, kept apart from the calendar.
    season_months: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"warm": (6, 7, 8, 9), "cold": (10, 11, 12, 1, 2, 3, 4), "transition": (5,)}
    )
    season_days: dict[str, int] = field(default_factory=lambda: {"warm": 122, "cold": 212, "transition": 31})

    # --- Grazing balance decision rule (草畜平衡: within +-10 % counts as balanced; assumption) -----
    balanced_low: float = 0.90
    balanced_high: float = 1.10
    # Advice: above this pressure a season's pasture rests instead of shedding only its excess
    # (assumption: half again over capacity means rotation alone cannot save it this season).
    rest_pressure: float = 1.5
    # Rotation: 1-2 reserve paddocks (grids) per township are held back.
    reserve_grids_per_township: int = 1
    # Safety margin of advice and the rotation plan: capacity is taken at this quantile of the season's
    # yield, so a grid kept at capacity stays within it in four seasons out of five (assumption; planners
    # may ask for another level).
    plan_risk: float = 0.20
    # A "rest this season" what-if rests this share of the season's pasture unless the grid's own programme
    # rests more (assumption: the county's seasonal rests cover 30-60 % of a grid's pasture).
    seasonal_rest_share: float = 0.5
    # A grid whose rested share last month was at least this is under a grazing ban (禁牧), so an advised
    # rest there is binding (assumption: township bans rest half or more of a grid, seasonal rests less).
    banned_rest_share: float = 0.5

    # --- Degradation grades by yield loss against reference (DOMAIN.md) ---------------------------
    degradation_light: float = 0.20
    degradation_moderate: float = 0.30
    degradation_severe: float = 0.40

    # --- Health: published prevalences used to calibrate the simulator ----------------------------
    echinococcosis_prevalence: float = 0.1193  # Dari ultrasound survey, 430 of 3,605
    butter_tea_hypertension_or: float = 1.33
    brucellosis_abortion_or: float = 5.0
    cms_hb_threshold_men: float = 21.0  # g/dL
    cms_hb_threshold_women: float = 19.0  # g/dL
    hypertension_sbp: float = 140.0  # mmHg, usual clinical cut-off
    hypertension_dbp: float = 90.0

    def season_of_month(self, month: int) -> Season:
        """Return the grazing season a calendar month (1-12) belongs to."""
        for season in SEASONS:
            if month in self.season_months[season]:
                return season
        raise ValueError(f"month must be 1..12, got {month}")

    def season_start_month(self, season: Season) -> int:
        """Calendar month (1-12) a grazing season starts in: the first of its ``season_months``."""
        return self.season_months[season][0]


DEFAULT_DOMAIN = Domain()


def sheep_units(counts: dict[str, npt.ArrayLike], domain: Domain = DEFAULT_DOMAIN) -> FloatArray:
    """Convert head counts by species into sheep units (SU) with the domain's factors.

    Args:
        counts: species name -> head count (scalar or array); unknown species raise ``KeyError``.
        domain: figures to use.
    """
    total: FloatArray = np.zeros(np.broadcast(*counts.values()).shape, dtype=float) if counts else np.zeros(())
    for species, heads in counts.items():
        total = total + domain.su_factors[species] * np.asarray(heads, dtype=float)
    return total


def nyt635_capacity_su(
    yield_kg_ha: npt.ArrayLike,
    area_ha: npt.ArrayLike,
    pasture_type: npt.ArrayLike,
    season: Season,
    *,
    drought: npt.ArrayLike = False,
    domain: Domain = DEFAULT_DOMAIN,
) -> FloatArray:
    """Reasonable carrying capacity (SU) of a pasture for one season, after NY/T 635-2015.

    usable forage = yield x edible share x area x utilization rate;
    capacity = usable forage x hay coefficient / (1.8 kg x grazing days).

    Args:
        yield_kg_ha: the season's (peak) forage yield, kg DM per hectare.
        area_ha: pasture area used in that season, hectares.
        pasture_type: one of :data:`PASTURE_TYPES` (scalar or array).
        season: ``warm``, ``cold`` or ``transition``; sets the utilization rate and grazing days.
        drought: where true, the edible share is cut as DB63/T 2298-2024 asks.
        domain: figures to use.
    """
    types = np.asarray(pasture_type)
    edible = np.vectorize(domain.edible_share.__getitem__, otypes=[float])(types)
    hay = np.vectorize(domain.hay_coefficient.__getitem__, otypes=[float])(types)
    edible = edible * (1.0 - domain.drought_edible_cut * np.asarray(drought, dtype=float))
    usable = np.asarray(yield_kg_ha, dtype=float) * edible * np.asarray(area_ha, dtype=float)
    usable = usable * domain.utilization_rate[season]
    return np.asarray(usable * hay / (domain.su_daily_intake_kg * domain.season_days[season]), dtype=float)


def grazing_pressure(stocking_su: npt.ArrayLike, capacity_su: npt.ArrayLike) -> FloatArray:
    """Grazing-pressure index: actual stocking / reasonable capacity (1.0 = in balance).

    A pasture with no capacity and any stock is infinitely pressed; with neither it is 0.
    """
    stock = np.asarray(stocking_su, dtype=float)
    cap = np.asarray(capacity_su, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pressure = np.where(cap > 0, stock / np.where(cap > 0, cap, 1.0), np.where(stock > 0, np.inf, 0.0))
    return np.asarray(pressure, dtype=float)


def grazing_status(pressure: npt.ArrayLike, domain: Domain = DEFAULT_DOMAIN) -> npt.NDArray[np.str_]:
    """Classify pressure as ``under``, ``balanced`` or ``over`` with the domain's balance band."""
    p = np.asarray(pressure, dtype=float)
    return np.where(p > domain.balanced_high, "over", np.where(p < domain.balanced_low, "under", "balanced"))


def grazing_advice(
    pressure: npt.ArrayLike,
    stocking_su: npt.ArrayLike,
    capacity_su: npt.ArrayLike,
    yield_ratio: npt.ArrayLike,
    domain: Domain = DEFAULT_DOMAIN,
) -> tuple[npt.NDArray[np.str_], FloatArray]:
    """ "Graze where suitable, rest where needed" (宜牧则牧、宜休则休) as a rule: action and SU to move.

    The one grazing decision: a grid's advice and the county rotation plan both come from it (the plan
    moves exactly ``su_to_move`` off each grid, or counts it short), so they cannot disagree. Give it the
    capacity at the planner's risk level (a low quantile of the season's yield) and the pressure on it.

    - ``rest``: pressure at or above ``rest_pressure`` (rotation alone cannot save the pasture), or the
      forecast yield has fallen to moderate degradation against the grid's own past (loss >=
      ``degradation_moderate``); the whole herd moves and the grid ends empty.
    - ``rotate``: more whole SU than whole SU of capacity; the excess moves.
    - ``graze``: within capacity; nothing moves.

    Whole sheep units, as the plan counts them: stock rounds to the nearest SU, capacity down to a whole SU.

    Args:
        pressure: grazing-pressure index (stocking / capacity).
        stocking_su: sheep units on the pasture.
        capacity_su: reasonable capacity (SU) for the season.
        yield_ratio: forecast yield / the grid's mean past yield for the season (NaN if unknown).
    """
    p = np.asarray(pressure, dtype=float)
    stock = np.floor(np.nan_to_num(np.asarray(stocking_su, dtype=float)) + 0.5)
    limit = np.floor(np.nan_to_num(np.asarray(capacity_su, dtype=float), nan=0.0) + 1e-9)
    rest = ((p >= domain.rest_pressure) & (stock > 0)) | (is_degraded(yield_ratio, domain) & (stock > 0))
    rotate = ~rest & (stock > limit)
    action = np.where(rest, "rest", np.where(rotate, "rotate", "graze"))
    move = np.where(rest, stock, np.where(rotate, stock - limit, 0.0))
    return action, np.asarray(move, dtype=float)


def kept_su(action: npt.ArrayLike, stocking_su: npt.ArrayLike, su_to_move: npt.ArrayLike) -> FloatArray:
    """Whole SU a grid keeps on its pasture after :func:`grazing_advice`: none if it rests."""
    stock = np.floor(np.nan_to_num(np.asarray(stocking_su, dtype=float)) + 0.5)
    kept = np.where(np.asarray(action) == "rest", 0.0, stock - np.asarray(su_to_move, dtype=float))
    return np.asarray(kept, dtype=float)


def is_degraded(yield_ratio: npt.ArrayLike, domain: Domain = DEFAULT_DOMAIN) -> BoolArray:
    """Moderately degraded or worse: forecast yield / the grid's own past yield has lost at least
    ``degradation_moderate`` (DOMAIN.md grades). An unknown ratio (NaN: no past) is not degraded."""
    ratio = np.asarray(yield_ratio, dtype=float)
    return np.asarray(np.nan_to_num(ratio, nan=1.0) <= 1.0 - domain.degradation_moderate, dtype=bool)


def is_banned(rested_share: npt.ArrayLike, domain: Domain = DEFAULT_DOMAIN) -> BoolArray:
    """Under a grazing ban: last month's rested share at least ``banned_rest_share`` (unknown: not banned)."""
    share = np.asarray(rested_share, dtype=float)
    return np.asarray(np.nan_to_num(share, nan=0.0) >= domain.banned_rest_share, dtype=bool)


def must_rest(action: npt.ArrayLike) -> BoolArray:
    """Grids that end a rotation plan with no stock: exactly those :func:`grazing_advice` tells to rest
    (one rule for advice and plan; a ban's rested pasture is already out of the season's capacity)."""
    return np.asarray(np.asarray(action) == "rest", dtype=bool)


@dataclass(frozen=True)
class RiskBands:
    """Probability cut-offs of the bands users see: ``low`` below ``medium``, ``high`` from ``high`` up.

    A trained model carries its own cut-offs (``thresholds.risk_bands`` in its experiment YAML); these
    defaults (assumption: 1 in 10 is worth a look, 1 in 4 calls for action) apply when it carries none.
    """

    medium: float = 0.10
    high: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.medium < self.high < 1:
            raise ValueError(f"risk bands need 0 < medium < high < 1, got medium {self.medium}, high {self.high}")

    def band(self, probability: float) -> Literal["low", "medium", "high"]:
        """The band of one probability."""
        return "high" if probability >= self.high else "medium" if probability >= self.medium else "low"


DEFAULT_RISK_BANDS = RiskBands()
