"""The OpenAPI 3.1 document of the SCIM API, served as JSON at /scim/v2/openapi.json.

gateway/openapi.yaml holds each operation, the parameters, responses and
messages. What is declared elsewhere is read from there, so the document
cannot drift from it: the paths and methods from gateway/routes.py (each
handler's operation under its route), the User and Group schemas from
scim_schema/, the tables that /Schemas publishes and the identity service
enforces. The document is built once per process, by the first create_app:
every request gets the same bytes, and a broken document stops the gateway
at start.

`python -m gateway.openapi` prints the whole document as YAML (docs/openapi.yaml).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
import yaml
from aiohttp import web

from gateway.routes import ORG, setup_routes
from scim_schema.group import GROUP
from scim_schema.model import Attribute, Schema
from scim_schema.user import COMMON_ATTRIBUTES, CORE_USER, EXTENSION_SCHEMAS

_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "decimal": {"type": "number"},
    "integer": {"type": "integer"},
    "dateTime": {"type": "string", "format": "date-time"},
    "reference": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
}
_META = {"$ref": "#/components/schemas/Meta"}
# Which schema extensions each resource type takes (only the User has any).
_EXTENSIONS: dict[str, tuple[Schema, ...]] = {CORE_USER.id: EXTENSION_SCHEMAS}


def _attribute(attribute: Attribute, closed: bool) -> dict[str, Any]:
    if attribute.type == "complex":
        schema = _object(attribute.sub_attributes, closed)
    else:
        schema = dict(_TYPES[attribute.type])
    if attribute.multi_valued:
        schema = {"type": "array", "items": schema}
    if attribute.mutability in ("readOnly", "writeOnly"):
        schema[attribute.mutability] = True
    if attribute.description:
        schema["description"] = attribute.description
    return schema


def _object(attributes: tuple[Attribute, ...], closed: bool) -> dict[str, Any]:
    """An object of these attributes; `closed` ones refuse others, as the service does."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {a.name: _attribute(a, closed) for a in attributes},
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def _resource(schema: Schema, closed: bool) -> dict[str, Any]:
    """A resource of `schema`: its attributes, the common ones and its extensions."""
    # meta is one schema for Users and Groups, written in the YAML.
    common = tuple(a for a in COMMON_ATTRIBUTES if a.name != "meta")
    resource = _object(common + schema.attributes, closed)
    properties = resource["properties"]
    properties["schemas"] = {"$ref": "#/components/schemas/Schemas"}
    properties["meta"] = {**_META, "readOnly": True}
    for extension in _EXTENSIONS.get(schema.id, ()):
        properties[extension.id] = _object(extension.attributes, closed)
    return resource


def resource_schemas() -> dict[str, dict[str, Any]]:
    """User and Group as returned (other attributes allowed), UserRequest as accepted."""
    user = _resource(CORE_USER, closed=False)
    user["description"] = (
        "A User as returned: id and schemas always, meta unless projected away "
        "(attributes/excludedAttributes). GET /Schemas has every characteristic."
    )
    user["required"] = ["schemas", "id"]
    request = _resource(CORE_USER, closed=True)
    request["description"] = (
        "A User to create or replace. Unknown attributes are refused (invalidValue); "
        "read-only ones (id, meta, groups) are ignored and password is discarded. "
        "Attribute names match case-insensitively (RFC 7643 §2.1)."
    )
    request["required"] = ["userName"]
    request["properties"]["userName"]["minLength"] = 1
    group = _resource(GROUP, closed=False)
    group["description"] = (
        "A Group as returned: id and schemas always; members are left out of list "
        "pages for groups above the inline limit."
    )
    group["required"] = ["schemas", "id"]
    return {"User": user, "UserRequest": request, "Group": group}


def source() -> dict[str, Any]:
    """gateway/openapi.yaml as data: the document less its paths and User/Group schemas."""
    text = resources.files("gateway").joinpath("openapi.yaml").read_text(encoding="utf-8")
    # libyaml's parser where the wheel has it: a tenth of the pure-Python time.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    return document


def _operation_id(handler: Callable[..., Any]) -> str:
    """A handler's operationId: its name in camelCase (list_users -> listUsers)."""
    first, *rest = str(handler.__name__).split("_")
    return first + "".join(word.capitalize() for word in rest)


def paths(operations: dict[str, Any]) -> dict[str, Any]:
    """Each SCIM route of gateway/routes.py with its handler's operation.

    A route without an operation, or an operation no route serves, is an
    error: the gateway does not start with a document that is not its API.
    """
    app = web.Application()
    setup_routes(app)
    items: dict[str, dict[str, Any]] = {}
    placed: set[str] = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        operation_id = _operation_id(route.handler)
        if not path.startswith(ORG + "/"):
            continue  # the probes and this document
        if operation_id in placed:
            if route.method == "*":
                continue  # /Me/{tail}: a catch-all that answers as /Me
            raise LookupError(f"{route.method} {path}: {operation_id} is routed twice")
        if operation_id not in operations:
            raise LookupError(f"{route.method} {path}: gateway/openapi.yaml has no {operation_id}")
        placed.add(operation_id)
        item = items.setdefault(path.removeprefix(ORG), {})
        if "{id}" in path:
            item["parameters"] = [{"$ref": "#/components/parameters/id"}]
        # /Me answers every method alike (501): the document shows GET.
        method = "get" if route.method == "*" else route.method.lower()
        item[method] = {"operationId": operation_id, **operations[operation_id]}
    if unrouted := sorted(set(operations) - placed):
        raise LookupError(f"gateway/openapi.yaml has operations no route serves: {unrouted}")
    return items


def load() -> dict[str, Any]:
    """The whole document as data (the tests read it too)."""
    document = source()
    operations = document.pop("x-operations")
    (server,) = document["servers"]
    document["servers"] = [{"url": ORG, **server}]
    document["paths"] = paths(operations)
    document["components"]["schemas"].update(resource_schemas())
    return document


@functools.cache
def rendered() -> bytes:
    """The document as JSON; built once per process, however many apps it serves."""
    return orjson.dumps(load())


_GENERATED = (
    "# Generated by `python -m gateway.openapi` from gateway/openapi.yaml,\n"
    "# gateway/routes.py and scim_schema/: edit those, then regenerate.\n"
)


def as_yaml() -> str:
    """The whole document as YAML, as docs/openapi.yaml holds it."""
    return _GENERATED + yaml.safe_dump(load(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.stdout.write(as_yaml())
