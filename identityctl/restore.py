"""``identityctl member deleted`` and ``member restore``: the restore window (issue 10).

A member deleted through SCIM is kept for the identity service's restore
window (IDENTITY_RESTORE_WINDOW_DAYS); an Org Admin lists what can be
restored and brings a member back as it was, with its groups and role.
"""

from __future__ import annotations

import argparse
from typing import Any

from identityctl.client import IdentityClient
from identityctl.render import Output, deleted_member_data, table, user_data
from identityctl.settings import Settings

DELETED_COLUMNS = ("user_name", "id", "deleted_at", "deleted_by", "restorable_until")


def member_deleted(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    answer = client.list_deleted_members(args.org, args.actor, args.limit, args.page_token)
    rows = [deleted_member_data(m) for m in answer.members]
    data = {"members": rows, "next_page_token": answer.next_page_token or None}
    if not rows:
        return Output(data, f"No restorable deleted members in org {args.org}.\n")
    text = table(rows, DELETED_COLUMNS)
    if answer.next_page_token:
        text += f"More: --page-token {answer.next_page_token}\n"
    return Output(data, text)


def member_restore(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    answer = client.restore_member(args.org, args.username, args.actor)
    user = answer.user
    data = {
        **user_data(user),
        "groups": [{"id": g.id, "display_name": g.display_name} for g in user.groups],
        "missing_group_ids": list(answer.missing_group_ids),
    }
    groups = ", ".join(g["display_name"] for g in data["groups"]) or "-"
    text = f"Restored {user.user_name} in {user.org_id} (id {user.id}); groups: {groups}\n"
    if answer.missing_group_ids:
        text += f"  not rejoined, deleted since: {', '.join(answer.missing_group_ids)}\n"
    return Output(data, text)


def add_restore_commands(member: argparse._SubParsersAction[Any], common: Any) -> None:
    """`member deleted` and `member restore`, under the `member` command."""
    actor = type(common)(add_help=False)
    actor.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    listing = member.add_parser(
        "deleted", parents=[common, actor], help="members deleted through SCIM, still restorable"
    )
    listing.add_argument("org", metavar="ORG")
    listing.add_argument("--limit", type=int, default=100, help="members per page (at most 1000)")
    listing.add_argument("--page-token", default="", metavar="TOKEN", help="the next page's")
    listing.set_defaults(command=member_deleted)
    restore = member.add_parser(
        "restore", parents=[common, actor], help="bring back a deleted member as it was"
    )
    restore.add_argument("org", metavar="ORG")
    restore.add_argument("username", metavar="USERNAME", help="the deleted member's userName")
    restore.set_defaults(command=member_restore)
