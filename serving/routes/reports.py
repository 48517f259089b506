"""Monthly grid reports in (herder chiefs, county staff), the report form, a grid-month's audit trail, and
months closed. Data quality and flags: serving.routes.data_quality."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, BackgroundTasks, File, HTTPException, Path, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from serving.deps import AppState, Caller, ReporterDep, StaffDep, StateDep
from serving.errors import NotFound
from serving.intake_cache import cache_for
from serving.reports import ID_PATTERN, IntakeResult, ingest_record, ingest_reports, read_report_file
from serving.routes.common import MONTH_PATTERN, LangDep, county_store, read_upload
from serving.schemas import REPORT_RESPONSES

router = APIRouter(prefix="/v1", tags=["reports"], responses=REPORT_RESPONSES)


def report_model() -> type[BaseModel]:
    """The JSON of one report: every item of the catalog's monthly grid report, named, described and unit-ed.

    Item values are taken as sent (number, text, true/false or null) and judged by the report checks, so a bad
    value refuses the report with row, field, value and rule in the request's language, as a file's row is,
    instead of a bare 422. Unknown items are refused (a typo must not vanish). ``measurements`` holds values of
    the fields a catalog extension added to the county's grid-month table (serving.report_fields).
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
    # The names are the county's (the store's added fields), which this document, built before any store is
    # read, cannot list: it says "no names" (a client or fuzzer sends none unless it knows them), and intake
    # checks each name and value against the store's own definitions (as a disease record's measurements).
    fields["measurements"] = (
        Annotated[dict[str, value], WithJsonSchema({"type": "object", "additionalProperties": False})] | None,
        Field(
            None,
            description=(
                "Values of fields a catalog extension added to the county's monthly grid report (name -> value; "
                "GET /v1/reports/form lists them with added=true), checked by their catalog entry. An unknown "
                "name is refused (422); a field left out keeps its stored value, null erases it."
            ),
        ),
    )
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


def _ingest(
    state: AppState, caller: Caller, frame: pd.DataFrame, source: str, lang: Any, after: BackgroundTasks
) -> IntakeResult:
    result = _intake(state, caller, frame, source, lang)
    _close_if_due(state, lang, after)
    return result


def _close_if_due(state: AppState, lang: Any, after: BackgroundTasks) -> bool:
    """A month closes by itself at the completeness or the day the settings name (see serving.months). As the
    staff's close does, it answers first: the month's forecasts are kept and its outcomes joined after the
    answer (``after``). Returns whether a month closed."""
    from serving import months

    settings = state.settings
    if settings.close_at_completeness is None and settings.close_on_day is None:
        return False
    with state.close_lock:
        due = months.due_to_close(
            state,
            pd.Timestamp(date.today()),
            completeness=settings.close_at_completeness,
            close_on_day=settings.close_on_day,
        )
        if due is None:
            return False
        closed = months.close_month(state, due, who="muzhang (automatic close)", lang=lang, monitor=False).closed
    if closed:
        after.add_task(_monitor_after_close, state)
    return closed


def _monitor_after_close(state: AppState) -> None:
    """A closed month's monitoring step, after the answer (in the thread pool); it logs its own failure and the
    next close or `muzhang retrain` catches it up."""
    from serving import months

    with state.close_lock:
        months.monitor_closed_month(state)


def _intake(state: AppState, caller: Caller, frame: pd.DataFrame, source: str, lang: Any) -> IntakeResult:
    store = county_store(state)
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


def _ingest_one(
    state: AppState, caller: Caller, record: dict[str, Any], lang: Any, after: BackgroundTasks
) -> IntakeResult:
    store = county_store(state)
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
    _close_if_due(state, lang, after)
    return result


@router.post("/reports", response_model=IntakeOut)
def post_report(
    state: StateDep,
    caller: ReporterDep,
    lang: LangDep,
    body: ReportIn,  # type: ignore[valid-type]
    after: BackgroundTasks,
) -> IntakeOut:
    """One grid-month report. A herder chief may report only their own grids (403 otherwise)."""
    county_store(state)
    sent: dict[str, Any] = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    if caller.role == "reporter" and sent["grid_id"] not in caller.grids:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"grid_id: {sent['grid_id']} is not one of your grid areas")
    return _out(_ingest_one(state, caller, sent, lang, after))


@router.post("/reports/upload", response_model=IntakeOut)
async def upload_reports(
    state: StateDep,
    caller: StaffDep,
    lang: LangDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX, one report per row, with submission_id.")],
    after: BackgroundTasks,
) -> IntakeOut:
    """A township's file of many reports: each bad row is refused with row, field, value and rule; the rest kept.
    Columns named like the fields a catalog extension added to the county's grid-month table are taken and
    checked by their catalog entry; any other unknown column refuses the file."""
    content = await read_upload(file, state.settings.max_body_bytes)
    added = await asyncio.to_thread(county_store(state).report_added_fields)
    frame = read_report_file(content, file.filename or "", max_rows=state.settings.batch_cap, added=list(added))
    result = await asyncio.to_thread(_ingest, state, caller, frame, "upload", lang, after)
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
    after: BackgroundTasks,
) -> MonthOut:
    """Close a month: missing reports are carried (and flagged), and every answer moves to it without a restart.
    The month's forecasts are kept and its outcomes joined (issue 11) after the answer is sent."""
    from serving import months

    county_store(state)

    def close() -> months.CloseResult:
        with state.close_lock:  # two staff closing at once: the second finds the month closed
            return months.close_month(state, pd.Timestamp(f"{month}-01"), who=caller.name, lang=lang, monitor=False)

    result = await asyncio.to_thread(close)
    if result.closed:
        after.add_task(_monitor_after_close, state)
    return MonthOut(
        month=result.month.date(),
        closed=result.closed,
        carried_grids=result.carried,
        as_of=result.as_of.date(),
        seconds=result.seconds,
    )


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
    added: bool = Field(
        False, description="A field a catalog extension added: sent in the report's measurements mapping."
    )


class ReportForm(BaseModel):
    fields: list[FormField] = Field(description="The items of a monthly grid report, as the data catalog has them.")
    grids: list[str] = Field(description="The grid areas this key may report for.")
    latest_month: date = Field(description="The latest month a report may be for.")
    as_of: date = Field(description="The month the county's answers are based on.")


@router.get("/reports/form", response_model=ReportForm)
def report_form(state: StateDep, caller: ReporterDep) -> ReportForm:
    """What a report holds (items, units, bounds, required) and which grids this key may report for; with the
    fields a catalog extension added that the county store keeps (``added``, never required)."""
    from muzhang.catalog import load_catalog

    catalog = load_catalog()
    added = state.store.report_added_fields() if state.store is not None else {}
    specs = [f for f in catalog.fields_of("grid_monthly") if f.name not in ("grid_id", "month")]
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
            required=not f.nullable and f.name not in added,
            added=f.name in added,
        )
        for f in [*specs, *added.values()]
    ]
    grids = sorted(caller.grids) if caller.role == "reporter" else sorted(state.county.grid_ids)
    latest = pd.Timestamp(date.today()).to_period("M").to_timestamp().date()
    return ReportForm(fields=fields, grids=grids, latest_month=latest, as_of=state.county.last_month.date())


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
    history = county_store(state).value_history(grid_id, f"{month}-01")
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
