"""The sample county's map: outline, township seats, 457 grid areas as a clipped Voronoi tessellation.

All geometry is computed in a local plane in kilometres (x east, y north) around Dari's seat and turned
into longitude/latitude only when written as GeoJSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Polygon

from muzhang.domain import Domain

# The real administrative units of Dari county: 1 town + 9 townships (public names).
TOWNSHIPS: tuple[tuple[str, str, str], ...] = (
    ("T01", "Jimai", "吉迈镇"),
    ("T02", "Manzhang", "满掌乡"),
    ("T03", "De'ang", "德昂乡"),
    ("T04", "Wosai", "窝赛乡"),
    ("T05", "Moba", "莫坝乡"),
    ("T06", "Shanghongke", "上红科乡"),
    ("T07", "Xiahongke", "下红科乡"),
    ("T08", "Jianshe", "建设乡"),
    ("T09", "Sangrima", "桑日麻乡"),
    ("T10", "Tehetu", "特合土乡"),
)
SEAT_LON, SEAT_LAT = 99.65, 33.75  # Jimai town, the county seat (approximate)
KM_PER_DEG_LAT = 110.57
ROAD_WINDING = 1.3  # assumption: track distance / straight-line distance on the plateau
ZH_NUMERALS = "〇一二三四五六七八九"


@dataclass(frozen=True)
class Geography:
    """The county's static layout."""

    grids: pd.DataFrame  # one row per grid area, static attributes
    polygons: list[Polygon]  # in grid order, local km
    neighbours: pd.DataFrame  # grid_id, neighbour_id, shared_border_km
    townships: pd.DataFrame  # township_id, name, name_zh, seat_x_km, seat_y_km
    outline: Polygon


def _county_outline(rng: np.random.Generator, area_km2: float) -> Polygon:
    """An irregular star-shaped outline scaled to exactly ``area_km2``."""
    theta = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    phases = rng.uniform(0, 2 * np.pi, 3)
    radius = 1 + 0.13 * np.sin(2 * theta + phases[0]) + 0.07 * np.cos(3 * theta + phases[1])
    radius += 0.04 * np.sin(5 * theta + phases[2])
    shape = Polygon(np.c_[1.25 * radius * np.cos(theta), radius * np.sin(theta)])  # wider east-west
    scale = np.sqrt(area_km2 / shape.area)
    return Polygon(np.asarray(shape.exterior.coords) * scale)


def _points_inside(rng: np.random.Generator, outline: Polygon, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = outline.bounds
    points: list[np.ndarray] = []
    while sum(len(p) for p in points) < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        points.append(cand[shapely.contains_xy(outline, cand[:, 0], cand[:, 1])])
    return np.concatenate(points)[:n]


def _spread_seats(rng: np.random.Generator, outline: Polygon, n: int) -> np.ndarray:
    """Township seats far apart (greedy farthest-point choice among random candidates)."""
    cand = _points_inside(rng, outline.buffer(-12.0), 400)
    seats = [np.array([0.0, 0.0])]  # the county seat at the origin
    for _ in range(n - 1):
        dist = np.min(np.linalg.norm(cand[:, None, :] - np.array(seats)[None], axis=2), axis=1)
        seats.append(cand[int(np.argmax(dist))])
    return np.array(seats)


def _voronoi_cells(points: np.ndarray, outline: Polygon) -> list[Polygon]:
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=outline, ordered=True)
    clipped = [cell.intersection(outline) for cell in cells.geoms]
    return [c if isinstance(c, Polygon) else max(c.geoms, key=lambda g: g.area) for c in clipped]


def _lloyd(points: np.ndarray, outline: Polygon, rounds: int) -> np.ndarray:
    """Relax random seeds toward their cells' centroids so grid sizes look like real admin units."""
    for _ in range(rounds):
        cells = _voronoi_cells(points, outline)
        points = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    return points


