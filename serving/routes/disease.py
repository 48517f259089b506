"""Disease risk (health staff only): one or many health-check records, as JSON or a CSV upload.

Scoring, audit and CSV parsing live in :mod:`serving.scoring.disease`; this router only reads requests.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field, create_model

from serving.deps import AppState, Caller, StateDep, family_access
from serving.explain import Lang
from serving.routes.common import LangDep, read_upload
from serving.schemas import MODEL_RESPONSES, DiseaseResponse, patient_record_model
from serving.scoring import disease, measurements

router = APIRouter(prefix="/v1/disease", tags=["disease"], responses=MODEL_RESPONSES)
CallerDep = Annotated[Caller, Depends(family_access("disease"))]
PatientRecord = patient_record_model()
DiseaseRequest = create_model(
    "DiseaseRequest",
    __config__=ConfigDict(extra="forbid", strict=True),
    records=(list[PatientRecord], Field(min_length=1, description="Health-check records to score.")),  # type: ignore[valid-type]
)


@router.post("/score", response_model=DiseaseResponse)
def disease_score(state: StateDep, caller: CallerDep, lang: LangDep, body: DiseaseRequest) -> DiseaseResponse:  # type: ignore[valid-type]
    """Risk per condition for health-check records (JSON), ranked, with bands and reasons."""
    records = body.records  # type: ignore[attr-defined]
    return disease.score_records(state, caller.name, caller.role, "/v1/disease/score", records, lang)


@router.post("/score-csv", response_model=DiseaseResponse)
async def disease_score_csv(
    state: StateDep,
    caller: CallerDep,
    lang: LangDep,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, one record per row.")],
) -> DiseaseResponse:
    """Risk per condition for a CSV upload of health-check records (columns = record fields)."""
    content = await read_upload(file, state.settings.max_body_bytes)
    # Parsing and scoring a large file takes a while: in the thread pool, so the event loop keeps answering.
    return await run_in_threadpool(_score_csv, state, caller, lang, content)


def _score_csv(state: AppState, caller: Caller, lang: Lang, content: bytes) -> DiseaseResponse:
    added = measurements.served_specs(state, disease.FAMILY)  # the served model's own measurement columns
    records = disease.parse_csv(content, state.settings.batch_cap, added)
    return disease.score_records(state, caller.name, caller.role, "/v1/disease/score-csv", records, lang)
