"""Data tier: the shipped sample county is what its seed makes, and matches the published figures."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from features import assess_grazing, build_features, load_county
from muzhang.catalog import load_catalog
from muzhang.domain import DEFAULT_DOMAIN, SPECIES
from muzhang.paths import SAMPLE_COUNTY
from muzhang.simulate.county import generate_county, write_county

LAYOUT = load_catalog().layout
TABLE_FILES = load_catalog().table_files()
ORACLE_FILES = {t: LAYOUT.oracle_file(t) for t in LAYOUT.oracle_tables}
MANIFEST = json.loads((SAMPLE_COUNTY / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tables():
    return load_county(SAMPLE_COUNTY)


@pytest.mark.slow
def test_generate_with_the_manifest_seed_reproduces_the_shipped_files_byte_for_byte(tmp_path):
    """Risk: a sample nobody can regenerate, or a simulator change that silently alters every model."""
    county = generate_county(MANIFEST["seed"])
    written = write_county(county, tmp_path / "county")
    assert written == MANIFEST["files"]
    for name, relative in {**TABLE_FILES, **ORACLE_FILES}.items():
        shipped = SAMPLE_COUNTY / relative
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == written[relative], name


def test_manifest_checksums_match_the_files():
    """Risk: a hand-edited table that no longer matches its generator."""
    for relative, digest in MANIFEST["files"].items():
        assert hashlib.sha256((SAMPLE_COUNTY / relative).read_bytes()).hexdigest() == digest, relative


def test_sample_fits_the_size_budget():
    total = sum(p.stat().st_size for p in SAMPLE_COUNTY.rglob("*") if p.is_file())
    assert total <= 25 * 1024 * 1024


def test_county_totals_match_the_published_figures(tables):
    """DOMAIN.md: 457 grids, 14,842 km2, ~31,000 people, 140,042 head (+-2 %) in the last year."""
    grids, monthly = tables.grids, tables.grid_monthly
    assert len(grids) == 457 and grids["area_km2"].sum() == pytest.approx(14_842, rel=1e-6)
    assert grids["township_id"].nunique() == 10
    assert grids.loc[~grids["is_community"], "village_id"].nunique() == 33
    assert grids["cooperative_id"].dropna().nunique() == 109
    assert grids["herder_chiefs"].sum() == 1_457
    last = monthly[monthly["month"].dt.year == monthly["month"].dt.year.max()]
    per_month = last.groupby("month")
    head = per_month[list(SPECIES)].sum().sum(axis=1).mean()
    assert head == pytest.approx(140_042, rel=0.02)
    assert per_month["people"].sum().mean() == pytest.approx(31_000, rel=0.03)
    assert grids["elevation_m"].between(3_900, 5_200).all()


def test_mix_of_under_and_over_stocked_grid_seasons_is_plausible(tables):
    """DOMAIN.md: Dari was not overgrazed overall (2010) but grids differ: expect both kinds, under ahead."""
    fs = build_features("grazing", tables)
    rows = fs.frame[(fs.frame["lead_months"] == 1) & (fs.frame["season_year"] == fs.frame["season_year"].max() - 1)]
    status = assess_grazing(rows, rows["forage_yield_kg_ha"])["status"].value_counts(normalize=True)
    assert 0.15 <= status.get("over", 0) <= 0.50
    assert status.get("under", 0) >= 0.35
    assert status.get("balanced", 0) >= 0.04


def test_yield_is_in_the_three_rivers_range(tables):
    """DOMAIN.md: alpine grassland yields 466-694 kg hay/ha; the county's August mean sits near that."""
    august = tables.grid_monthly[tables.grid_monthly["month"].dt.month == 8]
    assert 380 <= august["forage_yield_kg_ha"].mean() <= 760


def test_sales_peak_in_september_to_december(tables):
    by_month = tables.market_monthly.groupby(tables.market_monthly["month"].dt.month)["head_sold"].sum()
    assert by_month.loc[[9, 10, 11, 12]].sum() > 0.5 * by_month.sum()
    assert by_month.idxmax() in (9, 10, 11, 12)


def test_heavy_snow_winters_kill_livestock(tables):
    """DOMAIN.md: heavy-snow winters killed 13-24 % of livestock; deaths rise in those winters."""
    m = tables.grid_monthly
    winter = m[m["month"].dt.month.isin([12, 1, 2, 3])]
    deaths = winter.groupby(winter["month"].dt.to_period("Y"))["deaths"].sum()
    snowy = {pd.Period(str(y + 1)) for y in MANIFEST["heavy_snow_winters"]} & set(deaths.index)
    calm = set(deaths.index) - snowy - {pd.Period(str(y)) for y in MANIFEST["heavy_snow_winters"]}
    assert snowy and calm
    assert np.mean([deaths[p] for p in snowy]) > 1.3 * np.mean([deaths[p] for p in calm])


def test_disease_prevalences_are_grounded(tables):
    outcomes = tables.patient_outcomes
    assert outcomes["echinococcosis"].mean() == pytest.approx(DEFAULT_DOMAIN.echinococcosis_prevalence, abs=0.015)
    assert 0.10 <= outcomes["hypertension_5y"].mean() <= 0.30
    assert outcomes["cms_5y"].mean() < outcomes["hypertension_5y"].mean()


def test_no_oracle_column_in_any_table(tables):
    """Risk: the simulator's truth leaking into what models learn from."""
    oracle_columns = set()
    for relative in ORACLE_FILES.values():
        oracle_columns |= set(pd.read_parquet(SAMPLE_COUNTY / relative).columns)
    keys = {"grid_id", "month", "township_id", "species", "patient_id"}
    for name in TABLE_FILES:
        frame = getattr(tables, name)
        assert not (set(frame.columns) & (oracle_columns - keys)), name


def test_patients_are_synthetic_and_pseudonymous(tables):
    """No names, no exact birth dates, no grid of residence: ids are random labels."""
    columns = set(tables.patients.columns)
    assert not columns & {"name", "full_name", "id_card", "phone", "grid_id", "birth_date"}
    assert tables.patients["patient_id"].str.fullmatch(r"P\d{5}").all()
