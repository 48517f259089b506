"""Shared state of the app and the dependencies every route uses: who is calling, and with which role."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from muzhang.families import HEALTH_ROLES, PLANNING_ROLES, get_family
from muzhang.settings import ApiKey
from serving.guards import FailedKeyThrottle
from serving.scoring.context import ScoringContext

# Who may call the routes that belong to no family; a family's own routes take its registry entry's roles.
ROLES = {
    "planning": PLANNING_ROLES,
    "health": HEALTH_ROLES,
    "models_read": frozenset({"planner", "health", "data_scientist", "admin"}),
    "models_reload": frozenset({"data_scientist", "admin"}),
    # Monthly reports: herder chiefs send their own grids' reports; county staff upload files, close months
    # and follow up flagged values. A reporter key reads nothing else.
    "report": frozenset({"reporter", "planner", "admin"}),
    "county_staff": frozenset({"planner", "admin"}),
    "data_quality": frozenset({"planner", "data_scientist", "admin"}),
}


@dataclass(kw_only=True)
class AppState(ScoringContext):
    """What the service holds: the scoring context and the API keys."""

    keys: list[ApiKey] = field(default_factory=list)
    close_lock: threading.Lock = field(default_factory=threading.Lock)  # one month close at a time
    throttle: FailedKeyThrottle = field(default_factory=FailedKeyThrottle)  # failed keys per client address


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    grids: frozenset[str] = frozenset()  # a reporter's grid areas (empty for every other role)


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


def _check_key(request: Request, presented: str) -> ApiKey:
    """The key's entry; an unknown key counts against the client's address, and an address with too many
    recent failures is refused (429) before its key is even compared, so guessing goes no faster than the
    settings allow. A valid key from any other address costs one dictionary lookup more."""
    state: AppState = request.app.state.muzhang
    settings = state.settings
    address = request.client.host if request.client else "unknown"
    now = time.monotonic()
    limit, window = settings.failed_key_limit, settings.failed_key_window_seconds
    wait = state.throttle.retry_after(address, now, limit, window)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many unknown API keys from this address ({limit} within {math.ceil(window)} s): retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    entry = identify(state.keys, presented)
    if entry is None:
        state.throttle.record_failure(address, now, limit)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return entry


def _caller(request: Request, credentials: HTTPAuthorizationCredentials | None, allowed: frozenset[str]) -> Caller:
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    entry = _check_key(request, credentials.credentials)
    request.state.caller = (entry.name, entry.role)  # who, for the audit of a refused personal-data request
    if entry.role not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role '{entry.role}' may not use this route (allowed: {', '.join(sorted(allowed))})",
        )
    return Caller(entry.name, entry.role, frozenset(entry.grids))


def _requires(allowed: frozenset[str]) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Caller:
        return _caller(request, credentials, allowed)

    return dependency


def family_access(family: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    """The caller dependency of a family's routes: only the roles its registry entry allows.

    Use as ``Annotated[Caller, Depends(family_access("grazing"))]``. The roles are read from the registry
    on each call (a dictionary lookup), so a router can be written before its family is registered.
    """

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Caller:
        return _caller(request, credentials, get_family(family).roles)

    return dependency


PlannerDep = Annotated[Caller, Depends(_requires(ROLES["planning"]))]
HealthDep = Annotated[Caller, Depends(_requires(ROLES["health"]))]
AnyRoleDep = Annotated[Caller, Depends(_requires(ROLES["models_read"]))]
ReloaderDep = Annotated[Caller, Depends(_requires(ROLES["models_reload"]))]
ReporterDep = Annotated[Caller, Depends(_requires(ROLES["report"]))]
StaffDep = Annotated[Caller, Depends(_requires(ROLES["county_staff"]))]
DataQualityDep = Annotated[Caller, Depends(_requires(ROLES["data_quality"]))]
