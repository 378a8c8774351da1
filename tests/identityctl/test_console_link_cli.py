"""identityctl console-link, against the real identity service."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org


async def test_console_link_prints_a_one_time_url_that_signs_in_the_admin(env, operator_channel):
    org = new_org()
    await create_org(env, org)
    env = {**env, "CONSOLE_PUBLIC_URL": "https://console.example.test/"}
    made = await cli(env, "console-link", org, "--actor", ADMIN, "--json")
    assert made.code == 0, made.err
    url = urlsplit(made.json()["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "console.example.test", "/login")
    token = parse_qs(url.query)["token"][0]
    admin = pb_grpc.OrgAdminStub(operator_channel)
    redeemed = await admin.RedeemConsoleLink(pb.RedeemConsoleLinkRequest(token=token))
    assert (redeemed.org_id, redeemed.admin_email) == (org, ADMIN)
    text = await cli(env, "console-link", org, "--actor", ADMIN)
    assert "https://console.example.test/login?token=" in text.out
    assert "single use" in text.out


async def test_console_link_refuses_someone_not_an_org_admin(env, db_pool):
    org = new_org()
    await create_org(env, org)
    refused = await cli(env, "console-link", org, "--actor", "stranger@example.test")
    assert refused.code != 0
    assert "not an Org Admin" in refused.err
    assert "token=" not in refused.out
    assert await db_pool.fetchval("SELECT count(*) FROM console_links WHERE org_id = $1", org) == 0
