"""Three orgs holding the same directory, and SCIM filters over it, for tenancy tests.

Org A is provisioned through the real RPCs. Org B is an exact copy of A's
rows *under A's own ids, shuffled* (B's user with A's Alice's id is B's Bob, and
so on), so every filter that matches in A also matches in B, and any condition
that loses its org scope (a listing's `org_id = $1`, a correlated EXISTS, a
member display lookup) would mix B's rows into A's answers. Org C is the same
copy under fresh ids, which no other org shares: its answers are what A's must
be. Filters are symbolic (ids and timestamps name slots, "U1", "G0") and are
rendered per org as SCIM text, then parsed by the gateway's own parser.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from hypothesis import strategies as st

from gateway.scim.filter import parse_filter
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identity_svc.support import GATEWAY, OPERATOR, new_org_id, struct

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADMIN = "admin@example.com"  # U0, made by CreateOrg
USERS: dict[str, dict[str, Any]] = {
    "U1": {
        "userName": "alice@example.com",
        "displayName": "Alice Adams",
        "name": {"givenName": "Alice", "familyName": "Adams"},
        "externalId": "ext-1",
        "title": "Engineer",
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": True},
            {"value": "alice@home.net", "type": "home"},
        ],
        ENTERPRISE: {"employeeNumber": "100"},
    },
    "U2": {
        "userName": "Bob@Example.com",
        "displayName": "Bob",
        "name": {"givenName": "Bob", "familyName": "Brown"},
        "externalId": "EXT-2",
        "active": False,
        "emails": [{"value": "bob@x.org", "type": "home"}],
    },
    "U3": {"userName": "carol_c@other.org", "title": ""},
    "U4": {
        "userName": "dave@example.com",
        "displayName": "dave d",
        "name": {"givenName": "Dave", "familyName": "Adams"},
        "externalId": "ext-4",
        "title": "engineer",
        "emails": [
            {"value": "dave@x.org", "type": "work", "primary": True},
            {"value": "d@example.com", "type": "other"},
        ],
        ENTERPRISE: {"employeeNumber": "104"},
    },
    "U5": {
        "userName": "erin%5@x.org",
        "displayName": "Erin E",
        "externalId": "ext-5",
        "active": False,
        "emails": [{"value": "Erin@Example.com", "type": "work"}],
    },
}
GROUPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "G0": ("Engineers", "g-ext-0", ("U1", "U2", "U4")),
    "G1": ("Empty", "", ()),
    "G2": ("Admins", "G-EXT-2", ("U0", "U1")),
    "G3": ("engineers-emea", "", ("U3", "U5")),
}
USER_SLOTS = ("U0", *USERS)
GROUP_SLOTS = tuple(GROUPS)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed id of nothing

# ---------------------------------------------------------------- the three orgs


@dataclass(frozen=True)
class Org:
    org_id: str
    ids: Mapping[str, str]  # slot -> id in this org
    slots: Mapping[str, str] = field(init=False)  # id -> slot

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", {v: k for k, v in self.ids.items()})


@dataclass(frozen=True)
class World:
    a: Org  # provisioned through the RPCs
    b: Org  # A's rows under A's ids, shuffled
    c: Org  # A's rows under fresh ids
    stamps: Mapping[tuple[str, str], datetime]  # (slot, "created"|"lastModified") -> time

    @property
    def orgs(self) -> tuple[Org, Org, Org]:
        return (self.a, self.b, self.c)


async def _provision(admin: pb_grpc.OrgAdminAsyncStub, prov: pb_grpc.ProvisioningAsyncStub) -> Org:
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="A", admin_email=ADMIN)
    )
    found = await prov.ListUsers(pb.ListUsersRequest(org_id=org_id))
    ids = {"U0": found.users[0].id}
    for slot, document in USERS.items():
        doc = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **document}
        user = await prov.CreateUser(
            pb.CreateUserRequest(context=GATEWAY, org_id=org_id, attributes=struct(doc))
        )
        ids[slot] = user.id
    for slot, (name, external_id, members) in GROUPS.items():
        group = await prov.CreateGroup(
            pb.CreateGroupRequest(
                context=GATEWAY,
                org_id=org_id,
                display_name=name,
                external_id=external_id,
                member_ids=[ids[m] for m in members],
            )
        )
        ids[slot] = group.id
    return Org(org_id, ids)


_CLONE_ORG = "INSERT INTO orgs (org_id, name) VALUES ($1, $2)"
_CLONE_USERS = """
INSERT INTO users (org_id, id, user_name, external_id, active, display_name, given_name,
    family_name, primary_email, direct_role, effective_role, document, version, created,
    last_modified)
