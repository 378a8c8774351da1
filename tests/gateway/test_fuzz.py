"""schemathesis against the live stack: the OpenAPI document is what the gateway does.

Every operation of gateway/openapi.yaml gets generated requests, valid ones
and (negative mode) ones that break the document, sent with a live key to a
real aiohttp server (the gateway's own runner, parser limits and all) in
front of the real identity service and Postgres.
Every answer must not be a 5xx, must conform to the document (status, media
type, headers, body schema), and every error must be an RFC 7644 §3.12 body.

schemathesis' client is synchronous (requests): it runs in a worker thread
while this test's event loop serves the gateway and the identity service.
Derandomized, with few examples per operation, so a run is the same every
time and takes well under a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import openapi
from gateway.app import create_app
from gateway.http_server import ScimAppRunner
from gateway.settings import Settings
from scim_schema import urns
from tests.gateway.conftest import Tenant

EXAMPLES_PER_OPERATION = 15

Case = schemathesis.Case[Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


class NotAScimError(Failure):
    """An error answer that is not an RFC 7644 §3.12 body in application/scim+json."""


def scim_error_body(ctx: Any, response: schemathesis.Response, case: Case) -> bool:
    """Every error is application/scim+json with schemas [Error] and status as a string."""
    if response.status_code < 400:
        return True
    problems = []
    media_type = response.headers.get("content-type", [""])[0]
    if not media_type.startswith("application/scim+json"):
        problems.append(f"Content-Type is {media_type!r}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        problems.append("the body is not a JSON object")
    else:
        if body.get("schemas") != [urns.ERROR]:
            problems.append(f"schemas is {body.get('schemas')!r}")
        if body.get("status") != str(response.status_code):
            problems.append(f"status is {body.get('status')!r}")
    if problems:
        raise NotAScimError(
            operation=case.operation.label,
            title="Not a SCIM error",
            message=f"{response.status_code}: " + "; ".join(problems),
        )
    return True


def no_server_error(ctx: Any, response: schemathesis.Response, case: Case) -> bool:
    """No 5xx, except a 501 the operation documents (/Me answers 501, SPEC §3)."""
    documented = case.operation.definition.raw.get("responses", {})
    if response.status_code == 501 and "501" in documented:
        return True
    return not_a_server_error(ctx, response, case) is not False


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    scim_error_body,
]


@pytest.fixture
async def live_base(gateway_settings: Settings, tenant: Tenant) -> AsyncIterator[str]:
    """The tenant's SCIM base URL on a gateway served as `python -m gateway` serves it.

    The rate and failed-auth limits are raised out of the way: hundreds of
    requests in a few seconds, dozens without a key (negative mode drops it),
    are the fuzzer's pace, not a client's; both limits are tested elsewhere.
    """
    fuzzing = replace(
        gateway_settings,
        rate_limit_per_second=1e6,
        rate_limit_burst=1_000_000,
        auth_failure_budget=1_000_000,
    )
    runner = ScimAppRunner(create_app(fuzzing), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{tenant.base}"
    finally:
        await runner.cleanup()


def _strategy(
    operation: Operation, mode: schemathesis.GenerationMode, known: dict[str, str]
) -> SearchStrategy[Case]:
    """Cases for `operation`; for an /{id} path, half of them name a resource that exists."""
    generated = operation.as_strategy(generation_mode=mode)
    resource = operation.path.split("/")[1]
    if "{id}" not in operation.path or resource not in known:
        return generated
    existing = operation.as_strategy(generation_mode=mode, path_parameters={"id": known[resource]})
    return generated | existing


def _fuzz_operation(
    operation: Operation,
    mode: schemathesis.GenerationMode,
    known: dict[str, str],
    call: Callable[[Case], None],
) -> None:
    @given(case=_strategy(operation, mode, known))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        call(case)

    run()


def _fuzz(base_url: str, token: str, known: dict[str, str]) -> list[str]:
    """Fuzz every operation in both modes; the failures, one report each."""
    schema = schemathesis.openapi.from_dict(openapi.load())
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}

    def call(case: Case) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    failures = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document: {result.err()}")
            continue
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, known, call)
            except Unsatisfiable as exc:
                # Nothing to break: no parameters and no body (GET /Schemas),
                # or only a path string, which every wrong value becomes.
                if mode is not schemathesis.GenerationMode.NEGATIVE:
                    failures.append(f"{operation.label}: no valid request can be made: {exc}")
            except (Exception, FailureGroup) as exc:  # every operation's report, not the first
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    session.close()
    return failures


async def _seed(http: Any, tenant: Tenant) -> dict[str, str]:
    """A user in a group, for the /{id} operations: the id of one resource of each path."""
    user = await http.post(
        f"{tenant.base}/Users",
        json={
            "schemas": [urns.CORE_USER],
            "userName": "ada@acme.test",
            "name": {"givenName": "Ada"},
        },
        headers=tenant.headers(),
    )
    assert user.status == 201, await user.text()
    user_id = (await user.json(content_type=None))["id"]
    group = await http.post(
        f"{tenant.base}/Groups",
        json={"schemas": [urns.GROUP], "displayName": "Eng", "members": [{"value": user_id}]},
        headers=tenant.headers(),
    )
    assert group.status == 201, await group.text()
    return {
        "Users": user_id,
        "Groups": (await group.json(content_type=None))["id"],
        "ResourceTypes": "User",
        "Schemas": urns.CORE_USER,
    }


async def test_every_operation_answers_as_documented(
    live_base: str, http: Any, tenant: Tenant
) -> None:
    known = await _seed(http, tenant)
    failures = await asyncio.to_thread(_fuzz, live_base, tenant.token, known)
    assert not failures, "\n\n".join(failures)
