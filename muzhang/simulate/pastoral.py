"""Monthly life of every grid area: forage, herds, households, rest programmes and disputes.

One loop over months, vectorised over grids. Each month uses only the state left by the month before
plus that month's weather, so the records are causal, like the real reports they stand in for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from muzhang.calendar import festival_months
from muzhang.domain import SPECIES, Domain, nyt635_capacity_su
from muzhang.simulate.weather import Weather

# Reference peak forage yield (kg DM/ha) at 4,200 m in a normal year, before degradation (assumption
# shaped on the Three-Rivers figures: 466 kg/ha mean in 2010, 533-694 kg/ha over 1988-2012).
REFERENCE_PEAK_YIELD = {"alpine_meadow": 950.0, "alpine_steppe": 520.0, "swamp_meadow": 1_200.0}
YIELD_ELEVATION_DECAY_PER_M = 0.0008
YIELD_RAIN_ELASTICITY = 0.6  # yield ~ (growing-season rain / normal) ** 0.6 (assumption)
# Standing forage through the year as a share of that year's peak (Jan-Apr: last year's standing dead).
STANDING_CURVE = np.array([0.62, 0.58, 0.52, 0.46, 0.45, 0.62, 0.88, 1.00, 0.95, 0.85, 0.76, 0.68])
GREEN_CURVE = np.array([0.02, 0.02, 0.03, 0.08, 0.25, 0.65, 0.92, 1.00, 0.80, 0.35, 0.08, 0.03])

# Herd mix (share of a grid's SU) on meadows vs steppe; Dari keeps mostly yak and Tibetan sheep.
SU_MIX = {
    "meadow": {"yak": 0.80, "sheep": 0.13, "goat": 0.01, "horse": 0.06},
    "steppe": {"yak": 0.58, "sheep": 0.33, "goat": 0.03, "horse": 0.06},
}
BIRTHS_PER_HEAD_YEAR = {"yak": 0.30, "sheep": 0.45, "goat": 0.50, "horse": 0.15}
BIRTH_CALENDAR = {  # month -> share of the year's births (calving Apr-Jun, lambing Feb-Apr)
    "yak": {4: 0.25, 5: 0.45, 6: 0.30},
    "sheep": {2: 0.30, 3: 0.45, 4: 0.25},
    "goat": {2: 0.30, 3: 0.45, 4: 0.25},
    "horse": {4: 0.30, 5: 0.40, 6: 0.30},
}
DEATH_RATE_MONTH = {"yak": 0.006, "sheep": 0.008, "goat": 0.008, "horse": 0.004}
SPRING_WEAKNESS = 1.6  # Feb-Apr mortality multiplier
SNOW_DEATH_RATE_MONTH = 0.045  # x severity, Dec-Mar: 13-24 % over a heavy-snow winter (DOMAIN.md)
OFFTAKE_PER_YEAR = {"yak": 0.16, "sheep": 0.28, "goat": 0.32, "horse": 0.05}
# Sales peak September-December (DOMAIN.md); weights sum to 1.
SALES_MONTH_WEIGHT = np.array([0.06, 0.05, 0.02, 0.02, 0.02, 0.03, 0.04, 0.06, 0.15, 0.20, 0.20, 0.15])
FESTIVAL_UPLIFT = 1.4  # before Losar / Spring Festival
NEW_YEAR_UPLIFT = 1.1  # December, before New Year
DROUGHT_DESTOCK = 1.35  # autumn sales after a summer drought
SNOW_DESTOCK = 1.5  # distress sales in spring after heavy snow (x severity)
TARGET_GROWTH_PER_YEAR = 0.01  # herders' desired herds grow: one driver of disputes
# Households move camp 5+ times a year (DOMAIN.md): probability a household moves in a month.
MOVE_PROBABILITY = np.array([0.05, 0.05, 0.30, 0.05, 0.90, 0.60, 0.30, 0.30, 0.50, 0.90, 0.40, 0.05])
HOUSEHOLD_SPLIT_RATE = 0.0012  # per household per month (new households)
HOUSEHOLD_LEAVE_RATE = 0.0004
PEOPLE_TARGET_GROWTH = 0.009  # a year


@dataclass(frozen=True)
class DisputeModel:
    """Log-linear monthly dispute rate (drivers from DOMAIN.md; coefficients are assumptions)."""

    intercept: float = -4.85
    boundary_ambiguity: float = 1.7
    pressure_above_balance: float = 0.8
    rested_share: float = 1.0  # trespass and covert grazing after bans
    new_households_3m: float = 0.22
    moving_month: float = 0.35
    own_disputes_6m: float = 0.30
    neighbour_disputes_3m: float = 0.12
    stress: float = 0.35  # drought autumn or heavy-snow winter
    log_households: float = 0.2
    grid_effect_sd: float = 0.35  # unobserved local feuds


@dataclass(frozen=True)
class PastoralRecords:
    """Monthly tables produced by the simulation."""

    monthly: pd.DataFrame  # one row per grid and month (the reported items)
    oracle: pd.DataFrame  # true expected yield and dispute probability per grid and month
    expected_sales: pd.DataFrame  # grid, month, species, expected head sold (for the market oracle)
    end_state: PastoralState | None = None  # what the loop carried out of its last month (to continue it)


@dataclass
class PastoralState:
    """Everything the monthly loop carries from one month to the next, so a county can be continued."""

    t: int  # index of the next month, counted from the first simulated month
    first_year: int
    ref_peak: np.ndarray
    grid_effect: np.ndarray
    target_su: np.ndarray
    pph: np.ndarray
    feed_coverage: np.ndarray
    normal_grow: np.ndarray  # mean May-Aug rain per grid over the simulated years (the rain ratio's base)
    temp_mean: float  # mean temperature over the simulated months (the temperature anomaly's base)
    degradation: np.ndarray
    peak: dict[int, np.ndarray]
    herd: dict[str, np.ndarray]
    households: np.ndarray
    houses: np.ndarray
    dogs: np.ndarray
    rest_kind: np.ndarray
    rested_share: np.ndarray
    disputes_hist: list[np.ndarray] = field(default_factory=list)  # last 6 months
    new_hh_hist: list[np.ndarray] = field(default_factory=list)  # last 3 months
    pressure_year: list[np.ndarray] = field(default_factory=list)
    rested_year: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class MonthWeather:
    """One month's weather per grid, and the figures of its year the loop needs."""

    precip_mm: np.ndarray
    temp_c: np.ndarray
    snow_days: np.ndarray
    severity: np.ndarray
    severity_2m_ago: np.ndarray  # heavy snow two months back (spring distress sales)
    drought_year: bool
    rain_ratio: np.ndarray  # this year's May-Aug rain / normal, per grid
    temp_anom: float
    peak_noise: np.ndarray


