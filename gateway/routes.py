"""The URL table: every SCIM endpoint under /scim/v2/{org}, its OpenAPI document, the probes."""

from __future__ import annotations

from aiohttp import web

from gateway.handlers import bulk, discovery, groups, search, users
from gateway.keys import IDENTITY, OPENAPI, READINESS
from gateway.metrics import METRICS

ORG = "/scim/v2/{org}"


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves HTTP (never depends on the identity service)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 503 while shutting down or while the identity service is unreachable."""
    if request.app[READINESS].ready(request.app[IDENTITY].channel):
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "not ready"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this replica's metrics."""
    return request.app[METRICS].exposition()


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI document (gateway/openapi.py); no org in its URL, so no key needed."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json", charset="utf-8")


def setup_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/healthz", healthz, allow_head=False),
            web.get("/readyz", readyz, allow_head=False),
            web.get("/metrics", metrics, allow_head=False),
            web.get("/scim/v2/openapi.json", openapi_document, allow_head=False),
            web.get(f"{ORG}/Users", users.list_users, allow_head=False),
            web.post(f"{ORG}/Users", users.create_user),
            web.post(f"{ORG}/Users/.search", users.search_users),
            web.get(f"{ORG}/Users/{{id}}", users.get_user, allow_head=False),
            web.put(f"{ORG}/Users/{{id}}", users.replace_user),
            web.patch(f"{ORG}/Users/{{id}}", users.patch_user),
            web.delete(f"{ORG}/Users/{{id}}", users.delete_user),
            web.get(f"{ORG}/Groups", groups.list_groups, allow_head=False),
            web.post(f"{ORG}/Groups", groups.create_group),
            web.post(f"{ORG}/Groups/.search", groups.search_groups),
            web.get(f"{ORG}/Groups/{{id}}", groups.get_group, allow_head=False),
            web.put(f"{ORG}/Groups/{{id}}", groups.replace_group),
            web.patch(f"{ORG}/Groups/{{id}}", groups.patch_group),
            web.delete(f"{ORG}/Groups/{{id}}", groups.delete_group),
            web.post(f"{ORG}/.search", search.search_all),
            web.post(f"{ORG}/Bulk", bulk.bulk),
            web.get(
                f"{ORG}/ServiceProviderConfig",
                discovery.get_service_provider_config,
                allow_head=False,
            ),
            web.get(f"{ORG}/ResourceTypes", discovery.list_resource_types, allow_head=False),
            web.get(f"{ORG}/ResourceTypes/{{id}}", discovery.get_resource_type, allow_head=False),
            web.get(f"{ORG}/Schemas", discovery.list_schemas, allow_head=False),
            web.get(f"{ORG}/Schemas/{{id}}", discovery.get_schema, allow_head=False),
            web.route("*", f"{ORG}/Me", discovery.me),
            web.route("*", f"{ORG}/Me/{{tail:.*}}", discovery.me),
        ]
    )
