"""Replay golden SCIM traffic (tests/fixtures/*/*.json) against the gateway.

A fixture is `{"description", "source", "steps": [...]}`; each step sends one
`request` (`method`, `path` relative to the org base, optional `body` and
`headers` on top of Okta's, where null drops one) and checks the `response`:

- `status`: exact;
- `headers`: each one given (names case-insensitive), exact after
  substitution (`"<any>"`: present);
- `body`: a subset match. Objects: every key given must match (`"<absent>"`:
  the key is missing; `"<any>"`: present with any value). Lists: element-wise
  and of the same length, unless the list starts with `"<contains>"`: then each
  following element must match a different element of the actual list.

`capture` stores values (`{"user.id": "body.id"}`, `"body.Resources.0.id"`,
`"headers.etag"`) for `{{user.id}}` placeholders in this step's expected
response and in later steps; `{{base}}` is the tenant's public SCIM base URL.
`distinct` lists captures that must all differ (e.g. the ids an import walk
saw). Any response with a body must be `application/scim+json` (RFC 7644 §3.1).
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.gateway.conftest import Tenant

ANY, ABSENT, CONTAINS = "<any>", "<absent>", "<contains>"
_PLACEHOLDER = re.compile(r"\{\{([\w.-]+)\}\}")
_MISSING = object()


class ReplayMismatch(AssertionError):
    """The gateway's answer differs from the golden fixture."""


def substitute(value: Any, names: dict[str, Any]) -> Any:
    """Fill `{{name}}` placeholders, recursively; a lone one keeps its value's type.

    An unknown name stays as written, so the mismatch message shows it.
    """
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return names.get(whole.group(1), value)
        return _PLACEHOLDER.sub(lambda m: str(names.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    return value


def mismatch(expected: Any, actual: Any, path: str = "$") -> str | None:
    """Where `actual` fails to contain `expected`, as a message, or None."""
    if expected == ANY:
        return None if actual is not _MISSING else f"{path}: expected a value, key is absent"
    if expected == ABSENT:
        return None if actual is _MISSING else f"{path}: expected absent, got {_show(actual)}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        pairs = [
            (want, actual.get(key, _MISSING), f"{path}.{key}") for key, want in expected.items()
        ]
        return _first(pairs)
    if isinstance(expected, list) and isinstance(actual, list):
        if expected[:1] == [CONTAINS]:
            return _contains(expected[1:], actual, path)
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}: {_show(actual)}"
        items = enumerate(zip(expected, actual, strict=True))
        return _first([(want, got, f"{path}[{i}]") for i, (want, got) in items])
    if expected == actual and type(expected) is type(actual):
        return None
    return f"{path}: expected {_show(expected)}, got {_show(actual)}"


def _first(pairs: list[tuple[Any, Any, str]]) -> str | None:
    return next((p for p in (mismatch(*pair) for pair in pairs) if p), None)


def _contains(expected: list[Any], actual: list[Any], path: str) -> str | None:
    unused = list(range(len(actual)))
    for want in expected:
        hit = next((i for i in unused if mismatch(want, actual[i]) is None), None)
        if hit is None:
            return f"{path}: no item matches {_show(want)} among {_show(actual)}"
        unused.remove(hit)
    return None


def _show(value: Any, limit: int = 400) -> str:
    text = "<absent>" if value is _MISSING else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "…"


def pick(document: dict[str, Any], dotted: str) -> Any:
    """The value at `body.Resources.0.id` (list indices as numbers)."""
    value: Any = document
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


async def _send(
    http: TestClient[Any, Any], tenant: Tenant, request: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Send one request; the response as {status, headers (lower-case names), body}."""
    data = json.dumps(request["body"]) if "body" in request else None
    headers = {**tenant.headers(), **request.get("headers", {})}
    async with http.request(
        request["method"],
        tenant.base + request["path"],
        data=data,
        headers={name: value for name, value in headers.items() if value is not None},
    ) as response:
        text = await response.text()
        received = {name.lower(): value for name, value in response.headers.items()}
        return {"status": response.status, "headers": received, "body": _json(text)}, text


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _check(expected: dict[str, Any], seen: dict[str, Any], has_body: bool) -> str | None:
    expected = dict(expected)
    if "headers" in expected:
        expected["headers"] = {k.lower(): v for k, v in expected["headers"].items()}
    problem = mismatch(expected, seen)
    content_type = seen["headers"].get("content-type", "").split(";")[0].strip()
    if problem is None and has_body and content_type != "application/scim+json":
        problem = f"$.headers.content-type: expected application/scim+json, got {content_type!r}"
    return problem


def load(fixture: Path) -> dict[str, Any]:
    """A fixture file's document, checked for the keys every fixture has."""
    spec: dict[str, Any] = json.loads(fixture.read_text())
    missing = {"description", "source", "steps"} - spec.keys()
    assert not missing, f"{fixture}: missing {sorted(missing)}"
    return spec


async def replay(
    http: TestClient[Any, Any], tenant: Tenant, name: str, spec: dict[str, Any]
) -> None:
    """Run every step of fixture `name` in order; raise ReplayMismatch at the first difference."""
    names: dict[str, Any] = {"base": tenant.public_base}
    for number, step in enumerate(spec["steps"], start=1):
        label = f"{name} step {number} ({step['name']})"
        request = substitute(step["request"], names)
        seen, text = await _send(http, tenant, request)
        # Captures come first, so a step can expect e.g. Location == {{base}}/Users/{{user.id}}.
        for key, where in step.get("capture", {}).items():
            with contextlib.suppress(LookupError, TypeError, ValueError):
                names[key] = pick(seen, where)
        problem = _check(substitute(step["response"], names), seen, bool(text))
        if problem:
            sent = json.dumps(request.get("body")) if "body" in request else ""
            raise ReplayMismatch(
                f"{label}\nrequest: {request['method']} {request['path']} {sent}\n"
                f"response: {seen['status']} {text}\nmismatch at {problem}"
            )
        values = [names.get(key) for key in step.get("distinct", [])]
        if len(set(map(str, values))) != len(values):
            raise ReplayMismatch(f"{label}: captures {step['distinct']} repeat: {values}")
