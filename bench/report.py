"""The bench's results: a table on stdout, the same data as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.scenarios import LABELS, ScenarioResult, Slice


def as_json(
    meta: dict[str, Any],
    results: Sequence[ScenarioResult],
    slices: Sequence[Slice],
    memory: dict[str, Any],
) -> dict[str, Any]:
    first, last = slices[0], slices[-1]
    slowest = min(slices, key=lambda s: s.scim.rate)
    return {
        **meta,
        "scenarios": [r.as_dict() for r in results],
        "growing_group": {
            "slices": [s.as_dict() for s in slices],
            "last_first_ratio": {
                "scim": _ratio(last.scim.rate, first.scim.rate),
                "asyncpg": _ratio(last.ceiling.rate, first.ceiling.rate),
            },
            "slowest_first_ratio": {
                "adds": [slowest.first, slowest.last],
                "scim": _ratio(slowest.scim.rate, first.scim.rate),
            },
        },
        "memory": memory,
    }


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _scenario_rows(scenarios: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for s in scenarios:
        scim, raw = s["scim"], s["asyncpg"]
        rows.append(
            [
                LABELS[s["name"]],
                f"{scim['per_second']:.0f}",
                f"{scim['p50_ms']:.1f}",
                f"{scim['p95_ms']:.1f}",
                f"{scim['p99_ms']:.1f}",
                str(scim["errors"]),
                f"{raw['per_second']:.0f}",
                f"{raw['p50_ms']:.2f}",
                f"{s['ratio']:.2f}",
            ]
        )
    return rows


def _slice_rows(group: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in group["slices"]:
        scim, raw = s["scim"], s["asyncpg"]
        rows.append(
            [
                f"{s['adds'][0]}-{s['adds'][1]}",
                f"{scim['per_second']:.0f}",
                f"{scim['p50_ms']:.1f}",
                f"{scim['p99_ms']:.1f}",
                f"{raw['per_second']:.0f}",
                f"{raw['p50_ms']:.2f}",
                f"{s['ratio']:.2f}",
            ]
        )
    return rows


def _cpu_rows(scenarios: Sequence[dict[str, Any]], roles: Sequence[str]) -> list[list[str]]:
    rows = []
    for s in scenarios:
        cpu = s["cpu_ms_per_request"]
        total = sum(cpu.values())
        rows.append([LABELS[s["name"]], *(f"{cpu[r]:.2f}" for r in roles), f"{total:.2f}"])
    return rows


def _memory_rows(memory: dict[str, Any]) -> list[list[str]]:
    start, end = memory["start"], memory["end"]
    return [
        [
            role,
            f"{start[role]['rss_mb']:.0f}",
            f"{end[role]['rss_mb']:.0f}",
            f"{end[role]['pss_mb']:.0f}",
            str(end[role]["processes"]),
        ]
        for role in end
    ]


def _machine_lines(data: dict[str, Any]) -> list[str]:
    m, s = data["machine"], data["settings"]
    return [
        f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_mb']} MB, "
        f"Python {m['python']}, {m['platform']}",
        f"         load average at start {m['load_average']}; {data['postgres']}",
        f"profile {s['profile']}: {s['seeded_users']} seeded users, "
        f"{s['concurrency']} requests in flight, asyncpg pool of {s['pool_size']}, "
        f"{data['duration_s']:.0f} s in all",
    ]


def render(data: dict[str, Any]) -> str:
    """The whole report as text."""
    scenarios, group = data["scenarios"], data["growing_group"]
    roles = list(scenarios[0]["cpu_ms_per_request"])
    ratio, slowest = group["last_first_ratio"], group["slowest_first_ratio"]
    lines = [
        *_machine_lines(data),
        "",
        "SCIM end to end (bench -> gateway -> identity service -> Postgres) vs raw asyncpg",
        *_table(
            [
                "scenario",
                "SCIM req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "asyncpg ops/s",
                "asyncpg p50",
                "ratio",
            ],
            _scenario_rows(scenarios),
        ),
        "",
        "growing group: one member added per PATCH, by slice of adds",
        *_table(
            ["adds", "SCIM req/s", "p50 ms", "p99 ms", "asyncpg ops/s", "asyncpg p50", "ratio"],
            _slice_rows(group),
        ),
        f"last slice / first slice throughput: SCIM {ratio['scim']:.2f}, "
        f"asyncpg {ratio['asyncpg']:.2f}",
        f"slowest slice (adds {slowest['adds'][0]}-{slowest['adds'][1]}) / first slice: "
        f"SCIM {slowest['scim']:.2f}",
        "",
        "CPU ms per SCIM request, by process",
        *_table(["scenario", *roles, "total"], _cpu_rows(scenarios, roles)),
        "",
        "memory (MB): RSS after start-up and seeding, RSS and PSS at the end",
        *_table(
            ["process", "RSS start", "RSS end", "PSS end", "processes"],
            _memory_rows(data["memory"]),
        ),
    ]
    lines += _error_lines(scenarios)
    return "\n".join(lines)


def _error_lines(scenarios: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for s in scenarios:
        for error in s["errors"]:
            lines.append(f"  {s['name']}: {error['request']} -> {error['status']}: {error['body']}")
    return ["", "errors (first few per scenario):", *lines] if lines else []
