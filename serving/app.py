"""The FastAPI app: created by :func:`create_app`, which reads nothing until the app starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from muzhang.families import family_names, family_specs, get_family, resolve
from muzhang.settings import Settings, get_settings
from serving.county import load_county_state, store_county_state
from serving.deps import AppState
from serving.errors import Conflict, InvalidInput, NotFound, ScoringError, TooMany, Unavailable
from serving.guards import DuplicateKeyMiddleware, SecurityHeadersMiddleware
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry
from serving.routes import county, data_quality, docs, monitoring, reports, system, ui
from serving.schemas import ERROR_RESPONSES, KEY_RESPONSES

log = logging.getLogger("muzhang.serving")
# One status per kind of scoring error; the scoring layer never speaks HTTP.
ERROR_STATUS: dict[type[ScoringError], int] = {
    NotFound: 404,
    Conflict: 409,
    TooMany: 413,
    InvalidInput: 422,
    Unavailable: 503,
}
# Refusals of a request to a personal-data family's routes that are audited as attempts (a 404 or 405 is
# no route of it; a 503 is the service's state, not the caller's request).
AUDITED_REFUSALS = frozenset({400, 401, 403, 413, 415, 422, 429})


def build_state(settings: Settings) -> AppState:
    """Read the county (store or directory), connect to the registry and load every champion that can be."""
    registry = ModelRegistry(settings.tracking_uri())
    for family, outcome in registry.reload().items():
        log.info("model %s: %s", family, outcome)
    store = None
    if settings.reads_store():
        from muzhang.store import open_store

        store = open_store(settings.county_store_url())
        if store.last_closed_month() is None:
            raise RuntimeError(
                "the county store has no closed month: import a county first (`muzhang data import DIR`)"
            )
        county = store_county_state(store, settings.data_dir)
    else:
        county = load_county_state(settings.data_dir)
    log.info("county: %s as of %s", county.source, f"{county.last_month:%Y-%m}")
    return AppState(
        settings=settings,
        registry=registry,
        county=county,
        metrics=Metrics(),
        audit=AuditLog(settings.audit_path()),
        keys=list(settings.api_keys),
        store=store,
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
        responses=ERROR_RESPONSES,
        docs_url=None,  # served by serving.routes.docs from vendored files: no CDN
        redoc_url=None,
        # No redirect from /v1/models/ to /v1/models: Starlette builds its Location from the Host header,
        # so any host could be named in a redirect answered before the key is checked.
        redirect_slashes=False,
    )
    if state is not None:  # TestClient without a lifespan context still gets state
        app.state.muzhang = state
    app.include_router(system.router)
    for spec in family_specs():  # each family's router, as the family registry names it
        if spec.router is not None:
            app.include_router(resolve(spec.router))
    app.include_router(county.router, responses=KEY_RESPONSES)
    app.include_router(reports.router)
    app.include_router(data_quality.router)
    app.include_router(monitoring.router)  # data scientists: models in the world (issue 11)
    app.include_router(ui.router)
    app.include_router(docs.router)
    app.add_middleware(DuplicateKeyMiddleware)  # inside the guard: reads a body already bounded in size
    app.add_middleware(GuardMiddleware)
    # The map's polygons and summaries are repetitive JSON: gzip takes the page's sign-in from ~214 KB to a
    # fraction of it on a field office's slow link. Level 5: most of level 9's gain at a fraction of its CPU.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer, the guard's own 413 too
    install_error_handlers(app)
    return app


def _family_of(path: str) -> str:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "v1" and parts[2] in family_names() else "none"


def audit_refusal(state: AppState, scope: Scope, family: str, status_code: int) -> None:
    """A refused request to a personal-data family's route leaves an audit line: who tried (the key's name,
    or anonymous), which route, the status and when; nothing of the request's content."""
    if family == "none" or status_code not in AUDITED_REFUSALS or not get_family(family).personal:
        return
    who, role = scope.get("state", {}).get("caller", (None, None))
    route = getattr(scope.get("route"), "path", scope["path"][:200])
    state.audit.write_refusal(who=who, role=role, route=route, status=status_code)


class GuardMiddleware:
    """Pure ASGI: refuses bodies over ``max_body_bytes`` (by header, or while a chunked body streams in)
    and records every request's route, family, status and latency. Cheaper than ``@app.middleware``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: AppState = scope["app"].state.muzhang
        limit = state.settings.max_body_bytes
        start = time.perf_counter()
        status_code = 500
        received, cut_off = 0, False

        async def send_and_note(message: Message) -> None:
            nonlocal status_code
            if cut_off:  # the app's answer to a body we cut off is replaced by a 413
                return
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        async def receive_limited() -> Message:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        length = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if length and (not length.isdigit() or int(length) > limit):
            await too_large(limit)(scope, receive, send_and_note)
        else:
            await self.app(scope, receive_limited, send_and_note)
            if cut_off:
                cut_off = False
                await too_large(limit)(scope, receive, send_and_note)
        template = getattr(scope.get("route"), "path", "unmatched")
        family = _family_of(scope["path"])
        state.metrics.observe_request(template, family, status_code, time.perf_counter() - start)
        audit_refusal(state, scope, family, status_code)


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body larger than {limit:,} bytes"}, status_code=413)


def install_error_handlers(app: FastAPI) -> None:
    """Bad input and scoring errors become 4xx/503 with a message; anything else a 500 without a traceback."""

    @app.exception_handler(ScoringError)
    async def scoring_error(request: Request, exc: ScoringError) -> JSONResponse:
        code = next((c for kind, c in ERROR_STATUS.items() if isinstance(exc, kind)), 422)
        return JSONResponse({"detail": exc.detail}, status_code=code)

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
        log.exception("unhandled error on %s", request.url.path)  # the log has the traceback; the user does not
        return JSONResponse(
            {"detail": "internal error; the operators have the details in the service log"},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )


def serve(settings: Settings, **uvicorn_options: Any) -> None:
    """Run the app under uvicorn (one worker by default), refusing request heads over ``max_header_bytes``
    with a 431 in the server itself (:mod:`serving.http_limits`)."""
    import uvicorn

    from serving.http_limits import bounded_head_protocol

    options: dict[str, Any] = {"http": bounded_head_protocol(settings.max_header_bytes), **uvicorn_options}
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info", **options)
