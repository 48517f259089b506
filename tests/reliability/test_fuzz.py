"""Schema fuzzing: every operation in the app's OpenAPI, driven by schemathesis from the schema alone.

What is fuzzed: each of the 18 operations the app publishes at ``/openapi.json`` (grazing, market,
dispute, disease JSON and CSV upload, models and reload, county map, health, readiness, metrics), with
path and query parameters, headers and JSON or multipart bodies generated from the schema: first the
coverage phase (boundary values: min/max and just outside, wrong types, null, missing required fields,
whole floats such as 3.0 for integers), then random valid and invalid values, 25 examples per operation.
Each request carries the key of a role allowed on that route, so the generated input reaches validation
and the models instead of stopping at 401/403 (schemathesis also probes each route without the key).

Every schemathesis check is on: no 5xx, status code and content type declared for the operation, body
matching the declared response schema, invalid input refused and valid input accepted. Two deliberate
exceptions, explained where they are made: no made-up parameter or property names, and the CSV upload's
content (which a schema cannot describe) is not expected to be accepted. Anything else that fails is a
bug in the app or its schema, not in the test.

The app serves trained models from session fixtures, which do not exist when pytest collects tests, and
``schemathesis.pytest.from_fixture`` does not run under pytest 9.2 (it writes ``Function._nodeid``). So the
schema is the document ``create_app().openapi()`` builds, and requests go to an ASGI stand-in that a module
fixture binds to the session app; that fixture also loads ``/openapi.json`` from the bound app with
``schemathesis.openapi.from_asgi`` and checks it is the document fuzzed. Cost: about 10 s of requests on
2 cores, after the session fixtures.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from serving.app import create_app
from serving.deps import AppState

# Which role's key each route gets: the first prefix that matches the path decides.
ROLE_BY_PREFIX = (
    ("/v1/disease/", "health"),
    ("/v1/models/reload", "data_scientist"),
    ("/", "planner"),  # planners may also send reports (for any grid), upload, close months, follow up flags
)


class SessionApp:
    """An ASGI app that forwards to the session app once :func:`session_app` has bound it.

    The schema has to exist when pytest collects the tests, the trained models only once fixtures run;
    schemathesis' own probes (the ignored-auth check) go to the schema's app, so that app is this one.
    """

    target: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "session_app fixture not run"
        await self.target(scope, receive, send)


SESSION_APP = SessionApp()
# create_app() reads nothing until the app starts: its OpenAPI document needs no models or county.
schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.app = SESSION_APP
# No made-up parameter names: the app ignores unknown query parameters (the web page sends ``lang`` to every
# route) rather than refusing them. Unknown body fields are refused; tests/serving/test_app.py checks that.
schema.config.generation.update(allow_extra_parameters=False)


def role_for(path: str) -> str:
    return next(role for prefix, role in ROLE_BY_PREFIX if path.startswith(prefix))


@pytest.fixture(scope="module", autouse=True)
def session_app(serving_state: AppState, make_county_store: Any, tiny_county: Any) -> FastAPI:
    """Bind the session's models and keys, over a county store of this module's own (so the report routes
    keep what they are sent), in a fresh app, to :data:`SESSION_APP`; check the schema is what it serves."""
    from dataclasses import replace

    from serving.county import store_county_state

    store = make_county_store()
    state = replace(serving_state, store=store, county=store_county_state(store, tiny_county), encoded={})
    SESSION_APP.target = create_app(state=state)
    served = schemathesis.openapi.from_asgi("/openapi.json", SESSION_APP)
    assert served.raw_schema == schema.raw_schema, "create_app().openapi() differs from /openapi.json"
    return SESSION_APP.target


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_schema(case: Any, auth: Any) -> None:
    excluded = []
    if case.path in ("/v1/disease/score-csv", "/v1/reports/upload"):
        # The schema can say "a file", not "a CSV of health-check records": refusing bytes that are not
        # one is right (tests/reliability/test_hostile_input.py checks those answers name the problem).
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers=auth(role_for(case.path)), excluded_checks=excluded)
