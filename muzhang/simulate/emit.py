"""The months after the sample, sent the way a county sends them: one report per grid area and month, with faults.

The county is continued from the simulator's own state at the sample's last month (herds, households,
degradation, rest programmes, dispute history, price shocks), one month at a time. Each continued month draws
from a generator seeded by (the county's seed, year, month), so emitting 2025-03 re-runs 2025-01 and 2025-02
exactly as emitting them would: months are consistent without being emitted in order, and nothing of a later
month is needed or shown. Generating the sample again with a later ``last_month`` does *not* reproduce its
first 120 months (weather is drawn for all months up front and the herds are re-calibrated to the last
year), which is why the continuation starts from the state instead.

The reporting faults (late, missing, twice, typos, outliers, corrections) are drawn from a second generator
seeded by (emit seed, year, month); ``emit-manifest.json`` lists which submission carries which fault.
Rates are assumptions (REPORTING.md names the faults but gives no figures); see data_samples/README.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from muzhang.calendar import festival_months
from muzhang.catalog import load_catalog
from muzhang.domain import DEFAULT_DOMAIN, SPECIES
from muzhang.simulate.county import County, generate_county
from muzhang.simulate.market import (
    REMOTENESS_DISCOUNT_PER_60KM,
    SHOCK_AR,
    SHOCK_SD,
    TOWNSHIP_NOISE_SD,
    price_level,
)
from muzhang.simulate.pastoral import (
    COUNT_COLUMNS,
    DisputeModel,
    MonthWeather,
    PastoralState,
    Site,
    step_month,
)
from muzhang.simulate.scenario import Scenario
from muzhang.simulate.weather import (
    DROUGHT_FACTOR,
    HEAVY_SNOW_PROBABILITY,
    LAPSE_RATE_C_PER_KM,
    PRECIP_NORMAL_MM,
    SNOW_FOOTPRINT_KM,
    SNOW_SEVERITY_RANGE,
    TEMP_NORMAL_C,
    WARMING_C_PER_YEAR,
)

CST = timezone(timedelta(hours=8))  # reports are stamped in China Standard Time
ON_TIME_DAYS = 5  # a report is on time if received by the end of the 5th of the following month
# Stream tags: each (seed, year[, month], tag) names one independent generator.
_WEATHER, _WINTER, _PASTORAL, _MARKET, _FAULTS = 1, 2, 3, 4, 5
TYPO_KINDS = ("extra_digit", "dropped_digit", "negative")
# Items a chief types by hand (counts); typos and outliers land on them.
TYPED_FIELDS = ("yak", "sheep", "goat", "horse", "households", "people", "dogs", "births", "deaths")
REPORT_COLUMNS = ("submission_id", "reported_by", "received_at")


@dataclass(frozen=True)
class FaultRates:
    """Share of a month's expected reports (one per grid area) that carry each fault (assumptions).

    Counts are ``round(rate x grids)``, at least one for every fault with a positive rate, so every
    kind is present each month; a report has at most one value fault (typo or outlier).
    """

    missing: float = 0.03  # grid areas with no report this month (a month skipped: no signal, a move)
    late: float = 0.08  # of reports: received after the 5th of the following month
    duplicate: float = 0.02  # of reports: sent twice (offline resend; same submission_id, identical row)
    typo: float = 0.015  # of reports: one typed count x10, with its last digit dropped, or negative
    outlier: float = 0.01  # of reports: one count 2.5-4x or 0.2-0.4x the grid's own value
    correction: float = 0.5  # of typo'd reports: corrected 3-14 days later under a new submission_id


DEFAULT_RATES = FaultRates()


@dataclass
class EmittedMonth:
    """One month as the county sends it, and the truth about what went wrong."""

    month: str  # YYYY-MM
    reports: pd.DataFrame  # every grid_monthly column + submission_id, reported_by, received_at
    market: pd.DataFrame  # market_monthly rows for the month (township x species)
    truth: pd.DataFrame  # the simulated grid_monthly rows of the month, without faults (not written)
    manifest: dict[str, object] = field(default_factory=dict)


def emit_month(
    county: County | str | Path,
    month: str,
    seed: int | None = None,
    rates: FaultRates = DEFAULT_RATES,
    scenario: Scenario | None = None,
) -> EmittedMonth:
    """Continue ``county`` to ``month`` (YYYY-MM, after its last month) and emit that month's reports.

    Args:
        county: a generated :class:`County` or a county directory written by ``muzhang data generate``
            (regenerated from its manifest's seed and checked against its last month).
        month: the month to emit; every month from the sample's end up to it is simulated, only it is shown.
        seed: seed of the reporting faults, ids and timestamps (default: the county's seed). The county's
            own future always follows the county's seed, so any emit seed shows the same county.
        rates: fault rates.
        scenario: shocks written into the county's future (:mod:`muzhang.simulate.scenario`: a drought
            year, a market shock); none by default, and then the months are exactly as without it.
    """
    sample = load_sample(county) if not isinstance(county, County) else county
    if sample.end_state is None or sample.weather is None:
        raise ValueError("the county carries no end state to continue (generate it with generate_county)")
    county_seed = int(sample.manifest["seed"])  # type: ignore[call-overload]
    seed = county_seed if seed is None else seed
    target = _parse_month(month)
    last = pd.Timestamp(str(sample.manifest["last_month"]))
    if target <= last:
        raise ValueError(f"{month} is inside the sample (it ends {last:%Y-%m}); emit months after it")
    truth, market = continue_county(sample, county_seed, target, scenario or Scenario())
    reports, faults = _with_faults(truth, sample.tables["grids"], target, seed, rates)
    counts = {kind: len(items) for kind, items in faults.items()}
    manifest: dict[str, object] = {
        "month": f"{target:%Y-%m}",
        "seed": seed,
        "county": {
            "seed": county_seed,
            "generator_version": sample.manifest.get("generator_version"),
            "last_month": str(sample.manifest["last_month"]),
        },
        "on_time_by": (_next_month(target) + timedelta(days=ON_TIME_DAYS)).replace(tzinfo=CST).isoformat(),
        "rates": asdict(rates),
        **({"scenario": scenario.describe()} if scenario is not None and scenario != Scenario() else {}),
        "expected_reports": len(truth),
        "rows": len(reports),
        "counts": counts,
        "faults": faults,
    }
    return EmittedMonth(f"{target:%Y-%m}", reports, market, truth, manifest)


def write_emitted(emitted: EmittedMonth, out_dir: Path) -> dict[str, str]:
    """Write reports.csv, reports.xlsx, market.csv and emit-manifest.json (with the csv files' sha256)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    emitted.reports.to_csv(out_dir / "reports.csv", index=False, float_format="%.6g")
    emitted.market.to_csv(out_dir / "market.csv", index=False, float_format="%.6g")
    emitted.reports.to_excel(out_dir / "reports.xlsx", index=False, sheet_name="reports", engine="openpyxl")
    # The xlsx carries the time it was written (openpyxl), so only the csv files are fingerprinted.
    checksums = {
        name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in ("reports.csv", "market.csv")
    }
    manifest = {**emitted.manifest, "files": checksums}
    (out_dir / "emit-manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return checksums


# --- The sample and its continuation --------------------------------------------------------------------


def load_sample(path: str | Path) -> County:
    """Regenerate the county a directory was generated from (its manifest's seed) and check it is that one."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    n_grids = int(manifest["rows"]["grids"])
    county = _generated(
        int(manifest["seed"]), None if n_grids == DEFAULT_DOMAIN.n_grid_areas else n_grids, str(manifest["last_month"])
    )
    shipped = pd.read_parquet(path / load_catalog().table("grid_monthly").file)
    ours = county.tables["grid_monthly"]
    last = shipped["month"].max()
    a = shipped[shipped["month"] == last].reset_index(drop=True)
    b = ours[ours["month"] == last].reset_index(drop=True)
    if len(a) != len(b) or not a.equals(b[a.columns]):
        raise ValueError(f"{path} is not what seed {manifest['seed']} generates; cannot continue it")
    return county


@lru_cache(maxsize=2)
def _generated(seed: int, n_grids: int | None, last_month: str) -> County:
    return generate_county(seed, n_grids=n_grids, last_month=last_month)


def continue_county(
    sample: County, county_seed: int, target: pd.Timestamp, scenario: Scenario | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The true grid_monthly and market_monthly rows of ``target``, continuing the sample month by month
    (under ``scenario``'s shocks, if any)."""
    scenario = scenario or Scenario()
    assert sample.end_state is not None and sample.weather is not None
    grids = sample.tables["grids"]
    state: PastoralState = copy.deepcopy(sample.end_state)
    site = Site.of(grids, sample.tables["grid_neighbours"])
    dm, fest = DisputeModel(), festival_months()
    last = pd.Timestamp(str(sample.manifest["last_month"]))
    drought_years = set(sample.weather.drought_years)
    shock = _last_shocks(sample, drought_years, fest)
    months = pd.date_range(last + pd.DateOffset(months=1), target, freq="MS")
    years: dict[int, _Year] = {}
    row: dict[str, np.ndarray] = {}
    prices: dict[str, np.ndarray] = {}
    for month in months:
        y = month.year
        if y not in years:
            years[y] = _weather_year(sample, state, county_seed, y, scenario)
        wy = years[y]
        if wy.drought:
            drought_years.add(y)
        i = month.month - 1
        wx = MonthWeather(
            precip_mm=wy.precip[i],
            temp_c=wy.temp[i],
            snow_days=wy.snow_days[i],
            severity=wy.severity[i],
            severity_2m_ago=wy.severity[max(i - 2, 0)],
            drought_year=wy.drought,
            rain_ratio=wy.rain_ratio,
            temp_anom=wy.temp_anom,
            peak_noise=wy.peak_noise,
        )
        rng = np.random.default_rng(np.random.SeedSequence([county_seed, y, month.month, _PASTORAL]))
        sell_more = scenario.sales_factor(month)
        row, _, _ = step_month(rng, state, site, month, wx, DEFAULT_DOMAIN, dm, fest, sell_more=sell_more)
        market_rng = np.random.default_rng(np.random.SeedSequence([county_seed, y, month.month, _MARKET]))
        shock = {sp: SHOCK_AR * shock[sp] + market_rng.normal(0, SHOCK_SD) for sp in SPECIES}
        prices = {
            sp: price_level(sp, pd.DatetimeIndex([month]), frozenset(drought_years), fest)[0]
            * np.exp(shock[sp])
            * scenario.price_factor(month)
            * (1 + market_rng.normal(0, TOWNSHIP_NOISE_SD, len(sample.tables["townships"])))
            for sp in SPECIES
        }
    truth = pd.DataFrame(row)
    truth.insert(0, "grid_id", grids["grid_id"].to_numpy())
    truth.insert(1, "month", target)
    counts = list(COUNT_COLUMNS)
    truth[counts] = truth[counts].astype(np.int64)
    truth = truth[load_catalog().columns("grid_monthly")]
    return truth, _market(truth, grids, sample.tables["townships"], prices)


@dataclass(frozen=True)
class _Year:
    precip: np.ndarray  # (12, grids)
    temp: np.ndarray
    snow_days: np.ndarray
    severity: np.ndarray
    drought: bool
    rain_ratio: np.ndarray
    temp_anom: float
    peak_noise: np.ndarray


def _weather_year(
    sample: County, state: PastoralState, county_seed: int, year: int, scenario: Scenario | None = None
) -> _Year:
    """A continued year's weather, drawn like weather.py's from a generator of (county seed, year); a
    scenario's drought year gets a drought's rain factor (the same draws otherwise)."""
    assert sample.weather is not None
    grids = sample.tables["grids"]
    x, y = grids["x_km"].to_numpy(), grids["y_km"].to_numpy()
    elevation = grids["elevation_m"].to_numpy(dtype=float)
    n_g = len(grids)
    rng = np.random.default_rng(np.random.SeedSequence([county_seed, year, _WEATHER]))
    factor = (scenario or Scenario()).rain_factor(year, float(np.exp(rng.normal(-0.015, 0.17))))
    # weather.py's warming is counted from the year before the first simulated month
    anomaly = float(rng.normal(0, 0.6) + WARMING_C_PER_YEAR * (year - (state.first_year - 1)))
    moy = np.arange(12)
    spatial = np.exp(0.0025 * x - 0.0025 * y)
    precip = np.round(PRECIP_NORMAL_MM[:, None] * factor * spatial[None] * rng.lognormal(-0.06, 0.35, (12, n_g)), 1)
    temp = np.round(
        TEMP_NORMAL_C[:, None]
        - LAPSE_RATE_C_PER_KM * (elevation[None] - 4_200) / 1_000
        + anomaly
        + rng.normal(0, 1.0, (12, 1))
        + rng.normal(0, 0.4, (12, n_g)),
        1,
    )
    severity = np.zeros((12, n_g))
    severity[:4] = _winter(sample, county_seed, year - 1, x, y)  # Jan-Apr: the winter that began last October
    severity[9:] = _winter(sample, county_seed, year, x, y)
    cold_month = np.isin(moy + 1, (10, 11, 12, 1, 2, 3, 4))
    snow_days = np.minimum(rng.poisson(np.where(cold_month, 2.5, 0.2)[:, None] + 9.0 * severity), 28)
    grow = slice(4, 8)
    rain_ratio = np.clip(precip[grow].sum(axis=0) / state.normal_grow, 0.3, 2.0)
    return _Year(
        precip=precip,
        temp=temp,
        snow_days=snow_days,
        severity=severity,
        drought=factor < DROUGHT_FACTOR,
        rain_ratio=rain_ratio,
        temp_anom=float(temp.mean() - state.temp_mean),
        peak_noise=rng.lognormal(0, 0.07, n_g),
    )


def _winter(sample: County, county_seed: int, winter: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Snow severity per grid of the winter named by its October's year (0 if it is not a heavy-snow one)."""
    assert sample.weather is not None
    last = sample.weather.months[-1]
    if winter == last.year:  # began inside the sample: its footprint is the sample's last December
        return np.asarray(sample.weather.snow_severity[-1], dtype=float)
    rng = np.random.default_rng(np.random.SeedSequence([county_seed, winter, _WINTER]))
    if rng.uniform() >= HEAVY_SNOW_PROBABILITY:
        return np.zeros(len(x))
    centre = rng.uniform(-60, 60, 2)
    strength = rng.uniform(*SNOW_SEVERITY_RANGE)
    return strength * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * SNOW_FOOTPRINT_KM**2))


def _last_shocks(sample: County, drought_years: set[int], fest: frozenset[tuple[int, int]]) -> dict[str, float]:
    """Each species' price shock in the sample's last month, read back from the market oracle."""
    oracle = sample.oracle["market_oracle"]
    last = oracle["month"].max()
    seat = sample.tables["townships"].set_index("township_id")
    remoteness = pd.Series(np.hypot(seat["seat_x_km"], seat["seat_y_km"]) / 60.0, index=seat.index)
    shocks = {}
    for sp in SPECIES:
        rows = oracle[(oracle["month"] == last) & (oracle["species"] == sp)]
        county = rows["expected_price_yuan_per_head"].to_numpy() / (
            1 - REMOTENESS_DISCOUNT_PER_60KM * remoteness.reindex(rows["township_id"]).to_numpy()
        )
        level = price_level(sp, pd.DatetimeIndex([last]), frozenset(drought_years), fest)[0]
        shocks[sp] = float(np.log(county.mean() / level))  # no slump is running at the sample's end
    return shocks


def _market(
    truth: pd.DataFrame, grids: pd.DataFrame, townships: pd.DataFrame, prices: dict[str, np.ndarray]
) -> pd.DataFrame:
    """market_monthly rows of the month: head sold and herds summed from the grids, prices by township."""
    seat = townships.set_index("township_id")
    remoteness = np.hypot(seat["seat_x_km"].to_numpy(), seat["seat_y_km"].to_numpy()) / 60.0
    town_of = grids.set_index("grid_id")["township_id"]
    parts = []
    for sp in SPECIES:
        by_town = truth.assign(township_id=truth["grid_id"].map(town_of)).groupby("township_id")
        price = prices[sp] * (1 - REMOTENESS_DISCOUNT_PER_60KM * remoteness)
        frame = pd.DataFrame(
            {
                "township_id": seat.index,
                "species": sp,
                "month": truth["month"].iloc[0],
                "head_sold": by_town[f"{sp}_sold"].sum().reindex(seat.index, fill_value=0).to_numpy(),
                "price_yuan_per_head": np.round(price),
                "herd_head": by_town[sp].sum().reindex(seat.index, fill_value=0).to_numpy(),
            }
        )
        frame["revenue_yuan"] = frame["head_sold"] * frame["price_yuan_per_head"]
        parts.append(frame)
    market = pd.concat(parts, ignore_index=True)
    market["month"] = market["month"].dt.strftime("%Y-%m-%d")
    columns = load_catalog().columns("market_monthly")  # the catalog's order, as `data import` reads it
    return market[columns].sort_values(["township_id", "species"], ignore_index=True)


# --- Reporting faults ---------------------------------------------------------------------------------------


def _with_faults(
    truth: pd.DataFrame, grids: pd.DataFrame, month: pd.Timestamp, seed: int, rates: FaultRates
) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """The rows the county receives for ``month`` and, per fault kind, which submissions carry it."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, month.year, month.month, _FAULTS]))
    n = len(truth)

    def how_many(rate: float, of: int) -> int:
        return min(of, max(1, round(rate * n))) if rate > 0 else 0

    order = rng.permutation(n)
    n_missing = how_many(rates.missing, n)
    missing, sent = np.sort(order[:n_missing]), np.sort(order[n_missing:])
    reports = truth.iloc[sent].reset_index(drop=True)
    reports["month"] = reports["month"].dt.strftime("%Y-%m-%d")
    m = len(reports)
    reports["submission_id"] = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(m)]
    reports["reported_by"] = "C-" + reports["grid_id"] + "-1"  # the grid's first herder chief reports it
    # On time: within the first 5 days of the next month; late: from the 6th to the 27th.
    seconds = rng.uniform(0, ON_TIME_DAYS * 86_400, m).round()
    late = rng.choice(m, how_many(rates.late, m), replace=False)
    seconds[late] = rng.uniform((ON_TIME_DAYS + 0.05) * 86_400, 27 * 86_400, len(late)).round()
    received = pd.Timestamp(_next_month(month)) + pd.to_timedelta(seconds, unit="s")

    # Value faults: a typo or an outlier on one typed count, never both on one report.
    value_faulty = rng.choice(m, how_many(rates.typo, m) + how_many(rates.outlier, m), replace=False)
    typo_rows, outlier_rows = value_faulty[: how_many(rates.typo, m)], value_faulty[how_many(rates.typo, m) :]
    ids: list[str] = reports["submission_id"].tolist()
    grid_ids: list[str] = reports["grid_id"].tolist()
    counts = {f: reports[f].to_numpy(dtype=np.int64, copy=True) for f in TYPED_FIELDS}
    typos: list[dict[str, object]] = []
    outliers: list[dict[str, object]] = []
    for i in typo_rows:
        kind = str(rng.choice(TYPO_KINDS))
        # a dropped digit needs two digits to drop one of; x10 and negatives show on any non-zero count
        smallest = 10 if kind == "dropped_digit" else 1
        field_name = str(rng.choice([f for f in TYPED_FIELDS if counts[f][i] >= smallest] or ["people"]))
        true = int(counts[field_name][i])
        sent_value = {"extra_digit": true * 10, "dropped_digit": true // 10, "negative": -max(true, 1)}[kind]
        counts[field_name][i] = sent_value
        typos.append(_fault(ids[i], grid_ids[i], field_name, true, sent_value, kind))
    for i in outlier_rows:
        field_name = str(rng.choice([f for f in TYPED_FIELDS[:6] if counts[f][i] >= 20] or ["people"]))
        true = int(counts[field_name][i])
        factor = rng.uniform(2.5, 4.0) if rng.uniform() < 0.5 else rng.uniform(0.2, 0.4)
        sent_value = max(round(true * factor), 0)
        counts[field_name][i] = sent_value
        outliers.append(_fault(ids[i], grid_ids[i], field_name, true, sent_value, "high" if factor > 1 else "low"))
    for f, values in counts.items():
        reports[f] = values

    reports["received_at"] = [t.isoformat() for t in received.tz_localize(CST)]
    columns = [*truth.columns, *REPORT_COLUMNS]
    rows = [reports[columns]]

    # Corrections: a typo'd report sent again with the true values, a new id, 3-14 days after the first.
    n_corr = min(len(typo_rows), max(1, round(rates.correction * len(typo_rows)))) if rates.correction > 0 else 0
    corrected = rng.choice(typo_rows, n_corr, replace=False) if n_corr else np.array([], dtype=int)
    corrections: list[dict[str, object]] = []
    for i in sorted(corrected):
        row = truth.iloc[[sent[i]]].copy()
        row["month"] = row["month"].dt.strftime("%Y-%m-%d")
        row["submission_id"] = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        row["reported_by"] = f"C-{grid_ids[i]}-1"
        later = received[i] + pd.Timedelta(seconds=round(rng.uniform(3, 14) * 86_400))
        row["received_at"] = later.tz_localize(CST).isoformat()
        rows.append(row[columns])
        corrections.append(
            {
                "submission_id": row["submission_id"].iloc[0],
                "corrects": ids[i],
                "grid_id": grid_ids[i],
            }
        )

    # Sent twice: the same report (same submission_id, identical row) arrives again.
    dup = rng.choice(m, how_many(rates.duplicate, m), replace=False)
    rows.append(reports.iloc[np.sort(dup)][columns])
    out = pd.concat(rows, ignore_index=True)
    out = out.sort_values(["received_at", "submission_id"], kind="stable", ignore_index=True)
    faults: dict[str, list[Any]] = {
        "missing": sorted(truth["grid_id"].iloc[missing].tolist()),
        "late": sorted(ids[i] for i in late),
        "duplicate": sorted(ids[i] for i in dup),
        "typo": typos,
        "outlier": outliers,
        "correction": corrections,
    }
    return out, faults


def _fault(submission_id: str, grid_id: str, field_name: str, true: int, sent: int, kind: str) -> dict[str, object]:
    return {
        "submission_id": submission_id,
        "grid_id": grid_id,
        "field": field_name,
        "true": true,
        "sent": sent,
        "kind": kind,
    }


def _parse_month(month: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(month if len(month) > 7 else f"{month}-01")
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    if stamp.day != 1 or stamp != stamp.normalize():
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return stamp


def _next_month(month: pd.Timestamp) -> datetime:
    return (month + pd.DateOffset(months=1)).to_pydatetime()
