"""The county's data, kept in memory, with the forecast rows of every family.

The county comes from the store of record (at its last closed month) or, for a directory of tables (the
tests' tiny counties, a data scientist's own data), from that directory. The same feature code as training
builds the rows (``build_features(..., forecast=True)``), so a served prediction sees exactly what a trained
model saw; with the catalog the county's tables were read with (the store's added fields, or the directory's
``catalog.yaml``), so a model trained with a field of the data scientist's own finds it in its rows. When a
month closes, :func:`refresh_county` builds the new state aside and swaps it in whole:
requests in flight finish on the old month, the next ones see the new one, none fails.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features import FeatureSet, build_features, load_county
from features.tables import CountyTables
from muzhang.catalog import Catalog, catalog_for, load_catalog
from muzhang.families import family_specs

if TYPE_CHECKING:
    from muzhang.store import Store
    from serving.scoring.context import ScoringContext


@dataclass(frozen=True)
class CountyState:
    """Tables, grid and township lookups, and the next-period rows of every family that serves forecasts."""

    data_dir: Path
    tables: CountyTables
    grids: pd.DataFrame  # indexed by grid_id
    townships: pd.DataFrame  # indexed by township_id
    forecasts: dict[str, FeatureSet]
    geojson: dict[str, Any] | None
    grid_ids: frozenset[str]
    source: str = "directory"  # "directory" or "store"
    version: str = ""  # changes whenever the data does (the month, and the store's fingerprint)
    # grid -> months (recent first) whose report never came: the values were carried when the month closed
    carried: dict[str, tuple[pd.Timestamp, ...]] = field(default_factory=dict)
    # the catalog the tables were read with: the shipped one, extended by the fields the store keeps (or the
    # directory's catalog.yaml adds); its added fields are columns of the tables and of the forecast rows
    catalog: Catalog = field(default_factory=load_catalog)
    # family -> why the catalog's added fields could not be joined to its rows (built without them)
    unjoined: dict[str, str] = field(default_factory=dict)

    def carried_months(self, grid_id: str, within: int = 12) -> list[Any]:
        """Months in the last ``within`` of the county whose report for the grid was carried, most recent first."""
        start = self.last_month - pd.DateOffset(months=within - 1)
        return [m.date() for m in self.carried.get(grid_id, ()) if m >= start]

    @property
    def last_month(self) -> pd.Timestamp:
        return pd.Timestamp(self.tables.grid_monthly["month"].max())

    def market_history(self, township_id: str, species: str, months: int = 36) -> pd.DataFrame:
        m = self.tables.market_monthly
        rows = m[(m["township_id"] == township_id) & (m["species"] == species)].sort_values("month")
        return rows.tail(months)


def county_state(
    tables: CountyTables,
    data_dir: Path,
    *,
    source: str,
    version: str = "",
    carried: dict[str, tuple[pd.Timestamp, ...]] | None = None,
    catalog: Catalog | None = None,
) -> CountyState:
    """Lookups and every family's forecast rows for a county's tables (about a second for the sample).

    ``catalog``: the catalog the tables were read with; the fields it adds for a family are joined to that
    family's rows. A field that cannot be joined to a family's rows leaves them without it, and says why in
    :attr:`CountyState.unjoined` (a model reading it answers 503 with that reason)."""
    catalog = catalog or load_catalog()
    forecasts: dict[str, FeatureSet] = {}
    unjoined: dict[str, str] = {}
    for spec in family_specs():
        if not spec.serves_forecasts:
            continue
        try:
            forecasts[spec.name] = build_features(spec.name, tables, forecast=True, catalog=catalog)
        except ValueError as exc:  # e.g. a monthly field declared for a family whose rows lack its key
            unjoined[spec.name] = str(exc)
            forecasts[spec.name] = build_features(spec.name, tables, forecast=True)
    geojson_path = Path(data_dir) / load_catalog().layout.geojson
    geojson = json.loads(geojson_path.read_text(encoding="utf-8")) if geojson_path.exists() else None
    last = pd.Timestamp(tables.grid_monthly["month"].max())
    return CountyState(
        data_dir=Path(data_dir),
        tables=tables,
        grids=tables.grids.set_index("grid_id", drop=False),
        townships=tables.townships.set_index("township_id", drop=False),
        forecasts=forecasts,
        geojson=geojson,
        grid_ids=frozenset(tables.grids["grid_id"].astype(str)),
        source=source,
        version=version or f"{source}:{last:%Y-%m}",
        carried=carried or {},
        catalog=catalog,
        unjoined=unjoined,
    )


def load_county_state(data_dir: Path) -> CountyState:
    """A county directory's tables and forecast rows (with the fields its ``catalog.yaml`` adds, if any)."""
    catalog = catalog_for(Path(data_dir))
    return county_state(load_county(data_dir, catalog=catalog), Path(data_dir), source="directory", catalog=catalog)


