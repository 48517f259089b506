"""Monthly grid reports in (herder chiefs, county staff), months closed, data quality for the county office."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, File, HTTPException, Path, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field, create_model

from serving.deps import AppState, Caller, DataQualityDep, ReporterDep, StaffDep, StateDep
from serving.errors import NotFound, Unavailable
from serving.intake_cache import cache_for
from serving.reports import ID_PATTERN, IntakeResult, ingest_record, ingest_reports, read_report_file
from serving.routes.common import LangDep, read_upload
from serving.schemas import REPORT_RESPONSES

router = APIRouter(prefix="/v1", tags=["reports"], responses=REPORT_RESPONSES)
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"  # the catalog's months start in 2000


def report_model() -> type[BaseModel]:
    """The JSON of one report: every item of the catalog's monthly grid report, named, described and unit-ed.

    Item values are taken as sent (number, text, true/false or null) and judged by the report checks, so a bad
    value refuses the report with row, field, value and rule in the request's language, as a file's row is,
    instead of a bare 422. Unknown items are refused (a typo must not vanish).
    """
    from muzhang.catalog import load_catalog

    catalog = load_catalog()
    value = int | float | str | bool | None
    fields: dict[str, Any] = {
        "submission_id": (
            str,
            Field(pattern=ID_PATTERN, description="Made once by the sending device; resending is safe."),
        ),
        "grid_id": (str, Field(description="Grid area id, e.g. G001.")),
        "month": (str, Field(description="The month reported, YYYY-MM-01.")),
    }
    for spec in catalog.fields_of("grid_monthly"):
        if spec.name in fields:
            continue
        unit = f" ({spec.unit})" if spec.unit else ""
        fields[spec.name] = (value, Field(None, description=f"{spec.display}{unit} / {spec.display_zh}"))
    return create_model("ReportIn", __config__=ConfigDict(extra="forbid"), **fields)


ReportIn = report_model()


class Problem(BaseModel):
    row: int | str
    field: str
    value: str
    rule_id: str
    rule: str


class RowOutcome(BaseModel):
    row: int | str
    submission_id: str
    grid_id: str
    month: str
    outcome: str = Field(description="inserted, updated (supersedes earlier values), unchanged or duplicate.")
    changed_fields: list[str] = []


class IntakeOut(BaseModel):
    counts: dict[str, int]
    rows: list[RowOutcome]
    refused: list[Problem] = Field(description="Rows not kept: row, field, value and the rule each breaks.")
    flags: list[Problem] = Field(description="Values kept but flagged for follow-up.")


def _out(result: IntakeResult) -> IntakeOut:
    return IntakeOut(
        counts=result.counts(),
        rows=[RowOutcome(**r) for r in result.rows],
        refused=[Problem(**p) for p in result.refused],
        flags=[Problem(**p) for p in result.flags],
    )


def _store(state: AppState) -> Any:
    if state.store is None:
        raise Unavailable("this service reads a county directory, not a store: reports cannot be kept")
    return state.store


def _ingest(state: AppState, caller: Caller, frame: pd.DataFrame, source: str, lang: Any) -> IntakeResult:
    result = _intake(state, caller, frame, source, lang)
    _close_if_due(state, lang)
    return result


def _close_if_due(state: AppState, lang: Any) -> None:
    """A month closes by itself at the completeness or the day the settings name (see serving.months)."""
    from serving import months

    settings = state.settings
    if settings.close_at_completeness is None and settings.close_on_day is None:
        return
    with state.close_lock:
        due = months.due_to_close(
            state,
            pd.Timestamp(date.today()),
            completeness=settings.close_at_completeness,
            close_on_day=settings.close_on_day,
        )
        if due is not None:
            months.close_month(state, due, who="muzhang (automatic close)", lang=lang)


def _intake(state: AppState, caller: Caller, frame: pd.DataFrame, source: str, lang: Any) -> IntakeResult:
    store = _store(state)
    cache = cache_for(state)
    grids: list[str] = list(frame["grid_id"].astype(str).unique()) if "grid_id" in frame else []
    return ingest_reports(
        store,
        frame,
        who=caller.name,
        role=caller.role,
        source=source,
        known_grids=cache.county.grid_ids,
        latest_month=_latest_month(),
        history=cache.history(grids),
        allowed_grids=caller.grids if caller.role == "reporter" else None,
        trust_arrival=source == "upload",
        lang=lang,
        cache=cache,
    )


def _latest_month() -> pd.Timestamp:
    """The latest month a report may be for: the current one."""
    return pd.Timestamp(date.today().replace(day=1))


def _ingest_one(state: AppState, caller: Caller, record: dict[str, Any], lang: Any) -> IntakeResult:
    store = _store(state)
    result = ingest_record(
        store,
        record,
        who=caller.name,
        role=caller.role,
        source="api",
        cache=cache_for(state),
        latest_month=_latest_month(),
        allowed_grids=caller.grids if caller.role == "reporter" else None,
        lang=lang,
    )
    _close_if_due(state, lang)
    return result


@router.post("/reports", response_model=IntakeOut)
def post_report(state: StateDep, caller: ReporterDep, lang: LangDep, body: ReportIn) -> IntakeOut:  # type: ignore[valid-type]
    """One grid-month report. A herder chief may report only their own grids (403 otherwise)."""
    _store(state)
    sent: dict[str, Any] = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    if caller.role == "reporter" and sent["grid_id"] not in caller.grids:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"grid_id: {sent['grid_id']} is not one of your grid areas")
    return _out(_ingest_one(state, caller, sent, lang))


@router.post("/reports/upload", response_model=IntakeOut)
async def upload_reports(
    state: StateDep,
    caller: StaffDep,
    lang: LangDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX, one report per row, with submission_id.")],
) -> IntakeOut:
    """A township's file of many reports: each bad row is refused with row, field, value and rule; the rest kept."""
    content = await read_upload(file, state.settings.max_body_bytes)
    frame = read_report_file(content, file.filename or "", max_rows=state.settings.batch_cap)
    result = await asyncio.to_thread(_ingest, state, caller, frame, "upload", lang)
    return _out(result)


