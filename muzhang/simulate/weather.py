"""Plateau weather for every grid and month: a seasonal cycle, year anomalies, droughts, heavy-snow winters.

Weather does not depend on herds, so it is drawn up front for all months; everything else reacts to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Monthly climatology at 4,200 m for Dari (assumption shaped on Golog station normals: ~530 mm a year,
# 80 % in June-September; January about -13 C, July about +9.5 C).
PRECIP_NORMAL_MM = np.array([4, 6, 12, 22, 50, 95, 115, 105, 80, 30, 6, 3], dtype=float)
TEMP_NORMAL_C = np.array([-13.5, -10.5, -5.5, -0.5, 3.5, 7.0, 9.5, 8.8, 5.0, -1.0, -8.0, -12.5])
LAPSE_RATE_C_PER_KM = 6.0
WARMING_C_PER_YEAR = 0.04  # assumption: plateau warming trend
DROUGHT_FACTOR = 0.82  # a year whose rain is below 82 % of normal is a drought year (assumption)
HEAVY_SNOW_PROBABILITY = 0.2  # assumption: about one winter in five
# Heavy-snow winters killed 13-24 % of livestock (DOMAIN.md): severity 0.75-1.3 x 4.5 %/month x Dec-Mar.
SNOW_SEVERITY_RANGE = (0.75, 1.30)
SNOW_FOOTPRINT_KM = 55.0


@dataclass(frozen=True)
class Weather:
    """Arrays shaped (months, grids) plus per-year flags."""

    months: pd.DatetimeIndex
    precip_mm: np.ndarray
    temp_c: np.ndarray
    snow_days: np.ndarray
    snow_severity: np.ndarray  # 0 outside heavy-snow winters; latent (not reported as such)
    precip_year_factor: dict[int, float]  # county-wide rain factor per year (1 = normal)
    drought_years: frozenset[int]
    heavy_snow_winters: frozenset[int]  # winter named by the year its October falls in


def simulate_weather(
    rng: np.random.Generator,
    months: pd.DatetimeIndex,
    x_km: np.ndarray,
    y_km: np.ndarray,
    elevation_m: np.ndarray,
) -> Weather:
    """Draw precipitation, temperature and snow for each grid and month."""
    years = np.arange(months.year.min() - 1, months.year.max() + 1)
    factor = {int(y): float(np.exp(rng.normal(-0.015, 0.17))) for y in years}
    in_range = [int(y) for y in years if y >= months.year.min()]
    if not any(factor[y] < DROUGHT_FACTOR for y in in_range[:-1]):  # every sample county has a drought
        factor[int(rng.choice(in_range[1:-1] or in_range))] = 0.74
    temp_anom = {int(y): float(rng.normal(0, 0.6) + WARMING_C_PER_YEAR * (y - years.min())) for y in years}
    winters = [int(y) for y in years if rng.uniform() < HEAVY_SNOW_PROBABILITY]
    if sum(1 for w in winters if w >= months.year.min()) < 2:  # and at least two heavy-snow winters
        free = [y for y in in_range[:-1] or in_range if y not in winters]
        extra = rng.choice(free, min(2, len(free)), replace=False)
        winters = sorted({*winters, *map(int, extra)})

    n_t, n_g = len(months), len(x_km)
    moy = months.month.to_numpy() - 1
    spatial = np.exp(0.0025 * x_km - 0.0025 * y_km)  # wetter toward the south-east
    year_f = np.array([factor[int(y)] for y in months.year])
    precip = PRECIP_NORMAL_MM[moy][:, None] * year_f[:, None] * spatial[None] * rng.lognormal(-0.06, 0.35, (n_t, n_g))
    temp = (
        TEMP_NORMAL_C[moy][:, None]
        - LAPSE_RATE_C_PER_KM * (elevation_m[None] - 4_200) / 1_000
        + np.array([temp_anom[int(y)] for y in months.year])[:, None]
        + rng.normal(0, 1.0, (n_t, 1))
        + rng.normal(0, 0.4, (n_t, n_g))
    )

    severity = np.zeros((n_t, n_g))
    for w in winters:
        centre = rng.uniform(-60, 60, 2)
        strength = rng.uniform(*SNOW_SEVERITY_RANGE)
        footprint = np.exp(-((x_km - centre[0]) ** 2 + (y_km - centre[1]) ** 2) / (2 * SNOW_FOOTPRINT_KM**2))
        in_winter = ((months.year == w) & (months.month >= 10)) | ((months.year == w + 1) & (months.month <= 4))
        severity[np.asarray(in_winter)] = np.maximum(severity[np.asarray(in_winter)], strength * footprint)
    cold_month = np.isin(moy + 1, (10, 11, 12, 1, 2, 3, 4))
    snow_rate = np.where(cold_month, 2.5, 0.2)[:, None] + 9.0 * severity
    snow_days = np.minimum(rng.poisson(snow_rate), 28)
    return Weather(
        months=months,
        precip_mm=np.round(precip, 1),
        temp_c=np.round(temp, 1),
        snow_days=snow_days,
        snow_severity=severity,
        precip_year_factor=factor,
        drought_years=frozenset(y for y, f in factor.items() if f < DROUGHT_FACTOR),
        heavy_snow_winters=frozenset(winters),
    )
