"""Discovery endpoints: GET only, readable without a key (RFC 7643 §5)."""

from __future__ import annotations

from aiohttp import web

from gateway import errors
from gateway.auth import public
from gateway.handlers.common import base_url
from gateway.keys import SETTINGS
from gateway.responses import scim_json
from gateway.scim.discovery import (
    SCHEMAS,
    listed,
    resource_types,
    schema_resource,
    service_provider_config,
)


@public
async def get_service_provider_config(request: web.Request) -> web.Response:
    return scim_json(service_provider_config(request.app[SETTINGS], base_url(request)))


@public
async def list_resource_types(request: web.Request) -> web.Response:
    return scim_json(listed(resource_types(base_url(request))))


@public
async def get_resource_type(request: web.Request) -> web.Response:
    wanted = request.match_info["id"]
    for resource_type in resource_types(base_url(request)):
        if resource_type["id"] == wanted:
            return scim_json(resource_type)
    raise errors.NotFound(f"no resource type {wanted!r}")


@public
async def list_schemas(request: web.Request) -> web.Response:
    return scim_json(listed([schema_resource(s, base_url(request)) for s in SCHEMAS]))


@public
async def get_schema(request: web.Request) -> web.Response:
    wanted = request.match_info["id"]
    for schema in SCHEMAS:
        if schema.id == wanted:
            return scim_json(schema_resource(schema, base_url(request)))
    raise errors.NotFound(f"no schema {wanted!r}")


async def me(request: web.Request) -> web.Response:
    raise errors.NotImplementedFeature("/Me is not supported: keys act for an IdP, not a user")
