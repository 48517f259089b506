"""Request and response schemas. Bounds, units and categories of patient fields come from the catalog."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    create_model,
)

from muzhang.catalog import load_catalog

Season = Literal["warm", "cold", "transition"]
Species = Literal["yak", "sheep", "goat", "horse"]
Band = Literal["low", "medium", "high"]
GRID_PATTERN = r"^G\d{3,4}$"
TOWNSHIP_PATTERN = r"^T\d{2}$"
GRID_ID = Field(pattern=GRID_PATTERN, description="Grid area id, e.g. G001.", examples=["G001"])
TOWNSHIP_ID = Field(pattern=TOWNSHIP_PATTERN, description="Township id, e.g. T01.", examples=["T01"])


def _whole_float_as_int(value: Any) -> Any:
    """46.0 -> 46: JSON has one number type, JSON Schema counts 46.0 as an integer, and pandas writes it so."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# One rule for whole numbers, in JSON and CSV alike (head counts, patient fields): 46 and 46.0 are taken;
# 46.5, "46", true, NaN and Infinity stay errors. On a strict integer field, as its before-validator.
WHOLE_FLOAT_AS_INT = BeforeValidator(_whole_float_as_int)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- explanations -----------------------------------------------------------------------------------
class ReasonOut(BaseModel):
    feature: str = Field(description="Model input name.")
    label: str = Field(description="Display name in the requested language.")
    value: float | str | None = Field(description="The input's value (category or number; null if unknown).")
    display_value: str = Field(description="The value formatted with its unit.")
    contribution: float = Field(description="Push on the model's raw score (log-odds, kg DM/ha or log change).")
    direction: Literal["up", "down"]
    text: str = Field(description="The input in plain words.")
    display_contribution: float | None = Field(
        default=None,
        description="The push in the answer's own unit (``display_unit``; grazing yield: kg DM/ha): this item's "
        "share of the move from ``display_base`` to ``display_prediction``, in proportion to ``contribution``. "
        "Null where the family gives none.",
    )


class ExplanationOut(BaseModel):
    sentence: str = Field(description="One plain sentence: the result and its main reasons.")
    base_value: float = Field(description="The model's average raw score; base + contributions = raw score.")
    raw_prediction: float = Field(description="The model's raw score (log-odds, kg DM/ha or log ratio).")
    reasons: list[ReasonOut]
    # The same explanation in the answer's own unit, where the raw scale is not one a reader uses (grazing
    # yield learns a log ratio to the grid's expected yield). Null for families that give none.
    display_unit: str | None = Field(default=None, description="Unit of the display_* numbers (e.g. kg DM/ha).")
    display_base: float | None = Field(
        default=None,
        description="Where the shown pushes start, in display_unit (grazing: the grid's expected yield, the "
        "raw score 0 of its log ratio).",
    )
    display_average: float | None = Field(
        default=None,
        description="base_value's share of the move, in display_unit (grazing: the model's average departure "
        "of a season from its expected yield, at this grid's level).",
    )
    display_prediction: float | None = Field(
        default=None,
        description="raw_prediction in display_unit (grazing: the model's yield forecast before any drought "
        "what-if); display_base + display_average + every display_contribution = display_prediction.",
    )


# --- grazing ----------------------------------------------------------------------------------------
class YieldOut(BaseModel):
    predicted: float = Field(description="Forecast season yield, kg DM/ha.")
    low: float = Field(description="10 % quantile, kg DM/ha.")
    high: float = Field(description="90 % quantile, kg DM/ha.")


class AdviceOut(BaseModel):
    action: Literal["graze", "rotate", "rest"]
    su_to_move: float = Field(ge=0, description="Sheep units to move off the grid's season pasture.")
    text: str