@dataclass(frozen=True)
class Site:
    """Per-grid constants of the loop, from the grids and neighbours tables."""

    n_g: int
    ptype: np.ndarray
    area_ha: np.ndarray
    community: np.ndarray
    shares: dict[str, np.ndarray]
    ambiguity: np.ndarray
    nb_i: np.ndarray
    nb_j: np.ndarray

    @classmethod
    def of(cls, grids: pd.DataFrame, neighbours: pd.DataFrame) -> Site:
        idx = pd.Index(grids["grid_id"])
        return cls(
            n_g=len(grids),
            ptype=grids["pasture_type"].to_numpy(),
            area_ha=grids["area_km2"].to_numpy() * 100,
            community=grids["is_community"].to_numpy(),
            shares={s: grids[f"{s}_share"].to_numpy() for s in ("warm", "cold", "transition")},
            ambiguity=grids["boundary_ambiguity"].to_numpy(),
            nb_i=idx.get_indexer(neighbours["grid_id"]),
            nb_j=idx.get_indexer(neighbours["neighbour_id"]),
        )


def _peak_yield(
    ref: np.ndarray, degradation: np.ndarray, rain_ratio: np.ndarray, temp_anom: float, noise: np.ndarray
) -> np.ndarray:
    return ref * (1 - degradation) * rain_ratio**YIELD_RAIN_ELASTICITY * (1 + 0.05 * temp_anom) * noise


