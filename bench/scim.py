"""The SCIM side: requests as Okta sends them, over HTTP to the gateway."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from bench.load import Failed, Operation
from bench.seed import SeedUser, okta_user

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_BODY_SHOWN = 500


class ScimClient:
    """Requests to one org's SCIM base URL with its bearer key."""

    def __init__(self, session: aiohttp.ClientSession, scim_url: str, token: str) -> None:
        self._session = session
        self._base = scim_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json; charset=utf-8",
        }

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        expect: Sequence[int] = (200,),
    ) -> bytes:
        """The response body; Failed (request, status, body) on any other status."""
        data = json.dumps(body).encode() if body is not None else None
        async with self._session.request(
            method, self._base + path, data=data, params=params, headers=self._headers
        ) as response:
            answer = await response.read()
            if response.status not in expect:
                shown = f"{method} {path}" + (f" {params}" if params else "")
                if body is not None:
                    shown += f" body={json.dumps(body)[:_BODY_SHOWN]}"
                text = answer.decode(errors="replace")[:_BODY_SHOWN]
                raise Failed(shown, response.status, text)
            return answer


def get_by_id(client: ScimClient, users: Sequence[SeedUser]) -> Operation:
    async def operation(index: int) -> None:
        await client.call("GET", f"/Users/{users[index % len(users)].id}")

    return operation


def filter_user_name(client: ScimClient, users: Sequence[SeedUser]) -> Operation:
    """Okta's "does this user exist" lookup; it must find exactly one user."""

    async def operation(index: int) -> None:
        user_name = users[(index * 7919) % len(users)].user_name
        params = {"filter": f'userName eq "{user_name}"', "startIndex": "1", "count": "100"}
        answer = await client.call("GET", "/Users", params=params)
        found = json.loads(answer).get("totalResults")
        if found != 1:
            raise Failed(f"GET /Users {params}", 200, f"totalResults {found}, wanted 1")

    return operation


def create_user(client: ScimClient, run_id: str) -> Operation:
    async def operation(index: int) -> None:
        user_name = f"created.{run_id}.{index}@bench.example"
        body = okta_user(user_name, "Created", f"User{index}", f"created-{run_id}-{index}")
        await client.call("POST", "/Users", body=body, expect=(201,))

    return operation


def put_user(client: ScimClient, users: Sequence[SeedUser]) -> Operation:
    """Okta's profile update: the whole user, with a new displayName each time."""

    async def operation(index: int) -> None:
        user = users[index % len(users)]
        body = okta_user(user.user_name, "Seed", f"Renamed{index}", user.external_id)
        del body["groups"], body["password"]
        body["id"] = user.id
        await client.call("PUT", f"/Users/{user.id}", body=body)

    return operation


def list_page(client: ScimClient, users: Sequence[SeedUser]) -> Operation:
    """Okta's import: a page of 100 users at some startIndex."""
    pages = max(1, len(users) // 100)

    async def operation(index: int) -> None:
        start = 1 + ((index * 37) % pages) * 100
        params = {"startIndex": str(start), "count": "100"}
        await client.call("GET", "/Users", params=params)

    return operation


async def create_group(client: ScimClient, display_name: str) -> str:
    body = {"schemas": [GROUP_SCHEMA], "displayName": display_name, "members": []}
    answer = await client.call("POST", "/Groups", body=body, expect=(201,))
    group_id: str = json.loads(answer)["id"]
    return group_id


def add_member(client: ScimClient, group_id: str, users: Sequence[SeedUser]) -> Operation:
    """Okta's push of one new member: PATCH add members, one user each time."""

    async def operation(index: int) -> None:
        user = users[index]
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": user.id, "display": user.user_name}],
                }
            ],
        }
        # RFC 7644 §3.5.2: 200 with the group, or 204.
        await client.call("PATCH", f"/Groups/{group_id}", body=body, expect=(200, 204))

    return operation


def filter_work_email(client: ScimClient, users: Sequence[SeedUser]) -> Operation:
    """Entra's lookup by work email; it must find exactly one user."""

    async def operation(index: int) -> None:
        email = users[(index * 7919) % len(users)].user_name  # seeded: email = userName
        params = {"filter": f'emails[type eq "work"].value eq "{email}"'}
        answer = await client.call("GET", "/Users", params=params)
        found = json.loads(answer).get("totalResults")
        if found != 1:
            raise Failed(f"GET /Users {params}", 200, f"totalResults {found}, wanted 1")

    return operation


async def total_results(client: ScimClient, resource: str) -> int:
    """How many Users or Groups the org holds (a page of one carries totalResults)."""
    answer = await client.call("GET", f"/{resource}", params={"startIndex": "1", "count": "1"})
    total: int = json.loads(answer)["totalResults"]
    return total


def user_pages(client: ScimClient, starts: Sequence[int], total: int) -> Operation:
    """Pages of 100 users at `starts[index % len(starts)]`: in that order, one at a time."""

    async def operation(index: int) -> None:
        start = starts[index % len(starts)]
        params = {"startIndex": str(start), "count": "100"}
        page = json.loads(await client.call("GET", "/Users", params=params))
        wanted = min(100, total - start + 1)
        if len(page.get("Resources", [])) != wanted:
            got = len(page.get("Resources", []))
            raise Failed(f"GET /Users {params}", 200, f"{got} users, wanted {wanted}")

    return operation


def remove_member(client: ScimClient, group_id: str, users: Sequence[SeedUser]) -> Operation:
    """Okta's removal of one member: PATCH remove with path members[value eq "id"]."""

    async def operation(index: int) -> None:
        user = users[index]
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user.id}"]'}],
        }
        await client.call("PATCH", f"/Groups/{group_id}", body=body, expect=(200, 204))

    return operation


def get_group_without_members(client: ScimClient, group_id: str) -> Operation:
    async def operation(index: int) -> None:
        params = {"excludedAttributes": "members"}
        group = json.loads(await client.call("GET", f"/Groups/{group_id}", params=params))
        if "members" in group:
            raise Failed(f"GET /Groups/{group_id} {params}", 200, "the answer has members")

    return operation


def group_page(client: ScimClient, groups: int, members: int | None, sizes: list[int]) -> Operation:
    """Okta's group import: GET /Groups?startIndex=1&count=100, members included or not.

    Each group on the page must carry exactly `members` members (none when
    None); the size of each answer in bytes is appended to `sizes`.
    """
    params = {"startIndex": "1", "count": "100"}
    if members is None:
        params["excludedAttributes"] = "members"

    async def operation(index: int) -> None:
        answer = await client.call("GET", "/Groups", params=params)
        sizes.append(len(answer))
        page = json.loads(answer).get("Resources", [])
        counts = {len(g.get("members", [])) for g in page}
        if len(page) != groups or counts != {members or 0}:
            raise Failed(
                f"GET /Groups {params}",
                200,
                f"{len(page)} groups with {sorted(counts)} members, wanted {groups} with {members}",
            )

    return operation
