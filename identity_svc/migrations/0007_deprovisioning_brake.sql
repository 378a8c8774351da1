-- The deprovisioning brake (README "When the IdP goes wrong"): per org, at
-- most max(floor, share of active members) deprovisions in a sliding window.
-- identity_svc/db/brake.py counts them in each deprovisioning write's own
-- transaction, holding the org's brake row, so concurrent writes from any
-- replica are admitted exactly up to the budget.

-- One row per org, made on its first deprovision or settings change (an org
-- without one has the defaults below).
CREATE TABLE deprovisioning_brakes (
    org_id          text        PRIMARY KEY REFERENCES orgs (org_id) ON DELETE CASCADE,
    enabled         boolean     NOT NULL DEFAULT true,
    floor           integer     NOT NULL DEFAULT 25 CHECK (floor >= 0),
    share_percent   numeric(5, 2) NOT NULL DEFAULT 10
        CHECK (share_percent >= 0 AND share_percent <= 100),
    window_seconds  integer     NOT NULL DEFAULT 900 CHECK (window_seconds > 0),
    -- The budget of the current window, from the active members counted once
    -- per window (so a burst never recounts the org).
    budget          integer,
    budget_until    timestamptz,
    -- Tripped: every deprovision is refused until an Org Admin releases it.
    tripped_at      timestamptz,
    tripped_data    jsonb,
    -- A release restarts the count, may allow N more over the budget, or turn
    -- the brake off until a time.
    counted_from    timestamptz,
    allowance       integer     NOT NULL DEFAULT 0 CHECK (allowance >= 0),
    off_until       timestamptz
);

-- The deprovisions admitted within the window (rows older are deleted as new
-- ones arrive).
CREATE TABLE deprovisions (
    org_id          text        NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id         uuid        NOT NULL,
    kind            text        NOT NULL
        CHECK (kind IN ('deactivation', 'deletion', 'group_removal'))
);

CREATE INDEX deprovisions_window ON deprovisions (org_id, at);