class GrazingAssessment(BaseModel):
    grid_id: str
    grid_name: str
    township_id: str
    season: Season
    season_year: int
    as_of_month: dt.date = Field(description="Last month of data the forecast uses.")
    yield_kg_ha: YieldOut
    capacity_su: float = Field(description="NY/T 635 reasonable carrying capacity for the season, SU.")
    capacity_range_su: tuple[float, float] = Field(description="Capacity at the low and high yield, SU.")
    stocking_su: float = Field(description="Sheep units on the season pasture.")
    pressure: float = Field(description="Grazing-pressure index: stocking / capacity (1 = balance).")
    status: Literal["under", "balanced", "over"]
    advice: AdviceOut
    overrides: dict[str, Any] = Field(default_factory=dict, description="What-if changes applied.")
    carried_months: list[dt.date] = Field(
        default_factory=list,
        description="Months whose report for this grid never arrived: their values were carried from the month "
        "before when the month closed (empty when every input was reported).",
    )
    explanation: ExplanationOut


# A head count: a whole number, written 12 or 12.0 (the one rule for whole numbers, as for patient fields).
HeadCount = Annotated[int, Field(ge=-100_000, le=100_000), WHOLE_FLOAT_AS_INT]


class HeadChange(Strict):
    yak: HeadCount = Field(0, description="Head of yak added (negative: removed).")
    sheep: HeadCount = 0
    goat: HeadCount = 0
    horse: HeadCount = 0


class GrazingQuery(Strict):
    grid_id: str = GRID_ID
    season: Season = "warm"


class WhatIfRequest(GrazingQuery):
    add_head: HeadChange = Field(default_factory=HeadChange)  # type: ignore[arg-type]
    rest: StrictBool = Field(False, description="Rest this season's pasture.")
    drought: StrictBool = Field(False, description="A drought year: DB63/T 2298 cuts the edible share.")


class GrazingBatchRequest(Strict):
    items: list[GrazingQuery] = Field(min_length=1)


class GrazingBatchResponse(BaseModel):
    items: list[GrazingAssessment]


class RotationMoveOut(BaseModel):
    from_grid: str
    to_grid: str
    from_township: str
    to_township: str
    su: float
    distance_km: float


class RotationGridOut(BaseModel):
    grid_id: str
    township_id: str
    action: str
    su_before: float
    su_after: float
    capacity_su: float
    pressure_after: float | None


class ShortfallOut(BaseModel):
    township_id: str
    shortfall_su: float = Field(description="SU that must be sold or fed.")
    hay_t: float = Field(description="Hay to feed the shortfall for the season, t.")
    reserve_room_su: float


class RotationPlanOut(BaseModel):
    season: Season
    season_year: int
    feasible: bool
    summary: str
    totals: dict[str, float]
    moves: list[RotationMoveOut]
    grids: list[RotationGridOut]
    shortfall: list[ShortfallOut]
    solve_seconds: float


# --- market -----------------------------------------------------------------------------------------
class ForecastPoint(BaseModel):
    target_month: dt.date
    horizon: int = Field(ge=1, le=6)
    median: float
    quantiles: dict[str, float] = Field(description="Quantile level (q005 = 0.5 %) -> value.")
    explanation: ExplanationOut


class MarketForecast(BaseModel):
    township_id: str
    species: Species
    origin_month: dt.date
    head_sold: list[ForecastPoint] = Field(description="Head sold, head.")
    price: list[ForecastPoint] = Field(description="Price, yuan per head.")


class MarketQuery(Strict):
    township_id: str = TOWNSHIP_ID
    species: Species = "yak"


class MarketBatchRequest(Strict):
    items: list[MarketQuery] = Field(min_length=1)


class MarketBatchResponse(BaseModel):
    items: list[MarketForecast]


class HistoryPoint(BaseModel):
    month: dt.date
    head_sold: int
    price_yuan_per_head: float


class MarketHistory(BaseModel):
    township_id: str
    species: Species
    points: list[HistoryPoint]


# --- dispute ----------------------------------------------------------------------------------------
class RecentLevelOut(BaseModel):
    """The level every dispute risk is put at: the county's most recent closed months (issue 13 item 6)."""

    first: str = Field(description="First closed month the level was fitted on (YYYY-MM).")
    last: str = Field(description="Last closed month the level was fitted on (YYYY-MM).")
    odds_ratio: float = Field(
        gt=0,
        description="The odds of a dispute in those months against what the model's calibration expected "
        "(exp of the log-odds offset); every risk's odds are multiplied by it.",
    )
    text: str