def store_county_state(store: Store, data_dir: Path) -> CountyState:
    """The store's county as of its last closed month (the map's polygons come from ``data_dir``)."""
    cutoff = store.last_closed_month()
    if cutoff is None:
        raise ValueError("the county store has no closed month: import a county first (`muzhang data import DIR`)")
    frames, catalog = store.read_county(cutoff)  # with the fields a catalog extension added, and their catalog
    tables = CountyTables.from_mapping(frames)
    # A new token on every read: a correction to a closed month changes the data without moving the cut-off.
    version = f"store:{cutoff:%Y-%m}:{time.time_ns()}"
    subs = store.submissions(source="carry")  # only the carried ones: all submissions grow month by month
    carried_rows = subs[pd.to_datetime(subs["month"]) <= cutoff]
    carried: dict[str, tuple[pd.Timestamp, ...]] = {
        str(grid): tuple(sorted(pd.to_datetime(rows["month"]), reverse=True))
        for grid, rows in carried_rows.groupby("grid_id")
    }
    return county_state(tables, Path(data_dir), source="store", version=version, carried=carried, catalog=catalog)


def refresh_county(ctx: ScoringContext) -> float:
    """Rebuild the county from the store and swap it in; returns the seconds it took. No-op without a store."""
    if ctx.store is None:
        return 0.0
    start = time.perf_counter()
    fresh = store_county_state(ctx.store, ctx.county.data_dir)
    ctx.county = fresh  # one assignment: readers see the old state or the new one, never a mix
    ctx.encoded = {k: v for k, v in ctx.encoded.items() if k[2] == fresh.version}
    return time.perf_counter() - start


def absent_added_fields(county: CountyState, family: str, fields: Any) -> list[str]:
    """The fields (of a model's ``added_fields``) that the county's forecast rows of ``family`` lack."""
    fs = county.forecasts.get(family)
    columns = set(fs.frame.columns) if fs is not None else set()
    return [f for f in fields if f not in columns]


def absent_fields_message(county: CountyState, family: str, version: str, absent: list[str]) -> str:
    """Why a model that reads fields added to the catalog cannot be served from this county, and what to do."""
    head = f"{family} model version {version} reads {', '.join(absent)}, added to the catalog for its training data; "
    if family in county.unjoined:
        return head + f"the county's {family} rows cannot take it: {county.unjoined[family]}"
    kept = {f.name: f for f in county.catalog.added_fields()}
    elsewhere = [f for f in absent if f in kept]
    if elsewhere:
        families = "; ".join(f"{f}: {', '.join(kept[f].families) or 'none'}" for f in elsewhere)
        return head + (
            f"the county keeps it but not for the {family} family (families {families}): list {family} under the "
            "field's families in the catalog.yaml and import the county again"
        )
    if county.source == "store":
        return head + (
            "the county store holds no such field: import the county with the catalog.yaml that declares it "
            "(`muzhang data import DIR`, DIR/catalog.yaml or --catalog FILE), then reload the models "
            "(POST /v1/models/reload) or restart the service"
        )
    return head + (
        f"the county directory {county.data_dir} has no such field: add the column to its table and declare it in "
        "the directory's catalog.yaml (or serve from the county store after `muzhang data import`)"
    )


def refresh_for_added_fields(ctx: ScoringContext) -> bool:
    """After models are reloaded: read the county from the store again when a served model reads an added
    field its rows lack (it was imported since the county was read). Returns whether it did."""
    if ctx.store is None:
        return False
    for family, slot in ctx.registry.slots.items():
        model = slot.model
        if family not in ctx.county.forecasts or model is None:  # disease requests bring their own fields
            continue
        if absent_added_fields(ctx.county, family, model.bundle.added_fields):
            refresh_county(ctx)
            return True
    return False
