"""The console in front of the real identity service (and, for journeys, the gateway).

HTTP-level tests use aiohttp's test client; browser tests drive Debian's
headless Chromium through Playwright against a real console server.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer

from console.app import create_app
from console.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identityctl.settings import Settings as IdentityAccess
from tests.conftest import IdentityServer
from tests.gateway.conftest import PUBLIC_URL

OPERATOR = pb.RequestContext(actor=pb.Actor(operator=True), request_id="console-test")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def console_settings(identity_server: IdentityServer) -> Settings:
    return Settings(
        identity=IdentityAccess(
            identity_addr=identity_server.address,
            operator_token=identity_server.operator_token,
            scim_public_url=PUBLIC_URL,
        ),
        session_secret=secrets.token_urlsafe(32),
        dev=True,
    )


@pytest.fixture
async def console(console_settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(console_settings))) as client:
        yield client


async def console_with(settings: Settings, **changes: Any) -> TestClient[Any, Any]:
    """A console with other settings; the caller closes it."""
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(replace(settings, **changes))))
    await client.start_server()
    return client


async def link_token(operator_channel: grpc.aio.Channel, org: str, email: str) -> str:
    admin = pb_grpc.OrgAdminStub(operator_channel)
    made = await admin.CreateConsoleLink(
        pb.CreateConsoleLinkRequest(context=OPERATOR, org_id=org, admin_email=email)
    )
    return made.token


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(client: TestClient[Any, Any], token: str) -> str:
    """Sign in with a console link as a browser does; the session's CSRF token."""
    shown = await client.get("/login", params={"token": token})
    assert shown.status == 200, await shown.text()
    csrf = csrf_of(await shown.text())
    done = await client.post("/login", data={"csrf": csrf, "token": token}, allow_redirects=False)
    assert done.status == 303, await done.text()
    page = await client.get(done.headers["Location"])
    assert page.status == 200, await page.text()
    return csrf_of(await page.text())