class DisputeRisk(BaseModel):
    grid_id: str
    grid_name: str
    township_id: str
    month: dt.date = Field(description="The month the risk is for.")
    probability: float = Field(ge=0, le=1, description="Probability of any dispute that month.")
    band: Band
    carried_months: list[dt.date] = Field(
        default_factory=list, description="Months of this grid's inputs carried from the month before (no report)."
    )
    explanation: ExplanationOut
    level: RecentLevelOut | None = Field(None, description="The recent level the risk is put at (none: as calibrated).")


class WatchItem(BaseModel):
    rank: int
    grid_id: str
    grid_name: str
    township_id: str
    probability: float
    band: Band
    reason: str


class Watchlist(BaseModel):
    month: dt.date
    items: list[WatchItem]
    level: RecentLevelOut | None = Field(
        None, description="The recent level every risk is put at (none: as calibrated)."
    )


class DisputeBatchRequest(Strict):
    grid_ids: list[Annotated[str, GRID_ID]] = Field(min_length=1)


class DisputeBatchResponse(BaseModel):
    items: list[DisputeRisk]


# --- disease ----------------------------------------------------------------------------------------
@cache
def patient_record_model() -> type[BaseModel]:
    """The health-check record a health worker sends: the disease features, bounds from the catalog.

    Every field but age and sex may be left out (the model treats it as unknown).
    """
    from features.disease import FEATURES

    catalog = load_catalog()
    fields: dict[str, Any] = {
        "ref": (
            str | None,
            Field(
                None,
                max_length=64,
                pattern=r"^[\w.\-]*$",
                description="Your own reference, echoed back; never stored.",
            ),
        )
    }
    for name in FEATURES:
        spec = catalog.field(name)
        kind: Any
        extra: dict[str, Any] = {}
        if spec.type == "category":
            kind = Literal[tuple(spec.categories or ())]
        elif spec.type == "boolean":
            kind = StrictBool
        elif spec.type == "integer":
            kind = int
        elif spec.type == "float":
            kind = float
            extra["allow_inf_nan"] = False
        else:
            kind = str
            if spec.pattern:
                extra["pattern"] = spec.pattern
        if spec.min is not None and spec.type in ("integer", "float"):
            extra["ge"] = spec.min
        if spec.max is not None and spec.type in ("integer", "float"):
            extra["le"] = spec.max
        if spec.type == "integer":  # bounds before the validator, or pydantic leaves them out of the JSON schema
            kind, extra = Annotated[int, Field(**extra), WHOLE_FLOAT_AS_INT], {}
        unit = f" ({spec.unit})" if spec.unit else ""
        required = name in ("age", "sex")
        description = f"{spec.display}{unit} / {spec.display_zh}"
        fields[name] = (
            kind if required else kind | None,
            Field(... if required else None, description=description, **extra),
        )
    # Inputs a served model was trained with beyond the shipped catalog (a catalog extension's field, e.g.
    # glucose_mmol_l): checked against that model's own definitions when scored (serving.scoring.measurements).
    # The names are the served model's (GET /v1/models: added_fields), which this document, built before any
    # model is loaded, cannot list: it says "no names" (a client or fuzzer sends none unless it knows them),
    # and the service checks each name and value against the served model's own definitions.
    fields["measurements"] = (
        Annotated[
            dict[str, StrictFloat | StrictInt | StrictBool | str | None],
            WithJsonSchema({"type": "object", "additionalProperties": False}),
        ]
        | None,
        Field(
            None,
            max_length=64,
            description="Measurements the served model added to the catalog, by field name, e.g. "
            '{"glucose_mmol_l": 5.4}: the names, types, units and hard limits are those GET /v1/models lists '
            "as the disease model's added_fields (none here); left out = unknown.",
        ),
    )
    return create_model("PatientRecord", __config__=ConfigDict(extra="forbid", strict=True), **fields)


