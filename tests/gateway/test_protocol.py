"""RFC 7644 behaviour the IdPs and testers check, over HTTP → gRPC → SQL."""

from __future__ import annotations

import io

import pytest

from tests.gateway.conftest import Tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_body(user_name: str, **extra):
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
        **extra,
    }


async def create_user(http, tenant: Tenant, user_name: str, **extra):
    response = await http.post(
        f"{tenant.base}/Users", json=user_body(user_name, **extra), headers=tenant.headers()
    )
    assert response.status == 201, await response.text()
    return await response.json(content_type=None)


async def test_create_returns_the_resource_with_location_and_etag(http, tenant):
    response = await http.post(
        f"{tenant.base}/Users",
        json=user_body("ada@acme.test", password="S3cret!", groups=[], id="ignored"),
        headers=tenant.headers(),
    )
    body = await response.json(content_type=None)
    assert response.status == 201
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"] == f"{tenant.public_base}/Users/{body['id']}"
    assert response.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["id"] != "ignored"
    assert "password" not in body
    assert set(body["meta"]) == {"resourceType", "created", "lastModified", "location", "version"}


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/scim+json; charset=utf-8", "application/scim+json"],
)
async def test_json_media_types_are_accepted(http, tenant, content_type):
    response = await http.post(
        f"{tenant.base}/Users",
        json=user_body(f"{content_type.split(';')[0].replace('/', '-')}@acme.test"),
        headers=tenant.headers(**{"Content-Type": content_type}),
    )
    assert response.status == 201


async def test_errors_are_scim_json_with_string_status(http, tenant):
    await create_user(http, tenant, "dup@acme.test")
    response = await http.post(
        f"{tenant.base}/Users", json=user_body("DUP@acme.test"), headers=tenant.headers()
    )
    body = await response.json(content_type=None)
    assert response.status == 409
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "scimType": "uniqueness",
        "detail": body["detail"],
    }


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no key"),
        ({"Authorization": "Bearer gscim_nokey_secret"}, "unknown key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "not bearer"),
        ({"Authorization": "Bearer "}, "empty"),
    ],
)
async def test_unauthenticated_requests_get_401_with_www_authenticate(http, tenant, headers, why):
    response = await http.get(f"{tenant.base}/Users", headers=headers)
    assert response.status == 401, why
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json(content_type=None))["status"] == "401"


async def test_a_key_never_works_on_another_orgs_url(http, tenant, operator_channel):
    from tests.gateway.conftest import onboard

    other = await onboard(operator_channel)
    await create_user(http, other, "secret@other.test")
    # Used on its own org first, the key is cached as verified: the cache
    # must still not let it through on the other org's URL.
    assert (await http.get(f"{tenant.base}/Users", headers=tenant.headers())).status == 200
    response = await http.get(f"{other.base}/Users", headers=tenant.headers())
    assert response.status == 401
    assert "secret@other.test" not in await response.text()


async def test_discovery_is_readable_without_a_key(http, tenant):
    for path in ("ServiceProviderConfig", "Schemas", "ResourceTypes"):
        response = await http.get(f"{tenant.base}/{path}")
        assert response.status == 200, path
    schemas = await (await http.get(f"{tenant.base}/Schemas/{USER}")).json(content_type=None)
    user_name = next(a for a in schemas["attributes"] if a["name"] == "userName")
    assert (user_name["caseExact"], user_name["uniqueness"]) == (False, "server")


async def test_unknown_path_and_method(http, tenant):
    missing = await http.get(f"{tenant.base}/Nope", headers=tenant.headers())
    assert missing.status == 404
    assert (await missing.json(content_type=None))["status"] == "404"
    wrong = await http.post(f"{tenant.base}/ServiceProviderConfig", headers=tenant.headers())
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "GET"
    me = await http.get(f"{tenant.base}/Me", headers=tenant.headers())
    assert me.status == 501


async def test_malformed_id_is_404(http, tenant):
    response = await http.get(f"{tenant.base}/Users/not-a-uuid", headers=tenant.headers())
    assert response.status == 404


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("{not json", "invalidSyntax"),
        ("[1, 2]", "invalidSyntax"),
        ('{"schemas": ["' + USER + '"]}', "invalidValue"),
        ('{"userName": 7}', "invalidValue"),
        ('{"userName": "nul\\u0000@acme.test"}', "invalidValue"),
    ],
)
async def test_bad_bodies_are_400(http, tenant, body, scim_type):
    response = await http.post(f"{tenant.base}/Users", data=body, headers=tenant.headers())
    assert response.status == 400
    assert (await response.json(content_type=None))["scimType"] == scim_type


async def test_oversized_body_is_413(http, tenant):
    response = await http.post(
        f"{tenant.base}/Users",
        data=io.BytesIO(b"x" * (2 * 1024 * 1024)),
        headers=tenant.headers(),
    )
    assert response.status == 413
    assert (await response.json(content_type=None))["status"] == "413"


async def test_etags_if_match_and_if_none_match(http, tenant):
    user = await create_user(http, tenant, "etag@acme.test")
    url = f"{tenant.base}/Users/{user['id']}"
    not_modified = await http.get(url, headers=tenant.headers(**{"If-None-Match": 'W/"1"'}))
    assert not_modified.status == 304
    stale = await http.put(
        url, json=user_body("etag2@acme.test"), headers=tenant.headers(**{"If-Match": 'W/"9"'})
    )
    assert stale.status == 412
    fresh = await http.put(
        url, json=user_body("etag2@acme.test"), headers=tenant.headers(**{"If-Match": '"1"'})
    )
    assert fresh.status == 200
    assert fresh.headers["ETag"] == 'W/"2"'
    write_on_match = await http.patch(
        url,
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
        headers=tenant.headers(**{"If-None-Match": 'W/"2"'}),
    )
    assert write_on_match.status == 412


