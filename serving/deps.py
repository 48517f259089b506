"""Shared state of the app and the dependencies every route uses: who is calling, and with which role."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from muzhang.settings import ApiKey, Settings
from serving.county import CountyState
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry

if TYPE_CHECKING:  # serving.routes.common imports this module
    from serving.routes.common import Prepared

# Who may call what. Patient risks go to health staff only; data scientists may reload models.
ROLES = {
    "planning": frozenset({"planner", "data_scientist", "admin"}),
    "health": frozenset({"health"}),
    "models_read": frozenset({"planner", "health", "data_scientist", "admin"}),
    "models_reload": frozenset({"data_scientist", "admin"}),
}


@dataclass
class AppState:
    settings: Settings
    registry: ModelRegistry
    county: CountyState
    metrics: Metrics
    audit: AuditLog
    keys: list[ApiKey]
    # (family, model version) -> forecast rows encoded for that model: requests only index into it.
    encoded: dict[tuple[str, str], Prepared] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.muzhang
    return state


StateDep = Annotated[AppState, Depends(get_state)]
bearer = HTTPBearer(auto_error=False, description="API key issued to a person; maps to one role.")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def identify(keys: list[ApiKey], presented: str) -> ApiKey | None:
    """The key entry matching ``presented``, compared in constant time against every entry."""
    digest = hash_key(presented)
    found = None
    for entry in keys:
        if hmac.compare_digest(entry.sha256, digest):
            found = entry
    return found


def _caller(request: Request, credentials: HTTPAuthorizationCredentials | None, group: str) -> Caller:
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    entry = identify(request.app.state.muzhang.keys, credentials.credentials)
    if entry is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    if entry.role not in ROLES[group]:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role '{entry.role}' may not use this route (allowed: {', '.join(sorted(ROLES[group]))})",
        )
    return Caller(entry.name, entry.role)


def _requires(group: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Caller:
        return _caller(request, credentials, group)

    return dependency


PlannerDep = Annotated[Caller, Depends(_requires("planning"))]
HealthDep = Annotated[Caller, Depends(_requires("health"))]
AnyRoleDep = Annotated[Caller, Depends(_requires("models_read"))]
ReloaderDep = Annotated[Caller, Depends(_requires("models_reload"))]