class MonthOut(BaseModel):
    month: date
    closed: bool = Field(description="False when the month was closed already (nothing changed).")
    carried_grids: list[str] = Field(description="Grid areas without a report: last month's values carried.")
    as_of: date = Field(description="The month every answer is now based on.")
    seconds: float


@router.post("/months/{month}/close", response_model=MonthOut)
async def close_month(
    state: StateDep,
    caller: StaffDep,
    lang: LangDep,
    month: Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> MonthOut:
    """Close a month: missing reports are carried (and flagged), and every answer moves to it without a restart."""
    from serving import months

    _store(state)

    def close() -> months.CloseResult:
        with state.close_lock:  # two staff closing at once: the second finds the month closed
            return months.close_month(state, pd.Timestamp(f"{month}-01"), who=caller.name, lang=lang)

    result = await asyncio.to_thread(close)
    return MonthOut(
        month=result.month.date(),
        closed=result.closed,
        carried_grids=result.carried,
        as_of=result.as_of.date(),
        seconds=result.seconds,
    )


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
    store = _store(state)
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
    store = _store(state)
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


class FormField(BaseModel):
    name: str
    label: str
    label_zh: str
    unit: str | None
    type: str
    min: float | None
    max: float | None
    categories: list[str] | None
    required: bool


class ReportForm(BaseModel):
    fields: list[FormField] = Field(description="The items of a monthly grid report, as the data catalog has them.")
    grids: list[str] = Field(description="The grid areas this key may report for.")
    latest_month: date = Field(description="The latest month a report may be for.")
    as_of: date = Field(description="The month the county's answers are based on.")


@router.get("/reports/form", response_model=ReportForm)
def report_form(state: StateDep, caller: ReporterDep) -> ReportForm:
    """What a report holds (items, units, bounds, required) and which grids this key may report for."""
    from muzhang.catalog import load_catalog

    catalog = load_catalog()
    fields = [
        FormField(
            name=f.name,
            label=f.display,
            label_zh=f.display_zh,
            unit=f.unit,
            type=f.type,
            min=float(f.min) if isinstance(f.min, int | float) else None,
            max=float(f.max) if isinstance(f.max, int | float) else None,
            categories=list(f.categories) if f.categories else None,
            required=not f.nullable,
        )
        for f in catalog.fields_of("grid_monthly")
        if f.name not in ("grid_id", "month")
    ]
    grids = sorted(caller.grids) if caller.role == "reporter" else sorted(state.county.grid_ids)
    latest = pd.Timestamp(date.today()).to_period("M").to_timestamp().date()
    return ReportForm(fields=fields, grids=grids, latest_month=latest, as_of=state.county.last_month.date())


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
    store = _store(state)
    try:
        store.resolve_flag(flag_id, body.status, caller.name, body.reason)
    except KeyError:
        raise NotFound(f"flag_id: no flag {flag_id}") from None
    flags = store.flags()
    return _flag(flags[flags["id"] == flag_id].to_dict("records")[0])


class ValueChange(BaseModel):
    field: str
    old_value: str | None
    new_value: str | None
    changed_by: str
    changed_at: str
    submission_id: str | None


@router.get("/reports/history/{grid_id}/{month}", response_model=list[ValueChange])
def report_history(
    state: StateDep,
    caller: StaffDep,
    grid_id: Annotated[str, Path(pattern=r"^G\d{3,4}$")],
    month: Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> list[ValueChange]:
    """The audit trail of one grid-month: every value change, who, when, old and new."""
    if grid_id not in state.county.grid_ids:
        raise NotFound(f"grid_id: unknown grid area {grid_id}")
    history = _store(state).value_history(grid_id, f"{month}-01")
    return [
        ValueChange(
            field=str(r["field"]),
            old_value=None if pd.isna(r["old_value"]) else str(r["old_value"]),
            new_value=None if pd.isna(r["new_value"]) else str(r["new_value"]),
            changed_by=str(r["changed_by"]),
            changed_at=pd.Timestamp(r["changed_at"]).isoformat(),
            submission_id=None if pd.isna(r["submission_id"]) else str(r["submission_id"]),
        )
        for r in history.to_dict("records")
    ]
