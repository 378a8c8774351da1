"""/Users: thin handlers — parse, call the identity service, shape SCIM JSON."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway import errors
from gateway.handlers.common import (
    ListParams,
    base_url,
    identity,
    list_params,
    listing,
    none_match,
    org_id,
    preconditions,
    projection,
    read_object,
    resource_response,
    search_params,
    with_version,
    writer,
)
from gateway.responses import REQUEST_ID
from gateway.scim.patch import coerce_user_booleans, parse_patch_request
from gateway.scim.resources import etag, user_location, user_resource
from identity_api.v1 import identity_pb2 as pb


def _attributes_json(body: dict[str, Any]) -> bytes:
    """The document as the identity service reads it: JSON, as it came."""
    try:
        return orjson.dumps(coerce_user_booleans(body))
    except orjson.JSONEncodeError as exc:
        raise errors.InvalidSyntax(f"the body holds a value SCIM cannot carry: {exc}") from exc


async def _listing(request: web.Request, params: ListParams) -> web.StreamResponse:
    message = pb.ListUsersRequest(
        org_id=org_id(request),
        filter=params.filter,
        sort=params.sort,
        page=params.page,
        include_groups=params.projection.wants("groups"),
        json_document=True,
    )
    chunks = identity(request).stream_users(message, request[REQUEST_ID])
    base = base_url(request)
    return await listing(
        request, params, chunks, lambda chunk: (user_resource(u, base) for u in chunk.users)
    )


async def list_users(request: web.Request) -> web.StreamResponse:
    return await _listing(request, list_params(request, request.query, "Users"))


async def search_users(request: web.Request) -> web.StreamResponse:
    return await _listing(request, await search_params(request, "Users"))


def _user_response(request: web.Request, user: pb.User, status: int = 200) -> web.Response:
    base = base_url(request)
    resource = projection(request).apply(user_resource(user, base))
    location = user_location(base, user.id)
    return resource_response(resource, user.meta.version, location, status=status)


# Operations: shared by the HTTP handlers below and by /Bulk.


async def create(request: web.Request, body: dict[str, Any]) -> pb.User:
    message = pb.CreateUserRequest(
        context=writer(request),
        org_id=org_id(request),
        attributes_json=_attributes_json(body),
        json_document=True,
    )
    return await identity(request).create_user(message, request[REQUEST_ID])


async def replace(
    request: web.Request, user_id: str, body: dict[str, Any], version: int | None
) -> pb.User:
    message = pb.ReplaceUserRequest(
        context=writer(request),
        org_id=org_id(request),
        user_id=user_id,
        attributes_json=_attributes_json(body),
        include_groups=projection(request).wants("groups"),
        json_document=True,
    )
    return await identity(request).replace_user(with_version(message, version), request[REQUEST_ID])


async def patch(
    request: web.Request, user_id: str, body: dict[str, Any], version: int | None
) -> pb.User:
    message = pb.PatchUserRequest(
        context=writer(request),
        org_id=org_id(request),
        user_id=user_id,
        operations=parse_patch_request(body, "User"),
        include_groups=projection(request).wants("groups"),
        json_document=True,
    )
    return await identity(request).patch_user(with_version(message, version), request[REQUEST_ID])


async def delete(request: web.Request, user_id: str, version: int | None) -> None:
    message = pb.DeleteUserRequest(context=writer(request), org_id=org_id(request), user_id=user_id)
    await identity(request).delete_user(with_version(message, version), request[REQUEST_ID])


async def _current(request: web.Request, include_groups: bool) -> pb.User:
    message = pb.GetUserRequest(
        org_id=org_id(request),
        user_id=request.match_info["id"],
        include_groups=include_groups,
        json_document=True,
    )
    return await identity(request).get_user(message, request[REQUEST_ID])


async def _preconditions(request: web.Request) -> int | None:
    async def version() -> int:
        return (await _current(request, include_groups=False)).meta.version

    return await preconditions(request, version)


async def create_user(request: web.Request) -> web.Response:
    return _user_response(request, await create(request, await read_object(request)), 201)


async def get_user(request: web.Request) -> web.Response:
    user = await _current(request, projection(request).wants("groups"))
    if none_match(request, user.meta.version):
        return web.Response(status=304, headers={"ETag": etag(user.meta.version)})
    return _user_response(request, user)


async def replace_user(request: web.Request) -> web.Response:
    version = await _preconditions(request)
    body = await read_object(request)
    user = await replace(request, request.match_info["id"], body, version)
    return _user_response(request, user)


async def patch_user(request: web.Request) -> web.Response:
    version = await _preconditions(request)
    body = await read_object(request)
    user = await patch(request, request.match_info["id"], body, version)
    return _user_response(request, user)


async def delete_user(request: web.Request) -> web.Response:
    await delete(request, request.match_info["id"], await _preconditions(request))
    return web.Response(status=204)
