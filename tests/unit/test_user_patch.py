"""RFC 7644 §3.5.2 PATCH of a user's document: RFC examples, Okta and Entra forms."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.errors import (
    DomainError,
    InvalidPath,
    InvalidValue,
    Mutability,
    NoTarget,
)
from identity_svc.domain.user_document import normalize_user_document
from identity_svc.domain.user_patch import apply_user_patch
from scim_schema.urns import CORE_USER as CORE_USER_SCHEMA
from scim_schema.urns import ENTERPRISE_USER as ENTERPRISE_USER_SCHEMA
from tests.unit.test_user_document import user_documents

ENTERPRISE = ENTERPRISE_USER_SCHEMA
USER_ID = "2819c223-7f76-453a-919d-413861904646"
_UNSET = object()
_OPS = {"add": pb.PatchOperation.ADD, "remove": pb.PatchOperation.REMOVE}
_OPS["replace"] = pb.PatchOperation.REPLACE


def value(python: Any) -> struct_pb2.Value:
    return json_format.ParseDict(python, struct_pb2.Value())


def compare(
    attribute: str, operator: pb.CompareOperator.ValueType, literal: Any = _UNSET
) -> pb.Filter:
    comparison = pb.Comparison(path=pb.AttributePath(attribute=attribute), operator=operator)
    if literal is not _UNSET:
        comparison.value.CopyFrom(value(literal))
    return pb.Filter(comparison=comparison)


def eq(attribute: str, literal: Any) -> pb.Filter:
    return compare(attribute, pb.EQ, literal)


# `and`, `or` and `not` are Python keywords: the fields are reached through getattr.
def both(*operands: pb.Filter) -> pb.Filter:
    expression = pb.Filter()
    getattr(expression, "and").operands.extend(operands)
    return expression


def either(*operands: pb.Filter) -> pb.Filter:
    expression = pb.Filter()
    getattr(expression, "or").operands.extend(operands)
    return expression


def negated(operand: pb.Filter) -> pb.Filter:
    expression = pb.Filter()
    getattr(expression, "not").operand.CopyFrom(operand)
    return expression


def path(
    attribute: str, sub: str = "", where: pb.Filter | None = None, uri: str = ""
) -> pb.PatchPath:
    return pb.PatchPath(schema_uri=uri, attribute=attribute, sub_attribute=sub, value_filter=where)


def op(name: str, at: pb.PatchPath | None = None, new: Any = _UNSET) -> pb.PatchOperation:
    operation = pb.PatchOperation(op=_OPS[name.lower()], path=at)
    if new is not _UNSET:
        operation.value.CopyFrom(value(new))
    return operation


def user(**attributes: Any) -> dict[str, Any]:
    return normalize_user_document({"userName": "bjensen", **attributes})


def patch(document: dict[str, Any], *operations: pb.PatchOperation) -> dict[str, Any]:
    before = copy.deepcopy(document)
    result = apply_user_patch(document, USER_ID, operations)
    assert document == before, "the input document must not change"
    return result


BJENSEN = user(
    name={"givenName": "Barbara", "familyName": "Jensen"},
    emails=[
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    addresses=[{"type": "work", "streetAddress": "100 Universal City Plaza"}],
)


# ---------------------------------------------------------------- RFC 7644 §3.5.2 examples


def test_rfc_add_without_path():
    # RFC 7644 §3.5.2.1, with the RFC's own lower-case "nickname".
    new = {"emails": [{"value": "babs@jensen.net", "type": "home"}], "nickname": "Babs"}
    result = patch(BJENSEN, op("add", new=new))
    assert result["nickName"] == "Babs"
    assert result["emails"] == [*BJENSEN["emails"], {"value": "babs@jensen.net", "type": "home"}]


def test_rfc_add_with_path_appends_and_never_duplicates():
    added = {"value": "b@x.org", "type": "other"}
    once = patch(BJENSEN, op("add", path("emails"), [added]))
    assert once["emails"][-1] == added
    assert patch(once, op("add", path("emails"), [added])) == once
    same_but_case = {"value": "B@X.ORG", "type": "OTHER"}
    assert patch(once, op("add", path("emails"), [same_but_case])) == once


@pytest.mark.parametrize(
    ("attribute", "held", "added"),
    [
        ("emails", {"value": "babs@jensen.org", "type": "home"}, {"primary": True}),
        ("emails", {"value": "babs@jensen.org", "type": "home"}, {"display": "Babs"}),
        (
            "addresses",
            {"type": "work", "streetAddress": "100 Universal City Plaza"},
            {"primary": True},
        ),
    ],
)
def test_adding_a_held_value_again_merges_what_it_says(attribute, held, added):
    # RFC 7644 §3.5.2.1: a value already there is not added twice.
    result = patch(BJENSEN, op("add", path(attribute), [{**held, **added}]))
    assert len(result[attribute]) == len(BJENSEN[attribute])
    assert {**held, **added} in result[attribute]
    if added.get("primary"):
        assert [e.get("primary") for e in result[attribute]].count(True) == 1


def test_rfc_replace_name_keeps_other_sub_attributes():
    result = patch(BJENSEN, op("replace", path("name"), {"givenName": "Babs"}))
    assert result["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_replace_complex_with_no_sub_attributes_or_null():
    assert patch(BJENSEN, op("replace", path("name"), {})) == BJENSEN
    assert "name" not in patch(BJENSEN, op("replace", path("name"), None))
    unmatched = path("emails", "value", eq("type", "other"))
    assert patch(BJENSEN, op("replace", unmatched, None)) == BJENSEN


def test_rfc_remove_with_filter():
    # RFC 7644 §3.5.2.2: remove work emails ending in example.com.
    where = both(eq("type", "work"), compare("value", pb.EW, "example.com"))
    result = patch(BJENSEN, op("remove", path("emails", where=where)))
    assert result["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_rfc_remove_with_filter_matching_nothing_is_a_no_op():
    result = patch(BJENSEN, op("remove", path("emails", where=eq("type", "fax"))))
    assert result == BJENSEN


def test_rfc_replace_with_filter_and_sub_attribute():
    # RFC 7644 §3.5.2.3: addresses[type eq "work"].streetAddress
    at = path("addresses", "streetAddress", eq("type", "work"))
    result = patch(BJENSEN, op("replace", at, "1010 Broadway Ave"))
    assert result["addresses"] == [{"type": "work", "streetAddress": "1010 Broadway Ave"}]


def test_rfc_replace_with_filter_replaces_the_whole_value():
    at = path("addresses", where=eq("type", "work"))
    result = patch(BJENSEN, op("replace", at, {"type": "work", "locality": "Hollywood"}))
    assert result["addresses"] == [{"type": "work", "locality": "Hollywood"}]


def test_rfc_replace_multi_valued_without_filter_replaces_the_list():
    new = [{"value": "only@x.org", "type": "work"}]
    result = patch(BJENSEN, op("replace", new={"emails": new}))
    assert result["emails"] == new
    assert patch(BJENSEN, op("replace", path("emails"), new))["emails"] == new


def test_remove_attribute_sub_attribute_and_matched_sub_attribute():
    result = patch(
        BJENSEN,
        op("remove", path("name", "familyName")),
        op("remove", path("emails", "primary", eq("value", "bjensen@example.com"))),
        op("remove", path("addresses")),
    )
    assert result["name"] == {"givenName": "Barbara"}
    assert result["emails"][0] == {"value": "bjensen@example.com", "type": "work"}
    assert "addresses" not in result


def test_remove_the_last_value_removes_the_attribute():
    result = patch(BJENSEN, op("remove", path("emails", where=compare("value", pb.PR))))
    assert "emails" not in result


# ---------------------------------------------------------------- Okta


def test_okta_deactivate_and_reactivate():
    deactivated = patch(BJENSEN, op("replace", new={"active": False}))
    assert deactivated == {**BJENSEN, "active": False}
    assert patch(deactivated, op("replace", new={"active": False})) == deactivated
    assert patch(deactivated, op("replace", new={"active": True}))["active"] is True


def test_okta_profile_replace_with_what_it_read():
    new = {
        "schemas": [CORE_USER_SCHEMA],
        "id": USER_ID,
        "meta": {"resourceType": "User", "version": 'W/"2"'},
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen-Smith"},
        "displayName": "Barbara Jensen-Smith",
        "groups": [],
        "password": "secret",
    }
    result = patch(BJENSEN, op("replace", new=new))
    assert result["name"] == {"givenName": "Barbara", "familyName": "Jensen-Smith"}
    assert result["displayName"] == "Barbara Jensen-Smith"
    assert not {"id", "meta", "groups", "password"} & result.keys()


def test_replace_that_changes_nothing_returns_an_equal_document():
    same = {"userName": "bjensen", "name": {"givenName": "Barbara"}, "id": USER_ID}
    assert patch(BJENSEN, op("replace", new=same)) == BJENSEN
    at = path("emails", "value", eq("type", "WORK"))
    assert patch(BJENSEN, op("replace", at, "bjensen@example.com")) == BJENSEN


def test_same_replace_twice_is_idempotent():
    operation = op("replace", path("emails", "value", eq("type", "work")), "new@example.com")
    once = patch(BJENSEN, operation)
    assert patch(once, operation) == once
    assert once["emails"][0]["value"] == "new@example.com"


# ---------------------------------------------------------------- Entra


def test_entra_replace_filtered_email_value():
    at = path("emails", "value", eq("type", "work"))
    result = patch(BJENSEN, op("Replace", at, "barbara@example.com"))
    assert result["emails"][0] == {
        "value": "barbara@example.com",
        "type": "work",
        "primary": True,
    }


@pytest.mark.parametrize("name", ["replace", "add"])
def test_entra_filtered_email_value_without_match_adds_the_email(name):
    # Documented deviation from noTarget (SPEC §3).
    document = user(emails=[{"value": "h@x", "type": "home"}])
    result = patch(document, op(name, path("emails", "value", eq("type", "work")), "w@x"))
    assert result["emails"] == [{"value": "h@x", "type": "home"}, {"type": "work", "value": "w@x"}]


def test_entra_filtered_address_without_match_adds_the_address():
    at = path("addresses", "locality", eq("type", "home"))
    result = patch(BJENSEN, op("Add", at, "Redmond"))
    assert result["addresses"][-1] == {"type": "home", "locality": "Redmond"}


def test_entra_add_name_given_name():
    assert patch(user(), op("Add", path("name", "givenName"), "Barbara"))["name"] == {
        "givenName": "Barbara"
    }


def test_entra_no_path_replace_with_dotted_and_urn_keys():
    new = {
        "name.familyName": "Smith",
        "active": False,
        f"{ENTERPRISE}:employeeNumber": "701984",
        f"{ENTERPRISE}:manager.value": "m1",
    }
    result = patch(BJENSEN, op("Replace", new=new))
    assert result["name"] == {"givenName": "Barbara", "familyName": "Smith"}
    assert result[ENTERPRISE] == {"employeeNumber": "701984", "manager": {"value": "m1"}}
    assert result["schemas"] == [CORE_USER_SCHEMA, ENTERPRISE]


@pytest.mark.parametrize(
    "at",
    [
        path("manager", uri=ENTERPRISE),
        path(f"{ENTERPRISE}:manager"),
        path("User:manager", uri=ENTERPRISE.removesuffix(":User")),
    ],
)
@pytest.mark.parametrize("new", ["m1", {"value": "m1"}, [{"value": "m1"}]])
def test_entra_manager_in_each_form(at, new):
    result = patch(BJENSEN, op("Add", at, new))
    assert result[ENTERPRISE] == {"manager": {"value": "m1"}}


def test_entra_department_and_removal_of_the_extension():
    result = patch(BJENSEN, op("Replace", path("department", uri=ENTERPRISE), "Eng"))
    assert result[ENTERPRISE] == {"department": "Eng"}
    removed = patch(result, op("Remove", path(ENTERPRISE)))
    assert removed == BJENSEN


def test_extension_object_as_path_or_key():
    by_path = patch(BJENSEN, op("add", path(ENTERPRISE), {"costCenter": "4130"}))
    by_key = patch(BJENSEN, op("add", new={ENTERPRISE.lower(): {"CostCenter": "4130"}}))
    assert by_path == by_key
    assert by_path[ENTERPRISE] == {"costCenter": "4130"}


def test_entra_remove_listed_values():
    new = [{"value": "BABS@jensen.org"}]
    result = patch(BJENSEN, op("Remove", path("emails"), new))
    assert result["emails"] == [BJENSEN["emails"][0]]
    assert patch(result, op("Remove", path("emails"), new)) == result


# ---------------------------------------------------------------- primary


def test_adding_a_primary_value_demotes_the_old_one():
    new = {"value": "b@x.org", "type": "other", "primary": True}
    result = patch(BJENSEN, op("add", path("emails"), [new]))
    assert [e.get("primary") for e in result["emails"]] == [False, None, True]


def test_making_a_value_primary_demotes_the_others():
    at = path("emails", "primary", eq("type", "home"))
    result = patch(BJENSEN, op("replace", at, True))
    assert [e.get("primary") for e in result["emails"]] == [False, True]


def test_primary_twice_in_one_value_is_invalid():
    two = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]
    with pytest.raises(InvalidValue, match="primary"):
        patch(BJENSEN, op("replace", path("emails"), two))


# ---------------------------------------------------------------- value filters


@pytest.mark.parametrize(
    ("where", "matched"),
    [
        (eq("TYPE", "WORK"), ["bjensen@example.com"]),  # type is caseExact=false
        (compare("value", pb.NE, "babs@jensen.org"), ["bjensen@example.com"]),
        (compare("value", pb.CO, "JENSEN"), ["bjensen@example.com", "babs@jensen.org"]),
        (compare("value", pb.SW, "babs"), ["babs@jensen.org"]),
        (compare("value", pb.GT, "b"), ["bjensen@example.com", "babs@jensen.org"]),
        (compare("value", pb.LT, "bb"), ["babs@jensen.org"]),
        (compare("value", pb.GE, "babs@jensen.org"), ["bjensen@example.com", "babs@jensen.org"]),
        (compare("value", pb.LE, "a"), []),
        (compare("primary", pb.PR), ["bjensen@example.com"]),
        (eq("primary", True), ["bjensen@example.com"]),
        (eq("primary", 1), []),  # true is not 1
        (negated(eq("type", "work")), ["babs@jensen.org"]),
        (either(eq("type", "home"), eq("type", "x")), ["babs@jensen.org"]),
    ],
)
def test_value_filter_operators(where, matched):
    kept = patch(BJENSEN, op("remove", path("emails", where=where))).get("emails", [])
    assert [e["value"] for e in BJENSEN["emails"] if e not in kept] == matched


def test_value_filter_respects_case_exact_sub_attributes():
    document = user(x509Certificates=[{"value": "MIIDQz"}])
    where = eq("value", "miidqz")
    assert patch(document, op("remove", path("x509Certificates", where=where))) == document


# ---------------------------------------------------------------- mutability


@pytest.mark.parametrize(
    "operation",
    [
        op("replace", path("id"), "someone-else"),
        op("replace", new={"id": "someone-else"}),
        op("remove", path("id")),
        op("replace", path("meta", "version"), 'W/"9"'),
        op("add", path("groups"), [{"value": "g1"}]),
        op("add", new={"groups": [{"value": "g1"}]}),
        op("remove", path("groups", where=eq("value", "g1"))),
        op("replace", path("manager", "displayName", uri=ENTERPRISE), "Boss"),
    ],
)
def test_changing_a_read_only_attribute_is_a_mutability_error(operation):
    with pytest.raises(Mutability):
        patch(BJENSEN, operation)


@pytest.mark.parametrize(
    "operation",
    [
        op("replace", path("id"), USER_ID),
        op("add", new={"id": USER_ID, "schemas": [CORE_USER_SCHEMA], "meta": {}}),
        op("replace", new={"groups": []}),
        op("replace", path("password"), "hunter2"),
        op("add", new={"password": "hunter2"}),
    ],
)
def test_same_read_only_value_and_password_are_no_ops(operation):
    assert patch(BJENSEN, operation) == BJENSEN


# ---------------------------------------------------------------- errors


def test_remove_without_path_is_no_target():
    with pytest.raises(NoTarget):
        patch(BJENSEN, op("remove"))


@pytest.mark.parametrize(
    "operation",
    [
        op("replace", path("emails", "type", eq("value", "nobody@x")), "work"),
        op("replace", path("emails", where=eq("type", "fax")), {"value": "f@x"}),
        op("replace", path("phoneNumbers", "value"), "+1 555"),
        # RFC 7644 §3.5.2.3; only Entra's emails[type eq "work"].value is added.
        op("replace", path("emails", "value", eq("type", "other")), "o@x"),
        op("replace", path("ims", "value", eq("type", "work")), "babs"),
        op("replace", path("phoneNumbers", "value", eq("type", "work")), "+1 555"),
        op("replace", path("addresses", "locality", eq("type", "home")), "Redmond"),
    ],
)
def test_replace_that_selects_nothing_is_no_target(operation):
    with pytest.raises(NoTarget):
        patch(BJENSEN, operation)


@pytest.mark.parametrize(
    "at",
    [
        path("shoeSize"),
        path("name", "nickName"),
        path("name", where=eq("givenName", "B")),
        path("emails", where=eq("label", "x")),
        path("emails", where=compare("primary", pb.GT, True)),
        path("emails", where=pb.Filter()),
        path("employeeNumber"),
        path("employeeNumber", uri="urn:example:custom:2.0:User"),
        path("", sub="value"),
    ],
)
def test_bad_paths_are_invalid_path(at):
    with pytest.raises(InvalidPath):
        patch(BJENSEN, op("replace", at, "x"))


def test_unknown_key_in_no_path_value_is_invalid_path():
    with pytest.raises(InvalidPath, match="shoeSize"):
        patch(BJENSEN, op("add", new={"shoeSize": 9}))


@pytest.mark.parametrize(
    "operation",
    [
        op("remove", path("userName")),
        op("replace", path("userName"), ""),
        op("replace", path("userName"), 7),
        op("replace", path("active"), "False"),  # the gateway turns "False" into false
        op("replace", path("name"), "Barbara"),
        op("replace", path("emails"), "b@x"),
        op("replace", new=["active"]),
        op("add", path("nickName")),
        pb.PatchOperation(op=pb.PatchOperation.OP_UNSPECIFIED, value=value({"active": False})),
    ],
)
def test_bad_values_are_invalid_value(operation):
    with pytest.raises(InvalidValue):
        patch(BJENSEN, operation)


def test_a_failing_operation_applies_nothing():
    operations = [op("replace", new={"active": False}), op("remove")]
    with pytest.raises(NoTarget):
        apply_user_patch(BJENSEN, USER_ID, operations)
    assert "active" not in BJENSEN


# ---------------------------------------------------------------- property


_TEXT = st.text(max_size=5)
_EMAILS = st.lists(
    st.fixed_dictionaries(
        {"value": _TEXT},
        optional={"type": st.sampled_from(["work", "home"]), "primary": st.booleans()},
    ),
    max_size=2,
)
# Paths (None: no path) with values of the right shape; a few targets are
# read-only or required, so errors are part of the mix.
_TARGETS: list[tuple[pb.PatchPath | None, st.SearchStrategy[Any]]] = [
    (path("displayName"), _TEXT),
    (path("active"), st.booleans()),
    (path("name"), st.fixed_dictionaries({}, optional={"givenName": _TEXT, "familyName": _TEXT})),
    (path("name", "givenName"), _TEXT),
    (path("emails"), _EMAILS),
    (path("emails", "value", eq("type", "work")), _TEXT),
    (path("emails", "primary", eq("type", "home")), st.booleans()),
    (path("emails", where=eq("type", "home")), st.fixed_dictionaries({"value": _TEXT})),
    (path("department", uri=ENTERPRISE), _TEXT),
    (path(ENTERPRISE), st.fixed_dictionaries({"department": _TEXT})),
    (path("id"), st.sampled_from([USER_ID, "other"])),
    (path("userName"), _TEXT),
    (path("password"), _TEXT),
    (None, st.fixed_dictionaries({"active": st.booleans()}, optional={"displayName": _TEXT})),
    (None, st.fixed_dictionaries({"id": st.just(USER_ID), "emails": _EMAILS})),
]


@st.composite
def operations(draw: st.DrawFn) -> pb.PatchOperation:
    """Well-formed operations: the right value shape for each path."""
    name = draw(st.sampled_from(sorted(_OPS)))
    at, values = draw(st.sampled_from(_TARGETS))
    if name == "remove":
        return op(name, at)
    return op(name, at, draw(values))


@given(user_documents(), st.lists(operations(), max_size=4))
def test_patch_yields_a_valid_document_or_a_domain_error(attributes, ops):
    document = normalize_user_document(attributes)
    before = copy.deepcopy(document)
    try:
        result = apply_user_patch(document, USER_ID, ops)
    except DomainError:
        pass
    else:
        assert normalize_user_document(result) == result
    assert document == before
