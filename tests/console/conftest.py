"""The console in front of the real identity service (and, for journeys, the gateway).

HTTP-level tests use aiohttp's test client. Browser tests drive Debian's
`chromium` (installed by `make install` as root) headless through Playwright
for Python with `executable_path`: `playwright install` never runs, nothing
is downloaded. Their screenshots land in build/screenshots/.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Locator, Page, async_playwright

from console.app import create_app
from console.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identityctl.settings import Settings as IdentityAccess
from tests.conftest import IdentityServer
from tests.gateway.conftest import PUBLIC_URL, gateway_settings, http

__all__ = ["gateway_settings", "http"]  # the gateway's fixtures, for the journeys

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


CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
WAIT_SECONDS = 15.0


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` (as root) installs Debian's chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: the suite runs as root in CI containers, where
        # Chromium's sandbox cannot start; the pages are our own.
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def console_url(console_settings: Settings) -> AsyncIterator[str]:
    server = TestServer(create_app(console_settings), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def page(browser: Browser, console_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=console_url)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    opened = await context.new_page()
    yield opened
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def sign_in_browser(
    page: Page, operator_channel: grpc.aio.Channel, org: str, email: str
) -> None:
    """What an admin does with `identityctl console-link`'s URL."""
    token = await link_token(operator_channel, org, email)
    await page.goto(f"/login?token={token}")
    await screenshot(page, "sign-in")
    await page.click("#sign-in")
    await page.wait_for_url(f"**/o/{org}/")


def row(page: Page, table: str, text: str) -> Locator:
    return page.locator(f"#{table} tbody tr", has_text=text)