def simulate_pastoral(
    rng: np.random.Generator,
    grids: pd.DataFrame,
    neighbours: pd.DataFrame,
    weather: Weather,
    domain: Domain,
    *,
    herd_scale: float = 1.0,
    people_scale: float = 1.0,
    disputes: DisputeModel | None = None,
) -> PastoralRecords:
    """Run the county month by month; ``herd_scale``/``people_scale`` calibrate totals to DOMAIN.md."""
    dm = disputes or DisputeModel()
    months = weather.months
    site = Site.of(grids, neighbours)
    n_g, ptype, area_ha, community, shares = site.n_g, site.ptype, site.area_ha, site.community, site.shares
    elevation = grids["elevation_m"].to_numpy(dtype=float)

    ref_peak = np.array([REFERENCE_PEAK_YIELD[p] for p in ptype])
    ref_peak *= np.exp(-YIELD_ELEVATION_DECAY_PER_M * (elevation - 4_200)) * rng.lognormal(0, 0.15, n_g)
    degradation = rng.beta(2, 10, n_g)
    grid_effect = rng.normal(0, dm.grid_effect_sd, n_g)

    # Growing-season (May-Aug) rain ratio per year and grid, from the weather already drawn.
    years = sorted(set(months.year))
    moy = months.month.to_numpy()
    grow = np.isin(moy, (5, 6, 7, 8))
    normal_grow = np.array([weather.precip_mm[grow & (months.year == y)].sum(axis=0) for y in years]).mean(axis=0)
    rain_ratio = {
        y: np.clip(weather.precip_mm[grow & (months.year == y)].sum(axis=0) / normal_grow, 0.3, 2.0) for y in years
    }
    temp_mean = float(weather.temp_c.mean())
    temp_anom = {y: float(weather.temp_c[months.year == y].mean() - temp_mean) for y in years}
    peak_noise = {y: rng.lognormal(0, 0.07, n_g) for y in [years[0] - 1, *years]}
    peak = {years[0] - 1: _peak_yield(ref_peak, degradation, np.ones(n_g), 0.0, peak_noise[years[0] - 1])}

    # Herds: sized from the cold-season capacity (the bottleneck), with a spread of under- and
    # over-stocked grids (DOMAIN.md: Dari not overgrazed overall, a mix locally).
    cold_cap0 = nyt635_capacity_su(peak[years[0] - 1] * STANDING_CURVE[9], area_ha * shares["cold"], ptype, "cold")
    target_su = cold_cap0 * rng.lognormal(-0.05, 0.38, n_g) * np.where(community, 0.15, 1.0) * herd_scale
    steppe = ptype == "alpine_steppe"
    herd: dict[str, np.ndarray] = {
        sp: np.round(target_su * np.where(steppe, SU_MIX["steppe"][sp], SU_MIX["meadow"][sp]) / domain.su_factors[sp])
        for sp in SPECIES
    }
    pph = np.where(community, rng.uniform(3.0, 3.6, n_g), rng.uniform(3.8, 4.8, n_g))
    hh_weight = np.where(community, 180.0, 14.0) * np.sqrt(grids["area_km2"].to_numpy() / 32.5)
    households = np.maximum(np.round(hh_weight * rng.lognormal(0, 0.3, n_g) * people_scale), 2)
    houses = np.round(households * rng.uniform(0.55, 0.9, n_g))
    dogs = np.round(households * rng.uniform(1.0, 1.8, n_g) * np.where(community, 0.3, 1.0))
    feed_coverage = rng.uniform(0.2, 0.6, n_g)

    state = PastoralState(
        t=0,
        first_year=months[0].year,
        ref_peak=ref_peak,
        grid_effect=grid_effect,
        target_su=target_su,
        pph=pph,
        feed_coverage=feed_coverage,
        normal_grow=normal_grow,
        temp_mean=temp_mean,
        degradation=degradation,
        peak=peak,
        herd=herd,
        households=households,
        houses=houses,
        dogs=dogs,
        rest_kind=np.full(n_g, "grazing", dtype=object),
        rested_share=np.zeros(n_g),
    )
    fest = festival_months()
    rows: list[dict[str, np.ndarray]] = []
    oracle_rows: list[dict[str, np.ndarray]] = []
    sales_rows: list[dict[str, np.ndarray]] = []
    for t, month in enumerate(months):
        wx = MonthWeather(
            precip_mm=weather.precip_mm[t],
            temp_c=weather.temp_c[t],
            snow_days=weather.snow_days[t],
            severity=weather.snow_severity[t],
            severity_2m_ago=weather.snow_severity[max(t - 2, 0)],
            drought_year=month.year in weather.drought_years,
            rain_ratio=rain_ratio[month.year],
            temp_anom=temp_anom[month.year],
            peak_noise=peak_noise[month.year],
        )
        row, oracle_row, sales = step_month(rng, state, site, month, wx, domain, dm, fest)
        rows.append({"t": np.full(n_g, t), **row})
        oracle_rows.append({"t": np.full(n_g, t), **oracle_row})
        sales_rows.extend({"t": np.full(n_g, t), **s} for s in sales)

    return PastoralRecords(
        monthly=monthly_frame(rows, grids, months),
        oracle=_frame(oracle_rows, grids, months),
        expected_sales=_frame(sales_rows, grids, months),
        end_state=state,
    )


