-- One-time console sign-in links (issue #12, `identityctl console-link`).
-- Only SHA-256 of the token is stored: the token is 256 random bits, so a
-- slow hash would add nothing (as for SCIM keys). A link signs in one Org
-- Admin of one org, once, within minutes of its creation. The token names its
-- org ("{org}.{secret}") so that, like every key here, the lookup leads with
-- org_id (SPEC §4).
CREATE TABLE console_links (
    org_id          text        NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    token_sha256    bytea       NOT NULL,
    admin_email     text        NOT NULL,
    created_by      text        NOT NULL,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires         timestamptz NOT NULL,
    used            timestamptz,
    PRIMARY KEY (org_id, token_sha256)
);

-- An org's old links are purged as its new ones are made.
CREATE INDEX console_links_expires ON console_links (org_id, expires);