async def test_attributes_and_excluded_attributes(http, tenant):
    user = await create_user(http, tenant, "proj@acme.test", title="Countess")
    url = f"{tenant.base}/Users/{user['id']}"
    only = await (
        await http.get(
            url, params={"attributes": "userName,name.givenName"}, headers=tenant.headers()
        )
    ).json(content_type=None)
    assert set(only) == {"schemas", "id", "userName", "name"}
    assert only["name"] == {"givenName": "Ada"}
    without = await (
        await http.get(url, params={"excludedAttributes": "emails,title"}, headers=tenant.headers())
    ).json(content_type=None)
    assert "emails" not in without
    assert "title" not in without
    assert "userName" in without


async def test_list_pagination_walk_and_count_zero(http, tenant):
    for i in range(5):
        await create_user(http, tenant, f"walk{i}@acme.test")
    seen = []
    start = 1
    while True:
        page = await (
            await http.get(
                f"{tenant.base}/Users",
                params={"startIndex": start, "count": 2},
                headers=tenant.headers(),
            )
        ).json(content_type=None)
        assert page["totalResults"] == 6
        assert page["itemsPerPage"] == len(page["Resources"])
        if not page["Resources"]:
            break
        seen += [r["userName"] for r in page["Resources"]]
        start += len(page["Resources"])
    assert len(seen) == len(set(seen)) == 6
    only_total = await (
        await http.get(f"{tenant.base}/Users", params={"count": "0"}, headers=tenant.headers())
    ).json(content_type=None)
    assert (only_total["totalResults"], only_total["Resources"]) == (6, [])
    before_start = await (
        await http.get(
            f"{tenant.base}/Users",
            params={"startIndex": "-4", "count": "1"},
            headers=tenant.headers(),
        )
    ).json(content_type=None)
    assert before_start["startIndex"] == 1


async def test_cursor_pagination(http, tenant):
    for i in range(3):
        await create_user(http, tenant, f"cur{i}@acme.test")
    seen, cursor = [], ""
    while True:
        page = await (
            await http.get(
                f"{tenant.base}/Users",
                params={"cursor": cursor, "count": 2},
                headers=tenant.headers(),
            )
        ).json(content_type=None)
        assert "startIndex" not in page
        seen += [r["userName"] for r in page["Resources"]]
        if "nextCursor" not in page:
            break
        cursor = page["nextCursor"]
    assert len(seen) == 4


async def test_search_endpoint(http, tenant):
    await create_user(http, tenant, "search@acme.test")
    response = await http.post(
        f"{tenant.base}/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "SEARCH"',
            "attributes": ["userName"],
        },
        headers=tenant.headers(),
    )
    body = await response.json(content_type=None)
    assert response.status == 200
    assert [r["userName"] for r in body["Resources"]] == ["search@acme.test"]
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}


async def test_sorting(http, tenant):
    for name in ("b@acme.test", "c@acme.test"):
        await create_user(http, tenant, name)
    page = await (
        await http.get(
            f"{tenant.base}/Users",
            params={"sortBy": "userName", "sortOrder": "descending"},
            headers=tenant.headers(),
        )
    ).json(content_type=None)
    assert [r["userName"] for r in page["Resources"]] == [
        "c@acme.test",
        "b@acme.test",
        "admin@acme.test",
    ]


async def test_rate_limit_answers_429_with_retry_after(http, tenant, gateway_settings):
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import create_app
    from tests.gateway.conftest import replace

    tight = replace(gateway_settings, rate_limit_per_second=0.5, rate_limit_burst=2)
    async with TestClient(TestServer(create_app(tight))) as client:
        statuses = [
            (await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status
            for _ in range(3)
        ]
        limited = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
    assert statuses[:2] == [200, 200]
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_a_fault_is_a_generic_500_with_the_request_id(tenant, gateway_settings, caplog):
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import create_app
    from tests.gateway.conftest import replace

    # A gateway whose service credential the identity service refuses: a bug
    # in deployment, not the client's fault.
    misconfigured = replace(gateway_settings, service_token="not-the-service-token")
    async with TestClient(TestServer(create_app(misconfigured))) as client:
        response = await client.get(
            f"{tenant.base}/Users", headers=tenant.headers(**{"X-Request-Id": "req-42"})
        )
        body = await response.json(content_type=None)
    assert response.status == 500
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "500",
        "detail": "internal error; request id req-42",
    }
    assert response.headers["X-Request-Id"] == "req-42"
    assert "Traceback" in caplog.text  # the traceback went to the log


async def test_concurrent_member_adds_without_if_match_all_land(http, tenant):
    import asyncio

    ids = [(await create_user(http, tenant, f"c{i}@acme.test"))["id"] for i in range(30)]
    created = await http.post(
        f"{tenant.base}/Groups", json={"displayName": "Race"}, headers=tenant.headers()
    )
    group = await created.json(content_type=None)

    async def add(user_id: str) -> int:
        response = await http.patch(
            f"{tenant.base}/Groups/{group['id']}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}],
            },
            headers=tenant.headers(),
        )
        return response.status

    assert set(await asyncio.gather(*(add(i) for i in ids))) == {200}
    final = await (
        await http.get(f"{tenant.base}/Groups/{group['id']}", headers=tenant.headers())
    ).json(content_type=None)
    assert sorted(m["value"] for m in final["members"]) == sorted(ids)
    assert final["meta"]["version"] == 'W/"31"'
