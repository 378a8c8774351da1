"""Members' names: ``org create``'s admin name flags and ``member set-name``.

SPEC §5: every member carries name.givenName and name.familyName, because
Okta's SCIM 2.0 Spec Test reads them on the first user of
``GET /Users?count=1&startIndex=1``, which on a fresh org is the admin that
``org create`` made. The identity service validates the name (blank parts are
refused), so the rules live in one place.
"""

from __future__ import annotations

import argparse
from typing import Any

from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from identityctl.client import IdentityClient
from identityctl.render import Output, user_data
from identityctl.settings import Settings


def person_name(given: str | None, family: str | None, display: str | None) -> pb.PersonName:
    # A missing part is sent empty, so the service refuses it with its own message.
    return pb.PersonName(given_name=given or "", family_name=family or "", display_name=display)


def admin_name(args: argparse.Namespace) -> pb.PersonName | None:
    """The admin's name from ``org create``'s flags; None when none is given."""
    parts = (args.admin_given_name, args.admin_family_name, args.admin_display_name)
    if all(part is None for part in parts):
        return None
    return person_name(*parts)


def unnamed_admin_warning(org: str, admin_email: str) -> str:
    return (
        f"warning: the first member of org {org}, {admin_email}, has no name: Okta's SCIM 2.0"
        " Spec Test reads name.givenName and name.familyName on the first user of"
        " GET /Users and will fail on this org. Give it a name with:\n"
        f"  identityctl member set-name {org} {admin_email} --given GIVEN --family FAMILY"
        f" --actor {admin_email}\n"
        "(or pass --admin-given-name and --admin-family-name to org create).\n"
    )


def add_admin_name_flags(create: argparse.ArgumentParser) -> None:
    create.add_argument("--admin-given-name", metavar="GIVEN", help="the admin's name.givenName")
    create.add_argument("--admin-family-name", metavar="FAMILY", help="the admin's name.familyName")
    create.add_argument("--admin-display-name", metavar="DISPLAY", help='default: "GIVEN FAMILY"')


def _name_data(user: pb.User) -> dict[str, Any]:
    document = json_format.MessageToDict(user.attributes)
    return {**user_data(user), "name": document.get("name"), "display_name": user.display_name}


def member_set_name(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    name = person_name(args.given, args.family, args.display)
    user = client.set_member_name(args.org, args.username, name, args.actor)
    data = _name_data(user)
    formatted = (data["name"] or {}).get("formatted", "")
    text = (
        f"{user.user_name} in {user.org_id}: name {formatted!r},"
        f" displayName {user.display_name!r}\n"
    )
    return Output(data, text)


def add_set_name_command(member: argparse._SubParsersAction[Any], common: Any) -> None:
    set_name = member.add_parser(
        "set-name", parents=[common], help="set a member's givenName, familyName, displayName"
    )
    set_name.add_argument("org", metavar="ORG")
    set_name.add_argument("username", metavar="USERNAME", help="the member's userName")
    set_name.add_argument("--given", required=True, metavar="GIVEN", help="name.givenName")
    set_name.add_argument("--family", required=True, metavar="FAMILY", help="name.familyName")
    set_name.add_argument("--display", metavar="DISPLAY", help='default: "GIVEN FAMILY"')
    set_name.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    set_name.set_defaults(command=member_set_name)
