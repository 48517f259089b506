"""The FastAPI app: created by :func:`create_app`, which reads nothing until the app starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from muzhang.settings import Settings, get_settings
from serving.county import load_county_state
from serving.deps import AppState
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry
from serving.routes import disease, dispute, grazing, market, system

log = logging.getLogger("muzhang.serving")
FAMILY_PREFIXES = ("grazing", "market", "dispute", "disease")


def build_state(settings: Settings) -> AppState:
    """Read the county, connect to the registry and load every champion that can be loaded."""
    registry = ModelRegistry(settings.tracking_uri())
    for family, outcome in registry.reload().items():
        log.info("model %s: %s", family, outcome)
    return AppState(
        settings=settings,
        registry=registry,
        county=load_county_state(settings.data_dir),
        metrics=Metrics(),
        audit=AuditLog(settings.audit_path()),
        keys=list(settings.api_keys),
    )


async def _poll_registry(state: AppState) -> None:
    while True:
        await asyncio.sleep(state.settings.poll_seconds)
        await asyncio.to_thread(state.registry.reload)


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """The Muzhang API. Pass ``state`` to serve prepared state (tests); else it is built at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.muzhang = state or build_state(settings or get_settings())
        poller = None
        if app.state.muzhang.settings.poll_seconds > 0:
            poller = asyncio.create_task(_poll_registry(app.state.muzhang))
        yield
        if poller:
            poller.cancel()

    app = FastAPI(
        title="Muzhang 牧长",
        version="1.0",
        description="Explained predictions for pastoral county governance: grazing, market, disputes, health.",
        lifespan=lifespan,
        responses={400: {"description": "Malformed request body"}, 413: {"description": "Request too large"}},
    )
    if state is not None:  # TestClient without a lifespan context still gets state
        app.state.muzhang = state
    app.include_router(system.router)
    for router in (grazing.router, market.router, dispute.router, disease.router):
        app.include_router(router)
    _install_middleware(app)
    _install_error_handlers(app)
    return app


def _family_of(path: str) -> str:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "v1" and parts[2] in FAMILY_PREFIXES else "none"


def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def limit_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        state: AppState = request.app.state.muzhang
        start = time.perf_counter()
        limit = state.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response: Response = JSONResponse(
                {"detail": f"request body larger than {limit:,} bytes (content-length {length[:20]})"},
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        state.metrics.observe_request(
            template, _family_of(request.url.path), response.status_code, time.perf_counter() - start
        )
        return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"detail": "body: malformed JSON"}, status_code=status.HTTP_400_BAD_REQUEST)
        detail = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p != "body") or "body",
                "rule": e["msg"],
                "type": e["type"],
            }
            for e in errors
        ]
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception(
            "unhandled error on %s", request.url.path
        )  # the log has the traceback; the user does not
        return JSONResponse(
            {"detail": "internal error; the operators have the details in the service log"},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )


def serve(settings: Settings, **uvicorn_options: Any) -> None:
    """Run the app under uvicorn (one worker by default)."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", **uvicorn_options
    )
