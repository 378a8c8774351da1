"""Durations on the command line: `90s`, `15m`, `2h`, `30d`."""

from __future__ import annotations

import argparse
import re

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """`90s`, `15m`, `2h`, `1d` as seconds (an argparse type: bad text is a usage error)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
