"""RFC 7644 §3.5.2 PatchOp parsing: golden RFC, Okta and Entra requests, errors, properties."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from gateway import errors
from gateway.scim.patch import (
    MAX_OPERATIONS,
    PATCH_OP_SCHEMA,
    coerce_user_booleans,
    parse_patch_request,
)
from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.group_patch import plan_group_patch
from identity_svc.domain.user_document import normalize_user_document
from identity_svc.domain.user_patch import apply_user_patch

FIXTURES = Path(__file__).parent.parent / "fixtures" / "patch"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_ID = "2819c223-7f76-453a-919d-413861904646"
GROUP_ID = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"  # Okta's rename sends the id back
BJENSEN = normalize_user_document(
    {
        "userName": "bjensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "addresses": [{"type": "work", "locality": "Hollywood"}],
        ENTERPRISE: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
    }
)


def body(*operations: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def as_dicts(operations: list[pb.PatchOperation]) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(operation) for operation in operations]


def parse_one(operation: dict[str, Any], resource: Any = "User") -> list[dict[str, Any]]:
    return as_dicts(parse_patch_request(body(operation), resource))


# ---------------------------------------------------------------- golden requests


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_golden_request(fixture: Path):
    case = json.loads(fixture.read_text())
    operations = parse_patch_request(case["request"], case["resource"])
    assert all(isinstance(operation, pb.PatchOperation) for operation in operations)
    assert as_dicts(operations) == case["operations"]


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_identity_service_accepts_golden_operations(fixture: Path):
    # The contract with identity_svc: what we emit is what its PATCH logic expects.
    case = json.loads(fixture.read_text())
    operations = parse_patch_request(case["request"], case["resource"])
    if case["resource"] == "Group":
        assert plan_group_patch(GROUP_ID, operations)
    else:
        assert apply_user_patch(BJENSEN, USER_ID, operations)["userName"]


def test_golden_fixtures_cover_the_known_requests():
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert {
        "rfc7644-3.5.2.1-add-members",
        "rfc7644-3.5.2.2-remove-member-filter",
        "rfc7644-3.5.2.3-replace-emails-filter",
        "okta-deactivate-user",
        "okta-group-rename",
        "okta-group-add-member",
        "okta-group-remove-member",
        "entra-replace-capitalized",
        "entra-string-boolean-active",
        "entra-dotted-keys",
        "entra-remove-members-value-list",
        "entra-add-member",
        "entra-replace-work-email",
        "entra-enterprise-manager",
    } <= names


# ---------------------------------------------------------------- envelope and values


def test_member_names_and_op_names_ignore_case():
    request = {
        "SCHEMAS": [PATCH_OP_SCHEMA.upper()],
        "operations": [{"OP": "REPLACE", "Path": "title", "VALUE": "Boss"}],
    }
    operations = parse_patch_request(request, "User")
    assert as_dicts(operations) == [
        {"op": "REPLACE", "path": {"attribute": "title"}, "value": "Boss"}
    ]


def test_other_schemas_may_accompany_the_patch_op_schema():
    request = {
        "schemas": ["urn:example:x", PATCH_OP_SCHEMA],
        "Operations": [{"op": "remove", "path": "title"}],
    }
    assert parse_patch_request(request, "User")[0].op == pb.PatchOperation.REMOVE


def test_numbers_stay_numbers_and_null_stays_null():
    [number] = parse_patch_request(body({"op": "add", "path": "x", "value": 3}), "Group")
    assert number.value.WhichOneof("kind") == "number_value"
    assert number.value.number_value == 3
    [null] = parse_patch_request(body({"op": "replace", "path": "title", "value": None}), "User")
    assert null.value.WhichOneof("kind") == "null_value"


def test_remove_without_value_carries_no_value():
    [operation] = parse_patch_request(body({"op": "remove", "path": "title"}), "User")
    assert not operation.HasField("value")


def test_operations_keep_request_order():
    operations = parse_patch_request(
        body(
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members", "value": [{"value": "u2"}]},
            {"op": "replace", "path": "displayName", "value": "x"},
        ),
        "Group",
    )
    assert [operation.op for operation in operations] == [
        pb.PatchOperation.ADD,
        pb.PatchOperation.REMOVE,
        pb.PatchOperation.REPLACE,
    ]


# ---------------------------------------------------------------- Entra's dotted keys


def test_dotted_keys_split_and_plain_runs_stay_together_in_order():
    value = {"a": 1, "b": 2, "name.givenName": "B", "c": 3}
    assert parse_one({"op": "replace", "value": value}, "Group") == [
        {"op": "REPLACE", "value": {"a": 1.0, "b": 2.0}},
        {"op": "REPLACE", "path": {"attribute": "name", "subAttribute": "givenName"}, "value": "B"},
        {"op": "REPLACE", "value": {"c": 3.0}},
    ]


def test_empty_no_path_object_is_carried_as_is():
    assert parse_one({"op": "add", "value": {}}) == [{"op": "ADD", "value": {}}]


def test_urn_keys_holding_objects_stay_while_urn_attributes_split():
    value = {ENTERPRISE: {"department": "Sales"}, f"{ENTERPRISE}:costCenter": "4130"}
    assert parse_one({"op": "replace", "value": value}) == [
        {"op": "REPLACE", "value": {ENTERPRISE: {"department": "Sales"}}},
        {
            "op": "REPLACE",
            "path": {"schemaUri": ENTERPRISE, "attribute": "costCenter"},
            "value": "4130",
        },
    ]


# ---------------------------------------------------------------- Entra's string booleans


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ({"op": "replace", "path": "active", "value": "false"}, False),
        ({"op": "replace", "path": "active", "value": "tRuE"}, True),
        ({"op": "replace", "path": "active", "value": "no"}, "no"),
        ({"op": "replace", "path": "active", "value": 0}, 0.0),
        ({"op": "replace", "path": "displayName", "value": "True"}, "True"),
        ({"op": "replace", "path": "emails.primary", "value": "True"}, True),
        ({"op": "replace", "path": "unknown.primary", "value": "True"}, "True"),
        ({"op": "replace", "path": 'emails[type eq "work"]', "value": "True"}, "True"),
        (
            {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "True"}},
            {"value": "True"},
        ),
        (
            {"op": "add", "path": "phoneNumbers", "value": {"value": "1", "primary": "True"}},
            {"value": "1", "primary": True},
        ),
        (
            {"op": "add", "path": "roles", "value": [{"value": "r", "primary": "False"}, "x"]},
            [{"value": "r", "primary": False}, "x"],
        ),
    ],
)
def test_user_string_booleans_follow_the_schema(operation: dict[str, Any], expected: Any):
    assert parse_one(operation, "User")[0]["value"] == expected


def test_group_values_are_never_coerced():
    operation = {"op": "add", "path": "members", "value": [{"value": "u", "primary": "True"}]}
    assert parse_one(operation, "Group")[0]["value"] == [{"value": "u", "primary": "True"}]
    no_path = {"op": "replace", "value": {"active": "False"}}
    assert parse_one(no_path, "Group")[0]["value"] == {"active": "False"}


def test_coerce_user_booleans_returns_a_coerced_copy():
    document = {
        "userName": "bjensen",
        "active": "False",
        "displayName": "True",
        "emails": [{"value": "b@example.com", "primary": "True"}, "odd"],
        "name": {"givenName": "True"},
        ENTERPRISE: {"department": "False", "manager": {"value": "m"}},
        "urn:example:unknown": {"active": "True"},
        "x509Certificates": "not a list",
    }
    before = copy.deepcopy(document)
    result = coerce_user_booleans(document)
    assert document == before
    assert result == {
        **document,
        "active": False,
        "emails": [{"value": "b@example.com", "primary": True}, "odd"],
    }


# ---------------------------------------------------------------- errors


def _deep(levels: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(levels):
        nested = [nested]
    return nested


_ONE_OP = [{"op": "remove", "path": "title"}]
_ERRORS: list[tuple[str, object, type[errors.ScimError], str]] = [
    ("body-not-object", [_ONE_OP], errors.InvalidSyntax, "JSON object"),
    ("body-string", "PATCH", errors.InvalidSyntax, "JSON object"),
    ("schemas-missing", {"Operations": _ONE_OP}, errors.InvalidSyntax, PATCH_OP_SCHEMA),
    (
        "schemas-wrong",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": _ONE_OP},
        errors.InvalidSyntax,
        PATCH_OP_SCHEMA,
    ),
    (
        "schemas-not-list",
        {"schemas": PATCH_OP_SCHEMA, "Operations": _ONE_OP},
        errors.InvalidSyntax,
        "schemas",
    ),
    ("operations-missing", {"schemas": [PATCH_OP_SCHEMA]}, errors.InvalidSyntax, "Operations"),
    (
        "operations-object",
        {"schemas": [PATCH_OP_SCHEMA], "Operations": _ONE_OP[0]},
        errors.InvalidSyntax,
        "list",
    ),
    ("operations-empty", body(), errors.InvalidValue, "at least one"),
    (
        "operations-twice",
        {"schemas": [PATCH_OP_SCHEMA], "Operations": _ONE_OP, "operations": _ONE_OP},
        errors.InvalidSyntax,
        "more than once",
    ),
    ("too-many", body(*_ONE_OP * (MAX_OPERATIONS + 1)), errors.InvalidValue, "too many"),
    ("operation-not-object", body("remove"), errors.InvalidSyntax, "JSON object"),
    ("op-missing", body({"path": "title"}), errors.InvalidSyntax, "missing"),
    ("op-unknown", body({"op": "merge", "path": "title"}), errors.InvalidSyntax, "'merge'"),
    ("op-not-string", body({"op": 1, "path": "title"}), errors.InvalidSyntax, "not 1"),
    ("remove-no-path", body({"op": "remove"}), errors.NoTarget, "remove needs a path"),
    ("remove-null-path", body({"op": "Remove", "path": None}), errors.NoTarget, "path"),
    ("add-no-path-string", body({"op": "add", "value": "x"}), errors.InvalidValue, "object"),
    ("replace-no-path-list", body({"op": "replace", "value": [{}]}), errors.InvalidValue, "object"),
    ("add-nothing", body({"op": "add"}), errors.InvalidValue, "object"),
    (
        "replace-path-no-value",
        body({"op": "replace", "path": "title"}),
        errors.InvalidValue,
        "value",
    ),
    ("path-empty", body({"op": "remove", "path": ""}), errors.InvalidPath, "empty"),
    ("path-blank", body({"op": "remove", "path": "  "}), errors.InvalidPath, "empty"),
    ("path-not-string", body({"op": "remove", "path": 42}), errors.InvalidPath, "string"),
    ("path-bad-filter", body({"op": "remove", "path": "emails[type eq"}), errors.InvalidPath, ""),
    (
        "dotted-key-bad-path",
        body({"op": "replace", "value": {"emails[type eq": "x"}}),
        errors.InvalidPath,
        "",
    ),
    (
        "value-nan",
        body({"op": "add", "path": "title", "value": float("nan")}),
        errors.InvalidValue,
        "represented",
    ),
    (
        "value-infinity-in-list",
        body({"op": "add", "path": "emails", "value": [{"value": float("-inf")}]}),
        errors.InvalidValue,
        "represented",
    ),
    (
        "value-too-deep",
        body({"op": "add", "path": "title", "value": _deep(150)}),
        errors.InvalidValue,
        "represented",
    ),
    (
        "value-huge-integer",
        body({"op": "add", "path": "title", "value": 10**400}),
        errors.InvalidValue,
        "represented",
    ),
    (
        "second-op-named",
        body(*_ONE_OP, {"op": "remove"}),
        errors.NoTarget,
        "Operations[1]:",
    ),
]


@pytest.mark.parametrize(
    ("request_body", "error", "fragment"),
    [pytest.param(b, e, f, id=name) for name, b, e, f in _ERRORS],
)
def test_bad_request_is_refused(request_body: object, error: type[errors.ScimError], fragment: str):
    with pytest.raises(error) as caught:
        parse_patch_request(request_body, "User")
    assert type(caught.value) is error
    assert fragment in caught.value.detail


# ---------------------------------------------------------------- properties

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)
_op_names = st.sampled_from(["add", "remove", "replace", "Add", "Remove", "REPLACE", "merge", ""])
_paths = st.sampled_from(
    [
        "members",
        'members[value eq "u"]',
        "name.givenName",
        'emails[type eq "work"].value',
        "emails.primary",
        "active",
        f"{ENTERPRISE}:manager",
        ENTERPRISE,
        "emails[",
        "",
    ]
)
_keys = st.sampled_from(
    ["active", "displayName", "name.givenName", f"{ENTERPRISE}:department", ENTERPRISE, "emails"]
)
_values = _json | st.sampled_from(["True", "false"]) | st.dictionaries(_keys, _json, max_size=4)
_operation = st.fixed_dictionaries(
    {"op": _op_names | _json},
    optional={"path": _paths | st.text(max_size=20) | _json, "value": _values},
)
_near_valid = st.fixed_dictionaries(
    {"schemas": st.just([PATCH_OP_SCHEMA]), "Operations": st.lists(_operation | _json, max_size=4)}
)


@given(request_body=_json | _near_valid, resource=st.sampled_from(["User", "Group"]))
def test_any_body_parses_or_raises_a_scim_error(request_body: object, resource: Any):
    try:
        operations = parse_patch_request(request_body, resource)
    except errors.ScimError:
        return
    assert isinstance(operations, list)
    assert all(isinstance(operation, pb.PatchOperation) for operation in operations)
    assert operations, "a valid PATCH yields at least one operation"
    for operation in operations:
        json_format.MessageToDict(operation)  # the identity service can read the value back


@given(document=st.dictionaries(_keys | st.text(max_size=12), _values, max_size=6))
def test_coerce_user_booleans_never_raises_nor_mutates(document: dict[str, Any]):
    before = copy.deepcopy(document)
    result = coerce_user_booleans(document)
    assert isinstance(result, dict)
    assert result.keys() == document.keys()
    assert json.dumps(document, sort_keys=True) == json.dumps(before, sort_keys=True)