SELECT $2, m.new, u.user_name, u.external_id, u.active, u.display_name, u.given_name,
    u.family_name, u.primary_email, u.direct_role, u.effective_role, u.document, u.version,
    u.created, u.last_modified
FROM users u
JOIN unnest($3::uuid[], $4::uuid[]) AS m(old, new) ON m.old = u.id
WHERE u.org_id = $1
"""
_CLONE_VALUES = """
INSERT INTO user_values (org_id, user_id, attribute, position, value, type, display, is_primary)
SELECT $2, m.new, v.attribute, v.position, v.value, v.type, v.display, v.is_primary
FROM user_values v
JOIN unnest($3::uuid[], $4::uuid[]) AS m(old, new) ON m.old = v.user_id
WHERE v.org_id = $1
"""
_CLONE_GROUPS = """
INSERT INTO groups (org_id, id, display_name, external_id, member_count, version, created,
    last_modified)
SELECT $2, m.new, g.display_name, g.external_id, g.member_count, g.version, g.created,
    g.last_modified
FROM groups g
JOIN unnest($3::uuid[], $4::uuid[]) AS m(old, new) ON m.old = g.id
WHERE g.org_id = $1
"""
_CLONE_MEMBERS = """
INSERT INTO group_members (org_id, group_id, user_id)
SELECT $2, mg.new, mu.new
FROM group_members gm
JOIN unnest($3::uuid[], $4::uuid[]) AS mg(old, new) ON mg.old = gm.group_id
JOIN unnest($3::uuid[], $4::uuid[]) AS mu(old, new) ON mu.old = gm.user_id
WHERE gm.org_id = $1
"""


async def _clone(conn: Connection, source: Org, ids: Mapping[str, str]) -> Org:
    org_id = new_org_id()
    slots = [*USER_SLOTS, *GROUP_SLOTS]
    old = [uuid.UUID(source.ids[s]) for s in slots]
    new = [uuid.UUID(ids[s]) for s in slots]
    async with conn.transaction():
        await conn.execute(_CLONE_ORG, org_id, "copy")
        for query in (_CLONE_USERS, _CLONE_VALUES, _CLONE_GROUPS, _CLONE_MEMBERS):
            await conn.execute(query, source.org_id, org_id, old, new)
    return Org(org_id, dict(ids))


def _shifted(ids: Mapping[str, str], slots: tuple[str, ...]) -> dict[str, str]:
    return {slot: ids[slots[(i + 1) % len(slots)]] for i, slot in enumerate(slots)}


async def build_world(
    admin: pb_grpc.OrgAdminAsyncStub, prov: pb_grpc.ProvisioningAsyncStub, db_pool: asyncpg.Pool
) -> World:
    """Provision A, copy it into B (A's ids, shuffled) and C (fresh ids); committed."""
    a = await _provision(admin, prov)
    b_ids = {**_shifted(a.ids, USER_SLOTS), **_shifted(a.ids, GROUP_SLOTS)}
    c_ids = {slot: str(uuid.uuid4()) for slot in a.ids}
    async with db_pool.acquire() as conn:
        b = await _clone(conn, a, b_ids)
        c = await _clone(conn, a, c_ids)
        rows = await conn.fetch(
            "SELECT id, created, last_modified FROM users WHERE org_id = $1"
            " UNION ALL SELECT id, created, last_modified FROM groups WHERE org_id = $1",
            a.org_id,
        )
    stamps = {}
    for row in rows:
        slot = a.slots[str(row["id"])]
        stamps[slot, "created"] = row["created"]
        stamps[slot, "lastModified"] = row["last_modified"]
    return World(a, b, c, stamps)


# ---------------------------------------------------------------- symbolic filters


@dataclass(frozen=True)
class Ref:
    """The id of a slot, in whichever org the filter is rendered for."""

    slot: str
    upper: bool = False


@dataclass(frozen=True)
class Stamp:
    """A slot's meta timestamp, moved by a microsecond or not."""

    slot: str
    which: str
    shift: int = 0


Literal = str | bool | None | Ref | Stamp


@dataclass(frozen=True)
class Cmp:
    path: str
    op: str
    value: Literal = None
    has_value: bool = True


@dataclass(frozen=True)
class Junction:
    glue: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class ValuePath:
    """`attribute[inner]`, or Entra's `attribute[inner].sub op value` when `then` is set."""

    attribute: str
    inner: Node
    then: Cmp | None = None


Node = Cmp | Junction | Not | ValuePath


def _literal(value: Literal, org: Org, world: World) -> str:
    if isinstance(value, Ref):
        text = org.ids.get(value.slot, value.slot)
        return json.dumps(text.upper() if value.upper else text)
    if isinstance(value, Stamp):
        moment = world.stamps[value.slot, value.which] + timedelta(microseconds=value.shift)
        return json.dumps(moment.isoformat())
    return json.dumps(value)


def render(node: Node, org: Org, world: World) -> str:
    """SCIM filter text of `node` for `org` (RFC 7644 §3.4.2.2)."""
    match node:
        case Cmp(path, op, value, has_value):
            return f"{path} {op} {_literal(value, org, world)}" if has_value else f"{path} {op}"
        case Junction(glue, operands):
            return f" {glue} ".join(f"({render(o, org, world)})" for o in operands)
        case Not(operand):
            return f"not ({render(operand, org, world)})"
        case ValuePath(attribute, inner, then):
            text = f"{attribute}[{render(inner, org, world)}]"
            return text if then is None else f"{text}.{render(then, org, world)}"
    raise AssertionError(node)


def to_proto(node: Node, org: Org, world: World) -> pb.Filter:
    """What the gateway sends for `node` in `org`: its text, through the gateway's parser."""
    return parse_filter(render(node, org, world))


# ---------------------------------------------------------------- strategies

_ORDERED = ("eq", "ne", "gt", "ge", "lt", "le")
_LIKE = ("co", "sw", "ew")
_cased = st.sampled_from([str, str.upper, str.lower, str.swapcase])


def _fragments(values: list[str]) -> list[str]:
    parts = {p for v in values if v for p in (v[:3], v[-4:], v[1:5])}
    return sorted(parts | {"@", "%", "_", "example"})


def _text(path: str, values: list[str]) -> st.SearchStrategy[Cmp]:
    whole = st.builds(
        lambda op, v, case: Cmp(path, op, case(v)),
        st.sampled_from(_ORDERED),
        st.sampled_from(values),
        _cased,
    )
    part = st.builds(
        lambda op, v, case: Cmp(path, op, case(v)),
        st.sampled_from(_LIKE),
        st.sampled_from(_fragments(values)),
        _cased,
    )
    absent = st.one_of(
        st.just(Cmp(path, "pr", has_value=False)),
        st.builds(lambda op: Cmp(path, op, None), st.sampled_from(("eq", "ne"))),
    )
    return st.one_of(whole, part, absent)


def _boolean(path: str) -> st.SearchStrategy[Cmp]:
    return st.one_of(
        st.builds(lambda op, v: Cmp(path, op, v), st.sampled_from(("eq", "ne")), st.booleans()),
        st.just(Cmp(path, "pr", has_value=False)),
    )


def _ids(path: str, slots: tuple[str, ...]) -> st.SearchStrategy[Cmp]:
    refs = st.builds(Ref, st.sampled_from(slots), st.booleans())
    odd = st.sampled_from([UNKNOWN_ID, "not-a-uuid"])
    return st.one_of(
        st.builds(lambda op, v: Cmp(path, op, v), st.sampled_from(("eq", "ne")), refs),
        st.builds(lambda op, v: Cmp(path, op, v), st.sampled_from(("eq", "ne")), odd),
        st.just(Cmp(path, "pr", has_value=False)),
    )


def _stamps(path: str, slots: tuple[str, ...]) -> st.SearchStrategy[Cmp]:
    which = "created" if path.endswith("created") else "lastModified"
    stamp = st.builds(Stamp, st.sampled_from(slots), st.just(which), st.sampled_from((-1, 0, 1)))
    return st.builds(lambda op, v: Cmp(path, op, v), st.sampled_from(_ORDERED), stamp)


def _tree(leaf: st.SearchStrategy[Node], max_leaves: int = 5) -> st.SearchStrategy[Node]:
    def extend(kids: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        operands = st.lists(kids, min_size=2, max_size=3).map(tuple)
        return st.one_of(
            st.builds(Junction, st.sampled_from(("and", "or")), operands),
            st.builds(Not, kids),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


def _values_of(*path: str) -> list[str]:
    found: list[str] = [ADMIN] if path == ("userName",) else []
    for document in USERS.values():
        node: Any = document
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, list):
            found += [item["value"] for item in node]
        elif isinstance(node, str):
            found.append(node)
    return found or ["x"]


_EMAILS = [*_values_of("emails"), ADMIN]
_GROUP_NAMES = [name for name, _, _ in GROUPS.values()]
_USER_NAMES = [d["displayName"] for d in USERS.values() if "displayName" in d]
# What a server must refuse whatever the org: unknown names, wrong operators.
_REFUSED = st.sampled_from(
    [
        Cmp("nosuchattribute", "eq", "x"),
        Cmp("active", "co", "t"),
        Cmp("meta.created", "sw", "2"),
        Cmp("emails.nosub", "eq", "x"),
    ]
)


def _email_row() -> st.SearchStrategy[Node]:
    return _tree(
        st.one_of(
            _text("value", _EMAILS),
            _text("type", ["work", "home", "other"]),
            _boolean("primary"),
        ),
        max_leaves=3,
    )


def _member_row() -> st.SearchStrategy[Node]:
    return _tree(
        st.one_of(
            _ids("value", USER_SLOTS),
            _text("display", _USER_NAMES),
            _text("type", ["User"]),
        ),
        max_leaves=3,
    )


def user_filters() -> st.SearchStrategy[Node]:
    """Filters over the published User attributes, valid but for a rare refused leaf."""
    entra = st.builds(
        lambda kind, then: ValuePath("emails", Cmp("type", "eq", kind), then),
        st.sampled_from(["work", "home"]),
        _text("value", _EMAILS),
    )
    leaf = st.one_of(
        _text("userName", _values_of("userName")),
        _text("displayName", _values_of("displayName")),
        _text("name.givenName", _values_of("name", "givenName")),
        _text("name.familyName", _values_of("name", "familyName")),
        _text("title", ["Engineer", ""]),
        _text(f"{ENTERPRISE}:employeeNumber", _values_of(ENTERPRISE, "employeeNumber")),
        _text("externalId", _values_of("externalId")),
        _boolean("active"),
        _text("emails", _EMAILS),
        _text("emails.value", _EMAILS),
        _text("emails.type", ["work", "home", "other"]),
        _boolean("emails.primary"),
        st.builds(ValuePath, st.just("emails"), _email_row()),
        entra,
        _ids("id", USER_SLOTS),
        _ids("groups", GROUP_SLOTS),
        _text("groups.display", _GROUP_NAMES),
        _stamps("meta.created", USER_SLOTS),
        _stamps("meta.lastModified", USER_SLOTS),
        _REFUSED,
    )
    return _tree(leaf)


def group_filters() -> st.SearchStrategy[Node]:
    """Filters over the published Group attributes, valid but for a rare refused leaf."""
    leaf = st.one_of(
        _text("displayName", _GROUP_NAMES),
        _text("externalId", ["g-ext-0", "G-EXT-2"]),
        _ids("id", GROUP_SLOTS),
        _ids("members", USER_SLOTS),
        _ids("members.value", USER_SLOTS),
        _text("members.display", _USER_NAMES),
        st.builds(ValuePath, st.just("members"), _member_row()),
        _stamps("meta.created", GROUP_SLOTS),
        _stamps("meta.lastModified", GROUP_SLOTS),
        _REFUSED,
    )
    return _tree(leaf)
