"""Unit tests of identity_svc/db/filters.py, without a database.

The SQL shape per operator and attribute, the errors, and properties over generated
ASTs: only allowlisted SQL, one argument a placeholder, no client text in the SQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import Resource
from identity_svc.db.filters import (
    MAX_DEPTH,
    MAX_LEAVES,
    SqlParams,
    compile_filter,
    compile_member_filter,
    order_by,
)
from identity_svc.domain.errors import InvalidFilter, InvalidValue

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ORG = "org-a"

# ---------------------------------------------------------------- AST builders


def val(value: object) -> struct_pb2.Value:
    if value is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=value)
    assert isinstance(value, str)
    return struct_pb2.Value(string_value=value)


NO_VALUE = object()


def cmp(path: str, op: int, value: object = NO_VALUE, uri: str = "") -> pb.Filter:
    attribute, _, sub = path.partition(".")
    comparison = pb.Comparison(
        path=pb.AttributePath(schema_uri=uri, attribute=attribute, sub_attribute=sub),
        operator=op,  # type: ignore[arg-type]
    )
    if value is not NO_VALUE:
        comparison.value.CopyFrom(val(value))
    return pb.Filter(comparison=comparison)


# `and`, `or` and `not` are Python keywords: reach those fields with getattr.
def and_(*operands: pb.Filter) -> pb.Filter:
    expr = pb.Filter()
    getattr(expr, "and").operands.extend(operands)
    getattr(expr, "and").SetInParent()
    return expr


def or_(*operands: pb.Filter) -> pb.Filter:
    expr = pb.Filter()
    getattr(expr, "or").operands.extend(operands)
    getattr(expr, "or").SetInParent()
    return expr


def not_(operand: pb.Filter | None = None) -> pb.Filter:
    expr = pb.Filter()
    getattr(expr, "not").SetInParent()
    if operand is not None:
        getattr(expr, "not").operand.CopyFrom(operand)
    return expr


def vpath(attribute: str, inner: pb.Filter) -> pb.Filter:
    return pb.Filter(
        value_path=pb.ValuePathFilter(path=pb.AttributePath(attribute=attribute), filter=inner)
    )


def users(expr: pb.Filter) -> tuple[str, list[object]]:
    params = SqlParams(ORG)
    return compile_filter(Resource.USERS, expr, params), params.args


def groups(expr: pb.Filter) -> tuple[str, list[object]]:
    params = SqlParams(ORG)
    return compile_filter(Resource.GROUPS, expr, params), params.args


EMAILS = (
    "EXISTS (SELECT 1 FROM user_values v WHERE v.org_id = u.org_id AND v.user_id = u.id"
    " AND v.attribute = 'emails' AND {})"
)
MEMBERS = (
    "EXISTS (SELECT 1 FROM group_members gm WHERE gm.org_id = g.org_id AND gm.group_id = g.id"
    " AND {})"
)

# ---------------------------------------------------------------- SqlParams


def test_sql_params_number_placeholders_after_the_initial_arguments():
    params = SqlParams("org", 7)
    assert params.add("x") == "$3"
    assert params.add(None) == "$4"
    assert params.args == ["org", 7, "x", None]
    params.args.append("not kept")
    assert len(params.args) == 4


# ---------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("op", "value", "sql", "arg"),
    [
        (pb.EQ, "Ann@X.org", "lower(u.user_name) = lower($2)", "Ann@X.org"),
        (pb.NE, "a", "lower(u.user_name) IS DISTINCT FROM lower($2)", "a"),
        (pb.CO, "a%b_c\\d", "lower(u.user_name) LIKE lower($2)", "%a\\%b\\_c\\\\d%"),
        (pb.SW, "ann", "lower(u.user_name) LIKE lower($2)", "ann%"),
        (pb.EW, "@x.org", "lower(u.user_name) LIKE lower($2)", "%@x.org"),
        (pb.GT, "m", "lower(u.user_name) > lower($2)", "m"),
        (pb.GE, "m", "lower(u.user_name) >= lower($2)", "m"),
        (pb.LT, "m", "lower(u.user_name) < lower($2)", "m"),
        (pb.LE, "m", "lower(u.user_name) <= lower($2)", "m"),
    ],
)
def test_case_insensitive_string_operators(op, value, sql, arg):
    assert users(cmp("userName", op, value)) == (sql, [ORG, arg])


def test_present_on_text_requires_a_non_empty_value():
    assert users(cmp("userName", pb.PR)) == (
        "(u.user_name IS NOT NULL AND u.user_name <> '')",
        [ORG],
    )


@pytest.mark.parametrize(
    ("op", "sql", "arg"),
    [
        (pb.EQ, "u.external_id = $2", "AbC"),
        (pb.NE, "u.external_id IS DISTINCT FROM $2", "AbC"),
        (pb.SW, "u.external_id LIKE $2", "AbC%"),
        (pb.GT, "u.external_id > $2", "AbC"),
    ],
)
def test_case_exact_strings_compare_without_lower(op, sql, arg):
    assert users(cmp("externalId", op, "AbC")) == (sql, [ORG, arg])


@pytest.mark.parametrize(
    ("op", "sql"), [(pb.EQ, "u.active = $2"), (pb.NE, "u.active IS DISTINCT FROM $2")]
)
def test_booleans(op, sql):
    assert users(cmp("active", op, False)) == (sql, [ORG, False])
    assert users(cmp("active", pb.PR)) == ("u.active IS NOT NULL", [ORG])


def test_datetimes_become_aware_datetime_parameters():
    sql, args = users(cmp("meta.lastModified", pb.GT, "2024-05-01T10:00:00Z"))
    assert sql == "u.last_modified > $2"
    assert args == [ORG, datetime(2024, 5, 1, 10, tzinfo=UTC)]
    _, args = users(cmp("meta.created", pb.LE, "2024-05-01T12:00:00+02:00"))
    assert args[1] == datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    _, args = users(cmp("meta.created", pb.EQ, "2024-05-01T12:00:00"))
    assert args[1] == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_null_means_absent():
    assert users(cmp("displayName", pb.EQ, None)) == ("u.display_name IS NULL", [ORG])
    assert users(cmp("displayName", pb.NE, None)) == ("u.display_name IS NOT NULL", [ORG])
    with pytest.raises(InvalidFilter, match="null"):
        users(cmp("displayName", pb.GT, None))


def test_ids_are_uuid_parameters_and_malformed_ids_match_nothing():
    some_id = uuid.uuid4()
    assert users(cmp("id", pb.EQ, str(some_id).upper())) == ("u.id = $2", [ORG, some_id])
    assert users(cmp("id", pb.EQ, "not-a-uuid")) == ("FALSE", [ORG])
    assert users(cmp("id", pb.NE, "not-a-uuid")) == ("TRUE", [ORG])
    assert users(cmp("id", pb.SW, "0a")) == ("u.id::text LIKE lower($2)", [ORG, "0a%"])
    assert groups(cmp("members", pb.EQ, "42")) == (MEMBERS.format("FALSE"), [ORG])


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (cmp("active", pb.GT, True), "gt"),
        (cmp("active", pb.CO, "t"), "co"),
        (cmp("meta.created", pb.SW, "2024"), "sw"),
        (cmp("active", pb.EQ, "yes"), "true or false"),
        (cmp("userName", pb.EQ, True), "string"),
        (cmp("userName", pb.EQ, 3), "string"),
        (cmp("id", pb.EQ, 3), "string"),
        (cmp("meta.lastModified", pb.GT, "yesterday"), "ISO 8601"),
        (cmp("meta.created", pb.GT, 2024), "ISO 8601"),
        (cmp("emails.primary", pb.EQ, "true"), "true or false"),
        (cmp("userName", pb.EQ), "needs a value"),
        (cmp("userName", pb.COMPARE_OPERATOR_UNSPECIFIED, "x"), "operator"),
        (cmp("userName", 99, "x"), "operator"),
    ],
)
def test_wrong_operator_or_value_type_is_invalid(expr, message):
    with pytest.raises(InvalidFilter, match=message):
        users(expr)


def test_struct_and_list_values_are_invalid():
    expr = cmp("userName", pb.EQ)
    expr.comparison.value.struct_value.update({"a": 1})
    with pytest.raises(InvalidFilter):
        users(expr)
    expr.comparison.value.list_value.values.add(string_value="x")
    with pytest.raises(InvalidFilter):
        users(expr)


# ---------------------------------------------------------------- attributes


@pytest.mark.parametrize(
    ("path", "uri", "column"),
    [
        ("USERNAME", "", "lower(u.user_name)"),
        ("name.GivenName", "", "lower(u.given_name)"),
        ("name.familyName", CORE_USER.upper(), "lower(u.family_name)"),
        ("displayName", CORE_USER, "lower(u.display_name)"),
        ("nickName", "", "lower((u.document->>'nickName'))"),
        ("name.honorificPrefix", "", "lower((u.document->'name'->>'honorificPrefix'))"),
        (
            "employeeNumber",
            ENTERPRISE,
            f"lower((u.document->'{ENTERPRISE}'->>'employeeNumber'))",
        ),
        ("department", "", f"lower((u.document->'{ENTERPRISE}'->>'department'))"),
        (
            "manager.value",
            ENTERPRISE.lower(),
            f"lower((u.document->'{ENTERPRISE}'->'manager'->>'value'))",
        ),
    ],
)
def test_attribute_names_and_uris_are_case_insensitive(path, uri, column):
    assert users(cmp(path, pb.EQ, "x", uri=uri)) == (f"{column} = lower($2)", [ORG, "x"])


@pytest.mark.parametrize(
    ("resource", "path", "uri"),
    [
        (Resource.USERS, "fooBar", ""),
        (Resource.USERS, "name", ""),
        (Resource.USERS, "name.nickName", ""),
        (Resource.USERS, "emails.bogus", ""),
        (Resource.USERS, "password", ""),
        (Resource.USERS, "employeeNumber", CORE_USER),
        (Resource.USERS, "userName", ENTERPRISE),
        (Resource.USERS, "userName", "urn:example:evil"),
        (Resource.USERS, "userName", CORE_GROUP),
        (Resource.GROUPS, "userName", ""),
        (Resource.GROUPS, "displayName", CORE_USER),
        (Resource.GROUPS, "employeeNumber", ENTERPRISE),
    ],
)
def test_unknown_attributes_and_schemas_are_invalid(resource, path, uri):
    params = SqlParams(ORG)
    with pytest.raises(InvalidFilter) as info:
        compile_filter(resource, cmp(path, pb.EQ, "x", uri=uri), params)
    assert path.split(".")[-1] in str(info.value) or uri[:20] in str(info.value)


def test_multi_valued_attributes_are_one_exists_over_their_rows():
    assert users(cmp("emails", pb.EQ, "A@x.org")) == (
        EMAILS.format("lower(v.value) = lower($2)"),
        [ORG, "A@x.org"],
    )
    assert users(cmp("emails.type", pb.EQ, "work"))[0] == EMAILS.format("lower(v.type) = lower($2)")
    assert users(cmp("emails.primary", pb.EQ, True))[0] == EMAILS.format("v.is_primary = $2")
    assert users(cmp("emails", pb.PR)) == (EMAILS.format("TRUE"), [ORG])
    sql, _ = users(cmp("x509Certificates.value", pb.PR))
    assert "v.attribute = 'x509Certificates'" in sql


def test_not_equal_on_multi_valued_means_no_value_is_equal():
    assert users(cmp("emails", pb.NE, "a")) == (
        "NOT " + EMAILS.format("lower(v.value) = lower($2)"),
        [ORG, "a"],
    )
    assert users(cmp("emails", pb.EQ, None))[0] == "NOT " + EMAILS.format("TRUE")
    assert users(cmp("emails.value", pb.NE, None))[0] == EMAILS.format(
        "(v.value IS NOT NULL AND v.value <> '')"
    )


def test_users_groups_attribute_reaches_group_members():
    group_id = uuid.uuid4()
    sql, args = users(cmp("groups", pb.EQ, str(group_id)))
    assert sql.startswith("EXISTS (SELECT 1 FROM group_members ugm JOIN groups ug")
    assert sql.endswith("AND ugm.group_id = $2)")
    assert args == [ORG, group_id]
    sql, _ = users(cmp("groups.display", pb.SW, "Eng"))
    assert "lower(ug.display_name) LIKE lower($2)" in sql


def test_group_attributes():
    member = uuid.uuid4()
    assert groups(cmp("members", pb.EQ, str(member))) == (
        MEMBERS.format("gm.user_id = $2"),
        [ORG, member],
    )
    assert groups(cmp("members.value", pb.EQ, str(member)))[0] == MEMBERS.format("gm.user_id = $2")
    assert groups(cmp("displayName", pb.EQ, "Eng")) == (
        "lower(g.display_name) = lower($2)",
        [ORG, "Eng"],
    )
    assert groups(cmp("externalId", pb.EQ, "E"))[0] == "g.external_id = $2"
    sql, _ = groups(and_(cmp("id", pb.EQ, str(member)), cmp("members", pb.EQ, str(member))))
    assert sql == "(g.id = $2 AND " + MEMBERS.format("gm.user_id = $3") + ")"
    assert "'User'" in groups(cmp("members.type", pb.EQ, "User"))[0]


# ---------------------------------------------------------------- structure


def test_value_path_is_one_exists_with_the_inner_filter():
    expr = vpath("emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.CO, "@x")))
    assert users(expr) == (
        EMAILS.format("(lower(v.type) = lower($2) AND lower(v.value) LIKE lower($3))"),
        [ORG, "work", "%@x%"],
    )
    # The inner paths may also be spelled out in full, and any case.
    expr = vpath("EMAILS", or_(cmp("emails.TYPE", pb.EQ, "w"), not_(cmp("Primary", pb.EQ, True))))
    assert users(expr)[0] == EMAILS.format(
        "(lower(v.type) = lower($2) OR NOT COALESCE(v.is_primary = $3, false))"
    )


@pytest.mark.parametrize(
    "expr",
    [
        vpath("userName", cmp("value", pb.EQ, "x")),
        vpath("emails", cmp("userName", pb.EQ, "x")),
        vpath("emails", vpath("emails", cmp("value", pb.EQ, "x"))),
        vpath("nope", cmp("value", pb.EQ, "x")),
        pb.Filter(value_path=pb.ValuePathFilter(path=pb.AttributePath(attribute="emails"))),
        pb.Filter(
            value_path=pb.ValuePathFilter(
                path=pb.AttributePath(attribute="emails", sub_attribute="value"),
                filter=cmp("type", pb.EQ, "work"),
            )
        ),
    ],
)
def test_bad_value_paths_are_invalid(expr):
    with pytest.raises(InvalidFilter):
        users(expr)


def test_negation_coalesces_so_absent_attributes_do_not_match():
    assert users(not_(cmp("nickName", pb.EQ, "x")))[0] == (
        "NOT COALESCE(lower((u.document->>'nickName')) = lower($2), false)"
    )


@pytest.mark.parametrize(
    "expr",
    [
        pb.Filter(),
        and_(cmp("userName", pb.PR)),
        or_(),
        not_(),
        and_(cmp("userName", pb.PR), pb.Filter()),
    ],
)
def test_malformed_trees_are_invalid(expr):
    with pytest.raises(InvalidFilter):
        users(expr)


def nested(depth: int) -> pb.Filter:
    # Built in place: copying a message this deep trips protobuf's own decode limit.
    expr = pb.Filter()
    node = expr
    for _ in range(depth - 1):
        node = getattr(node, "not").operand
    node.CopyFrom(cmp("userName", pb.PR))
    return expr


def test_depth_and_size_are_bounded():
    assert users(nested(MAX_DEPTH))[0].count("NOT COALESCE") == MAX_DEPTH - 1
    with pytest.raises(InvalidFilter, match="deeper"):
        users(nested(MAX_DEPTH + 1))
    leaves = [cmp("userName", pb.EQ, str(i)) for i in range(MAX_LEAVES)]
    assert len(users(or_(*leaves))[1]) == MAX_LEAVES + 1
    with pytest.raises(InvalidFilter, match="comparisons"):
        users(or_(*leaves, cmp("userName", pb.PR)))


# ---------------------------------------------------------------- member filters


def test_member_filters_are_over_a_group_members_row():
    member = uuid.uuid4()
    params = SqlParams(ORG, "group")
    assert compile_member_filter(cmp("value", pb.EQ, str(member)), params) == "gm.user_id = $3"
    assert params.args == [ORG, "group", member]
    sql = compile_member_filter(cmp("display", pb.CO, "ann"), params)
    assert sql == (
        "lower((SELECT mu.display_name FROM users mu"
        " WHERE mu.org_id = gm.org_id AND mu.id = gm.user_id)) LIKE lower($4)"
    )
    assert compile_member_filter(cmp("type", pb.EQ, "user"), params) == "lower('User') = lower($5)"
    assert compile_member_filter(cmp("members.value", pb.EQ, "bad"), params) == "FALSE"
    for bad in (cmp("userName", pb.EQ, "x"), vpath("members", cmp("value", pb.PR))):
        with pytest.raises(InvalidFilter):
            compile_member_filter(bad, params)


# ---------------------------------------------------------------- order_by


def sort(path: str, descending: bool = False, uri: str = "") -> pb.SortOrder:
    attribute, _, sub = path.partition(".")
    by = pb.AttributePath(schema_uri=uri, attribute=attribute, sub_attribute=sub)
    return pb.SortOrder(by=by, descending=descending)


def test_order_by():
    assert order_by(Resource.USERS, None) == "u.created, u.id"
    assert order_by(Resource.USERS, pb.SortOrder()) == "u.created, u.id"
    assert order_by(Resource.GROUPS, None) == "g.created, g.id"
    assert (
        order_by(Resource.USERS, sort("userName", True))
        == "lower(u.user_name) DESC, u.created, u.id"
    )
    assert order_by(Resource.USERS, sort("NAME.familyname", uri=CORE_USER)) == (
        "lower(u.family_name), u.created, u.id"
    )
    assert (
        order_by(Resource.USERS, sort("emails.value")) == "lower(u.primary_email), u.created, u.id"
    )
    assert (
        order_by(Resource.GROUPS, sort("displayName")) == "lower(g.display_name), g.created, g.id"
    )
    assert order_by(Resource.GROUPS, sort("meta.lastModified", True)) == (
        "g.last_modified DESC, g.created, g.id"
    )


@pytest.mark.parametrize(
    ("resource", "order"),
    [
        (Resource.USERS, sort("fooBar")),
        (Resource.USERS, sort("userName; DROP TABLE users")),
        (Resource.USERS, sort("userName", uri=ENTERPRISE)),
        (Resource.USERS, sort("employeeNumber", uri=ENTERPRISE)),
        (Resource.GROUPS, sort("userName")),
        (Resource.GROUPS, sort("members")),
    ],
)
def test_order_by_unknown_attribute_is_invalid_value(resource, order):
    with pytest.raises(InvalidValue):
        order_by(resource, order)


# ---------------------------------------------------------------- properties

_KNOWN_PATHS = {
    Resource.USERS: [
        *("id", "userName", "externalId", "active", "displayName", "name.givenName"),
        *("name.familyName", "nickName", "title", "locale", "name.formatted", "timezone"),
        *("meta.created", "meta.lastModified", "emails", "emails.value", "emails.type"),
        *("emails.primary", "phoneNumbers.display", "roles", "groups", "groups.display"),
        *("employeeNumber", "manager.value", "x509Certificates.value", "value", "type"),
    ],
    Resource.GROUPS: [
        *("id", "displayName", "externalId", "meta.created", "meta.lastModified"),
        *("members", "members.value", "members.display", "members.type", "value"),
    ],
}
_URIS = ["", CORE_USER, CORE_GROUP, ENTERPRISE, "urn:x:«evil»"]
# What a literal in the SQL may be: allowlisted names only, never a client value.
_ALLOWED_LITERALS = {
    "''",
    "'User'",
    "'direct'",
    f"'{ENTERPRISE}'",
    *(
        f"'{name}'"
        for name in (
            *("emails", "phoneNumbers", "ims", "photos", "entitlements", "roles"),
            *("x509Certificates", "nickName", "title", "userType", "locale", "timezone"),
            *("preferredLanguage", "profileUrl", "name", "formatted", "middleName"),
            *("honorificPrefix", "honorificSuffix", "employeeNumber", "costCenter"),
            *("organization", "division", "department", "manager", "value", "displayName"),
        )
    ),
}
# Client text is bracketed so that it cannot coincide with SQL we wrote.
_client_text = st.text(max_size=12).map(lambda text: f"«{text}»")
_strings = st.one_of(
    _client_text,
    st.sampled_from(["'; DROP TABLE users; --", "') OR TRUE OR ('", "$9$", "%_\\"]),
    st.uuids().map(str),
    st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01", "yesterday"]),
)
_values = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), _strings, st.just(NO_VALUE)
)


def _casing(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.upper(), name.lower()])


def _paths(resource: Resource) -> st.SearchStrategy[str]:
    known = st.sampled_from(_KNOWN_PATHS[resource]).flatmap(_casing)
    return st.one_of(known, _client_text, st.tuples(known, _client_text).map(".".join))


def _filters(resource: Resource) -> st.SearchStrategy[pb.Filter]:
    leaf = st.builds(
        cmp, _paths(resource), st.integers(0, 11), _values, st.sampled_from(_URIS)
    ) | st.just(pb.Filter())

    def extend(children: st.SearchStrategy[pb.Filter]) -> st.SearchStrategy[pb.Filter]:
        operands = st.lists(children, max_size=4)
        return st.one_of(
            operands.map(lambda ops: and_(*ops)),
            operands.map(lambda ops: or_(*ops)),
            children.map(not_),
            st.builds(vpath, _paths(resource), children),
        )

    return st.recursive(leaf, extend, max_leaves=20)


def _client_strings(expr: pb.Filter) -> list[str]:
    found: list[str] = []
    if expr.HasField("comparison"):
        comparison = expr.comparison
        path = comparison.path
        found += [path.schema_uri, path.attribute, path.sub_attribute]
        if comparison.value.WhichOneof("kind") == "string_value":
            found.append(comparison.value.string_value)
    for child in expr.ListFields():
        message = child[1]
        if isinstance(message, pb.Conjunction | pb.Disjunction):
            for operand in message.operands:
                found += _client_strings(operand)
        elif isinstance(message, pb.Negation):
            found += _client_strings(message.operand)
        elif isinstance(message, pb.ValuePathFilter):
            found += [message.path.attribute, *_client_strings(message.filter)]
    return [text for text in found if "«" in text or "'" in text or "$" in text]


def _check_sql(sql: str, params: SqlParams, expr: pb.Filter) -> None:
    placeholders = {int(n) for n in re.findall(r"\$(\d+)", sql)}
    assert placeholders == set(range(2, len(params.args) + 1))
    assert set(re.findall(r"'[^']*'", sql)) <= _ALLOWED_LITERALS
    for text in _client_strings(expr):
        assert text not in sql
    assert sql.count("(") == sql.count(")")


@pytest.mark.parametrize("resource", list(Resource))
@given(data=st.data())
def test_any_ast_compiles_to_allowlisted_sql_or_is_invalid(resource, data):
    expr = data.draw(_filters(resource))
    params = SqlParams(ORG)
    try:
        sql = compile_filter(resource, expr, params)
    except InvalidFilter:
        return
    _check_sql(sql, params, expr)


@given(expr=_filters(Resource.GROUPS))
def test_any_member_filter_compiles_to_allowlisted_sql_or_is_invalid(expr):
    params = SqlParams(ORG)
    try:
        sql = compile_member_filter(expr, params)
    except InvalidFilter:
        return
    _check_sql(sql, params, expr)


# Well-typed ASTs: every one must compile (the garbage above mostly does not).
_TEXT_OPS = st.sampled_from([pb.EQ, pb.NE, pb.CO, pb.SW, pb.EW, pb.GT, pb.GE, pb.LT, pb.LE])
# Years 2..9998: an offset can move 0001-01-01 or 9999-12-31 outside what a
# datetime holds, and such values are (rightly) refused as InvalidFilter.
_datetimes = (
    st.datetimes(timezones=st.timezones() | st.none())
    .filter(lambda moment: 1 < moment.year < 9999)
    .map(datetime.isoformat)
)
_TYPED: dict[str, tuple[st.SearchStrategy[int], st.SearchStrategy[object]]] = {
    "text": (_TEXT_OPS, _strings),
    "id": (_TEXT_OPS, _strings),
    "boolean": (st.sampled_from([pb.EQ, pb.NE]), st.booleans()),
    "dateTime": (st.sampled_from([pb.EQ, pb.NE, pb.GT, pb.GE, pb.LT, pb.LE]), _datetimes),
}
_TYPED_PATHS = {
    Resource.USERS: {
        "text": ["userName", "displayName", "name.givenName", "nickName", "emails", "externalId"],
        "id": ["id", "groups", "groups.value"],
        "boolean": ["active", "emails.primary", "roles.primary"],
        "dateTime": ["meta.created", "meta.lastModified"],
    },
    Resource.GROUPS: {
        "text": ["displayName", "externalId", "members.display"],
        "id": ["id", "members", "members.value"],
        "boolean": [],
        "dateTime": ["meta.created", "meta.lastModified"],
    },
}
_ROWS = {
    Resource.USERS: ("emails", {"text": ["value", "type", "display"], "boolean": ["primary"]}),
    Resource.GROUPS: ("members", {"text": ["display", "type"], "id": ["value"]}),
}


def _typed_leaf(paths: dict[str, list[str]]) -> st.SearchStrategy[pb.Filter]:
    def for_kind(kind: str) -> st.SearchStrategy[pb.Filter]:
        ops, values = _TYPED[kind]
        path = st.sampled_from(paths[kind]).flatmap(_casing)
        return st.builds(cmp, path, ops, values) | st.builds(cmp, path, st.just(pb.PR))

    return st.one_of([for_kind(kind) for kind in paths if paths[kind]])


def _typed_filters(resource: Resource) -> st.SearchStrategy[pb.Filter]:
    row_attribute, row_paths = _ROWS[resource]

    def combine(children: st.SearchStrategy[pb.Filter]) -> st.SearchStrategy[pb.Filter]:
        operands = st.lists(children, min_size=2, max_size=4)
        return st.one_of(
            operands.map(lambda ops: and_(*ops)),
            operands.map(lambda ops: or_(*ops)),
            children.map(not_),
        )

    row_filter = st.recursive(_typed_leaf(row_paths), combine, max_leaves=6)
    value_path = row_filter.map(lambda inner: vpath(row_attribute, inner))
    leaf = _typed_leaf(_TYPED_PATHS[resource]) | value_path
    return st.recursive(leaf, combine, max_leaves=20)


@pytest.mark.parametrize("resource", list(Resource))
@given(data=st.data())
def test_well_typed_asts_always_compile_to_allowlisted_sql(resource, data):
    expr = data.draw(_typed_filters(resource))
    params = SqlParams(ORG)
    _check_sql(compile_filter(resource, expr, params), params, expr)
