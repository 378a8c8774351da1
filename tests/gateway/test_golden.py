"""Golden replays: Okta's and Entra's provisioning traffic and RFC 7644 examples.

Each JSON file under tests/fixtures/{okta,entra,rfc7644}/ is one sequence of
requests with the answers a real IdP (or the RFC) expects; see replay.py for
the format. Every sequence runs on a fresh org.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.replay import load, mismatch, replay

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCES = ("okta", "entra", "rfc7644")
FILES = sorted(path for source in SOURCES for path in (FIXTURES / source).glob("*.json"))
GOLDEN = [
    pytest.param(
        f"{path.parent.name}/{path.name}", load(path), id=f"{path.parent.name}/{path.name}"
    )
    for path in FILES
]


def test_every_source_has_its_golden_sequences():
    counts = {source: sum(path.parent.name == source for path in FILES) for source in SOURCES}
    assert counts["okta"] >= 15, counts
    assert counts["entra"] >= 10, counts
    assert counts["rfc7644"] >= 10, counts


@pytest.mark.parametrize(("name", "spec"), GOLDEN)
async def test_golden_replay(http, tenant, name, spec):
    await replay(http, tenant, name, spec)


@pytest.mark.parametrize(
    ("expected", "actual", "where"),
    [
        ({"a": {"b": 1}}, {"a": {"b": 2}}, "$.a.b"),
        ({"a": "<absent>"}, {"a": None}, "$.a"),
        ({"a": "<any>"}, {}, "$.a"),
        ({"a": [1]}, {"a": [1, 2]}, "$.a"),
        ({"a": ["<contains>", 2, 2]}, {"a": [1, 2]}, "$.a"),
        ({"a": True}, {"a": 1}, "$.a"),
        ({"a": [{"b": "x"}]}, {"a": [{"b": "y"}]}, "$.a[0].b"),
    ],
)
def test_the_matcher_names_the_first_difference(expected, actual, where):
    problem = mismatch(expected, actual)
    assert problem is not None
    assert problem.startswith(f"{where}:")


def test_the_matcher_accepts_a_superset():
    actual = {"a": [{"b": 1, "c": 2}, 3], "d": "e", "f": None}
    assert mismatch({"a": [{"b": 1}, 3], "d": "<any>", "g": "<absent>"}, actual) is None
    assert mismatch({"a": ["<contains>", 3]}, actual) is None
