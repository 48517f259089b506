"""Health, readiness, metrics and the models being served."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from serving.county import refresh_for_added_fields
from serving.deps import AnyRoleDep, ReloaderDep, StateDep
from serving.schemas import KEY_RESPONSES, Health, ModelsOut, ModelStatus, ReloadOut

router = APIRouter(tags=["system"])


def _models(state: StateDep) -> list[ModelStatus]:
    return [ModelStatus(family=f, **s) for f, s in state.registry.status().items()]


# Probes are answered on the event loop (async, no blocking work): a busy thread pool cannot delay them,
# and no cache may keep an old answer.
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz", response_model=Health)
async def healthz(response: Response) -> Health:
    """The process is up."""
    response.headers.update(NO_STORE)
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: StateDep, response: Response) -> Health:
    """Ready when every family has a model loaded (503 lists which are missing)."""
    response.headers.update(NO_STORE)
    families = {f: s.model is not None for f, s in state.registry.slots.items()}
    ready = all(families.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ready" if ready else "degraded", families=families)


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus text: requests, latency, errors, explanation time, rows scored, per family."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/models", response_model=ModelsOut, responses=KEY_RESPONSES)
def list_models(state: StateDep, caller: AnyRoleDep) -> ModelsOut:
    """Which version serves each family, when it was trained, its test metrics, and the data's month."""
    county = state.county
    return ModelsOut(models=_models(state), data_as_of=county.last_month.date(), data_source=county.source)


@router.post("/v1/models/reload", response_model=ReloadOut, responses=KEY_RESPONSES)
def reload_models(state: StateDep, caller: ReloaderDep) -> ReloadOut:
    """Load each family's current champion now (data scientists); a failed load keeps the old model. A new
    champion that reads a field added to the catalog since the county was read has the county read again."""
    results = state.registry.reload()
    refresh_for_added_fields(state)
    return ReloadOut(results=results, models=_models(state))
