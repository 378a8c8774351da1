"""The OpenAPI document: served without a key, and naming exactly the gateway's routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from gateway import openapi
from gateway.app import create_app
from gateway.routes import ORG
from gateway.settings import Settings

# Routes that are not part of the SCIM API the document describes.
_UNDOCUMENTED = {"/healthz", "/readyz", "/metrics", "/scim/v2/openapi.json", f"{ORG}/Me/{{tail}}"}
_METHODS = ("get", "put", "post", "patch", "delete")


def _documented() -> set[tuple[str, str]]:
    document = openapi.load()
    (server,) = document["servers"]
    assert server["url"] == ORG  # paths below are relative to it
    return {
        (method.upper(), ORG + path)
        for path, item in document["paths"].items()
        for method in _METHODS
        if method in item
    }


def _routed(settings: Settings) -> set[tuple[str, str]]:
    routes = set()
    for route in create_app(settings).router.routes():
        path = route.resource.canonical if route.resource else ""
        if path in _UNDOCUMENTED:
            continue
        # /Me answers every method (501); the document shows it once, as GET.
        routes.add(("GET" if route.method == "*" else route.method, path))
    return routes


def test_the_document_is_valid_openapi_3_1() -> None:
    """The OpenAPI 3.1 meta-schema holds, and every schema is valid JSON Schema 2020-12."""
    document = openapi.load()
    assert [e.message for e in OPENAPI_31_VALIDATOR.iter_errors(document)] == []
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_the_document_names_every_route_and_no_other(gateway_settings: Settings) -> None:
    assert _documented() == _routed(gateway_settings)


async def test_the_document_is_served_as_json_without_a_key(http: Any) -> None:
    response = await http.get("/scim/v2/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    assert document == openapi.load()
    assert document["openapi"].startswith("3.1")


def test_docs_holds_the_document_as_served() -> None:
    """docs/openapi.yaml is regenerated with `python -m gateway.openapi` when a source changes."""
    written = Path(__file__).parents[2] / "docs" / "openapi.yaml"
    assert written.read_text(encoding="utf-8") == openapi.as_yaml()
    assert yaml.safe_load(openapi.as_yaml()) == openapi.load()


def test_a_user_request_refuses_what_the_identity_service_refuses() -> None:
    """Unknown attributes are invalidValue there, so the document closes every object."""
    request = openapi.load()["components"]["schemas"]["UserRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["name"]["additionalProperties"] is False
    assert request["required"] == ["userName"]
