"""An Org Admin's journeys through the console in headless Chromium (issue #12).

Keys made in the console provision through the real gateway; revoked there,
they stop working. Activity and Status read the request log, which the
gateway records through the identity service (branch wt-reqlog).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import WAIT_SECONDS, row, screenshot, sign_in_browser
from tests.gateway.conftest import ADMIN, PUBLIC_URL, Tenant, onboard

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user_doc(user_name: str) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}


async def create_key(page: Page, org: str, name: str) -> str:
    await page.goto(f"/o/{org}/keys")
    await page.fill("input[name=name]", name)
    await page.click("#create-key")
    token = (await page.inner_text("#token")).strip()
    await screenshot(page, "key-created")
    return token


async def scim_status_becomes(http: Any, url: str, token: str, status: int) -> None:
    """Poll (bounded): the gateway learns of a revocation from the event stream."""
    for _ in range(int(WAIT_SECONDS / 0.1)):
        answer = await http.get(url, headers=bearer(token))
        if answer.status == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}")


async def test_a_key_is_shown_once_provisions_and_stops_when_revoked(page, http, operator_channel):
    tenant = await onboard(operator_channel)
    await sign_in_browser(page, operator_channel, tenant.org, ADMIN)
    await expect(page.locator("#scim-url")).to_have_text(f"{PUBLIC_URL}/scim/v2/{tenant.org}")
    await expect(page.locator("#sso-status")).to_contain_text("SSO is configured")
    await screenshot(page, "connect")

    token = await create_key(page, tenant.org, "Okta SCIM key")
    assert token.startswith("gscim_")
    await page.click("button[data-copy=token]")
    assert await page.evaluate("navigator.clipboard.readText()") == token

    await page.goto(f"/o/{tenant.org}/keys")  # read once: the list never shows it again
    assert token not in await page.content()
    key = row(page, "keys", "Okta SCIM key")
    await expect(key).to_contain_text("active")
    await expect(key).to_contain_text(f"admin:{ADMIN}")
    await expect(key.locator("td").nth(4)).to_have_text("never")

    created = await http.post(
        f"{tenant.base}/Users", json=user_doc("ada@acme.test"), headers=bearer(token)
    )
    assert created.status == 201, await created.text()
    await page.reload()
    await expect(key.locator("td").nth(4)).to_have_text(re.compile(r"\d{4}-\d\d-\d\d"))
    await screenshot(page, "keys")

    await key.get_by_role("link", name="Revoke…").click()
    await expect(page.locator("h1")).to_contain_text("Revoke key")
    await screenshot(page, "key-revoke")
    await page.click("#confirm-revoke")
    await page.wait_for_url(f"**/o/{tenant.org}/keys")
    await expect(row(page, "keys", "Okta SCIM key")).to_contain_text("revoked")
    await scim_status_becomes(http, f"{tenant.base}/Users", token, 401)
    other = await http.get(f"{tenant.base}/Users", headers=bearer(tenant.token))
    assert other.status == 200  # only that key: the other one still works


async def test_a_group_mapped_to_a_role_changes_the_members_role(page, http, operator_channel):
    tenant = await onboard(operator_channel)
    headers = tenant.headers()
    # Entra sends its own id for the member as externalId: the SCIM-managed badge.
    ada_doc = {**user_doc("ada@acme.test"), "externalId": "entra-0001"}
    made = await http.post(f"{tenant.base}/Users", json=ada_doc, headers=headers)
    assert made.status == 201
    ada = await made.json(content_type=None)
    group = {"schemas": [GROUP], "displayName": "Engineers", "members": [{"value": ada["id"]}]}
    assert (await http.post(f"{tenant.base}/Groups", json=group, headers=headers)).status == 201

    await sign_in_browser(page, operator_channel, tenant.org, ADMIN)
    await page.goto(f"/o/{tenant.org}/members")
    await page.fill("input[name=q]", "ada@")
    await page.press("input[name=q]", "Enter")
    await page.wait_for_url("**/members?q=ada%40")
    member = row(page, "members", "ada@acme.test")
    await expect(page.locator("#members tbody tr")).to_have_count(1)
    await expect(member.locator(".effective-role")).to_have_text("none")
    await expect(member).to_contain_text("Engineers")
    await expect(member.locator(".badge")).to_have_text("SCIM-managed")

    await page.goto(f"/o/{tenant.org}/roles")
    await page.fill("#add-rule input[name=group]", "engineers")
    await page.select_option("#add-rule select[name=role]", "GRAPH_ADMIN")
    await page.click("#add-rule button")
    await page.wait_for_url(f"**/o/{tenant.org}/roles")
    await expect(row(page, "rules", "engineers")).to_contain_text("GRAPH_ADMIN")
    await page.select_option("#default-role select[name=role]", "OBSERVER")
    await page.click("#default-role button")
    await expect(page.locator("#default-role select[name=role]")).to_have_value("OBSERVER")
    await screenshot(page, "roles")

    await page.goto(f"/o/{tenant.org}/members")
    await expect(row(page, "members", "ada@acme.test").locator(".effective-role")).to_have_text(
        "GRAPH_ADMIN"
    )
    await expect(row(page, "members", ADMIN).locator(".effective-role")).to_have_text("ORG_ADMIN")
    await screenshot(page, "members")

    await page.goto(f"/o/{tenant.org}/roles")
    await row(page, "rules", "engineers").get_by_role("button", name="Delete").click()
    await page.wait_for_url(f"**/o/{tenant.org}/roles")
    await expect(page.locator("#rules tbody")).to_contain_text("No rules yet")
    await page.goto(f"/o/{tenant.org}/members?q=ada")
    await expect(row(page, "members", "ada@acme.test").locator(".effective-role")).to_have_text(
        "OBSERVER"
    )


async def _scim_traffic(http: Any, tenant: Tenant, token: str) -> None:
    """One success and one failure (a duplicate userName: 409 uniqueness), as Okta."""
    headers = {**bearer(token), "User-Agent": "Okta SCIM Client 1.0.0"}
    first = await http.post(f"{tenant.base}/Users", json=user_doc("bo@acme.test"), headers=headers)
    assert first.status == 201
    again = await http.post(f"{tenant.base}/Users", json=user_doc("bo@acme.test"), headers=headers)
    assert again.status == 409


async def test_activity_shows_the_scim_requests_of_the_org(page, http, operator_channel):
    # Needs the request log (branch wt-reqlog): ListRequests and the gateway's recorder.
    tenant = await onboard(operator_channel)
    await sign_in_browser(page, operator_channel, tenant.org, ADMIN)
    token = await create_key(page, tenant.org, "Okta SCIM key")  # made here, used by "Okta"
    key_id = token.split("_")[1]
    await _scim_traffic(http, tenant, token)
    await page.goto(f"/o/{tenant.org}/activity")
    failed = page.locator("#requests tbody tr.failed", has_text="POST /Users")
    for _ in range(int(WAIT_SECONDS / 0.2)):  # recording is batched: bounded poll
        if await failed.count():
            break
        await asyncio.sleep(0.2)
        await page.reload()
    await expect(failed).to_contain_text("409")
    await expect(failed).to_contain_text("uniqueness")
    await expect(failed).to_contain_text(key_id)
    await expect(failed).to_contain_text("okta")
    await expect(page.locator("tr.detail")).to_contain_text("already taken")
    created = page.locator("#requests tbody tr.succeeded", has_text="POST /Users")
    await expect(created).to_contain_text("201")
    await expect(created).to_contain_text(key_id)
    await screenshot(page, "activity")
    await page.select_option("select[name=outcome]", "failure")
    await page.click("#filters button")
    await expect(page.locator("#requests tbody tr.succeeded")).to_have_count(0)
    await expect(page.locator("#requests tbody tr.failed")).to_have_count(1)


async def test_status_shows_the_last_success_and_the_last_error(page, http, operator_channel):
    # Needs the request log (branch wt-reqlog): GetRequestStats.
    tenant = await onboard(operator_channel)
    await _scim_traffic(http, tenant, tenant.token)
    await sign_in_browser(page, operator_channel, tenant.org, ADMIN)
    for _ in range(int(WAIT_SECONDS / 0.2)):
        await page.goto(f"/o/{tenant.org}/status")
        if await page.locator("#errors-24h", has_text=re.compile(r"^\s*[1-9]")).count():
            break
        await asyncio.sleep(0.2)
    await expect(page.locator("#requests-24h")).to_have_text("2")
    await expect(page.locator("#errors-24h")).to_have_text("1")
    await expect(page.locator("#last-error")).to_contain_text("409")
    await expect(page.locator("#last-success")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d"))
    await screenshot(page, "status")


async def test_activity_follows_new_requests_live(page, http, operator_channel):
    # Needs the request log (branch wt-reqlog): ListRequests and the gateway's recorder.
    tenant = await onboard(operator_channel)
    await sign_in_browser(page, operator_channel, tenant.org, ADMIN)
    await page.goto(f"/o/{tenant.org}/activity?method=DELETE")
    await expect(page.locator("#requests tbody")).to_contain_text("No requests")
    headers = tenant.headers(**{"User-Agent": "Okta SCIM Client 1.0.0"})
    gone = await http.delete(f"{tenant.base}/Users/{'0' * 32}", headers=headers)
    assert gone.status == 404
    listed = await http.get(f"{tenant.base}/Users", headers=headers)  # filtered out: GET
    assert listed.status == 200
    row = page.locator("#requests tbody tr.failed", has_text="DELETE /Users/{id}")
    await expect(row).to_contain_text("404", timeout=WAIT_SECONDS * 1000)  # no reload
    await expect(page.locator("#requests tbody tr")).to_have_count(1)
    await expect(page.locator("#requests tbody")).not_to_contain_text("No requests")
