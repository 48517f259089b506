"""The county for the page: what a key may use, the map (polygons, townships) and a summary to colour it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from models.bundle import ModelBundle
from muzhang.families import family_specs
from serving.deps import ROLES, AnyRoleDep, PlannerDep, StateDep
from serving.errors import Unavailable
from serving.schemas import Band, Season
from serving.scoring import disease
from serving.scoring.common import risk_bands
from serving.scoring.county_summary import county_summary

router = APIRouter(prefix="/v1/county", tags=["county"])

Position = tuple[float, float]


class GridProperties(BaseModel):
    grid_id: str = Field(description="Grid area id, e.g. G001.")
    grid_name: str
    grid_name_zh: str
    township_id: str
    village_id: str
    area_km2: float = Field(ge=0, description="Area, km².")


class PolygonGeometry(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(
        description="Rings of [longitude, latitude] in degrees (WGS 84); the first ring is the outline."
    )


class MultiPolygonGeometry(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Position]]]


class GridFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str | None = None
    properties: GridProperties
    geometry: PolygonGeometry | MultiPolygonGeometry = Field(discriminator="type")


class GridCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[GridFeature]


class TownshipOut(BaseModel):
    township_id: str
    township_name: str
    township_name_zh: str


class CountyMap(BaseModel):
    grids: GridCollection = Field(description="One polygon per grid area (GeoJSON FeatureCollection).")
    townships: list[TownshipOut]
    bounds: tuple[float, float, float, float] = Field(
        description="Bounding box of every polygon: west, south, east, north (degrees)."
    )


def _bounds(collection: GridCollection) -> tuple[float, float, float, float]:
    lons: list[float] = []
    lats: list[float] = []
    for feature in collection.features:
        geometry = feature.geometry
        polygons = [geometry.coordinates] if isinstance(geometry, PolygonGeometry) else geometry.coordinates
        for polygon in polygons:
            for ring in polygon:
                lons.extend(p[0] for p in ring)
                lats.extend(p[1] for p in ring)
    return (min(lons), min(lats), max(lons), max(lats))


@router.get("/map", response_model=CountyMap, responses={404: {"description": "The county has no map"}})
def county_map(state: StateDep, caller: AnyRoleDep) -> CountyMap:
    """Grid polygons (GeoJSON) and townships of the county served, for drawing the map."""
    county = state.county
    if not county.geojson or not county.geojson.get("features"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no grids.geojson in the county data ({county.data_dir.name})")
    grids = GridCollection.model_validate(county.geojson)
    townships = [
        TownshipOut(
            township_id=str(t["township_id"]),
            township_name=str(t["township_name"]),
            township_name_zh=str(t["township_name_zh"]),
        )
        for t in county.townships.to_dict("records")
    ]
    return CountyMap(grids=grids, townships=townships, bounds=_bounds(grids))


class Cutoffs(BaseModel):
    medium: float = Field(description="Probability from which the band is medium.")
    high: float = Field(description="Probability from which the band is high.")


class ConditionCutoffs(Cutoffs):
    condition: str
    label: str
    label_zh: str
    horizon_years: float | None = Field(description="The years the risk covers (null: not stated).")
    policy: str | None = Field(description="How the cut-offs were fitted (experiments/disease.yaml), if known.")


class AccessOut(BaseModel):
    role: str
    families: list[str] = Field(description="The model families this key may use.")
    reports: bool = Field(description="May send and upload monthly reports (needs the county store).")
    data_quality: bool = Field(description="May read the data-quality view (needs the county store).")
    data_as_of: dt.date | None = Field(None, description="The last month of county data every answer uses.")
    data_source: str | None = Field(None, description="store or directory.")
    risk_bands: dict[str, Cutoffs] = Field(
        default_factory=dict, description="Band cut-offs of the served models of this key's families that have bands."
    )
    condition_bands: dict[str, list[ConditionCutoffs]] = Field(
        default_factory=dict,
        description="Per family with one model per condition (disease): each condition's cut-offs and horizon.",
    )


@router.get("/access", response_model=AccessOut)
def county_access(state: StateDep, caller: AnyRoleDep) -> AccessOut:
    """What this key may use (its role, families, reports, data quality), so the page shows only that."""
    families = [s.name for s in family_specs() if caller.role in s.roles]
    bands: dict[str, Cutoffs] = {}
    per_condition: dict[str, list[ConditionCutoffs]] = {}
    for family in families:
        try:
            bundle = state.served(family).bundle
        except Unavailable:
            continue
        if bundle.thresholds.get("risk_bands"):
            cuts = risk_bands(bundle)
            bands[family] = Cutoffs(medium=cuts.medium, high=cuts.high)
        if family == "disease":
            per_condition[family] = disease_cutoffs(bundle)
    store = state.store is not None
    return AccessOut(
        role=caller.role,
        families=families,
        reports=store and caller.role in ROLES["report"],
        data_quality=store and caller.role in ROLES["data_quality"],
        data_as_of=state.county.last_month.date(),
        data_source=state.county.source,
        risk_bands=bands,
        condition_bands=per_condition,
    )


def disease_cutoffs(bundle: ModelBundle) -> list[ConditionCutoffs]:
    """Each condition's cut-offs, horizon and policy, as the served disease model carries them."""
    fitted = bundle.thresholds.get("condition_bands") or {}
    return [
        ConditionCutoffs(
            condition=condition,
            label=term.label,
            label_zh=term.label_zh,
            medium=term.bands.medium,
            high=term.bands.high,
            horizon_years=term.horizon_years,
            policy=(fitted.get(condition) or {}).get("policy"),
        )
        for condition, term in disease.condition_terms(bundle).items()
    ]


class GrazingSummary(BaseModel):
    """One season's numbers per grid; every list is in ``grid_ids`` order."""

    season: Season
    season_year: int
    as_of_month: dt.date
    grid_ids: list[str]
    pressure: list[float | None] = Field(description="Stocking / reasonable capacity (null: capacity unknown).")
    status: list[Literal["under", "balanced", "over"]]
    action: list[Literal["graze", "rotate", "rest"]]
    su_to_move: list[float] = Field(description="Sheep units the advice moves off the grid.")
    stocking_su: list[float]
    capacity_su: list[float | None]


class DisputeSummary(BaseModel):
    """Next month's dispute risk per grid; every list is in ``grid_ids`` order."""

    month: dt.date
    grid_ids: list[str]
    probability: list[float]
    band: list[Band]
    cutoffs: Cutoffs


class CountySummary(BaseModel):
    season: Season
    grazing: GrazingSummary | None = Field(description="Null when the grazing family has no model (see unavailable).")
    dispute: DisputeSummary | None = Field(description="Null when the dispute family has no model.")
    unavailable: dict[str, str] = Field(description="Family -> why it cannot answer now.")


@router.get("/summary", response_model=CountySummary)
def county_map_summary(
    state: StateDep,
    caller: PlannerDep,
    season: Annotated[Season, Query(description="warm (Jun-Sep), cold (Oct-Apr) or transition (May).")] = "warm",
) -> CountySummary:
    """Every grid's pressure, status and advice for a season and its dispute risk next month, without reasons
    (numbers only, no language: ask a grid's assessment or risk for its explanation)."""
    summary = county_summary(state, season)
    return CountySummary(
        season=season,
        grazing=None if summary["grazing"] is None else GrazingSummary(**vars(summary["grazing"])),
        dispute=None if summary["dispute"] is None else DisputeSummary(**vars(summary["dispute"])),
        unavailable=summary["unavailable"],
    )
