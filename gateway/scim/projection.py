"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).

Names are matched case-insensitively; a schema URN prefix selects an
extension object. `id` and `schemas` are always returned.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gateway import errors
from scim_schema.urns import CORE_USER as USER_SCHEMA
from scim_schema.urns import GROUP as GROUP_SCHEMA

_ALWAYS = {"id", "schemas"}
# The schemas publish fewer than 100 attributes and sub-attributes in all.
MAX_ATTRIBUTE_NAMES = 128
_CORE = {USER_SCHEMA.lower(), GROUP_SCHEMA.lower()}


@dataclass(frozen=True)
class Selector:
    """One requested attribute: the key path into a resource, lower-cased."""

    keys: tuple[str, ...]


def _selector(text: str) -> Selector:
    name = text.strip()
    lowered = name.lower()
    for urn in _CORE:
        if lowered.startswith(urn + ":"):
            return Selector(tuple(lowered[len(urn) + 1 :].split(".")))
    if lowered.startswith("urn:"):
        urn, _, rest = lowered.rpartition(":")
        if "." in urn:  # "urn:...:2.0:User" has dots; split off the attribute
            return Selector((urn, *rest.split(".")))
        return Selector((lowered,))
    return Selector(tuple(lowered.split(".")))


def _selectors(name: str, param: str | None) -> tuple[Selector, ...]:
    if not param:
        return ()
    parts = [part for part in param.split(",") if part.strip()]
    # Each name is looked for in every resource of a page: a bound keeps a
    # page's cost bounded.
    if len(parts) > MAX_ATTRIBUTE_NAMES:
        raise errors.InvalidValue(
            f"{name} names {len(parts)} attributes, at most {MAX_ATTRIBUTE_NAMES}"
        )
    return tuple(_selector(part) for part in parts)


def _find(obj: dict[str, Any], key: str) -> str | None:
    for actual in obj:
        if actual.lower() == key:
            return actual
    return None


def _copy_path(source: Any, target: dict[str, Any], keys: tuple[str, ...]) -> None:
    if not isinstance(source, dict):
        return
    actual = _find(source, keys[0])
    if actual is None:
        return
    value = source[actual]
    if len(keys) == 1:
        target[actual] = copy.deepcopy(value)
    elif isinstance(value, list):
        target[actual] = []
        for item in value:
            part: dict[str, Any] = {}
            _copy_path(item, part, keys[1:])
            target[actual].append(part)
    elif isinstance(value, dict):
        _copy_path(value, target.setdefault(actual, {}), keys[1:])


def _drop_path(obj: Any, keys: tuple[str, ...]) -> None:
    if isinstance(obj, list):
        for item in obj:
            _drop_path(item, keys)
        return
    if not isinstance(obj, dict):
        return
    actual = _find(obj, keys[0])
    if actual is None:
        return
    if len(keys) == 1:
        del obj[actual]
    else:
        _drop_path(obj[actual], keys[1:])


@dataclass(frozen=True)
class Projection:
    attributes: tuple[Selector, ...] = ()
    excluded: tuple[Selector, ...] = ()

    @classmethod
    def from_params(cls, attributes: str | None, excluded: str | None) -> Projection:
        return cls(_selectors("attributes", attributes), _selectors("excludedAttributes", excluded))

    def wants(self, attribute: str) -> bool:
        """Whether a top-level attribute is returned (so worth fetching)."""
        key = attribute.lower()
        if self.attributes:
            return any(s.keys[0] == key for s in self.attributes)
        return not any(s.keys == (key,) for s in self.excluded)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.attributes:
            selected = {k: v for k, v in resource.items() if k in _ALWAYS}
            for selector in self.attributes:
                _copy_path(resource, selected, selector.keys)
            return selected
        if self.excluded:
            trimmed = copy.deepcopy(resource)
            for selector in self.excluded:
                if selector.keys[0] not in _ALWAYS:
                    _drop_path(trimmed, selector.keys)
            return trimmed
        return resource