def _elevation(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Terrain: higher in the north-west (Bayan Har), lowest along the Yellow River in the south-east."""
    z = 4_330 - 2.6 * x + 2.2 * y
    for _ in range(14):
        cx, cy = rng.uniform(-70, 70), rng.uniform(-55, 55)
        amp, sigma = rng.uniform(-180, 420), rng.uniform(7, 20)
        z = z + amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    river = np.exp(-(((y + 0.35 * x + 30) / 9.0) ** 2)) * (x > -10)
    return np.clip(z - 260 * river + rng.normal(0, 40, x.shape), 3_900, 5_200)


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` units over bins proportional to ``weights`` with a floor (largest remainder)."""
    raw = weights / weights.sum() * (total - minimum * len(weights))
    base = np.floor(raw).astype(int)
    base[np.argsort(raw - base)[::-1][: total - minimum * len(weights) - base.sum()]] += 1
    return base + minimum


def _cluster_labels(xy: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Contiguous clusters by a few rounds of k-means (deterministic for the generator's state)."""
    k = min(k, len(xy))
    centres = xy[rng.choice(len(xy), k, replace=False)]
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(15):
        labels = np.argmin(np.linalg.norm(xy[:, None] - centres[None], axis=2), axis=1)
        for j in range(k):
            if np.any(labels == j):
                centres[j] = xy[labels == j].mean(axis=0)
    # Every cluster must own a grid: give empty ones the point farthest from its own centre.
    for j in range(k):
        if not np.any(labels == j):
            own = np.linalg.norm(xy - centres[labels], axis=1)
            labels[int(np.argmax(own))] = j
    return labels


def build_geography(rng: np.random.Generator, domain: Domain) -> Geography:
    """Lay out the county: outline, seats, grid polygons, administrative nesting and site attributes."""
    outline = _county_outline(rng, domain.county_area_km2)
    seats = _spread_seats(rng, outline, domain.n_townships)
    points = _lloyd(_points_inside(rng, outline, domain.n_grid_areas), outline, rounds=2)
    polygons = _voronoi_cells(points, outline)
    centroids = np.array([[p.centroid.x, p.centroid.y] for p in polygons])
    x, y = centroids[:, 0], centroids[:, 1]

    township_idx = np.argmin(np.linalg.norm(centroids[:, None] - seats[None], axis=2), axis=1)
    grids = pd.DataFrame({"grid_id": [f"G{i + 1:03d}" for i in range(len(polygons))]})
    grids["township_id"] = [TOWNSHIPS[t][0] for t in township_idx]
    grids["township_name"] = [TOWNSHIPS[t][1] for t in township_idx]

    # Villages (33) and communities (3, in the town) nested in townships; cooperatives (109) in villages.
    counts = np.bincount(township_idx, minlength=domain.n_townships)
    villages_per_township = _allocate(
        domain.n_villages, counts.astype(float), minimum=min(2, domain.n_villages // domain.n_townships)
    )
    village_ids = np.empty(len(grids), dtype=object)
    village_names = np.empty(len(grids), dtype=object)
    village_names_zh = np.empty(len(grids), dtype=object)
    dist_to_seat = np.linalg.norm(centroids - seats[township_idx], axis=1)
    for t, (tid, name, name_zh) in enumerate(TOWNSHIPS):
        members = np.flatnonzero(township_idx == t)
        n_comm = domain.n_communities if t == 0 else 0
        community = members[np.argsort(dist_to_seat[members])[: 2 * n_comm]]  # the town's built-up grids
        rural = np.setdiff1d(members, community)
        labels: np.ndarray | list[int] = (
            _cluster_labels(centroids[rural], int(villages_per_township[t]), rng) if len(rural) else []
        )
        for j in range(int(max(labels, default=-1)) + 1):
            idx = rural[labels == j]
            village_ids[idx] = f"{tid}-V{j + 1:02d}"
            village_names[idx] = f"{name} village {j + 1}"
            village_names_zh[idx] = f"{name_zh}{ZH_NUMERALS[j + 1] if j < 9 else j + 1}村"
        for j, idx in enumerate(np.array_split(community, n_comm) if n_comm else []):
            village_ids[idx] = f"{tid}-C{j + 1:02d}"
            village_names[idx] = f"{name} community {j + 1}"
            village_names_zh[idx] = f"{name_zh}第{ZH_NUMERALS[j + 1]}社区"
    grids["village_id"] = village_ids
    grids["is_community"] = grids["village_id"].str.contains("-C")

    # Cooperatives: 109 across rural villages, each a contiguous run of a village's grids by bearing.
    rural_villages = sorted(v for v in grids.loc[~grids["is_community"], "village_id"].unique())
    sizes = grids["village_id"].value_counts().reindex(rural_villages).to_numpy(dtype=float)
    coops_per_village = np.minimum(_allocate(domain.n_cooperatives, sizes, minimum=1), sizes.astype(int))
    coop = np.full(len(grids), "", dtype=object)
    for v, k in zip(rural_villages, coops_per_village, strict=True):
        idx = np.flatnonzero(grids["village_id"].to_numpy() == v)
        centre = centroids[idx].mean(axis=0)
        order = idx[np.argsort(np.arctan2(*(centroids[idx] - centre).T[::-1]))]
        for j, part in enumerate(np.array_split(order, k)):
            coop[part] = f"{v}-K{j + 1}"
    # np.array(None), not None: numpy's stubs take no bare None as the fill (same object-dtype result).
    grids["cooperative_id"] = np.where(grids["is_community"], np.array(None), coop)

    local_no = grids.groupby("village_id").cumcount() + 1
    grids["grid_name"] = [f"{vn} grid {n:02d}" for vn, n in zip(village_names, local_no, strict=True)]
    grids["grid_name_zh"] = [f"{vz}{n:02d}号片区" for vz, n in zip(village_names_zh, local_no, strict=True)]

    # Site attributes.
    grids["area_km2"] = np.array([p.area for p in polygons])
    elevation = _elevation(x, y, rng)
    grids["elevation_m"] = np.round(elevation).astype(int)
    wet = np.exp(-(((elevation - 4_000) / 180) ** 2)) + 0.15
    dry = np.clip((elevation - 4_450) / 500, 0, None) + 0.25 * (x < -30) + 0.1
    meadow = np.full_like(elevation, 1.2)
    weights = np.c_[meadow, dry, wet] * rng.gamma(4, 0.25, (len(grids), 3))
    grids["pasture_type"] = np.array(["alpine_meadow", "alpine_steppe", "swamp_meadow"])[weights.argmax(axis=1)]
    warm = np.clip(0.27 + 0.30 * (elevation - 4_100) / 1_000 + rng.normal(0, 0.05, len(grids)), 0.15, 0.60)
    transition = np.clip(rng.normal(0.17, 0.03, len(grids)), 0.10, 0.25)
    grids["warm_share"] = np.round(warm, 3)
    grids["transition_share"] = np.round(transition, 3)
    grids["cold_share"] = np.round(1 - grids["warm_share"] - grids["transition_share"], 3)
    shares = grids[["warm_share", "cold_share", "transition_share"]].to_numpy()
    grids["seasonal_use"] = np.array(["warm", "cold", "transition"])[shares.argmax(axis=1)]

    neighbours = _neighbours(polygons, grids["grid_id"].to_numpy())
    border = neighbours.merge(grids[["grid_id", "township_id"]], on="grid_id").merge(
        grids[["grid_id", "township_id"]].rename(columns={"grid_id": "neighbour_id", "township_id": "nt"}),
        on="neighbour_id",
    )
    on_township_border = grids["grid_id"].isin(border.loc[border["township_id"] != border["nt"], "grid_id"])
    ambiguity = rng.beta(2, 5, len(grids)) + 0.22 * on_township_border.to_numpy()
    grids["boundary_ambiguity"] = np.round(np.clip(ambiguity, 0, 1), 3)
    grids["distance_to_seat_km"] = np.round(ROAD_WINDING * dist_to_seat, 1)
    lon, lat = to_lonlat(x, y)
    grids["centroid_lon"], grids["centroid_lat"] = np.round(lon, 5), np.round(lat, 5)
    grids["x_km"], grids["y_km"] = x, y

    townships = pd.DataFrame(
        {
            "township_id": [t[0] for t in TOWNSHIPS],
            "township_name": [t[1] for t in TOWNSHIPS],
            "township_name_zh": [t[2] for t in TOWNSHIPS],
            "kind": ["town"] + ["township"] * (len(TOWNSHIPS) - 1),
            "seat_x_km": seats[:, 0],
            "seat_y_km": seats[:, 1],
        }
    )
    return Geography(grids, polygons, neighbours, townships, outline)


def _neighbours(polygons: list[Polygon], ids: np.ndarray) -> pd.DataFrame:
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    keep = left != right
    rows = []
    for i, j in zip(left[keep], right[keep], strict=True):
        border = polygons[i].boundary.intersection(polygons[j].boundary).length
        if border > 0.01:
            rows.append((ids[i], ids[j], round(float(border), 2)))
    return pd.DataFrame(rows, columns=["grid_id", "neighbour_id", "shared_border_km"])


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local km plane -> WGS84 degrees (equirectangular around the county seat; fine at county scale)."""
    lat = SEAT_LAT + y / KM_PER_DEG_LAT
    lon = SEAT_LON + x / (111.32 * np.cos(np.radians(SEAT_LAT)))
    return lon, lat


def geojson_features(grids: pd.DataFrame, polygons: list[Polygon]) -> dict[str, object]:
    """The grid polygons as a GeoJSON FeatureCollection (lon/lat, 5 decimals ~ 1 m)."""
    features = []
    for row, poly in zip(grids.itertuples(index=False), polygons, strict=True):
        xy = np.asarray(poly.exterior.coords)
        lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
        ring = [[round(float(a), 5), round(float(b), 5)] for a, b in zip(lon, lat, strict=True)]
        features.append(
            {
                "type": "Feature",
                "id": row.grid_id,
                "properties": {
                    "grid_id": row.grid_id,
                    "grid_name": row.grid_name,
                    "grid_name_zh": row.grid_name_zh,
                    "township_id": row.township_id,
                    "village_id": row.village_id,
                    "area_km2": round(float(cast(float, row.area_km2)), 3),
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": features}
