"""``identityctl key create|list|revoke ORG``: an org's SCIM keys (SPEC §5).

A key is created by an Org Admin with a name and, optionally, an expiry
(``--expires-in 90d``); its token is printed once. Listings never show a secret.
"""

from __future__ import annotations

import argparse
from typing import Any

from identityctl.client import IdentityClient
from identityctl.durations import duration_seconds
from identityctl.render import KEY_COLUMNS, Output, key_data, table
from identityctl.settings import Settings


def key_create(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    created = client.create_scim_key(args.org, args.name, args.actor, args.expires_in)
    data = {
        **key_data(created.key),
        "token": created.token,
        "scim_url": settings.scim_url(args.org),
    }
    text = (
        f"Created SCIM key {created.key.id} ({created.key.name!r}) for org {args.org}.\n"
        f"  SCIM base URL: {data['scim_url']}\n"
        f"  key id:        {created.key.id}\n"
        f"  token:         {created.token}\n"
        f"  expires:       {data['expires'] or 'never'}\n"
        "Store it now, it will not be shown again: only a hash of it is kept.\n"
    )
    return Output(data, text)


def key_list(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    rows = [key_data(key) for key in client.list_scim_keys(args.org, args.actor)]
    if not rows:
        return Output(rows, f"No SCIM keys for org {args.org}.\n")
    return Output(rows, table(rows, KEY_COLUMNS))


def key_revoke(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    key = client.revoke_scim_key(args.org, args.key_id, args.actor)
    data = key_data(key)
    return Output(data, f"Revoked SCIM key {key.id} of org {args.org} at {data['revoked']}.\n")


def add_key_commands(commands: argparse._SubParsersAction[Any], common: Any) -> None:
    key = commands.add_parser("key", help="SCIM API keys").subparsers("action")
    actor = type(common)(add_help=False)
    actor.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    create = key.add_parser("create", parents=[common, actor], help="create a key (shown once)")
    create.add_argument("org", metavar="ORG")
    create.add_argument("--name", required=True, help='e.g. "Okta SCIM key"')
    create.add_argument(
        "--expires-in",
        type=duration_seconds,
        default=0,
        metavar="DURATION",
        help="e.g. 90d, 12h or 90m; then it fails like a revoked key (default: never)",
    )
    create.set_defaults(command=key_create)
    listing = key.add_parser("list", parents=[common, actor], help="list keys (never secrets)")
    listing.add_argument("org", metavar="ORG")
    listing.set_defaults(command=key_list)
    revoke = key.add_parser("revoke", parents=[common, actor], help="revoke a key now")
    revoke.add_argument("org", metavar="ORG")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(command=key_revoke)