COUNT_COLUMNS = (
    "snow_days",
    "households",
    "people",
    "new_households",
    "settled_houses",
    "camp_moves",
    *SPECIES,
    "births",
    "deaths",
    *(f"{sp}_sold" for sp in SPECIES),
    "dogs",
    "patrol_days",
    "disputes",
    "mediations",
)


def monthly_frame(rows: list[dict[str, np.ndarray]], grids: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """The grid_monthly table from the loop's rows (each with ``t``, the index into ``months``)."""
    monthly = _frame(rows, grids, months)
    counts = list(COUNT_COLUMNS)
    monthly[counts] = monthly[counts].astype(np.int64)
    return monthly


def step_month(
    rng: np.random.Generator,
    st: PastoralState,
    site: Site,
    month: pd.Timestamp,
    wx: MonthWeather,
    domain: Domain,
    dm: DisputeModel,
    fest: frozenset[tuple[int, int]],
    *,
    sell_more: float = 1.0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Advance ``st`` by one month; return that month's (row, oracle row, expected sales per species).
    ``sell_more`` scales every sale probability (a scenario's destocking wave; 1: the county's own sales)."""
    n_g, ptype, area_ha, community, shares = site.n_g, site.ptype, site.area_ha, site.community, site.shares
    t = st.t
    herd = st.herd
    y, m = month.year, month.month
    if m == 1:  # rest programmes are decided at the start of the year
        st.rest_kind, st.rested_share = _decide_rest(rng, st.degradation, n_g)
        st.rest_kind[community] = "grazing"
        st.rested_share[community] = 0.0
        st.pressure_year, st.rested_year = [], []
    rest_kind, rested_share = st.rest_kind, st.rested_share
    if m == 5:
        st.peak[y] = _peak_yield(st.ref_peak, st.degradation, wx.rain_ratio, wx.temp_anom, wx.peak_noise)
    this_peak = st.peak[y] if m >= 5 else st.peak[y - 1]
    expected_yield = this_peak * STANDING_CURVE[m - 1]
    season = domain.season_of_month(m)
    season_peak_month = {"warm": 8, "cold": 10, "transition": 5}[season]
    season_yield = (st.peak[y] if m >= 5 else st.peak[y - 1]) * STANDING_CURVE[season_peak_month - 1]
    active_share = np.where(
        rest_kind == "seasonal_rest", np.where(np.isin(m, (5, 6, 7, 8, 9)), rested_share, 0), rested_share
    )
    drought_now = wx.drought_year & (m >= 7)
    capacity = nyt635_capacity_su(
        season_yield, area_ha * shares[season] * (1 - active_share), ptype, season, drought=drought_now
    )
    su_prev = sum(herd[sp] * domain.su_factors[sp] for sp in SPECIES)
    pressure = su_prev / np.maximum(capacity, 1.0)
    st.pressure_year.append(pressure)
    st.rested_year.append(active_share)

    # Livestock: births, deaths, sales from last month's herd.
    severity = wx.severity
    snow_deaths = SNOW_DEATH_RATE_MONTH * severity if m in (12, 1, 2, 3) else np.zeros(n_g)
    festival = FESTIVAL_UPLIFT if (y, m) in fest else (NEW_YEAR_UPLIFT if m == 12 else 1.0)
    destock = np.ones(n_g)
    if wx.drought_year and m >= 9:
        destock *= DROUGHT_DESTOCK
    if m in (3, 4, 5):
        destock *= 1 + (SNOW_DESTOCK - 1) * wx.severity_2m_ago / SNOW_SEVERITY_MAX
    if sell_more != 1.0:
        destock *= sell_more
    years_in = (month.year - st.first_year) + (m - 1) / 12
    target_now = st.target_su * (1 + TARGET_GROWTH_PER_YEAR) ** years_in * np.where(rest_kind == "grazing_ban", 0.8, 1)
    control = np.clip((su_prev / np.maximum(target_now, 1)) ** 3, 0.15, 2.5)
    overgrazed = 1 + 0.5 * np.clip(pressure - 1.2, 0, 2) * (season == "cold")
    births = np.zeros(n_g)
    deaths = np.zeros(n_g)
    sold: dict[str, np.ndarray] = {}
    sales_rows: list[dict[str, np.ndarray]] = []
    for sp in SPECIES:
        h = herd[sp].astype(np.int64)
        birth_p = BIRTHS_PER_HEAD_YEAR[sp] * BIRTH_CALENDAR[sp].get(m, 0.0) * (1 - 0.5 * np.minimum(severity, 1))
        death_p = DEATH_RATE_MONTH[sp] * (SPRING_WEAKNESS if m in (2, 3, 4) else 1.0) * overgrazed + snow_deaths
        sale_p = np.minimum(OFFTAKE_PER_YEAR[sp] * SALES_MONTH_WEIGHT[m - 1] * festival * destock * control, 0.4)
        b = rng.binomial(h, np.clip(birth_p, 0, 1))
        d = rng.binomial(h, np.clip(death_p, 0, 0.5))
        s = rng.binomial(h - d, sale_p)
        herd[sp] = h + b - d - s
        births, deaths, sold[sp] = births + b, deaths + d, s
        sales_rows.append({"species": np.full(n_g, sp), "expected": (h * (1 - death_p)) * sale_p})

    # Households and people.
    households = st.households
    new_hh = rng.binomial(households.astype(np.int64), HOUSEHOLD_SPLIT_RATE)
    left = rng.binomial(households.astype(np.int64), HOUSEHOLD_LEAVE_RATE)
    households = st.households = np.maximum(households + new_hh - left, 1)
    prev_new_hh = _recent(st.new_hh_hist, 3, n_g)
    st.new_hh_hist = [*st.new_hh_hist, new_hh][-3:]
    st.houses = np.minimum(
        st.houses + rng.binomial((households - st.houses).clip(0).astype(np.int64), 0.004), households
    )
    people = np.round(
        households
        * st.pph
        * (1 + PEOPLE_TARGET_GROWTH / 12) ** t
        / (1 + HOUSEHOLD_SPLIT_RATE - HOUSEHOLD_LEAVE_RATE) ** t
    )
    move_p = MOVE_PROBABILITY[m - 1] * np.where(community, 0.1, 1.0)
    camp_moves = rng.binomial(households.astype(np.int64), move_p)
    if m == 1 and y >= 2017:  # dog-control campaign (echinococcosis programme) trims dog numbers
        st.dogs = np.round(st.dogs * rng.uniform(0.94, 1.0, n_g))

    # Disputes: driven by what was on the ground last month and the season.
    own6 = _recent(st.disputes_hist, 6, n_g)
    last3 = _recent(st.disputes_hist, 3, n_g)
    neigh3 = np.bincount(site.nb_i, weights=last3[site.nb_j], minlength=n_g)
    stress = np.clip(drought_now + (severity if m in (11, 12, 1, 2, 3) else 0), 0, 1.5)
    log_rate = (
        dm.intercept
        + dm.boundary_ambiguity * site.ambiguity
        + dm.pressure_above_balance * np.clip(pressure - 0.9, 0, 2)
        + dm.rested_share * active_share
        + dm.new_households_3m * np.minimum(prev_new_hh, 4)
        + dm.moving_month * (MOVE_PROBABILITY[m - 1] >= 0.5)
        + dm.own_disputes_6m * np.minimum(own6, 4)
        + dm.neighbour_disputes_3m * np.minimum(neigh3, 6)
        + dm.stress * stress
        + dm.log_households * np.log1p(households / 15)
        + st.grid_effect
    )
    rate = np.exp(log_rate)
    n_disputes = rng.poisson(rate)
    st.disputes_hist = [*st.disputes_hist, n_disputes.astype(float)][-6:]
    kind = _dispute_kind(rng, n_disputes, site.ambiguity, active_share, pressure, new_hh)

    observed_yield = expected_yield * rng.lognormal(0, 0.08, n_g)
    ndvi = 0.10 + 0.62 * GREEN_CURVE[m - 1] * np.sqrt(
        np.clip(this_peak, 1, None) / REFERENCE_PEAK_YIELD["alpine_meadow"]
    )
    ndvi = np.clip(ndvi - 0.004 * wx.snow_days + rng.normal(0, 0.025, n_g), 0.02, 0.92)
    su_now = sum(herd[sp] * domain.su_factors[sp] for sp in SPECIES)
    in_feeding = m in (11, 12, 1, 2, 3, 4)
    feed_t = (st.feed_coverage * in_feeding + 0.5 * active_share) * su_now * 30 * domain.feed_kg_per_su_day / 1_000
    row = {
        "precip_mm": wx.precip_mm,
        "temp_mean_c": wx.temp_c,
        "snow_days": wx.snow_days,
        "ndvi": np.round(ndvi, 3),
        "forage_yield_kg_ha": np.round(observed_yield, 1),
        "households": households.copy(),
        "people": people,
        "new_households": new_hh,
        "settled_houses": st.houses.copy(),
        "camp_moves": camp_moves,
        **{sp: herd[sp].copy() for sp in SPECIES},
        "births": births,
        "deaths": deaths,
        **{f"{sp}_sold": sold[sp] for sp in SPECIES},
        "rest_status": np.where(active_share > 0, rest_kind, "grazing"),
        "rested_share": np.round(active_share, 3),
        "supplementary_feed_t": np.round(feed_t, 2),
        "dogs": st.dogs.copy(),
        "patrol_days": rng.poisson(1.5 + 8 * active_share),
        "disputes": n_disputes,
        "dispute_kind": kind,
        "mediations": rng.binomial(n_disputes, 0.85),
    }
    oracle_row = {
        "expected_forage_yield_kg_ha": expected_yield,
        "dispute_rate": rate,
        "p_any_dispute": 1 - np.exp(-rate),
    }
    if m == 12:  # grazing above capacity degrades next year's yield; rest lets it recover
        p_mean = np.mean(st.pressure_year, axis=0)
        rest_mean = np.mean(st.rested_year, axis=0)
        st.degradation = np.clip(
            st.degradation
            + 0.07 * np.clip(p_mean - 1, 0, 2)
            - 0.25 * rest_mean
            - 0.015 * np.clip(1 - p_mean, 0, 1)
            + rng.normal(0, 0.01, n_g),
            0,
            0.6,
        )
    st.t = t + 1
    return row, oracle_row, sales_rows


def _recent(history: list[np.ndarray], k: int, n_g: int) -> np.ndarray:
    """Sum of the last ``k`` months of a history (zeros before the first month)."""
    total = np.zeros(n_g)
    for h in history[-k:]:
        total = total + h
    return total


SNOW_SEVERITY_MAX = 1.3


def _decide_rest(rng: np.random.Generator, degradation: np.ndarray, n_g: int) -> tuple[np.ndarray, np.ndarray]:
    """Township rest programmes: degraded pasture gets a seasonal rest, badly degraded a grazing ban."""
    kind = np.full(n_g, "grazing", dtype=object)
    share = np.zeros(n_g)
    seasonal = (degradation >= 0.22) & (rng.uniform(size=n_g) < 0.5)
    ban = (degradation >= 0.34) & (rng.uniform(size=n_g) < 0.4)
    kind[seasonal] = "seasonal_rest"
    share[seasonal] = rng.uniform(0.3, 0.6, n_g)[seasonal]
    kind[ban] = "grazing_ban"
    share[ban] = rng.uniform(0.5, 0.8, n_g)[ban]
    return kind, share


DISPUTE_KINDS = ("boundary", "trespass", "livestock_damage", "family_debt")


def _dispute_kind(
    rng: np.random.Generator,
    n: np.ndarray,
    ambiguity: np.ndarray,
    rested: np.ndarray,
    pressure: np.ndarray,
    new_hh: np.ndarray,
) -> np.ndarray:
    """The main kind of a month's disputes, weighted by its drivers; ``none`` where there were none."""
    w = np.c_[
        1.5 * ambiguity + 0.1,
        1.2 * rested + 0.4 * np.clip(pressure - 1, 0, 2) + 0.05,
        np.full(len(n), 0.3),
        0.2 + 0.3 * new_hh,
    ]
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    pick = (rng.uniform(size=(len(n), 1)) > cum).sum(axis=1)
    return np.where(n > 0, np.array(DISPUTE_KINDS)[np.minimum(pick, 3)], "none")


def _frame(rows: list[dict[str, np.ndarray]], grids: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    frame = pd.concat([pd.DataFrame(r) for r in rows], ignore_index=True)
    n_g = len(grids)
    frame.insert(0, "grid_id", np.tile(grids["grid_id"].to_numpy(), len(frame) // n_g))
    frame.insert(1, "month", months[frame.pop("t").to_numpy()])
    return frame
