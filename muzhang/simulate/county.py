"""Generate the whole sample county from one seed and write it as a county data directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from muzhang.catalog import load_catalog
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, Domain
from muzhang.simulate.geography import build_geography, geojson_features
from muzhang.simulate.market import simulate_market
from muzhang.simulate.pastoral import PastoralState, simulate_pastoral
from muzhang.simulate.patients import simulate_patients
from muzhang.simulate.weather import Weather, simulate_weather

GENERATOR_VERSION = "1.0"
FIRST_MONTH, LAST_MONTH = "2015-01-01", "2024-12-01"
CALIBRATION_TOLERANCE = 0.005  # re-run the herds until county totals are within 0.5 % of DOMAIN.md
MAX_CALIBRATION_PASSES = 4


@dataclass
class County:
    """Every table of a generated county, plus the oracle tables kept apart from them."""

    tables: dict[str, pd.DataFrame]
    oracle: dict[str, pd.DataFrame]
    geojson: dict[str, object]
    manifest: dict[str, object] = field(default_factory=dict)
    # What the simulation carried out of its last month, so the county can be continued (never written).
    end_state: PastoralState | None = None
    weather: Weather | None = None


def last_year_totals(monthly: pd.DataFrame) -> dict[str, float]:
    """County totals in the last simulated year: mean monthly livestock head and people."""
    last = monthly[monthly["month"].dt.year == monthly["month"].dt.year.max()]
    per_month = last.groupby("month")[[*SPECIES, "people"]].sum()
    return {
        "livestock_head": float(per_month[list(SPECIES)].sum(axis=1).mean()),
        "people": float(per_month["people"].mean()),
    }


def generate_county(
    seed: int, domain: Domain = DEFAULT_DOMAIN, n_grids: int | None = None, last_month: str = LAST_MONTH
) -> County:
    """Simulate a Dari-like county.

    Args:
        seed: one integer drives every random draw (geography, weather, herds, market, patients).
        domain: published figures to ground and calibrate against.
        n_grids: a smaller county for tests (totals are then scaled to its share of grid areas).
        last_month: last month simulated (first is January 2015).
    """
    if n_grids is not None:
        share = n_grids / domain.n_grid_areas
        villages = max(domain.n_townships, round(domain.n_villages * share))
        domain = replace(
            domain,
            n_grid_areas=n_grids,
            county_area_km2=domain.county_area_km2 * share,
            county_livestock_head=round(domain.county_livestock_head * share),
            county_people=round(domain.county_people * share),
            n_villages=villages,
            n_communities=max(1, round(domain.n_communities * share)),
            n_cooperatives=max(villages, round(domain.n_cooperatives * share)),
            n_herder_chiefs=max(n_grids, round(domain.n_herder_chiefs * share)),
        )
    streams = np.random.SeedSequence(seed).spawn(5)
    geo = build_geography(np.random.default_rng(streams[0]), domain)
    months = pd.date_range(FIRST_MONTH, last_month, freq="MS")
    grids = geo.grids
    weather = simulate_weather(
        np.random.default_rng(streams[1]),
        months,
        grids["x_km"].to_numpy(),
        grids["y_km"].to_numpy(),
        grids["elevation_m"].to_numpy(dtype=float),
    )

    herd_scale = people_scale = 1.0
    for _ in range(MAX_CALIBRATION_PASSES):
        records = simulate_pastoral(
            np.random.default_rng(streams[2]),
            grids,
            geo.neighbours,
            weather,
            domain,
            herd_scale=herd_scale,
            people_scale=people_scale,
        )
        totals = last_year_totals(records.monthly)
        herd_ratio = domain.county_livestock_head / totals["livestock_head"]
        people_ratio = domain.county_people / totals["people"]
        if max(abs(herd_ratio - 1), abs(people_ratio - 1)) < CALIBRATION_TOLERANCE:
            break
        herd_scale *= herd_ratio
        people_scale *= people_ratio

    market, market_oracle = simulate_market(
        np.random.default_rng(streams[3]),
        records.monthly,
        records.expected_sales,
        grids,
        geo.townships,
        weather.drought_years,
    )
    last = records.monthly[records.monthly["month"] == records.monthly["month"].max()]
    baseline, outcomes, patient_oracle = simulate_patients(
        np.random.default_rng(streams[4]), grids, last.set_index("grid_id")["people"], domain
    )

    grid_table = grids.copy()
    grid_table["herder_chiefs"] = _herder_chiefs(
        last.set_index("grid_id")["households"].reindex(grids["grid_id"]), domain.n_herder_chiefs
    )
    tables = {
        "grids": grid_table,
        "townships": geo.townships,
        "grid_neighbours": geo.neighbours,
        "grid_monthly": records.monthly,
        "market_monthly": market,
        "patients": baseline,
        "patient_outcomes": outcomes,
    }
    oracle = {
        "grid_monthly_oracle": records.oracle,
        "market_oracle": market_oracle,
        "patient_oracle": patient_oracle,
    }
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "first_month": FIRST_MONTH,
        "last_month": last_month,
        "calibration": {
            "herd_scale": round(herd_scale, 6),
            "people_scale": round(people_scale, 6),
            "last_year_totals": {k: round(v, 1) for k, v in last_year_totals(records.monthly).items()},
        },
        "drought_years": sorted(int(y) for y in weather.drought_years),
        "heavy_snow_winters": sorted(int(y) for y in weather.heavy_snow_winters),
        "rows": {name: len(df) for name, df in {**tables, **oracle}.items()},
    }
    return County(
        tables, oracle, geojson_features(grids, geo.polygons), manifest, end_state=records.end_state, weather=weather
    )


def _herder_chiefs(households: pd.Series, total: int) -> np.ndarray:
    """Spread the county's herder chiefs over grids by households (at least one each)."""
    raw = households.to_numpy(dtype=float) / households.sum() * (total - len(households))
    chiefs = np.floor(raw).astype(int) + 1
    chiefs[np.argsort(raw - np.floor(raw))[::-1][: total - chiefs.sum()]] += 1
    return chiefs


def write_county(county: County, out_dir: Path) -> dict[str, str]:
    """Write every table, the oracle files, the GeoJSON and a manifest with sha256 of each file.

    Writes into a temporary sibling folder first and swaps it in, so a failed run leaves what was there.
    """
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    if tmp.exists():
        _remove_tree(tmp)
    catalog = load_catalog()  # the directory layout is declared there, once
    layout = catalog.layout
    files = {**catalog.table_files(), **{t: layout.oracle_file(t) for t in layout.oracle_tables}}
    (tmp / layout.oracle_folder).mkdir(parents=True)
    for name, df in {**county.tables, **county.oracle}.items():
        path = tmp / files[name]
        if path.suffix == ".csv":
            df.to_csv(path, index=False, float_format="%.6g")
        else:
            df.to_parquet(path, index=False, compression="zstd")
    (tmp / layout.geojson).write_text(
        json.dumps(county.geojson, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    checksums = {
        p.relative_to(tmp).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tmp.rglob("*"))
        if p.is_file()
    }
    manifest = {**county.manifest, "files": checksums}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        if old.exists():
            _remove_tree(old)
        out_dir.rename(old)
        tmp.rename(out_dir)
        _remove_tree(old)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out_dir)
    return checksums


def _remove_tree(path: Path) -> None:
    for p in sorted(path.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    path.rmdir()
