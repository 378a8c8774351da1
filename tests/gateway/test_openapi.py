"""The OpenAPI document: valid, served without a key, naming exactly the gateway's routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from gateway import openapi
from gateway.routes import ORG


def test_the_document_is_valid_openapi_3_1() -> None:
    """The OpenAPI 3.1 meta-schema holds, and every schema is valid JSON Schema 2020-12."""
    document = openapi.load()
    assert [e.message for e in OPENAPI_31_VALIDATOR.iter_errors(document)] == []
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_every_scim_route_has_its_handlers_operation() -> None:
    document = openapi.load()
    assert document["servers"][0]["url"] == ORG
    assert document["paths"]["/Users/{id}"]["patch"]["operationId"] == "patchUser"
    assert document["paths"]["/Me"]["get"]["operationId"] == "me"
    assert "/healthz" not in document["paths"]
    assert "/Me/{tail}" not in document["paths"]


def test_a_route_without_an_operation_stops_the_gateway() -> None:
    operations = openapi.source()["x-operations"]
    del operations["patchGroup"]
    with pytest.raises(LookupError, match=r"PATCH /scim/v2/\{org\}/Groups/\{id\}"):
        openapi.paths(operations)


def test_an_operation_no_route_serves_stops_the_gateway() -> None:
    operations = {**openapi.source()["x-operations"], "restoreUser": {"responses": {}}}
    with pytest.raises(LookupError, match="restoreUser"):
        openapi.paths(operations)


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
