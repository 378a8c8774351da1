"""/Bulk (RFC 7644 §3.7): operations in order, each its own transaction.

The request as a whole is not atomic: the RFC has us go on past failures
until `failOnErrors` of them. `bulkId:x` references, in paths and data, are
replaced by the ids that earlier operations created.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from gateway import errors
from gateway.auth import KEY_ID
from gateway.handlers import groups, users
from gateway.handlers.common import base_url, read_object
from gateway.keys import RATE_LIMITER, SETTINGS
from gateway.responses import REQUEST_ID, scim_json
from gateway.scim.resources import etag, group_location, parse_etag, user_location
from gateway.url_checks import refuse_unnameable_id
from scim_schema.urns import BULK_REQUEST, BULK_RESPONSE

log = logging.getLogger(__name__)


_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")


def _resolve(value: Any, created: dict[str, str]) -> Any:
    """Replace `bulkId:x` strings with the id operation x created."""
    if isinstance(value, str) and value.startswith("bulkId:"):
        bulk_id = value.removeprefix("bulkId:")
        if bulk_id not in created:
            raise errors.InvalidValue(f"bulkId {bulk_id!r} names no earlier successful POST")
        return created[bulk_id]
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    return value


def _version(operation: dict[str, Any]) -> int | None:
    raw = operation.get("version")
    if raw is None:
        return None
    version = parse_etag(str(raw))
    if version is None:
        raise errors.PreconditionFailed("version does not match the resource's version")
    return version


async def _perform(
    request: web.Request, operation: dict[str, Any], created: dict[str, str]
) -> tuple[int, str, int | None]:
    """Run one operation: (status, resource id, version)."""
    method = str(operation.get("method", "")).upper()
    match = _PATH.match(str(operation.get("path", "")))
    if match is None:
        raise errors.InvalidPath("path must be /Users, /Groups, /Users/{id} or /Groups/{id}")
    # The id may be a reference: PUT /Groups/bulkId:x acts on what x created.
    kind, resource_id = match.group(1), _resolve(match.group(2), created)
    module = users if kind == "Users" else groups
    data = _resolve(operation.get("data"), created)
    if method == "POST" and resource_id is None:
        if not isinstance(data, dict):
            raise errors.InvalidSyntax("data must be a JSON object")
        resource = await module.create(request, data)
        return 201, resource.id, resource.meta.version
    if resource_id is None:
        raise errors.InvalidPath(f"{method} needs a resource id in its path")
    refuse_unnameable_id(resource_id)
    if method == "DELETE":
        await module.delete(request, resource_id, _version(operation))
        return 204, resource_id, None
    if method in ("PUT", "PATCH"):
        if not isinstance(data, dict):
            raise errors.InvalidSyntax("data must be a JSON object")
        run = module.replace if method == "PUT" else module.patch
        resource = await run(request, resource_id, data, _version(operation))
        return 200, resource.id, resource.meta.version
    raise errors.InvalidSyntax(f"unsupported bulk method {method!r}")


def _result(
    request: web.Request, operation: dict[str, Any], outcome: tuple[int, str, int | None]
) -> dict[str, Any]:
    status, resource_id, version = outcome
    kind = str(operation.get("path", "")).split("/")[1] if operation.get("path") else ""
    where = user_location if kind == "Users" else group_location
    result: dict[str, Any] = {
        "method": str(operation.get("method", "")).upper(),
        "location": where(base_url(request), resource_id),
        "status": str(status),
    }
    if version is not None:
        result["version"] = etag(version)
    return result


def _failure(operation: Any, error: errors.ScimError) -> dict[str, Any]:
    method = operation.get("method") if isinstance(operation, dict) else None
    return {
        "method": str(method or "").upper(),
        "status": str(error.status),
        "response": error.body(),
    }


def _bulk_id(operation: dict[str, Any]) -> str | None:
    """The operation's bulkId: a string (RFC 7644 §3.7.2), echoed in its result."""
    bulk_id = operation.get("bulkId")
    if bulk_id is None or isinstance(bulk_id, str):
        return bulk_id
    raise errors.InvalidValue("bulkId must be a string")


def _operations(body: dict[str, Any], limit: int) -> tuple[list[Any], int]:
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise errors.InvalidSyntax(f"a bulk request must declare {BULK_REQUEST}")
    operations = body.get("Operations")
    if not isinstance(operations, list):
        raise errors.InvalidSyntax("Operations must be a list")
    if len(operations) > limit:
        raise errors.PayloadTooLarge(f"at most {limit} operations per bulk request")
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or fail_on_errors < 1):
        raise errors.InvalidValue("failOnErrors must be a positive integer")
    return operations, fail_on_errors or 0


async def bulk(request: web.Request) -> web.Response:
    operations, fail_on_errors = _operations(
        await read_object(request), request.app[SETTINGS].bulk_max_operations
    )
    # Each operation costs a token, as the request it stands for would. When
    # the budget cannot cover them all, none runs: refused operations would
    # break later bulkId references and leave the client to work out which to
    # resend; refused whole, it resends the same request after Retry-After.
    # The auth middleware already took this request's first token.
    request.app[RATE_LIMITER].take(request[KEY_ID], len(operations), paid=1)
    created: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    failures = 0
    for operation in operations:
        bulk_id = None
        try:
            if not isinstance(operation, dict):
                raise errors.InvalidSyntax("each operation must be a JSON object")
            bulk_id = _bulk_id(operation)
            outcome = await _perform(request, operation, created)
            if bulk_id and outcome[0] == 201:
                created[bulk_id] = outcome[1]
            result = _result(request, operation, outcome)
        except errors.ScimError as error:
            failures += 1
            result = _failure(operation, error)
        except Exception:
            # A fault in one operation must not lose the results of those
            # before it, which are already committed.
            log.exception("bulk operation failed [request %s]", request[REQUEST_ID])
            failures += 1
            fault = errors.InternalError(f"internal error; request id {request[REQUEST_ID]}")
            result = _failure(operation, fault)
        if bulk_id:
            result["bulkId"] = bulk_id
        results.append(result)
        if fail_on_errors and failures >= fail_on_errors:
            break
    return scim_json({"schemas": [BULK_RESPONSE], "Operations": results})
