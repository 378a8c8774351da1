-- Roles from IdP groups (SPEC §5): per-org rules "members of group G get role
-- R", a default role, and each member's effective role kept on its row so
-- GraphOS services and the key-admin check read it with one index lookup.
-- As in 0001, every key and index leads with org_id.

ALTER TABLE orgs
    ADD COLUMN default_role text,
    ADD CONSTRAINT orgs_default_role_known CHECK (default_role IN (
        'ORG_ADMIN', 'GRAPH_ADMIN', 'CONTRIBUTOR', 'DOCUMENTER',
        'OBSERVER', 'CONSUMER', 'BILLING_MANAGER'));

-- NULL when suspended (active = false) or when no role applies. Maintained by
-- identity_svc/db/roles.py in the transaction of every change that moves it.
ALTER TABLE users
    ADD COLUMN effective_role text,
    ADD CONSTRAINT users_effective_role_known CHECK (effective_role IN (
        'ORG_ADMIN', 'GRAPH_ADMIN', 'CONTRIBUTOR', 'DOCUMENTER',
        'OBSERVER', 'CONSUMER', 'BILLING_MANAGER'));

-- "Who are the org's admins", and the members a default-role change reaches.
CREATE INDEX users_effective_role ON users (org_id, effective_role);

CREATE TABLE role_rules (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    id              uuid        NOT NULL,
    -- Exactly one target: a group by id, or groups by displayName
    -- (matched case-insensitively, so it survives the group being re-pushed).
    group_id        uuid,
    group_name      text,
    role            text        NOT NULL,
    created_by      text        NOT NULL,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (org_id, id),
    -- A rule by id goes with its group; the service records the deletion.
    FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE,
    CONSTRAINT role_rules_one_target CHECK ((group_id IS NULL) <> (group_name IS NULL)),
    CONSTRAINT role_rules_group_name_not_blank CHECK (btrim(group_name) <> ''),
    CONSTRAINT role_rules_role_known CHECK (role IN (
        'ORG_ADMIN', 'GRAPH_ADMIN', 'CONTRIBUTOR', 'DOCUMENTER',
        'OBSERVER', 'CONSUMER', 'BILLING_MANAGER'))
);

-- One rule per target; these also serve the recompute's joins from a group.
CREATE UNIQUE INDEX role_rules_group_id_key ON role_rules (org_id, group_id)
    WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX role_rules_group_name_key ON role_rules (org_id, lower(group_name))
    WHERE group_name IS NOT NULL;

-- Without rules or a default role yet, the effective role is the direct role
-- of every active member.
UPDATE users
SET effective_role = direct_role
WHERE active AND direct_role IS NOT NULL;
