"""A closed-loop load driver: N operations, at most C in flight, time-bounded.

The same driver runs SCIM requests and raw asyncpg statements, so both sides
of every ratio are measured the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# One operation; its argument is the operation's index in the run.
Operation = Callable[[int], Awaitable[None]]

_KEPT_FAILURES = 5


class Failed(Exception):
    """An operation got an answer other than the one its scenario expects."""

    def __init__(self, request: str, status: int | str, body: str) -> None:
        super().__init__(f"{request} -> {status}: {body}")
        self.request = request
        self.status = status
        self.body = body

    def as_dict(self) -> dict[str, Any]:
        return {"request": self.request, "status": self.status, "body": self.body}


@dataclass(frozen=True)
class Outcome:
    index: int
    started: float
    latency: float
    ok: bool


@dataclass(frozen=True)
class Stats:
    """Throughput and latency of a set of operations."""

    count: int
    errors: int
    seconds: float
    rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
        }


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(outcomes: list[Outcome], seconds: float | None = None) -> Stats:
    """Stats of `outcomes`; the elapsed time is their span unless given."""
    if not outcomes:
        return Stats(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if seconds is None:
        seconds = max(o.started + o.latency for o in outcomes) - min(o.started for o in outcomes)
    latencies = sorted(o.latency * 1000 for o in outcomes)
    return Stats(
        count=len(outcomes),
        errors=sum(not o.ok for o in outcomes),
        seconds=seconds,
        rate=len(outcomes) / seconds if seconds > 0 else 0.0,
        p50_ms=_percentile(latencies, 0.50),
        p95_ms=_percentile(latencies, 0.95),
        p99_ms=_percentile(latencies, 0.99),
        mean_ms=sum(latencies) / len(latencies),
    )


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    failures: list[Failed] = field(default_factory=list)

    def stats(self) -> Stats:
        return summarize(self.outcomes, self.seconds)

    def slice_stats(self, first: int, stop: int) -> Stats:
        """Stats of the operations whose index is in [first, stop)."""
        return summarize([o for o in self.outcomes if first <= o.index < stop])

    def _fail(self, failure: Failed) -> None:
        if len(self.failures) < _KEPT_FAILURES:
            self.failures.append(failure)


async def _worker(operation: Operation, indices: Iterator[int], deadline: float, run: Run) -> None:
    # The iterator is shared: each worker takes the next index when it is free.
    for index in indices:
        if time.perf_counter() > deadline:
            return
        started = time.perf_counter()
        ok = False
        try:
            await operation(index)
            ok = True
        except Failed as failure:
            run._fail(failure)
        except Exception as exc:  # a benchmark reports what broke and goes on
            run._fail(Failed(f"operation #{index}", type(exc).__name__, str(exc)[:500]))
        run.outcomes.append(Outcome(index, started, time.perf_counter() - started, ok))


async def drive(
    operation: Operation, count: int, concurrency: int, time_limit_s: float, first_index: int = 0
) -> Run:
    """Run `operation(i)` for i in [first_index, first_index + count), C at a time."""
    run = Run()
    indices = iter(range(first_index, first_index + count))
    started = time.perf_counter()
    deadline = started + time_limit_s
    await asyncio.gather(
        *(_worker(operation, indices, deadline, run) for _ in range(max(1, concurrency)))
    )
    run.seconds = time.perf_counter() - started
    return run
