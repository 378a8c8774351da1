-- Stage, then sequence (SPEC §6; identity_svc/sequencer.py). A writing
-- transaction no longer numbers its events: it inserts them here, as its last
-- statement, touching no org row and sending no NOTIFY, so writes of one org
-- commit side by side. The process's sequencer then moves committed rows into
-- `events`, numbered from orgs.event_seq (which only it bumps now), under that
-- org row's lock, in the order they were staged, and notifies once per batch.
--
-- `events` itself is unchanged and stays append-only; this table holds only
-- the rows committed in the last moments, so scanning it is cheap.

CREATE TABLE event_staging (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    -- Staging order: the WAL insert position when the writer staged (taken
    -- once per statement, never going back, unlike a clock), then the
    -- writer's transaction, then the event's place in it. A write that
    -- observed another one's commit stages after that commit's WAL record,
    -- so it is numbered after it.
    staged_lsn      pg_lsn      NOT NULL,
    staged_xid      xid8        NOT NULL,
    position        integer     NOT NULL,
    type            text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    actor           text        NOT NULL,
    request_id      text        NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    data            jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, staged_lsn, staged_xid, position)
);
