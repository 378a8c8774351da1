"""identityctl: the operator CLI for orgs, members, SCIM keys and role mappings.

Parsing and the command functions live here (rendering in ``render``; the key,
events, deprovisioning, requests and name commands in modules of their own); ``run`` is the
entry point (``__main__`` only wires it to the process). Every command takes
``--json``. gRPC errors are turned into a one-line message and an exit code in
exactly one place, ``_rpc_error``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NoReturn, TextIO

import grpc

from identity_api.v1 import identity_pb2 as pb
from identityctl.client import IdentityClient
from identityctl.console_links import add_console_link_command
from identityctl.deprovisioning import add_deprovisioning_commands, brake_data, brake_text
from identityctl.events import add_events_command
from identityctl.keys import add_key_commands
from identityctl.names import (
    add_admin_name_flags,
    add_set_name_command,
    admin_name,
    unnamed_admin_warning,
)
from identityctl.render import (
    RULE_COLUMNS,
    Output,
    member_data,
    member_text,
    org_output,
    role_name,
    rule_data,
    table,
    user_data,
)
from identityctl.requests import add_requests_command
from identityctl.restore import add_restore_commands
from identityctl.settings import CREDENTIAL_HINT, ConfigError, Settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # bad arguments or a missing/rejected operator credential
EXIT_UNAVAILABLE = 3

# Refusals the server explains itself: its details() text is the message.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)

ROLE_NAMES = [name for name in pb.Role.keys() if name != "ROLE_UNSPECIFIED"]


Command = Callable[[IdentityClient, argparse.Namespace, Settings], Output]


class _ParseExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to bound streams and never calls sys.exit.

    Subparsers are built with ``type(self)``, so binding the streams on a
    subclass (``_parser_class``) carries them to every subcommand's parser.
    """

    _out: TextIO
    _err: TextIO

    def print_help(self, file: Any = None) -> None:
        self._out.write(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        self._err.write(self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._err.write(message)
        raise _ParseExit(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage()
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def subparsers(self, dest: str) -> argparse._SubParsersAction[_Parser]:
        return self.add_subparsers(title="commands", dest=dest, required=True, metavar="COMMAND")


def _parser_class(out: TextIO, err: TextIO) -> type[_Parser]:
    class _BoundParser(_Parser):
        _out, _err = out, err

    return _BoundParser


# ---------------------------------------------------------------- commands


def org_create(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    name = admin_name(args)
    org = client.create_org(
        args.org,
        args.name,
        args.admin_email,
        sso_configured=args.sso_configured,
        admin_name=name,
    )
    output = org_output(org, settings, f"Created org {org.id} (ORG_ADMIN: {args.admin_email})")
    if name is None:
        return replace(output, warning=unnamed_admin_warning(org.id, args.admin_email))
    return output


def org_show(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    org = client.get_org(args.org)
    shown = org_output(org, settings, f"Org {org.id}")
    brake = client.get_deprovisioning_brake(org.id)
    data = {**shown.data, "deprovisioning": brake_data(brake)}
    return Output(data, shown.text + brake_text(brake))


def org_sso(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    org = client.set_org_sso(args.org, configured=args.configured)
    state = "configured" if org.sso_configured else "not configured"
    return org_output(org, settings, f"Org {org.id}: SSO {state}")


def member_role(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    role = pb.ROLE_UNSPECIFIED if args.clear else pb.Role.Value(args.role)
    user = client.set_direct_role(args.org, args.username, role)
    data = user_data(user)
    if data["direct_role"] is None:
        return Output(data, f"{user.user_name} in {user.org_id}: direct role cleared\n")
    return Output(data, f"{user.user_name} in {user.org_id}: direct role {data['direct_role']}\n")


def org_default_role(
    client: IdentityClient, args: argparse.Namespace, settings: Settings
) -> Output:
    role = pb.ROLE_UNSPECIFIED if args.clear else pb.Role.Value(args.role)
    org = client.set_default_role(args.org, role, args.actor)
    name = role_name(org.default_role) or "none"
    return org_output(org, settings, f"Org {org.id}: default role {name}")


def member_show(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    data = member_data(client.get_member(args.org, args.username))
    return Output(data, member_text(data))


def role_map_set(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    rule = client.set_role_rule(
        args.org,
        group_id=args.group_id,
        group_name=args.group,
        role=pb.Role.Value(args.role),
        actor_email=args.actor,
    )
    data = rule_data(rule)
    target = f"group id {data['group_id']}" if data["group_id"] else f"group {data['group_name']!r}"
    return Output(data, f"Rule {rule.id} in {args.org}: members of {target} get {data['role']}\n")


def role_map_list(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    answer = client.list_role_rules(args.org, args.actor)
    rows = [rule_data(rule) for rule in answer.rules]
    default = role_name(answer.default_role)
    text = f"Default role: {default or '-'}\n"
    text += table(rows, RULE_COLUMNS) if rows else f"No role rules for org {args.org}.\n"
    return Output({"default_role": default, "rules": rows}, text)


def role_map_delete(client: IdentityClient, args: argparse.Namespace, settings: Settings) -> Output:
    client.delete_role_rule(args.org, args.rule_id, args.actor)
    data = {"id": args.rule_id, "org_id": args.org, "deleted": True}
    return Output(data, f"Deleted role rule {args.rule_id} of org {args.org}.\n")


# ---------------------------------------------------------------- parsing


def _role(text: str) -> str:
    name = text.upper()
    if name not in ROLE_NAMES:
        raise argparse.ArgumentTypeError(f"unknown role {text!r}; one of {', '.join(ROLE_NAMES)}")
    return name


def _json_flag(parser_class: type[_Parser]) -> _Parser:
    # SUPPRESS: a subcommand without --json must not reset a top-level --json.
    common = parser_class(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return common


def _add_org_commands(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    org = commands.add_parser("org", help="create and inspect orgs").subparsers("action")
    create = org.add_parser("create", parents=[common], help="create an org and its first admin")
    create.add_argument(
        "org", metavar="ORG", help="org id (slug): lowercase letters, digits, hyphens"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--admin-email", required=True, help="gets ORG_ADMIN as a direct role")
    add_admin_name_flags(create)
    create.add_argument("--sso-configured", action="store_true")
    create.set_defaults(command=org_create)
    show = org.add_parser("show", parents=[common], help="show an org")
    show.add_argument("org", metavar="ORG")
    show.set_defaults(command=org_show)
    sso = org.add_parser("sso", parents=[common], help="record whether SSO is configured")
    sso.add_argument("org", metavar="ORG")
    state = sso.add_mutually_exclusive_group(required=True)
    state.add_argument("--configured", dest="configured", action="store_true", default=None)
    state.add_argument("--not-configured", dest="configured", action="store_false")
    sso.set_defaults(command=org_sso)
    default = org.add_parser(
        "default-role", parents=[common], help="role of members in no mapped group"
    )
    default.add_argument("org", metavar="ORG")
    choice = default.add_mutually_exclusive_group(required=True)
    choice.add_argument("role", nargs="?", type=_role, metavar="ROLE", help=", ".join(ROLE_NAMES))
    choice.add_argument("--clear", action="store_true", help="no default role")
    default.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    default.set_defaults(command=org_default_role)


def _add_member_commands(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    member = commands.add_parser(
        "member", help="members' direct roles and names; restoring deleted members"
    ).subparsers("action")
    role = member.add_parser("role", parents=[common], help="set or clear a direct role")
    role.add_argument("org", metavar="ORG")
    role.add_argument("username", metavar="USERNAME", help="the member's userName")
    choice = role.add_mutually_exclusive_group(required=True)
    choice.add_argument("role", nargs="?", type=_role, metavar="ROLE", help=", ".join(ROLE_NAMES))
    choice.add_argument("--clear", action="store_true", help="remove the direct role")
    role.set_defaults(command=member_role)
    show = member.add_parser("show", parents=[common], help="a member's status, role and groups")
    show.add_argument("org", metavar="ORG")
    show.add_argument("username", metavar="USERNAME", help="the member's userName")
    show.set_defaults(command=member_show)
    add_set_name_command(member, common)
    add_restore_commands(member, common)


def _add_role_map_commands(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    role_map = commands.add_parser("role-map", help="roles from IdP groups").subparsers("action")
    actor = type(common)(add_help=False)
    actor.add_argument("--actor", required=True, metavar="EMAIL", help="an ORG_ADMIN of the org")
    set_ = role_map.add_parser("set", parents=[common, actor], help="map a group to a role")
    set_.add_argument("org", metavar="ORG")
    target = set_.add_mutually_exclusive_group(required=True)
    target.add_argument("--group", metavar="NAME", help="displayName, matched ignoring case")
    target.add_argument("--group-id", metavar="ID", help="the group's SCIM id")
    set_.add_argument("--role", required=True, type=_role, help=", ".join(ROLE_NAMES))
    set_.set_defaults(command=role_map_set)
    listing = role_map.add_parser("list", parents=[common], help="rules and the default role")
    listing.add_argument("org", metavar="ORG")
    listing.add_argument("--actor", metavar="EMAIL", help="an ORG_ADMIN (default: the operator)")
    listing.set_defaults(command=role_map_list)
    delete = role_map.add_parser("delete", parents=[common, actor], help="delete a rule")
    delete.add_argument("org", metavar="ORG")
    delete.add_argument("rule_id", metavar="RULE_ID")
    delete.set_defaults(command=role_map_delete)


def build_parser(stdout: TextIO, stderr: TextIO) -> _Parser:
    parser_class = _parser_class(stdout, stderr)
    common = _json_flag(parser_class)
    parser = parser_class(
        prog="identityctl",
        description="Operator CLI for the GraphOS identity service (IDENTITY_ADDR).",
    )
    # Its own action: set_defaults on a shared parent action would reset every subcommand's.
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.subparsers("group")
    _add_org_commands(commands, common)
    _add_member_commands(commands, common)
    add_key_commands(commands, common)
    _add_role_map_commands(commands, common)
    add_events_command(commands, common)
    add_deprovisioning_commands(commands, common)
    add_requests_command(commands, common)
    add_console_link_command(commands, common)
    return parser


# ---------------------------------------------------------------- running


def _rejected(settings: Settings) -> str:
    if settings.tls and settings.tls.cert_file:
        return (
            "the identity service rejected the operator credential: its "
            "IDENTITY_MTLS_OPERATORS must name the client certificate, or give a valid "
            "operator token"
        )
    return f"the identity service rejected the operator token; {CREDENTIAL_HINT}"


def _rpc_error(exc: grpc.RpcError, settings: Settings) -> tuple[int, str]:
    """Translate a gRPC error into (exit code, message); the only place that does."""
    code, details = exc.code(), exc.details() or ""
    if code in _REFUSALS:
        return EXIT_ERROR, details or code.name
    if code is grpc.StatusCode.UNAVAILABLE:
        return EXIT_UNAVAILABLE, f"identity service unreachable at {settings.identity_addr}"
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return EXIT_USAGE, _rejected(settings)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return EXIT_ERROR, f"identity service at {settings.identity_addr} did not answer in time"
    return EXIT_ERROR, f"{code.name}: {details}" if details else code.name


def _execute(args: argparse.Namespace, settings: Settings, stdout: TextIO, stderr: TextIO) -> None:
    if "stream" in args:  # prints as results arrive (events --follow)
        with IdentityClient(
            settings.identity_addr, settings.operator_token, tls=settings.tls
        ) as client:
            args.stream(client, args, stdout)
        return
    command: Command = args.command
    with IdentityClient(
        settings.identity_addr, settings.operator_token, tls=settings.tls
    ) as client:
        output = command(client, args, settings)
    stderr.write(output.warning)
    if args.json:
        stdout.write(json.dumps(output.data, indent=2) + "\n")
    else:
        stdout.write(output.text)


def run(argv: Sequence[str], environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    """Run one identityctl command; return the process exit code."""
    try:
        args = build_parser(stdout, stderr).parse_args(list(argv))
    except _ParseExit as exit_:
        return exit_.status
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    try:
        _execute(args, settings, stdout, stderr)
    except grpc.RpcError as exc:
        code, message = _rpc_error(exc, settings)
        stderr.write(f"error: {message}\n")
        return code
    return EXIT_OK
