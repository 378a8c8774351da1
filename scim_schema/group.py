"""The SCIM Group schema as data (RFC 7643 §4.2), with where each attribute is kept.

Groups carry users only (no nested groups); `id`, `externalId` and `meta` are
the common attributes of scim_schema/user.py's COMMON_ATTRIBUTES.
"""

from __future__ import annotations

from scim_schema.model import Attribute, Column, Membership, Schema
from scim_schema.urns import GROUP as GROUP_URN

GROUP = Schema(
    id=GROUP_URN,
    name="Group",
    description="Group",
    attributes=(
        Attribute(
            "displayName",
            required=True,
            description="A human-readable name.",
            storage=Column("display_name", sortable=True),
        ),
        Attribute(
            "members",
            "complex",
            "Users in the group (groups cannot be members).",
            multi_valued=True,
            storage=Membership(),
            sub_attributes=(
                Attribute("value", mutability="immutable", description="The member's id."),
                Attribute("display", mutability="readOnly", description="The member's name."),
                Attribute(
                    "$ref",
                    "reference",
                    "The member's URI.",
                    mutability="immutable",
                    reference_types=("User",),
                    filterable=False,  # computed from the id on the way out
                ),
                Attribute(
                    "type",
                    mutability="immutable",
                    canonical_values=("User",),
                    description="Always User.",
                ),
            ),
        ),
    ),
)
