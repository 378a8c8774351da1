"""A member's name as an operator sets it (`org create`, `member set-name`).

SPEC §5: every member, the admin `org create` makes included, carries what SCIM
clients expect of a user; Okta's SCIM Spec Test fails on a first user without
`name.givenName` and `name.familyName`. The name lands in the user's SCIM
document, which is then validated like any SCIM write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from identity_svc.domain.errors import InvalidValue


@dataclass(frozen=True)
class MemberName:
    given: str
    family: str
    display: str | None = None  # None: "given family"

    def __post_init__(self) -> None:
        for part, value in (("givenName", self.given), ("familyName", self.family)):
            if not value.strip():
                raise InvalidValue(f"name.{part} must not be blank")
        if self.display is not None and not self.display.strip():
            raise InvalidValue("displayName must not be blank when given")

    @property
    def formatted(self) -> str:
        return f"{self.given} {self.family}"

    def applied_to(self, document: dict[str, Any]) -> dict[str, Any]:
        """`document` with this name; other sub-attributes of `name` are kept.

        `formatted` is rewritten from the new parts, so it never shows the old name.
        """
        name = {
            **(document.get("name") or {}),
            "givenName": self.given,
            "familyName": self.family,
            "formatted": self.formatted,
        }
        return {**document, "name": name, "displayName": self.display or self.formatted}
