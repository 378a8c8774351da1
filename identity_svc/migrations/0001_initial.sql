-- The identity store. Every table carries org_id, and every primary key,
-- unique constraint, foreign key and index leads with it, so the schema can be
-- distributed by org_id (e.g. Citus) without change (SPEC §4).

CREATE TABLE orgs (
    org_id          text        PRIMARY KEY,
    name            text        NOT NULL,
    sso_configured  boolean     NOT NULL DEFAULT false,
    -- Last event sequence handed out for this org; bumped by the last
    -- statement of each writing transaction, so sequences follow commit order.
    event_seq       bigint      NOT NULL DEFAULT 0,
    created         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_org_id_format CHECK (org_id ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

CREATE TABLE users (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    id              uuid        NOT NULL,
    user_name       text        NOT NULL,
    external_id     text,
    active          boolean     NOT NULL DEFAULT true,
    display_name    text,
    given_name      text,
    family_name     text,
    primary_email   text,
    direct_role     text,
    -- The full SCIM representation (without id, meta, groups, password), so
    -- every attribute round-trips; the columns above are derived from it.
    document        jsonb       NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT users_direct_role_known CHECK (direct_role IN (
        'ORG_ADMIN', 'GRAPH_ADMIN', 'CONTRIBUTOR', 'DOCUMENTER',
        'OBSERVER', 'CONSUMER', 'BILLING_MANAGER'))
);

-- userName is unique per org case-insensitively, stored with its case.
CREATE UNIQUE INDEX users_user_name_key ON users (org_id, lower(user_name));
CREATE INDEX users_external_id ON users (org_id, external_id);
CREATE INDEX users_display_name ON users (org_id, lower(display_name));
CREATE INDEX users_given_name ON users (org_id, lower(given_name));
CREATE INDEX users_family_name ON users (org_id, lower(family_name));
CREATE INDEX users_primary_email ON users (org_id, lower(primary_email));
CREATE INDEX users_active ON users (org_id, active);
-- The stable default order of listings: creation, then id.
CREATE INDEX users_created ON users (org_id, created, id);
CREATE INDEX users_last_modified ON users (org_id, last_modified);

-- Values of multi-valued attributes that filters reach (emails,
-- phoneNumbers, ims, photos, entitlements, roles, x509Certificates): one row
-- a value, so `emails.value eq "x"` is an index lookup, not a scan.
CREATE TABLE user_values (
    org_id          text        NOT NULL,
    user_id         uuid        NOT NULL,
    attribute       text        NOT NULL,
    position        integer     NOT NULL,
    value           text,
    type            text,
    display         text,
    is_primary      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (org_id, user_id, attribute, position),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

CREATE INDEX user_values_value ON user_values (org_id, attribute, lower(value));

CREATE TABLE groups (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    id              uuid        NOT NULL,
    display_name    text        NOT NULL,
    external_id     text,
    -- Maintained with every membership change, so nothing counts rows.
    member_count    bigint      NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    version         bigint      NOT NULL DEFAULT 1,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (org_id, id)
);

CREATE INDEX groups_display_name ON groups (org_id, lower(display_name));
CREATE INDEX groups_external_id ON groups (org_id, external_id);
CREATE INDEX groups_created ON groups (org_id, created, id);
CREATE INDEX groups_last_modified ON groups (org_id, last_modified);

-- Memberships are rows: adding or removing one costs the same whatever the
-- group's size.
CREATE TABLE group_members (
    org_id          text        NOT NULL,
    group_id        uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    added           timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (org_id, group_id, user_id),
    FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

-- A member's groups, and the FK check when a user is deleted.
CREATE INDEX group_members_user ON group_members (org_id, user_id, group_id);

CREATE TABLE scim_keys (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    id              text        NOT NULL,
    name            text        NOT NULL,
    -- SHA-256 of the token's secret part; the secret itself is never stored.
    secret_sha256   bytea       NOT NULL,
    created_by      text        NOT NULL,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used       timestamptz,
    revoked         timestamptz,
    PRIMARY KEY (org_id, id)
);

-- Append-only change log and audit trail (SPEC §6).
CREATE TABLE events (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    seq             bigint      NOT NULL,
    type            text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    actor           text        NOT NULL,
    request_id      text        NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    data            jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, seq)
);
