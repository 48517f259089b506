"""The county's map (any role): grid polygons as GeoJSON and the townships, for drawing the county."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from serving.deps import AnyRoleDep, StateDep

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
