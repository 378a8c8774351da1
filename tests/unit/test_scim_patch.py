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
    coerce_user_booleans,
    parse_patch_request,
)
from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.group_patch import (
    AddMembers,
    RemoveMembers,
    ReplaceMembers,
    SetDisplayName,
    plan_group_patch,
)
from identity_svc.domain.user_document import normalize_user_document
from identity_svc.domain.user_patch import apply_user_patch
from scim_schema.urns import PATCH_OP as PATCH_OP_SCHEMA

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
# Each fixture is a request as its source publishes it (RFC 7644 §3.5.2, Okta's
# and Entra's SCIM documentation; `source`, `url`) and, in `expected`, the typed
# operations it means, written by hand in a notation of their own:
#   {"op": "add|remove|replace", "path": {...}?, "value": <JSON>?}
#   path:   {"schema"?: URN, "attribute": name, "filter"?: <filter>, "sub"?: name}
#   filter: {"attribute": name, "op": "eq", "value"?: <JSON>} | {"and"|"or": [...]}
#           | {"not": <filter>}
# `same_effect_as`, where given, is another request the same source documents
# for the same change; both must leave a resource in the same state.

GOLDEN = sorted(FIXTURES.glob("*.json"))


def _filter(expr: pb.Filter) -> dict[str, Any]:
    kind = expr.WhichOneof("expression")
    if kind == "comparison":
        comparison = expr.comparison
        found: dict[str, Any] = {"attribute": comparison.path.attribute}
        if comparison.path.sub_attribute:
            found["sub"] = comparison.path.sub_attribute
        found["op"] = pb.CompareOperator.Name(comparison.operator).lower()
        if comparison.HasField("value"):
            found["value"] = json_format.MessageToDict(comparison.value)
        return found
    if kind in ("and", "or"):
        return {kind: [_filter(operand) for operand in getattr(expr, kind).operands]}
    if kind == "not":
        return {"not": _filter(getattr(expr, "not").operand)}
    raise AssertionError(f"no notation for {kind}")


def typed(operation: pb.PatchOperation) -> dict[str, Any]:
    """An operation in the fixtures' notation."""
    found: dict[str, Any] = {"op": pb.PatchOperation.Op.Name(operation.op).lower()}
    if operation.HasField("path"):
        path = operation.path
        shown: dict[str, Any] = {"attribute": path.attribute}
        if path.schema_uri:
            shown["schema"] = path.schema_uri
        if path.HasField("value_filter"):
            shown["filter"] = _filter(path.value_filter)
        if path.sub_attribute:
            shown["sub"] = path.sub_attribute
        found["path"] = shown
    if operation.HasField("value"):
        found["value"] = json_format.MessageToDict(operation.value)
    return found


def _case(fixture: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(fixture.read_text())
    assert {"source", "url", "resource", "request", "expected"} <= case.keys(), fixture.name
    return case


@pytest.mark.parametrize("fixture", GOLDEN, ids=lambda p: p.stem)
def test_golden_request(fixture: Path):
    case = _case(fixture)
    operations = parse_patch_request(case["request"], case["resource"])
    assert [typed(operation) for operation in operations] == case["expected"]


BABS = "2819c223-7f76-453a-919d-413861904646"
# Before a PATCH: the User, and the Group's displayName and members.
_UNCHANGED: dict[str, Any] = {
    "User": BJENSEN,
    "Group": ("Tour Guides", frozenset({BABS, "16b083c0-f1e8-4544-b6ee-27a28dc98761"})),
}


def _effect(request: dict[str, Any], resource: Any) -> object:
    """What a request does: the patched User, or a Group's name and members."""
    operations = parse_patch_request(request, resource)
    if resource == "User":
        return apply_user_patch(BJENSEN, USER_ID, operations)
    name, members = _UNCHANGED["Group"]
    members = set(members)
    for step in plan_group_patch(GROUP_ID, operations):
        match step:
            case SetDisplayName(value):
                name = value
            case AddMembers(ids):
                members |= set(ids)
            case RemoveMembers(ids):
                members -= set(ids)
            case ReplaceMembers(ids):
                members = set(ids)
            case _:
                raise AssertionError(f"no effect modelled for {step}")
    return name, frozenset(members)


@pytest.mark.parametrize("fixture", GOLDEN, ids=lambda p: p.stem)
def test_identity_service_accepts_golden_operations(fixture: Path):
    # The contract with identity_svc: what we emit is what its PATCH logic expects.
    case = _case(fixture)
    operations = parse_patch_request(case["request"], case["resource"])
    if case["resource"] == "Group":
        assert plan_group_patch(GROUP_ID, operations)
    else:
        assert apply_user_patch(BJENSEN, USER_ID, operations)["userName"]


@pytest.mark.parametrize(
    "fixture", [p for p in GOLDEN if "same_effect_as" in _case(p)], ids=lambda p: p.stem
)
def test_documented_equivalents_have_the_same_effect(fixture: Path):
    case = _case(fixture)
    effect = _effect(case["request"], case["resource"])
    assert effect == _effect(case["same_effect_as"], case["resource"])
    assert effect != _UNCHANGED[case["resource"]], "the request changes nothing"


def test_golden_fixtures_cover_the_known_requests():
    names = {path.stem for path in GOLDEN}
    assert {
        "rfc7644-3.5.2.1-add-member",
        "rfc7644-3.5.2.1-add-attributes-without-path",
        "rfc7644-3.5.2.2-remove-member",
        "rfc7644-3.5.2.2-remove-all-members",
        "rfc7644-3.5.2.2-remove-work-email-by-filter",
        "rfc7644-3.5.2.3-replace-members",
        "rfc7644-3.5.2.3-replace-work-address",
        "rfc7644-3.5.2.3-replace-work-street-address",
        "okta-scim20-deactivate-user",
        "okta-scim20-rename-group",
        "okta-scim20-add-member",
        "okta-scim20-remove-member",
        "entra-scim-update-user-multivalued",
        "entra-scim-disable-user",
        "entra-scim-add-member",
        "entra-scim-remove-member",
        "entra-compat-disable-user-string-boolean",
        "entra-compat-replace-attributes-dotted-keys",
        "entra-compat-remove-member-value-list",
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
