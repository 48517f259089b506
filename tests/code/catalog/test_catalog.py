"""The catalog loads, covers every column of the sample county exactly, and agrees with the simulator."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from muzhang.catalog import Catalog, FieldSpec, load_catalog, parse_catalog
from muzhang.domain import PASTURE_TYPES, SEASONS, SPECIES
from muzhang.paths import SAMPLE_COUNTY
from muzhang.simulate.pastoral import DISPUTE_KINDS

PATIENT_TABLES = {"patients", "patient_outcomes"}
MIN_GRID_ITEMS = 30  # DOMAIN.md: each grid area reports 30+ basic items


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    """Every table of the shipped sample county, read as the simulator wrote it."""
    paths = {table: SAMPLE_COUNTY / name for table, name in load_catalog().table_files().items()}
    return {t: pd.read_csv(p) if p.suffix == ".csv" else pd.read_parquet(p) for t, p in paths.items()}


def _yaml_with(change: dict[str, object], field: str = "elevation_m") -> str:
    """The shipped catalog YAML with one field's entry changed."""
    raw = load_catalog().model_dump(mode="python")
    entry = next(f for f in raw["fields"] if f["name"] == field)
    entry.update(change)
    return yaml.safe_dump(raw, allow_unicode=True)


def test_catalog_layout_names_every_file_of_the_sample_county(catalog: Catalog) -> None:
    """The catalog is the one declaration of a county directory: every shipped data file is in it, and back."""
    layout = catalog.layout
    declared = {*catalog.table_files().values(), layout.geojson, *map(layout.oracle_file, layout.oracle_tables)}
    shipped = {p.relative_to(SAMPLE_COUNTY).as_posix() for p in SAMPLE_COUNTY.rglob("*") if p.is_file()}
    assert declared == shipped - {"manifest.json"}


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.parametrize("table", list(load_catalog().table_files()))
def test_sample_columns_and_catalog_fields_match_exactly(
    catalog: Catalog, sample: dict[str, pd.DataFrame], table: str
) -> None:
    columns, fields = set(sample[table].columns), set(catalog.columns(table))
    assert columns - fields == set(), "sample columns without a catalog entry"
    assert fields - columns == set(), "catalog fields missing from the sample table"


def test_shared_field_is_one_entry_listing_all_its_tables(catalog: Catalog) -> None:
    names = [f.name for f in catalog.fields]
    assert len(names) == len(set(names))
    assert set(catalog.field("grid_id").tables) == {"grids", "grid_neighbours", "grid_monthly"}
    assert set(catalog.field("township_id").tables) == {"grids", "townships", "market_monthly", "patients"}
    assert set(catalog.field("month").tables) == {"grid_monthly", "market_monthly"}


def test_grid_items_number_at_least_thirty(catalog: Catalog) -> None:
    keys = {"grid_id", "month"}
    items = {f.name for t in ("grids", "grid_monthly") for f in catalog.fields_of(t)} - keys
    assert len(items) >= MIN_GRID_ITEMS


def test_every_patient_field_is_personal_except_township_id(catalog: Catalog) -> None:
    fields = {f for t in PATIENT_TABLES for f in catalog.fields_of(t)}
    assert {f.name for f in fields if not f.personal} == {"township_id"}


def test_no_field_outside_patient_tables_is_personal(catalog: Catalog) -> None:
    assert [f.name for f in catalog.fields if f.personal and not set(f.tables) <= PATIENT_TABLES] == []


def test_categories_match_the_simulator_constants(catalog: Catalog) -> None:
    assert set(catalog.field("pasture_type").categories or ()) == set(PASTURE_TYPES)
    assert set(catalog.field("species").categories or ()) == set(SPECIES)
    assert set(catalog.field("seasonal_use").categories or ()) == set(SEASONS)
    assert set(catalog.field("dispute_kind").categories or ()) == {"none", *DISPUTE_KINDS}


def test_sample_category_values_are_all_catalogued(catalog: Catalog, sample: dict[str, pd.DataFrame]) -> None:
    unknown = {
        (table, f.name): sorted(set(sample[table][f.name].dropna()) - set(f.categories or ()))
        for f in catalog.fields
        if f.type == "category"
        for table in f.tables
    }
    assert {k: v for k, v in unknown.items() if v} == {}


def test_nullable_fields_are_exactly_those_the_sample_leaves_empty(
    catalog: Catalog, sample: dict[str, pd.DataFrame]
) -> None:
    with_nulls = {c for df in sample.values() for c in df.columns if df[c].isna().any()}
    assert (
        {f.name for f in catalog.fields if f.nullable} == with_nulls == {"cooperative_id", "hypertension_5y", "cms_5y"}
    )


def test_every_field_has_chinese_name_description_and_labels(catalog: Catalog) -> None:
    def has_cjk(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    bad = [
        f.name
        for f in catalog.fields
        if not (has_cjk(f.zh) and has_cjk(f.display_zh) and f.display and f.description.endswith("."))
    ]
    assert bad == []


def test_fields_of_lists_only_fields_of_that_table(catalog: Catalog) -> None:
    assert all("market_monthly" in f.tables for f in catalog.fields_of("market_monthly"))
    assert catalog.columns("townships")[0] == "township_id"


def test_label_adds_the_unit(catalog: Catalog) -> None:
    assert catalog.field("elevation_m").label == "Elevation (m)"
    assert catalog.field("disputes").label == "Disputes"


def test_field_lookup_of_unknown_name_raises_key_error_naming_it(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="no_such_field"):
        catalog.field("no_such_field")


def test_fields_of_unknown_table_lists_the_known_tables(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="grid_monthly"):
        catalog.fields_of("grid_monthy")


def test_category_field_without_categories_is_rejected() -> None:
    with pytest.raises(ValidationError, match="categories"):
        FieldSpec(
            name="kind",
            zh="类别",
            description="Town or township.",
            type="category",
            tables=("townships",),
            display="Kind",
            display_zh="类别",
        )


def test_bounds_in_the_wrong_order_are_rejected() -> None:
    with pytest.raises(ValidationError, match="above max"):
        parse_catalog(_yaml_with({"min": 6000.0, "max": 3000.0}))


def test_field_listing_an_unknown_table_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown tables: gridz"):
        parse_catalog(_yaml_with({"tables": ["grids", "gridz"]}))


def test_parse_catalog_round_trips_the_shipped_catalog(catalog: Catalog) -> None:
    assert parse_catalog(_yaml_with({})) == catalog
