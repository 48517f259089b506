"""Grazing answers with the season's herd, ranges, risk level and period (issue 12).

Each extends the shared shape in :mod:`serving.schemas` with optional fields only, so clients written for
the older answers (the page) keep working unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, StrictFloat

from serving.schemas import AdviceOut, GrazingAssessment, RotationPlanOut, WhatIfRequest

RISK_LOW, RISK_HIGH = 0.05, 0.5  # the yield quantiles a planner may ask advice at
RISK_TEXT = "Yield quantile the advice and plan are made at (default 0.2: capacity holds in four seasons out of five)."


class GrazingAssessmentOut(GrazingAssessment):
    stocking_range_su: tuple[float, float] | None = Field(
        None, description="80 % range of the season's forecast herd (births, deaths and sales projected), SU."
    )
    rested_share: float | None = Field(None, description="Share of the season pasture expected to rest.")
    pressure_range: tuple[float, float] | None = Field(
        None, description="80 % range of the pressure, carrying both the yield's and the herd's uncertainty."
    )
    risk: float | None = Field(None, description="Yield quantile the advice is made at.")
    capacity_at_risk_su: float | None = Field(None, description="Capacity at the ``risk`` yield quantile, SU.")
    pressure_at_risk: float | None = Field(None, description="Stocking / capacity at the ``risk`` yield quantile.")
    period: str | None = Field(None, description="What the pressure is: the season's forecast and its data month.")


class GrazingBatchOut(BaseModel):
    items: list[GrazingAssessmentOut]


class WhatIfIn(WhatIfRequest):
    rest_share: StrictFloat | None = Field(
        None, ge=0.05, le=0.95, description="Share of the season pasture rested when ``rest`` (default 0.5)."
    )
    risk: StrictFloat | None = Field(None, ge=RISK_LOW, le=RISK_HIGH, description=RISK_TEXT)


class RotationPlanDetail(RotationPlanOut):
    risk: float | None = Field(None, description="Yield quantile the capacities are taken at.")
    drought: bool = Field(False, description="Planned for a drought year (this county's drought-year yields).")


class SeasonInProgressOut(BaseModel):
    grid_id: str
    township_id: str
    season: str
    season_year: int
    as_of_month: dt.date = Field(description="Last month of data.")
    period: str = Field(description="What the pressure is: the months left of the season under way.")
    months_left: int
    yield_so_far_kg_ha: float = Field(description="The season's peak standing forage observed so far, kg DM/ha.")
    capacity_season_su: float = Field(description="NY/T 635 capacity of the whole season, SU.")
    capacity_left_su: float = Field(description="SU the forage left can carry over the months left, SU.")
    stocking_su: float = Field(description="Herd forecast over the months left, SU.")
    stocking_range_su: tuple[float, float]
    pressure: float = Field(description="Stocking / capacity left.")
    pressure_range: tuple[float, float]
    status: Literal["under", "balanced", "over"]
    advice: AdviceOut


class SeasonInProgressList(BaseModel):
    items: list[SeasonInProgressOut]
