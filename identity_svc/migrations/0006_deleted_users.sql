-- The restore window (issue 10): a SCIM DELETE removes the member from SCIM
-- at once, but an IdP misconfiguration can delete a whole org in minutes, so
-- the member is kept here, restorable by an Org Admin, until the identity
-- service's purge removes it once the window (IDENTITY_RESTORE_WINDOW_DAYS)
-- has passed. The users row itself is deleted as before, so no query of
-- users, groups or memberships has to tell archived members apart.
CREATE TABLE deleted_users (
    org_id          text        NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    user_name       text        NOT NULL,
    -- What a restore re-inserts: the SCIM document (the indexed columns and
    -- values are derived from it again), the direct role, the creation time
    -- and version (a restored member goes on from its last ETag, never back
    -- to one a client may still hold), and the groups it was in.
    document        jsonb       NOT NULL,
    direct_role     text,
    version         bigint      NOT NULL,
    created         timestamptz NOT NULL,
    group_ids       uuid[]      NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_by      text        NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- An org's restorable members newest first, and the purge of expired ones.
CREATE INDEX deleted_users_deleted_at ON deleted_users (org_id, deleted_at);
-- A restore by userName (case-insensitive, as users_user_name_key).
CREATE INDEX deleted_users_user_name ON deleted_users (org_id, lower(user_name));
