"""`python -m bench --smoke`: the benchmark still runs end to end.

Structure only: every scenario and section is reported, no request failed,
the JSON has its keys. Nothing here looks at a figure; timings belong to
`make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeAlias

import pytest

SCENARIOS = [
    "get_by_id",
    "filter_user_name",
    "create_user",
    "put_user",
    "list_page",
    "group_add_member",
]
STATS = {"count", "errors", "seconds", "per_second", "p50_ms", "p95_ms", "p99_ms", "mean_ms"}
PROCESSES = {"gateway", "identity_svc", "postgres", "bench client"}
SECTIONS = ["size_independence", "org_spread", "big_group", "group_import", "reference"]
MEASURED = STATS | {"cpu_ms_per_request"}

Smoke: TypeAlias = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Smoke:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    result = subprocess.run(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result, json.loads(out.read_text())


def _measured(run: dict[str, Any], processes: set[str] = PROCESSES) -> None:
    """One measured run of a section: its stats, no error, CPU of each process."""
    assert set(run) >= MEASURED, run
    assert run["count"] > 0
    assert run["errors"] == 0
    assert set(run["cpu_ms_per_request"]) == processes


@pytest.mark.timeout(120)
def test_every_scenario_is_reported_without_errors(smoke):
    _, data = smoke
    assert [s["name"] for s in data["scenarios"]] == SCENARIOS
    for scenario in data["scenarios"]:
        assert set(scenario["scim"]) == STATS
        assert set(scenario["asyncpg"]) == STATS
        assert scenario["scim"]["errors"] == scenario["asyncpg"]["errors"] == 0, scenario["errors"]
        assert scenario["scim"]["count"] == scenario["asyncpg"]["count"] > 0
        assert set(scenario["cpu_ms_per_request"]) == PROCESSES
        assert "ratio" in scenario


@pytest.mark.timeout(120)
def test_growing_group_memory_and_machine_are_reported(smoke):
    _, data = smoke
    group = data["growing_group"]
    assert [s["adds"] for s in group["slices"]] == [[1, 4], [5, 8], [9, 12]]
    assert set(group["last_first_ratio"]) == {"scim", "asyncpg"}
    assert set(data["memory"]["start"]) == set(data["memory"]["end"]) == PROCESSES
    assert set(data["machine"]) >= {"nproc", "cpu_model", "python"}
    assert set(data["asyncpg_sql"]) == set(SCENARIOS)


@pytest.mark.timeout(120)
def test_every_section_is_reported_without_errors(smoke):
    _, data = smoke
    for name in SECTIONS:
        assert data[name]["errors"] == [], (name, data[name]["errors"])


@pytest.mark.timeout(120)
def test_size_independence_compares_the_small_and_the_big_org(smoke):
    _, data = smoke
    size = data["size_independence"]
    # Each org: its seeded users plus the admin identityctl onboarded it with.
    assert size["orgs"]["big"] == {"seeded_users": 150, "users": 151}
    assert size["orgs"]["small"] == {"seeded_users": 50, "users": 51}
    assert [row["name"] for row in size["rows"]] == [
        "get_by_id",
        "filter_user_name",
        "filter_work_email",
        "page_first",
        "page_middle",
        "page_last",
        "walk_last_pages",
    ]
    for row in size["rows"]:
        _measured(row["small"])
        _measured(row["big"])
        assert {"big_small_p50", "big_small_p95"} <= set(row)
    last = {row["name"]: row for row in size["rows"]}["page_last"]
    assert last["start_index"] == {"small": [1], "big": [52]}
    walk = {row["name"]: row for row in size["rows"]}["walk_last_pages"]
    # 151 users: the walk's pages before startIndex 1 collapse into the first page.
    assert walk["start_index"]["big"] == [1, 52]
    assert walk["big"]["count"] == 2


@pytest.mark.timeout(120)
def test_org_spread_big_group_and_import_page_are_reported(smoke):
    _, data = smoke
    spread = data["org_spread"]
    assert spread["orgs"] == 2
    _measured(spread["one_org"])
    _measured(spread["spread"])
    assert {"one_spread_rate", "one_spread_p50"} <= set(spread)
    group = data["big_group"]
    assert [row["members"] for row in group["checkpoints"]] == [10, 100]
    for row in group["checkpoints"]:
        for request in ("add", "remove", "get"):
            _measured(row[request])
            assert row[request]["count"] == 4
    assert set(group["largest_smallest_p50"]) == {"add", "remove", "get"}
    imported = data["group_import"]
    assert (imported["groups"], imported["members_per_group"]) == (4, 10)
    pages = imported["pages"]
    for page in pages.values():
        _measured(page)
        assert set(page["rss_mb"]) == {"gateway", "identity_svc"}
        for rss in page["rss_mb"].values():
            assert rss["peak"] >= rss["before"] > 0
    assert pages["with_members"]["bytes"] > pages["without_members"]["bytes"] > 0


@pytest.mark.timeout(120)
def test_scim2_server_reference_runs_the_same_load(smoke):
    _, data = smoke
    reference = data["reference"]
    assert reference["server"] == "scim2-server 0.8.3"
    assert reference["users_created_first"] == 10
    assert [row["name"] for row in reference["rows"]] == ["get_by_id", "create_user"]
    for row in reference["rows"]:
        _measured(row["ours"])
        _measured(row["scim2_server"], {"scim2-server", "bench client"})
        assert "ratio" in row


@pytest.mark.timeout(120)
def test_stdout_carries_the_tables(smoke):
    result, _ = smoke
    for heading in (
        "SCIM req/s",
        "asyncpg ops/s",
        "ratio",
        "growing group",
        "memory",
        "size independence",
        "orgs",
        "big group",
        "group import page",
        "scim2-server 0.8.3",
    ):
        assert heading in result.stdout
