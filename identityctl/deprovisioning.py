"""``identityctl deprovisioning show|set|release ORG``: the org's deprovisioning brake.

The brake refuses deactivations and deletions (SCIM 429) once an IdP sends
more than the org's budget within the window (README "When the IdP goes
wrong"); an Org Admin releases it here once the IdP is checked.
"""

from __future__ import annotations

import argparse
from typing import Any

from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from identityctl.client import IdentityClient
from identityctl.durations import duration_seconds
from identityctl.render import Output, iso
from identityctl.settings import Settings


def brake_data(brake: pb.DeprovisioningBrake) -> dict[str, Any]:
    return {
        "enabled": brake.enabled,
        "floor": brake.floor,
        "share_percent": brake.share_percent,
        "window_seconds": brake.window_seconds,
        "tripped_at": iso(brake.tripped_at, brake, "tripped_at"),
        "trip": json_format.MessageToDict(brake.trip) if brake.HasField("trip") else None,
        "in_window": brake.in_window,
        "budget": brake.budget,
        "active_members": brake.active_members,
        "allowance": brake.allowance,
        "off_until": iso(brake.off_until, brake, "off_until"),
        "counted_from": iso(brake.counted_from, brake, "counted_from"),
    }


def brake_text(brake: pb.DeprovisioningBrake) -> str:
    """The brake in a few lines, indented like `org show`'s fields."""
    data = brake_data(brake)
    if not brake.enabled:
        state = "off (no limit)"
    elif data["tripped_at"]:
        state = f"TRIPPED at {data['tripped_at']}: deprovisions are refused until released"
    elif data["off_until"]:
        state = f"released, off until {data['off_until']}"
    else:
        state = "armed"
    rule = (
        f"at most max({brake.floor}, {brake.share_percent:g}% of {brake.active_members} active)"
        f" = {brake.budget} per {brake.window_seconds // 60:g} min"
    )
    text = (
        f"  deprovisioning: {state}\n"
        f"    budget:       {rule}\n"
        f"    in window:    {brake.in_window}\n"
    )
    if brake.allowance:
        text += f"    allowance:    {brake.allowance} beyond the budget\n"
    return text


def _output(brake: pb.DeprovisioningBrake, headline: str) -> Output:
    return Output(brake_data(brake), f"{headline}\n{brake_text(brake)}")


def show(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    return _output(client.get_deprovisioning_brake(args.org), f"Org {args.org}")


def configure(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    updated = client.set_deprovisioning_brake(
        args.org,
        args.actor,
        enabled=args.enabled,
        floor=args.floor,
        share_percent=args.share,
        window_seconds=args.window,
    )
    return _output(updated, f"Org {args.org}: deprovisioning brake set")


def release(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    brake = client.release_deprovisioning_brake(
        args.org, args.actor, allow=args.allow or 0, off_for_seconds=args.off_for or 0
    )
    return _output(brake, f"Org {args.org}: deprovisioning released")


def add_deprovisioning_commands(commands: argparse._SubParsersAction[Any], common: Any) -> None:
    group = commands.add_parser(
        "deprovisioning", help="the brake on mass deactivations and deletions"
    ).subparsers("action")
    actor = type(common)(add_help=False)
    actor.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")

    show_ = group.add_parser("show", parents=[common], help="the brake's settings and state")
    show_.add_argument("org", metavar="ORG")
    show_.set_defaults(command=show)

    set_ = group.add_parser("set", parents=[common, actor], help="change the brake's settings")
    set_.add_argument("org", metavar="ORG")
    state = set_.add_mutually_exclusive_group()
    state.add_argument("--on", dest="enabled", action="store_true", default=None)
    state.add_argument("--off", dest="enabled", action="store_false", help="no limit at all")
    set_.add_argument("--floor", type=int, metavar="N", help="always allowed per window")
    set_.add_argument("--share", type=float, metavar="PCT", help="percent of active members")
    set_.add_argument("--window", type=duration_seconds, metavar="DURATION", help="e.g. 15m")
    set_.set_defaults(command=configure)

    release_ = group.add_parser(
        "release", parents=[common, actor], help="lift a tripped brake (count restarts)"
    )
    release_.add_argument("org", metavar="ORG")
    extra = release_.add_mutually_exclusive_group()
    extra.add_argument("--allow", type=int, metavar="N", help="N more beyond the budget")
    extra.add_argument(
        "--for", dest="off_for", type=duration_seconds, metavar="DURATION", help="off for, e.g. 2h"
    )
    release_.set_defaults(command=release)
