"""Groups above the inline member limit: listed lean, PATCHed with 204, streamed on GET."""

from __future__ import annotations

from dataclasses import replace

from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def seed_users(db_pool, org: str, count: int, display_prefix: str = "") -> list[str]:
    """Users mN@big.test straight into the table; displayName prefix + N if a prefix is given."""
    rows = await db_pool.fetch(
        "INSERT INTO users (org_id, id, user_name, display_name, document)"
        " SELECT $1, gen_random_uuid(), 'm' || i || '@big.test', nullif($3, '') || i,"
        " jsonb_strip_nulls(jsonb_build_object("
        "  'userName', 'm' || i || '@big.test', 'displayName', nullif($3, '') || i))"
        " FROM generate_series(1, $2) i RETURNING id",
        org,
        count,
        display_prefix,
    )
    return [str(r["id"]) for r in rows]


async def test_a_large_group_streams_on_get_and_stays_lean_elsewhere(
    tenant, gateway_settings, db_pool
):
    small_limit = replace(gateway_settings, group_members_inline_max=10)
    ids = await seed_users(db_pool, tenant.org, 250)
    async with TestClient(TestServer(create_app(small_limit))) as http:
        created = await http.post(
            f"{tenant.base}/Groups",
            json={"displayName": "Everyone", "members": [{"value": i} for i in ids[:-1]]},
            headers=tenant.headers(),
        )
        group = await created.json(content_type=None)
        assert created.status == 201
        assert "members" not in group  # above the limit: not carried inline

        patched = await http.patch(
            f"{tenant.base}/Groups/{group['id']}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[-1]}]}],
            },
            headers=tenant.headers(),
        )
        assert patched.status == 204
        assert patched.headers["ETag"] == 'W/"2"'

        fetched = await http.get(f"{tenant.base}/Groups/{group['id']}", headers=tenant.headers())
        body = await fetched.json(content_type=None)
        assert fetched.status == 200
        assert fetched.headers["ETag"] == body["meta"]["version"] == 'W/"2"'
        assert sorted(m["value"] for m in body["members"]) == sorted(ids)  # 3 pages of 100

        listed = await http.get(f"{tenant.base}/Groups", headers=tenant.headers())
        assert "members" not in (await listed.json(content_type=None))["Resources"][0]

        lean = await http.get(
            f"{tenant.base}/Groups/{group['id']}",
            params={"excludedAttributes": "members"},
            headers=tenant.headers(),
        )
        assert "members" not in await lean.json(content_type=None)


async def test_a_patch_answers_the_resource_only_up_to_the_patch_limit(
    tenant, gateway_settings, db_pool
):
    """A member add answers 200 with every member up to the limit, 204 past it."""
    settings = replace(gateway_settings, patch_members_inline_max=3)
    ids = await seed_users(db_pool, tenant.org, 5)
    async with TestClient(TestServer(create_app(settings))) as http:
        created = await http.post(
            f"{tenant.base}/Groups",
            json={"displayName": "Small", "members": [{"value": i} for i in ids[:2]]},
            headers=tenant.headers(),
        )
        group = await created.json(content_type=None)
        assert len(group["members"]) == 2  # creates and lists keep the larger inline limit
        statuses = []
        for user_id in ids[2:]:
            patched = await http.patch(
                f"{tenant.base}/Groups/{group['id']}",
                json={
                    "schemas": [PATCH],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
                },
                headers=tenant.headers(),
            )
            body = await patched.read()
            statuses.append((patched.status, len(body) > 0))
        # 3 members: still the resource; 4 and 5: 204, no body.
        assert statuses == [(200, True), (204, False), (204, False)]
