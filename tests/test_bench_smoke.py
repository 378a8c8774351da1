"""`python -m bench --smoke`: the benchmark still runs end to end.

Structure only: every scenario is reported, no request failed, the JSON has
its keys. Nothing here looks at a figure; timings belong to `make bench`.
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
def test_stdout_carries_the_tables(smoke):
    result, _ = smoke
    for heading in ("SCIM req/s", "asyncpg ops/s", "ratio", "growing group", "memory"):
        assert heading in result.stdout
