"""``identityctl console-link ORG --actor EMAIL``: a one-time console sign-in URL.

The link signs the Org Admin EMAIL into the console of ORG, once, within ten
minutes (the identity service decides both and refuses anyone not an Org
Admin of ORG). The URL opens a confirmation page: only its POST uses the link
up, so a mail or chat scanner that fetches it does not.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlencode

from identityctl.client import IdentityClient
from identityctl.render import Output
from identityctl.settings import Settings


def login_url(settings: Settings, token: str) -> str:
    return f"{settings.console_public_url.rstrip('/')}/login?{urlencode({'token': token})}"


def console_link(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    created = client.create_console_link(args.org, args.actor)
    data = {
        "org_id": args.org,
        "admin_email": args.actor,
        "url": login_url(settings, created.token),
        "expires": created.expires.ToJsonString(),
    }
    text = (
        f"Console sign-in link for {args.actor} in org {args.org}"
        f" (single use, until {data['expires']}):\n  {data['url']}\n"
    )
    return Output(data, text)


def add_console_link_command(commands: argparse._SubParsersAction[Any], common: Any) -> None:
    parser = commands.add_parser(
        "console-link", parents=[common], help="a one-time console sign-in URL for an Org Admin"
    )
    parser.add_argument("org", metavar="ORG")
    parser.add_argument(
        "--actor", required=True, metavar="EMAIL", help="the ORG_ADMIN the link signs in"
    )
    parser.set_defaults(command=console_link)
