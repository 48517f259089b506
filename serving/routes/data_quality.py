"""Data quality for the county office: completeness and timeliness of a month's reports per township, village
and herder chief, a chief's history, and the flagged values staff follow up."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from serving.deps import AppState, DataQualityDep, StaffDep, StateDep
from serving.errors import NotFound
from serving.routes.common import MONTH_PATTERN, county_store
from serving.schemas import REPORT_RESPONSES

router = APIRouter(prefix="/v1", tags=["reports"], responses=REPORT_RESPONSES)


class LevelRate(BaseModel):
    key: str = Field(description="Grid, township or village id ('county' for the whole county).")
    expected: int
    received: int
    on_time: int
    late: int
    unknown_time: int = Field(description="Received by a history import: no arrival time.")
    reporting_rate: float
    on_time_rate: float | None


class FlagOut(BaseModel):
    id: int
    grid_id: str
    field: str
    rule: str
    value: str | None
    detail: str | None
    status: str


class DataQualityOut(BaseModel):
    month: date
    on_time_days: int
    county: LevelRate
    townships: list[LevelRate]
    villages: list[LevelRate]
    chiefs: list[LevelRate] = Field(
        description="Per herder chief (the reporter key naming the grid, else who last reported it; "
        "'unassigned' if neither): the chief's grids expected, received, on time, late."
    )
    missing_grids: list[str]
    late_grids: list[str]
    flags: list[FlagOut] = Field(description="Values flagged for follow-up this month (open first).")


def _levels(frame: pd.DataFrame, level: str) -> list[LevelRate]:
    return [LevelRate(**_level_values(r, level)) for r in frame.to_dict("records")]


@router.get("/data-quality", response_model=DataQualityOut)
def data_quality(
    state: StateDep,
    caller: DataQualityDep,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (default: the latest)")] = None,
) -> DataQualityOut:
    """Completeness and timeliness of a month's reports per township, village and chief; missing grids; flags."""
    store = county_store(state)
    county = state.county
    when = pd.Timestamp(f"{month}-01") if month else (store.last_month() or county.last_month)
    chiefs = _chiefs(state, store, when)
    quality = _month_quality(state, store, when, store.submissions(when), chiefs)
    days = state.settings.on_time_days
    flags = store.flags(month=when)
    open_first = flags.assign(_closed=flags["status"] != "open").sort_values(["_closed", "id"]) if len(flags) else flags
    flag_rows = open_first.to_dict("records")
    return DataQualityOut(
        month=when.date(),
        on_time_days=days,
        county=_levels(quality.by_level["county"], "county")[0],
        townships=_levels(quality.by_level["township_id"], "township_id"),
        villages=_levels(quality.by_level["village_id"], "village_id"),
        chiefs=_levels(quality.by_level["chief"], "chief"),
        missing_grids=quality.missing["grid_id"].astype(str).tolist(),
        late_grids=quality.late["grid_id"].astype(str).tolist(),
        flags=[_flag(f) for f in flag_rows],
    )


def _chiefs(state: AppState, store: Any, until: pd.Timestamp) -> pd.DataFrame:
    """grid_id -> chief, from the reporter keys and the store's senders (see serving.quality.grid_chiefs)."""
    from serving.quality import grid_chiefs

    assigned = {k.name: k.grids for k in state.keys if k.role == "reporter" and k.grids}
    return grid_chiefs(state.county.tables.grids, assigned, store.report_senders(until))


def _month_quality(
    state: AppState, store: Any, when: pd.Timestamp, submissions: pd.DataFrame, chiefs: pd.DataFrame
) -> Any:
    """A month's reporting rates: reports that arrived, and the county's rows that were not carried."""
    from serving.quality import month_quality

    county = state.county
    arrived = submissions[submissions["source"] != "carry"] if len(submissions) else submissions
    monthly = county.tables.grid_monthly
    reported = monthly.loc[pd.to_datetime(monthly["month"]) == when, ["grid_id", "month"]]
    carried_here = {g for g, months in county.carried.items() if when in months}
    reported = reported[~reported["grid_id"].astype(str).isin(carried_here)]  # carried: not a report
    if len(arrived):
        accepted = arrived[arrived["status"].isin(["accepted", "partial"])][["grid_id", "month"]]
        accepted = accepted.assign(month=pd.to_datetime(accepted["month"]))
        reported = pd.concat([reported, accepted]) if len(reported) else accepted  # no empty frame in a concat
    days = state.settings.on_time_days
    return month_quality(when, county.tables.grids, reported, arrived, on_time_days=days, chiefs=chiefs)


