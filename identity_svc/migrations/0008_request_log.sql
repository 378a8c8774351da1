-- The request log and key expiry (issue 12): what an Org Admin needs to see
-- why an IdP's provisioning fails, and keys that stop working on their own.

-- Every SCIM request of an org as a gateway saw it, written in batches
-- (Provisioning.RecordRequests). Rows are kept REQUEST_LOG_RETENTION_DAYS
-- and at most REQUEST_LOG_MAX_PER_ORG per org, purged by the identity
-- service (identity_svc/request_log_purge.py). The insert keeps only
-- entries of known orgs (it joins orgs), so the key never refuses a batch.
CREATE TABLE request_log (
    org_id          text        NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    -- When the gateway received the request.
    time            timestamptz NOT NULL,
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    method          text        NOT NULL,
    -- The route template under the org's base URL, e.g. /Users/{id}.
    route           text        NOT NULL,
    -- The route's first segment, lowercased (users, groups, bulk, ...): the
    -- `resource` filter.
    resource        text        NOT NULL,
    resource_id     text        NOT NULL DEFAULT '',
    status          smallint    NOT NULL,
    scim_type       text        NOT NULL DEFAULT '',
    latency_ms      double precision NOT NULL,
    idp             text        NOT NULL,
    key_id          text        NOT NULL DEFAULT '',
    request_id      text        NOT NULL DEFAULT '',
    -- Failures only: the SCIM error's detail and the body, secrets masked
    -- by the gateway before it left it.
    error_detail    text        NOT NULL DEFAULT '',
    masked_body     text        NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, time, id)
);

-- The primary key serves the newest-first listing, its cursor and the
-- purge; these serve each filter of ListRequests (and the stats' errors)
-- newest first without walking the org's other rows.
CREATE INDEX request_log_failures ON request_log (org_id, time, id) WHERE status >= 400;
CREATE INDEX request_log_by_method ON request_log (org_id, method, time, id);
CREATE INDEX request_log_by_resource ON request_log (org_id, resource, time, id);
CREATE INDEX request_log_by_idp ON request_log (org_id, idp, time, id);

-- NULL: the key never expires. An expired key is refused like a revoked one.
ALTER TABLE scim_keys ADD COLUMN expires timestamptz;
