"""``identityctl requests ORG``: the org's request log, newest first (issue 12).

Every SCIM request the gateways answered for the org: when, what, the
outcome, how long it took and which IdP sent it; for a failure the SCIM
error and the request body as recorded, secrets masked by the gateway.
"""

from __future__ import annotations

import argparse
from typing import Any

from identity_api.v1 import identity_pb2 as pb
from identityctl.client import IdentityClient
from identityctl.render import Output, iso
from identityctl.settings import Settings

IDPS = ("okta", "entra", "other")


def request_data(entry: pb.RequestLogEntry) -> dict[str, Any]:
    return {
        "time": iso(entry.time, entry, "time"),
        "method": entry.method,
        "route": entry.route,
        "resource_id": entry.resource_id,
        "status": entry.status,
        "scim_type": entry.scim_type,
        "latency_ms": round(entry.latency_ms, 1),
        "idp": entry.idp,
        "key_id": entry.key_id,
        "request_id": entry.request_id,
        "error_detail": entry.error_detail,
        "masked_body": entry.masked_body,
    }


def request_text(data: dict[str, Any]) -> str:
    """One line per request; a failure adds its error and body, indented."""
    target = f"{data['route']} {data['resource_id']}".rstrip()
    outcome = f"{data['status']} {data['scim_type']}".rstrip()
    text = (
        f"{data['time']}  {data['method']:<6} {target:<40} {outcome:<16} "
        f"{data['latency_ms']:>8.1f} ms  {data['idp']:<5}  key {data['key_id'] or '-'}  "
        f"[request {data['request_id']}]\n"
    )
    if data["error_detail"]:
        text += f"    error: {data['error_detail']}\n"
    if data["masked_body"]:
        text += f"    body:  {data['masked_body']}\n"
    return text


def requests(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    answer = client.list_requests(
        args.org,
        args.actor,
        outcome="failure" if args.failures else "",
        method=args.method or "",
        resource=args.resource or "",
        idp=args.idp or "",
        count=args.count,
    )
    rows = [request_data(entry) for entry in answer.entries]
    if not rows:
        return Output(rows, f"No requests recorded for org {args.org}.\n")
    text = "".join(request_text(row) for row in rows)
    if answer.next_cursor:
        text += f"(the {len(rows)} newest shown; --count shows up to 200)\n"
    return Output(rows, text)


def add_requests_command(commands: argparse._SubParsersAction[Any], common: Any) -> None:
    parser = commands.add_parser(
        "requests", parents=[common], help="the org's SCIM request log, newest first"
    )
    parser.add_argument("org", metavar="ORG")
    parser.add_argument("--failures", action="store_true", help="only answers of 400 and above")
    parser.add_argument("--method", metavar="M", help="e.g. POST")
    parser.add_argument("--resource", metavar="R", help="Users, Groups, Bulk, ...")
    parser.add_argument("--idp", choices=IDPS, help="which IdP sent it")
    parser.add_argument(
        "--count", type=int, default=50, metavar="N", help="how many (default 50, at most 200)"
    )
    parser.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    parser.set_defaults(command=requests)