class ChiefMonth(LevelRate):
    month: date


class ChiefSubmission(BaseModel):
    submission_id: str
    grid_id: str
    month: date
    received_at: str
    status: str
    source: str


class ChiefHistoryOut(BaseModel):
    chief: str
    grids: list[str] = Field(description="The grid areas this chief reports (see DataQualityOut.chiefs).")
    months: list[ChiefMonth] = Field(description="Per month, oldest first: the chief's grids expected, received...")
    submissions: list[ChiefSubmission] = Field(description="What the chief's grids sent in those months, by arrival.")


@router.get("/data-quality/chiefs/{chief}", response_model=ChiefHistoryOut)
def chief_history(
    state: StateDep,
    caller: DataQualityDep,
    chief: Annotated[str, Path(min_length=1, max_length=64)],
    months: Annotated[int, Query(ge=1, le=120, description="How many months back from the latest")] = 12,
) -> ChiefHistoryOut:
    """A herder chief's reporting history: completeness and timeliness per month, and every report sent."""
    store = county_store(state)
    last = store.last_month() or state.county.last_month
    chiefs = _chiefs(state, store, last)
    grids = sorted(chiefs.loc[chiefs["chief"] == chief, "grid_id"].astype(str))
    if not grids:
        raise NotFound(f"chief: no grid area is reported by {chief!r}")
    everything = store.submissions()
    mine = everything[everything["grid_id"].astype(str).isin(grids)] if len(everything) else everything
    out_months = []
    for step in range(months - 1, -1, -1):
        when = pd.Timestamp(last) - pd.DateOffset(months=step)
        in_month = mine[pd.to_datetime(mine["month"]) == when] if len(mine) else mine
        quality = _month_quality(state, store, when, in_month, chiefs)
        rates = quality.by_level["chief"]
        row = rates[rates["chief"] == chief].to_dict("records")[0]
        out_months.append(ChiefMonth(month=when.date(), **_level_values(row, "chief")))
    start = pd.Timestamp(last) - pd.DateOffset(months=months - 1)
    shown = mine[pd.to_datetime(mine["month"]) >= start] if len(mine) else mine
    return ChiefHistoryOut(
        chief=chief,
        grids=grids,
        months=out_months,
        submissions=[
            ChiefSubmission(
                submission_id=str(r["submission_id"]),
                grid_id=str(r["grid_id"]),
                month=pd.Timestamp(r["month"]).date(),
                received_at=pd.Timestamp(r["received_at"]).isoformat(),
                status=str(r["status"]),
                source=str(r["source"]),
            )
            for r in shown.to_dict("records")
        ],
    )


def _level_values(row: dict[Any, Any], level: str) -> dict[str, Any]:
    return {
        ("key" if k == level else str(k)): (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()
    }


def _flag(row: dict[Any, Any]) -> FlagOut:
    """A stored flag as the API shows it (the store's nulls come back as NaN)."""
    return FlagOut.model_validate({k: (None if _missing(row.get(k)) else row.get(k)) for k in FlagOut.model_fields})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


class FlagResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["confirmed", "corrected"] = Field(
        description="confirmed: the value stands; corrected: a new report replaced it."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the record).")


@router.post("/flags/{flag_id}", response_model=FlagOut)
def resolve_flag(
    state: StateDep,
    caller: StaffDep,
    flag_id: Annotated[int, Path(ge=1, le=2**62)],
    body: FlagResolution,
) -> FlagOut:
    """Follow up a flagged value: staff confirm it or record that it was corrected, with a reason."""
    store = county_store(state)
    try:
        store.resolve_flag(flag_id, body.status, caller.name, body.reason)
    except KeyError:
        raise NotFound(f"flag_id: no flag {flag_id}") from None
    flags = store.flags()
    return _flag(flags[flags["id"] == flag_id].to_dict("records")[0])
