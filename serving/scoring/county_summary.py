"""The county at a glance, for drawing the map: every grid's grazing numbers for a season and its dispute risk.

Numbers only, from the same scoring as :func:`serving.scoring.grazing.assess` and
:func:`serving.scoring.dispute.score`, without explanations or names: the page draws 457 grids from a few
kilobytes and asks for one grid's explanation when that grid is opened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from serving.errors import Unavailable
from serving.scoring import dispute, grazing
from serving.scoring.common import risk_bands
from serving.scoring.context import ScoringContext


@dataclass(frozen=True)
class GrazingLayer:
    """One season's numbers per grid, in ``grid_ids`` order (NaN pressure where capacity is unknown)."""

    season: str
    season_year: int
    as_of_month: dt.date
    grid_ids: list[str]
    pressure: list[float | None]
    status: list[str]
    action: list[str]
    su_to_move: list[float]
    stocking_su: list[float]
    capacity_su: list[float | None]


@dataclass(frozen=True)
class DisputeLayer:
    """Next month's dispute probability and band per grid, in ``grid_ids`` order, and the band cut-offs."""

    month: dt.date
    grid_ids: list[str]
    probability: list[float]
    band: list[str]
    cutoffs: dict[str, float]


def _finite(values: np.ndarray, digits: int) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


def grazing_layer(ctx: ScoringContext, season: str) -> GrazingLayer:
    """Pressure, status, advice and stock of every grid for ``season``: the numbers ``grazing.assess`` gives
    (both come from :func:`serving.scoring.grazing.season_layer`), without the explanations."""
    n = grazing.season_layer(ctx, season)
    rows = n.rows
    return GrazingLayer(
        season=season,
        season_year=int(rows["season_year"].iloc[0]),
        as_of_month=pd.Timestamp(rows["as_of_month"].iloc[0]).date(),
        grid_ids=rows["grid_id"].astype(str).tolist(),
        pressure=_finite(np.asarray(n.pressure, dtype=float), 3),
        status=[str(v) for v in n.status],
        action=[str(v) for v in n.action],
        su_to_move=[round(float(v), 1) for v in np.nan_to_num(np.asarray(n.su_to_move, dtype=float))],
        stocking_su=[round(float(v), 1) for v in np.nan_to_num(np.asarray(n.stocking, dtype=float))],
        capacity_su=_finite(np.asarray(n.capacity, dtype=float), 1),
    )


def dispute_layer(ctx: ScoringContext) -> DisputeLayer:
    """Probability of a dispute next month and its band, for every grid (the rules of ``dispute.score``)."""
    model = ctx.served(dispute.FAMILY)
    prep = ctx.prepared(model)
    p = prep.bundle.tasks[dispute.TASK].point(prep.x)
    cuts = risk_bands(model.bundle)
    return DisputeLayer(
        month=pd.Timestamp(prep.frame["month"].iloc[0]).date(),
        grid_ids=prep.frame["grid_id"].astype(str).tolist(),
        probability=[round(float(v), 4) for v in p],
        band=[cuts.band(float(v)) for v in p],
        cutoffs={"medium": cuts.medium, "high": cuts.high},
    )


def county_summary(ctx: ScoringContext, season: str) -> dict[str, Any]:
    """Both layers; a family without a model gives ``None`` and is named in ``unavailable`` (the other still draws)."""
    out: dict[str, Any] = {"season": season, "grazing": None, "dispute": None, "unavailable": {}}
    for name, build in (("grazing", lambda: grazing_layer(ctx, season)), ("dispute", lambda: dispute_layer(ctx))):
        try:
            out[name] = build()
        except Unavailable as exc:
            out["unavailable"][name] = str(exc)
    return out
