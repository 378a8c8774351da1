"""The stored form of a user's SCIM document, and the columns derived from it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity_svc.domain.errors import InvalidValue
from identity_svc.domain.models import MultiValue
from identity_svc.domain.user_document import derive_user_fields, normalize_user_document
from scim_schema.urns import CORE_USER as CORE_USER_SCHEMA
from scim_schema.urns import ENTERPRISE_USER as ENTERPRISE_USER_SCHEMA
from scim_schema.user import (
    CORE_USER,
    ENTERPRISE_USER,
    resolve_attribute,
)

ENTERPRISE = ENTERPRISE_USER_SCHEMA


# ---------------------------------------------------------------- the schema


def test_published_user_schema_matches_rfc_7643():
    user_name = CORE_USER.attribute("userName")
    assert user_name is not None
    assert (user_name.case_exact, user_name.uniqueness, user_name.required) == (
        False,
        "server",
        True,
    )
    groups = CORE_USER.attribute("groups")
    assert groups is not None
    assert (groups.mutability, groups.multi_valued) == ("readOnly", True)
    password = CORE_USER.attribute("password")
    assert password is not None
    assert (password.mutability, password.returned) == ("writeOnly", "never")
    manager = ENTERPRISE_USER.attribute("manager")
    assert manager is not None
    assert [s.name for s in manager.sub_attributes] == ["value", "$ref", "displayName"]


@pytest.mark.parametrize(
    ("name", "schema", "canonical"),
    [
        ("username", CORE_USER_SCHEMA, "userName"),
        ("ID", CORE_USER_SCHEMA, "id"),
        ("externalid", CORE_USER_SCHEMA, "externalId"),
        (f"{CORE_USER_SCHEMA}:DisplayName", CORE_USER_SCHEMA, "displayName"),
        (f"{ENTERPRISE.lower()}:employeenumber", ENTERPRISE, "employeeNumber"),
    ],
)
def test_resolve_attribute_ignores_case_and_takes_a_urn(name, schema, canonical):
    resolved = resolve_attribute(name)
    assert resolved is not None
    assert (resolved.schema.id, resolved.attribute.name) == (schema, canonical)


@pytest.mark.parametrize("name", ["nope", "employeeNumber", "urn:x:y:User:userName", ""])
def test_resolve_attribute_rejects_unknown_and_unqualified_extension_names(name):
    # RFC 7644 §3.10: unqualified names are core attributes.
    assert resolve_attribute(name) is None


def test_id_is_read_only_and_exact():
    resolved = resolve_attribute("id")
    assert resolved is not None
    assert (resolved.attribute.mutability, resolved.attribute.case_exact) == ("readOnly", True)


# ---------------------------------------------------------------- normalize


def okta_create_body() -> dict[str, Any]:
    # What Okta POSTs to /Users (SPEC §3, "What Okta sends").
    return {
        "schemas": [CORE_USER_SCHEMA],
        "userName": "isaac.brock@example.com",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": True, "value": "isaac.brock@example.com", "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def test_okta_create_keeps_attributes_and_drops_groups_and_password():
    document = normalize_user_document(okta_create_body())
    expected = okta_create_body()
    del expected["groups"], expected["password"]
    assert document == expected


def test_names_become_canonical_at_every_level():
    document = normalize_user_document(
        {
            "USERNAME": "bjensen",
            "Name": {"GIVENNAME": "Barbara"},
            "emails": [{"VALUE": "b@x.org", "Type": "work", "PRIMARY": True}],
            ENTERPRISE.upper(): {"EMPLOYEENUMBER": "701984", "Manager": {"VALUE": "26118915"}},
        }
    )
    assert document == {
        "schemas": [CORE_USER_SCHEMA, ENTERPRISE],
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@x.org", "type": "work", "primary": True}],
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    }


def test_read_only_attributes_are_ignored():
    # RFC 7644 §3.3: clients PUT back what they GET; read-only values are ignored.
    document = normalize_user_document(
        {
            "userName": "bjensen",
            "id": "2819c223",
            "meta": {"resourceType": "User", "version": 'W/"3"'},
            "groups": [{"value": "g1", "display": "Admins"}],
            ENTERPRISE: {"manager": {"value": "m1", "displayName": "Boss"}},
        }
    )
    assert document == {
        "schemas": [CORE_USER_SCHEMA, ENTERPRISE],
        "userName": "bjensen",
        ENTERPRISE: {"manager": {"value": "m1"}},
    }


def test_schemas_say_what_the_document_holds():
    listed = {"schemas": [CORE_USER_SCHEMA, ENTERPRISE], "userName": "a"}
    assert normalize_user_document(listed)["schemas"] == [CORE_USER_SCHEMA]
    assert normalize_user_document({"userName": "a"})["schemas"] == [CORE_USER_SCHEMA]


def test_unassigned_values_are_dropped():
    # RFC 7643 §2.5: null, [] and {} all mean "no value".
    document = normalize_user_document(
        {
            "userName": "a",
            "displayName": None,
            "emails": [],
            "name": {"givenName": None},
            "phoneNumbers": [None, {"value": "+1 555"}],
            ENTERPRISE: {},
        }
    )
    assert document == {
        "schemas": [CORE_USER_SCHEMA],
        "userName": "a",
        "phoneNumbers": [{"value": "+1 555"}],
    }


def test_active_absent_stays_absent():
    document = normalize_user_document({"userName": "a"})
    assert "active" not in document
    assert derive_user_fields(document).active is True


def test_unknown_core_attributes_are_named():
    with pytest.raises(InvalidValue, match="colour, shoeSize"):
        normalize_user_document({"userName": "a", "shoeSize": 9, "colour": "red"})


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"urn:example:custom:2.0:User": {"x": "1"}}, "urn:example:custom:2.0:User"),
        ({CORE_USER_SCHEMA: {"userName": "b"}}, CORE_USER_SCHEMA),
        ({"name": {"nickname": "x"}}, "name.nickname"),
        ({"emails": [{"label": "x"}]}, r"emails\[0\].label"),
        ({ENTERPRISE: {"badge": "7"}}, "badge"),
    ],
)
def test_unknown_extensions_and_sub_attributes_are_rejected(attributes, named):
    with pytest.raises(InvalidValue, match=named):
        normalize_user_document({"userName": "a", **attributes})


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({}, "userName"),
        ({"userName": ""}, "userName"),
        ({"userName": "  "}, "userName"),
        ({"userName": 7}, "userName"),
        ({"userName": None}, "userName"),
        ({"userName": "a", "active": "true"}, "active"),
        ({"userName": "a", "active": 1}, "active"),
        ({"userName": "a", "displayName": 5}, "displayName"),
        ({"userName": "a", "name": "Barbara Jensen"}, "name"),
        ({"userName": "a", "name": {"givenName": ["B"]}}, "name.givenName"),
        ({"userName": "a", "emails": {"value": "x"}}, "emails"),
        ({"userName": "a", "emails": ["x@y"]}, r"emails\[0\]"),
        ({"userName": "a", "emails": [{"value": "x", "primary": "yes"}]}, "primary"),
        ({"userName": "a", "schemas": CORE_USER_SCHEMA}, "schemas"),
        ({"userName": "a", ENTERPRISE: "x"}, ENTERPRISE),
        ({"userName": "a", ENTERPRISE: {"manager": "m1"}}, "manager"),
    ],
)
def test_wrong_types_name_the_attribute(attributes, named):
    with pytest.raises(InvalidValue, match=named):
        normalize_user_document(attributes)


def test_at_most_one_primary_value():
    emails = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]
    with pytest.raises(InvalidValue, match="primary"):
        normalize_user_document({"userName": "a", "emails": emails})


def test_an_attribute_given_twice_in_different_case_is_rejected():
    with pytest.raises(InvalidValue, match="userName"):
        normalize_user_document({"userName": "a", "username": "b"})


def test_input_is_not_a_user_object():
    with pytest.raises(InvalidValue):
        normalize_user_document(["userName"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- derived fields


def test_derive_user_fields():
    document = normalize_user_document(
        {
            "userName": "bjensen",
            "externalId": "e1",
            "active": False,
            "displayName": "Babs",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "home@x", "type": "home"},
                {"value": "work@x", "type": "work", "primary": True, "display": "W"},
            ],
            "phoneNumbers": [{"value": "+1 555"}],
            "addresses": [{"locality": "Hollywood"}],
            "x509Certificates": [{"value": "MIIDQzCC"}],
        }
    )
    fields = derive_user_fields(document)
    assert (fields.user_name, fields.external_id, fields.active) == ("bjensen", "e1", False)
    assert (fields.display_name, fields.given_name, fields.family_name) == (
        "Babs",
        "Barbara",
        "Jensen",
    )
    assert fields.primary_email == "work@x"
    assert fields.values == (
        MultiValue("emails", 0, "home@x", "home", None, False),
        MultiValue("emails", 1, "work@x", "work", "W", True),
        MultiValue("phoneNumbers", 0, "+1 555", None, None, False),
        MultiValue("x509Certificates", 0, "MIIDQzCC", None, None, False),
    )


@pytest.mark.parametrize(
    ("emails", "primary_email"),
    [
        ([{"value": "a@x"}, {"value": "b@x"}], "a@x"),
        ([{"type": "work"}, {"value": "b@x"}], None),
        ([{"value": "a@x"}, {"value": "b@x", "primary": True}], "b@x"),
        ([], None),
    ],
)
def test_primary_email_falls_back_to_the_first(emails, primary_email):
    document = normalize_user_document({"userName": "a", "emails": emails})
    fields = derive_user_fields(document)
    assert fields.primary_email == primary_email
    assert (fields.external_id, fields.display_name, fields.given_name) == (None, None, None)


# ---------------------------------------------------------------- property


def _any_case(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


_text = st.text(max_size=6)


@st.composite
def _objects(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    return {draw(_any_case(name)): draw(fields[name]) for name in chosen}


def _with_primary(elements: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    if index < len(elements):
        elements[index]["primary"] = True
    return elements


def _multi_values() -> st.SearchStrategy[list[dict[str, Any]]]:
    element = _objects(
        {"value": _text, "type": st.sampled_from(["work", "home", "Work"]), "display": _text}
    )
    return st.builds(_with_primary, st.lists(element, max_size=3), st.integers(0, 3))


_CORE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "displayName": _text,
    "nickName": _text | st.none(),
    "title": _text,
    "locale": st.sampled_from(["en-US", "fr-FR"]),
    "externalId": _text,
    "active": st.booleans(),
    "name": _objects({"givenName": _text, "familyName": _text, "formatted": _text}),
    "emails": _multi_values(),
    "phoneNumbers": _multi_values(),
    "roles": _multi_values(),
    "id": _text,
    "meta": st.just({"resourceType": "User"}),
    "groups": st.just([]),
    "password": _text,
    "schemas": st.just([CORE_USER_SCHEMA]),
    ENTERPRISE: _objects(
        {
            "employeeNumber": _text,
            "department": _text,
            "manager": _objects({"value": _text, "displayName": _text}),
        }
    ),
}


@st.composite
def user_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Random valid SCIM users, with names in any case and read-only noise."""
    attributes = draw(_objects(_CORE_FIELDS))
    attributes[draw(_any_case("userName"))] = draw(
        st.text(min_size=1, max_size=8).filter(str.strip)
    )
    return attributes


@given(user_documents())
def test_normalize_is_idempotent(attributes):
    once = normalize_user_document(attributes)
    assert normalize_user_document(once) == once
    assert not {"id", "meta", "groups", "password"} & once.keys()
    assert derive_user_fields(once).user_name == once["userName"]
