"""``identityctl events ORG [--after SEQ] [--follow]``: an org's change log (SPEC §6).

Unlike the other commands, this one prints as results arrive: one line per
event (one JSON object per line with ``--json``), flushed at once so a pipe
sees each event when it happens. Ctrl-C ends ``--follow``; that is the normal
way to stop, so it exits 0.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from identityctl.client import IdentityClient
from identityctl.render import event_data, event_line


def print_events(client: IdentityClient, args: argparse.Namespace, stdout: TextIO) -> None:
    events = client.watch_events(args.org, args.after, follow=args.follow)
    try:
        for event in events:
            data = event_data(event)
            stdout.write(json.dumps(data) + "\n" if args.json else event_line(data))
            stdout.flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C: the user is done watching
    finally:
        events.cancel()


def add_events_command(commands: argparse._SubParsersAction[Any], common: Any) -> None:
    parser = commands.add_parser(
        "events", parents=[common], help="print an org's change events (the audit log)"
    )
    parser.add_argument("org", metavar="ORG")
    parser.add_argument(
        "--after", type=int, default=0, metavar="SEQ", help="only events after this sequence"
    )
    parser.add_argument(
        "--follow", action="store_true", help="then print new events as they happen, until Ctrl-C"
    )
    parser.set_defaults(stream=print_events)
