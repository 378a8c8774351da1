"""The bench's results: a table on stdout, the same data as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.scenarios import LABELS, ScenarioResult, Slice

# The sections beyond the SCIM-vs-asyncpg pairs, by their key in the JSON.
SECTIONS = ("size_independence", "org_spread", "big_group", "group_import", "reference")
# CPU columns of the sections: ms per request of each stack process.
_STACK = ("gateway", "identity_svc", "postgres")


def as_json(
    meta: dict[str, Any],
    results: Sequence[ScenarioResult],
    slices: Sequence[Slice],
    memory: dict[str, Any],
    sections: dict[str, Any],
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
        **{name: sections[name] for name in SECTIONS},
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
        "",
        *_size_lines(data["size_independence"], data["settings"]["concurrency"]),
        "",
        *_spread_lines(data["org_spread"], data["settings"]["concurrency"]),
        "",
        *_big_group_lines(data["big_group"]),
        "",
        *_import_lines(data["group_import"]),
        "",
        *_reference_lines(data["reference"], data["settings"]["concurrency"]),
    ]
    lines += _error_lines(scenarios, data)
    return "\n".join(lines)


def _error_lines(scenarios: Sequence[dict[str, Any]], data: dict[str, Any]) -> list[str]:
    lines = []
    for s in scenarios:
        for error in s["errors"]:
            lines.append(f"  {s['name']}: {error['request']} -> {error['status']}: {error['body']}")
    for name in SECTIONS:
        for error in data[name]["errors"]:
            lines.append(f"  {name}: {error['request']} -> {error['status']}: {error['body']}")
    return ["", "errors (first few per scenario):", *lines] if lines else []


def _cpu(run: dict[str, Any], roles: Sequence[str] = _STACK) -> str:
    """CPU ms per request of each process, as one cell: gateway/identity_svc/postgres."""
    cpu = run["cpu_ms_per_request"]
    return "/".join(f"{cpu.get(role, 0.0):.1f}" for role in roles)


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _starts(values: Sequence[int]) -> str:
    return str(values[0]) if len(values) == 1 else f"{values[0]}..{values[-1]}"


def _size_lines(size: dict[str, Any], concurrency: int) -> list[str]:
    orgs = size["orgs"]
    rows = []
    for row in size["rows"]:
        small, big = row["small"], row["big"]
        where = row.get("start_index")
        rows.append(
            [
                row["request"],
                _ms(small["p50_ms"]),
                _ms(small["p95_ms"]),
                _ms(big["p50_ms"]),
                _ms(big["p95_ms"]),
                f"{row['big_small_p50']:.2f}",
                f"{row['big_small_p95']:.2f}",
                _cpu(small),
                _cpu(big),
                f"{_starts(where['small'])} / {_starts(where['big'])}" if where else "",
            ]
        )
    return [
        f"size independence: small org ({orgs['small']['users']} users) vs big org "
        f"({orgs['big']['users']} users); lookups {concurrency} in flight, pages one at a time",
        *_table(
            [
                "request",
                "small p50",
                "small p95",
                "big p50",
                "big p95",
                "big/small p50",
                "big/small p95",
                "CPU small",
                "CPU big",
                "startIndex small / big",
            ],
            rows,
        ),
        "(CPU: ms per request of gateway/identity_svc/postgres)",
    ]


def _spread_lines(spread: dict[str, Any], concurrency: int) -> list[str]:
    rows = [
        [
            label,
            f"{run['per_second']:.0f}",
            _ms(run["p50_ms"]),
            _ms(run["p95_ms"]),
            str(run["errors"]),
            _cpu(run),
        ]
        for label, run in (
            ("one org", spread["one_org"]),
            (f"{spread['orgs']} orgs", spread["spread"]),
        )
    ]
    return [
        f"{spread['request']}: all into one org vs the same creates over {spread['orgs']} orgs "
        f"({concurrency} in flight)",
        *_table(["orgs", "req/s", "p50 ms", "p95 ms", "errors", "CPU gw/id/pg"], rows),
        f"one org / {spread['orgs']} orgs: req/s {spread['one_spread_rate']:.2f}, "
        f"p50 {spread['one_spread_p50']:.2f}",
    ]


def _rss(page: dict[str, Any], role: str) -> str:
    rss = page["rss_mb"][role]
    return f"{rss['before']:.0f}/{rss['peak']:.0f}/{rss['after']:.0f}"


def _import_lines(imported: dict[str, Any]) -> list[str]:
    rows = [
        [
            label,
            str(page["count"]),
            _ms(page["p50_ms"]),
            _ms(page["p95_ms"]),
            f"{page['bytes']:,}",
            _cpu(page),
            _rss(page, "gateway"),
            _rss(page, "identity_svc"),
        ]
        for label, page in (
            ("members included", imported["pages"]["with_members"]),
            ("excludedAttributes=members", imported["pages"]["without_members"]),
        )
    ]
    return [
        f"Okta's group import page: {imported['request']}, {imported['groups']} groups of "
        f"{imported['members_per_group']} members, one request at a time",
        *_table(
            [
                "page",
                "requests",
                "p50 ms",
                "p95 ms",
                "bytes",
                "CPU gw/id/pg",
                "gateway RSS MB",
                "identity_svc RSS MB",
            ],
            rows,
        ),
        "(RSS: before / highest during / after the requests)",
    ]


def _big_group_lines(group: dict[str, Any]) -> list[str]:
    rows = [
        [
            f"{row['members']:,}",
            _ms(row["add"]["p50_ms"]),
            _ms(row["add"]["p95_ms"]),
            _ms(row["remove"]["p50_ms"]),
            _ms(row["remove"]["p95_ms"]),
            _ms(row["get"]["p50_ms"]),
            _ms(row["get"]["p95_ms"]),
            _cpu(row["add"]),
            _cpu(row["remove"]),
        ]
        for row in group["checkpoints"]
    ]
    ratio, requests = group["largest_smallest_p50"], group["checkpoints"][0]["add"]["count"]
    return [
        f"big group: at each size, {requests} member adds, then the same users removed, then "
        f"{requests} GETs without members; one at a time",
        *_table(
            [
                "members",
                "add p50",
                "add p95",
                "remove p50",
                "remove p95",
                "GET p50",
                "GET p95",
                "CPU add",
                "CPU remove",
            ],
            rows,
        ),
        f"largest / smallest group, p50: add {ratio['add']:.2f}, remove {ratio['remove']:.2f}, "
        f"GET ?excludedAttributes=members {ratio['get']:.2f}",
        "(ms; CPU: ms per request of gateway/identity_svc/postgres)",
    ]


def _reference_lines(ref: dict[str, Any], concurrency: int) -> list[str]:
    rows = []
    for row in ref["rows"]:
        ours, theirs = row["ours"], row["scim2_server"]
        rows.append(
            [
                row["request"],
                f"{ours['per_second']:.0f}",
                f"{theirs['per_second']:.0f}",
                f"{row['ratio']:.2f}",
                _ms(ours["p50_ms"]),
                _ms(theirs["p50_ms"]),
                _ms(ours["p99_ms"]),
                _ms(theirs["p99_ms"]),
                f"{ours['server_cpu_ms_per_request']:.2f}",
                f"{theirs['server_cpu_ms_per_request']:.2f}",
                str(theirs["errors"]),
            ]
        )
    return [
        f"{ref['server']} (in memory, one process) vs this stack: the same load client, "
        f"{concurrency} in flight, {ref['users_created_first']} users created first to GET",
        *_table(
            [
                "request",
                "ours req/s",
                "its req/s",
                "ours/its",
                "ours p50",
                "its p50",
                "ours p99",
                "its p99",
                "ours CPU ms/req",
                "its CPU ms/req",
                "its errors",
            ],
            rows,
        ),
        "(CPU: ours = gateway + identity_svc + postgres; its = the scim2-server process)",
    ]