class BandCutoffs(BaseModel):
    medium: float = Field(description="Probability from which the band is medium.")
    high: float = Field(description="Probability from which the band is high.")


class ConditionRisk(BaseModel):
    condition: str
    label: str
    horizon: str = Field(description="What the probability covers, e.g. 'five-year risk'.")
    horizon_years: float | None = Field(None, description="The years the risk covers (null: not stated).")
    known: bool = Field(False, description="Already present at the check: no risk and no band are given.")
    probability: float | None = Field(None, ge=0, le=1, description="Null when the condition is known.")
    band: Band | None = Field(None, description="Null when the condition is known.")
    cutoffs: BandCutoffs = Field(description="This condition's band cut-offs.")
    explanation: ExplanationOut | None = Field(None, description="Null when the condition is known.")
    note: str | None = Field(None, description="Why no risk is given (a known condition).")


class PatientResult(BaseModel):
    index: int = Field(description="Position of the record in the request.")
    ref: str | None
    highest_band: Band
    complete: bool = Field(True, description="Every input was recorded.")
    missing: list[str] = Field(default_factory=list, description="Inputs not recorded (field names).")
    confidence: Literal["normal", "lower"] = Field(
        "normal", description="Lower when inputs are missing: the model filled them in as unknown."
    )
    note: str | None = Field(None, description="The incomplete-record note, naming what was not recorded.")
    risks: list[ConditionRisk] = Field(description="Conditions ranked by probability; known conditions last.")


class DiseaseResponse(BaseModel):
    n: int
    results: list[PatientResult] = Field(description="People ranked by their highest risk.")


# --- models and health ------------------------------------------------------------------------------
class ModelStatus(BaseModel):
    family: str
    registered_model: str
    version: str | None
    serving: bool
    trained_at: str | None
    run_id: str | None
    test_metrics: dict[str, float]
    error: str | None
    added_fields: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Inputs the model added to the catalog, by name: type, unit, hard limits (min, max), "
        "plausible range, categories and labels; a request gives them in a record's measurements.",
    )


class ModelsOut(BaseModel):
    models: list[ModelStatus]
    data_as_of: dt.date | None = Field(None, description="The last month of county data every answer uses.")
    data_source: str | None = Field(None, description="store (the county's database of record) or directory.")


class ReloadOut(BaseModel):
    results: dict[str, str]
    models: list[ModelStatus]


class Health(BaseModel):
    status: str
    families: dict[str, bool] = Field(default_factory=dict)


# --- errors -----------------------------------------------------------------------------------------
class Problem(BaseModel):
    """One thing wrong with a request."""

    field: str = Field(description="Dotted path of the field (records.0.age), 'body', or a CSV column.")
    rule: str = Field(description="The rule the value broke.")
    type: str | None = Field(None, description="Kind of problem (JSON bodies and parameters).")
    row: int | None = Field(None, description="Line of the CSV upload (1 is the header).")


class ErrorOut(BaseModel):
    detail: str | list[Problem] = Field(description="What is wrong: a sentence, or one entry per problem.")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Declared so the OpenAPI document lists every answer a client can get (schema fuzzing checks it).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request body, or a JSON object that names a key twice"),
    413: _error("Request body or batch too large"),
    422: _error("A field, parameter or CSV cell breaks a rule (each problem names its field)"),
}
KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or unknown API key"),
    403: _error("The key's role may not use this route"),
    429: _error("Too many unknown keys from this address: retry after the Retry-After seconds"),
}
MODEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    **KEY_RESPONSES,
    503: _error("No model is serving this family yet"),
}
LOOKUP_RESPONSES: dict[int | str, dict[str, Any]] = {
    **MODEL_RESPONSES,
    404: _error("Unknown grid area or township, or no records for it"),
}
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **KEY_RESPONSES,
    404: _error("Unknown grid area or flag"),
    409: _error("Not now: months close in order, and only once a report of the month has arrived"),
    503: _error("The service reads a county directory, not a store: reports cannot be kept"),
}
