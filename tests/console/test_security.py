"""The console refuses everyone but an Org Admin of the org, and changes nothing for them."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from itsdangerous import URLSafeTimedSerializer
from yarl import URL

from console.sessions import COOKIE, EMAIL_HEADER, SECRET_HEADER
from console.settings import Settings
from gateway.client_address import Network, parse_networks
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.console.conftest import OPERATOR, console_with, csrf_of, link_token, sign_in
from tests.gateway.conftest import ADMIN, onboard

PROXY_SECRET = secrets.token_urlsafe(24)
PAGES = ("/", "/keys", "/members", "/roles", "/activity", "/status")


async def key_names(operator_channel, org: str) -> list[str]:
    listed = await pb_grpc.OrgAdminStub(operator_channel).ListScimKeys(
        pb.ListScimKeysRequest(context=OPERATOR, org_id=org)
    )
    return [key.name for key in listed.keys]


async def add_member(
    operator_channel, org: str, email: str, role: pb.Role.ValueType = pb.OBSERVER
) -> None:
    """A member with a direct role (not ORG_ADMIN)."""
    prov = pb_grpc.ProvisioningStub(operator_channel)
    document = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }
    await prov.CreateUser(
        pb.CreateUserRequest(
            context=OPERATOR, org_id=org, attributes_json=json.dumps(document).encode()
        )
    )
    await pb_grpc.OrgAdminStub(operator_channel).SetDirectRole(
        pb.SetDirectRoleRequest(context=OPERATOR, org_id=org, user_name=email, role=pb.OBSERVER)
    )


async def test_an_org_admin_signs_in_with_a_link_and_sees_the_org(console, operator_channel):
    tenant = await onboard(operator_channel)
    await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    page = await console.get(f"/o/{tenant.org}/")
    assert page.status == 200
    assert f"/scim/v2/{tenant.org}" in await page.text()


async def test_the_session_cookie_is_httponly_strict_and_secure_outside_dev(
    console_settings, operator_channel
):
    tenant = await onboard(operator_channel)
    client = await console_with(console_settings, dev=False)
    try:
        token = await link_token(operator_channel, tenant.org, ADMIN)
        shown = await client.get("/login", params={"token": token})
        cookie = shown.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"):
            assert attribute in cookie
    finally:
        await client.close()


async def test_nobody_signed_in_sees_nothing(console, operator_channel):
    tenant = await onboard(operator_channel)
    for path in PAGES:
        answer = await console.get(f"/o/{tenant.org}{path}")
        assert answer.status == 401
        assert "console-link" in await answer.text()


async def test_a_forged_session_cookie_signs_in_nobody(console, operator_channel):
    tenant = await onboard(operator_channel)
    await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    real = next(c for c in console.session.cookie_jar if c.key == COOKIE).value
    session = {"csrf": "x", "email": ADMIN, "org": tenant.org, "via": "link"}
    forged = URLSafeTimedSerializer("not-the-secret", salt="console-session").dumps(session)
    for value in (forged, real[:-3] + "AAA"):
        jar = console.session.cookie_jar
        jar.clear()
        jar.update_cookies({COOKIE: value}, response_url=URL(str(console.make_url("/"))))
        assert (await console.get(f"/o/{tenant.org}/")).status == 401


async def test_looking_at_a_link_does_not_use_it_up(console, operator_channel):
    tenant = await onboard(operator_channel)
    token = await link_token(operator_channel, tenant.org, ADMIN)
    for _ in range(3):  # a link scanner's GETs
        assert (await console.get("/login", params={"token": token})).status == 200
    await sign_in(console, token)


async def test_a_used_link_signs_in_nobody_else(console, console_settings, operator_channel):
    tenant = await onboard(operator_channel)
    token = await link_token(operator_channel, tenant.org, ADMIN)
    await sign_in(console, token)
    other = await console_with(console_settings)  # another browser with the same link
    try:
        shown = await other.get("/login", params={"token": token})
        again = await other.post(
            "/login", data={"csrf": csrf_of(await shown.text()), "token": token}
        )
        assert again.status == 400
        assert "already used or expired" in await again.text()
        assert (await other.get(f"/o/{tenant.org}/")).status == 401
    finally:
        await other.close()


async def test_an_expired_link_signs_in_nobody(console, operator_channel, db_pool):
    tenant = await onboard(operator_channel)
    token = await link_token(operator_channel, tenant.org, ADMIN)
    await db_pool.execute(
        "UPDATE console_links SET expires = clock_timestamp() WHERE org_id = $1", tenant.org
    )
    shown = await console.get("/login", params={"token": token})
    answer = await console.post(
        "/login", data={"csrf": csrf_of(await shown.text()), "token": token}
    )
    assert answer.status == 400
    assert (await console.get(f"/o/{tenant.org}/")).status == 401


async def test_redeeming_needs_the_csrf_token_of_the_confirmation_page(console, operator_channel):
    tenant = await onboard(operator_channel)
    token = await link_token(operator_channel, tenant.org, ADMIN)
    await console.get("/login", params={"token": token})
    for data in ({"token": token}, {"token": token, "csrf": "guess"}):
        assert (await console.post("/login", data=data)).status == 403
    await sign_in(console, token)  # the refused attempts did not use it up


@pytest.mark.parametrize("csrf", [None, "", "wrong"])
async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    console, operator_channel, csrf
):
    tenant = await onboard(operator_channel)
    await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    data = {"name": "Sneaky", "expires_in_days": ""}
    if csrf is not None:
        data["csrf"] = csrf
    answer = await console.post(f"/o/{tenant.org}/keys", data=data)
    assert answer.status == 403
    revoke = await console.post(f"/o/{tenant.org}/keys/{tenant.key_id}/revoke", data=data)
    assert revoke.status == 403
    assert await key_names(operator_channel, tenant.org) == ["Okta"]
    listed = await pb_grpc.OrgAdminStub(operator_channel).ListScimKeys(
        pb.ListScimKeysRequest(context=OPERATOR, org_id=tenant.org)
    )
    assert not listed.keys[0].HasField("revoked")


async def test_an_admin_of_another_org_sees_and_changes_nothing(console, operator_channel):
    mine = await onboard(operator_channel)
    theirs = await onboard(operator_channel)
    csrf = await sign_in(console, await link_token(operator_channel, mine.org, ADMIN))
    for path in PAGES:
        assert (await console.get(f"/o/{theirs.org}{path}")).status == 403
    data = {"csrf": csrf, "name": "Sneaky", "expires_in_days": ""}
    assert (await console.post(f"/o/{theirs.org}/keys", data=data)).status == 403
    assert await key_names(operator_channel, theirs.org) == ["Okta"]


async def test_an_admin_who_loses_the_role_loses_the_console(console, operator_channel):
    tenant = await onboard(operator_channel)
    csrf = await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    await pb_grpc.OrgAdminStub(operator_channel).SetDirectRole(
        pb.SetDirectRoleRequest(
            context=OPERATOR, org_id=tenant.org, user_name=ADMIN, role=pb.OBSERVER
        )
    )
    for path in PAGES:
        assert (await console.get(f"/o/{tenant.org}{path}")).status == 403
    data = {"csrf": csrf, "name": "Sneaky", "expires_in_days": ""}
    assert (await console.post(f"/o/{tenant.org}/keys", data=data)).status == 403
    assert await key_names(operator_channel, tenant.org) == ["Okta"]


async def proxied(console_settings: Settings, **changes: Any) -> TestClient[Any, Any]:
    defaults = {"trusted_proxies": _networks("127.0.0.1/32"), "proxy_secret": PROXY_SECRET}
    return await console_with(console_settings, **{**defaults, **changes})


def _networks(text: str) -> tuple[Network, ...]:
    return parse_networks(text)


async def test_a_trusted_proxy_signs_in_its_admin(console_settings, operator_channel):
    tenant = await onboard(operator_channel)
    client = await proxied(console_settings)
    try:
        headers = {EMAIL_HEADER: ADMIN, SECRET_HEADER: PROXY_SECRET}
        page = await client.get(f"/o/{tenant.org}/keys", headers=headers)
        assert page.status == 200
        csrf = csrf_of(await page.text())
        data = {"csrf": csrf, "name": "From SSO", "expires_in_days": ""}
        made = await client.post(f"/o/{tenant.org}/keys", data=data, headers=headers)
        assert made.status == 200
        assert await key_names(operator_channel, tenant.org) == ["Okta", "From SSO"]
    finally:
        await client.close()


async def test_the_proxy_header_of_a_non_admin_or_another_orgs_admin_is_refused(
    console_settings, operator_channel
):
    tenant = await onboard(operator_channel)
    await add_member(operator_channel, tenant.org, "observer@acme.test")
    client = await proxied(console_settings)
    try:
        other = f"{tenant.org}-b"  # ADMIN administers tenant.org, not this one
        await pb_grpc.OrgAdminStub(operator_channel).CreateOrg(
            pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="B", admin_email="boss@b.test")
        )
        for email, org in (
            ("observer@acme.test", tenant.org),
            ("nobody@acme.test", tenant.org),
            (ADMIN, other),
            (ADMIN, f"{tenant.org}-nope"),  # no such org: refused alike
        ):
            headers = {EMAIL_HEADER: email, SECRET_HEADER: PROXY_SECRET}
            for path in PAGES:
                assert (await client.get(f"/o/{org}{path}", headers=headers)).status == 403
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("networks", "secret"),
    [
        ("10.0.0.0/8", PROXY_SECRET),  # the right secret from an unlisted address
        ("127.0.0.1/32", None),  # a listed address without the secret
        ("127.0.0.1/32", "not-the-secret"),
        ("", None),  # no proxy configured at all
    ],
)
async def test_a_forged_proxy_header_is_refused_and_changes_nothing(
    console_settings, operator_channel, networks, secret
):
    tenant = await onboard(operator_channel)
    settings = {"trusted_proxies": _networks(networks), "proxy_secret": PROXY_SECRET}
    if not networks:
        settings = {"trusted_proxies": (), "proxy_secret": ""}
    client = await console_with(console_settings, **settings)
    try:
        headers = {EMAIL_HEADER: ADMIN}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        assert (await client.get(f"/o/{tenant.org}/keys", headers=headers)).status == 403
        data = {"name": "Forged", "expires_in_days": ""}
        made = await client.post(f"/o/{tenant.org}/keys", data=data, headers=headers)
        assert made.status == 403
        assert await key_names(operator_channel, tenant.org) == ["Okta"]
    finally:
        await client.close()


async def test_bad_input_gets_a_clear_page_and_changes_nothing(console, operator_channel):
    tenant = await onboard(operator_channel)
    csrf = await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    for data, says in (
        ({"name": "  ", "expires_in_days": ""}, "descriptive name"),
        ({"name": "k", "expires_in_days": "7000"}, "expiry"),
    ):
        answer = await console.post(f"/o/{tenant.org}/keys", data={"csrf": csrf, **data})
        assert answer.status == 400
        text = await answer.text()
        assert says in text
        assert "Traceback" not in text
    bad_role = {"csrf": csrf, "group": "Eng", "role": "EMPEROR"}
    assert (await console.post(f"/o/{tenant.org}/roles/rules", data=bad_role)).status == 400
    assert (await console.get(f"/o/{tenant.org}/members?start=0")).status == 400
    assert (await console.get(f"/o/{tenant.org}/activity?outcome=maybe")).status == 400
    assert await key_names(operator_channel, tenant.org) == ["Okta"]


async def test_without_the_identity_service_the_console_says_so(console_settings):
    from devstack.processes import free_port

    unreachable = replace(console_settings.identity, identity_addr=f"127.0.0.1:{free_port()}")
    client = await console_with(console_settings, identity=unreachable)
    try:
        shown = await client.get("/login", params={"token": "org.x"})
        data = {"csrf": csrf_of(await shown.text()), "token": "org.x"}
        answer = await client.post("/login", data=data)
        assert answer.status == 503
        text = await answer.text()
        assert "identity service is unavailable" in text
        assert "Traceback" not in text
    finally:
        await client.close()


async def test_unknown_pages_and_the_bare_org_url(console, operator_channel):
    tenant = await onboard(operator_channel)
    await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    bare = await console.get(f"/o/{tenant.org}", allow_redirects=False)
    assert (bare.status, bare.headers["Location"]) == (303, f"/o/{tenant.org}/")
    missing = await console.get(f"/o/{tenant.org}/nothing-here")
    assert missing.status == 404
    assert "Traceback" not in await missing.text()


async def test_signing_out_ends_the_session(console, operator_channel):
    tenant = await onboard(operator_channel)
    csrf = await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    home = await console.get("/", allow_redirects=False)
    assert (home.status, home.headers["Location"]) == (303, f"/o/{tenant.org}/")
    assert (await console.post("/logout", data={})).status == 403  # CSRF here too
    out = await console.post("/logout", data={"csrf": csrf})
    assert out.status == 200
    assert "You are not signed in" in await out.text()
    assert (await console.get(f"/o/{tenant.org}/")).status == 401
    assert (await console.get("/", allow_redirects=False)).status == 200


async def test_the_live_activity_stream_is_behind_the_gate(console, operator_channel):
    mine = await onboard(operator_channel)
    await sign_in(console, await link_token(operator_channel, mine.org, ADMIN))
    other = await onboard(operator_channel)
    assert (await console.get(f"/o/{other.org}/activity/live")).status == 403
    bad = await console.get(f"/o/{mine.org}/activity/live?outcome=maybe")
    assert bad.status == 400
