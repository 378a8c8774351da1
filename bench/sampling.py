"""`--profile DIR`: py-spy samples each Python process while a scenario's SCIM load runs.

Profile before optimising: the raw (collapsed-stack) files land in DIR, one
per scenario and process, and `summary()` lists the frames that hold the
most samples there, by own time and by time including callees. py-spy
reads the processes from outside (`--nonblocking`), so it does not stop
them; it still costs some CPU, so quote CPU figures from a run without it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# The Python processes of the stack; Postgres is measured by CPU time only.
SAMPLED_ROLES = ("gateway", "identity_svc")
_RATE_HZ = 250


@contextmanager
def sampled(pids: Mapping[str, int], out_dir: Path | None, scenario: str) -> Iterator[None]:
    """Record the gateway and the identity service while the block runs (no-op without a dir)."""
    if out_dir is None:
        yield
        return
    # The project pins py-spy in its dev dependencies, beside this interpreter.
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        raise SystemExit("bench --profile needs py-spy (make install puts it in .venv)")
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(  # noqa: S603 - a fixed command line of our own
            [
                py_spy,
                "record",
                "--pid",
                str(pids[role]),
                "--rate",
                str(_RATE_HZ),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out_dir / f"{scenario}.{role}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role in SAMPLED_ROLES
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for recorder in recorders:
            recorder.wait(timeout=60)


def _frame(frame: str) -> str:
    """`handle (aiohttp/web_protocol.py:512)` without the line number."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/"):
        path = path.split(marker, 1)[-1]
    return f"{name} ({path})" if path else name


def top_frames(
    raw: Path, most: int = 12
) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Samples in all, and the frames with the most samples: own time, and with callees."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_frame(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return samples, own.most_common(most), total.most_common(most * 3)


def summary(out_dir: Path) -> str:
    """The top frames of every file in `out_dir`, as text."""
    parts = []
    for raw in sorted(out_dir.glob("*.txt")):
        if raw.name == "summary.txt":
            continue
        samples, own, total = top_frames(raw)
        if not samples:
            continue
        parts.append(f"== {raw.stem}: {samples} samples")
        parts.append("  own time:")
        parts += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in own]
        parts.append("  with callees:")
        parts += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in total]
    return "\n".join(parts)
