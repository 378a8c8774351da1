-- Listings whose cost does not grow with the org (SPEC §3 lists, §8): the
-- total of an unfiltered list from counters instead of count(*), and where
-- each index-paginated walk (Okta's import) stopped, so its next page is a
-- keyset read instead of an OFFSET. See docs/scaling.md.

-- How many users and groups each org has, spread over 16 slots per resource:
-- a row's slot is a hash of its id, so concurrent creates and deletes in one
-- org rarely wait on the same counter row (a single per-org row would
-- serialize the org's writes until commit), and a slot never goes below 0.
-- A total is the sum of the org's 16 slots.
CREATE TABLE org_counters (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    resource        text        NOT NULL,
    slot            smallint    NOT NULL,
    n               bigint      NOT NULL CHECK (n >= 0),
    PRIMARY KEY (org_id, resource, slot),
    CONSTRAINT org_counters_resource_known CHECK (resource IN ('users', 'groups'))
);

CREATE FUNCTION org_counter_slot(id uuid) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (get_byte(uuid_send(id), 15) % 16)::smallint $$;

-- Kept by the database in the transaction of every insert and delete, however
-- it is made (services, Bulk, org creation's admin, seeding scripts, replicas
-- still running the previous release during a rollout). TRUNCATE bypasses it.
CREATE FUNCTION org_counters_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO org_counters AS c (org_id, resource, slot, n)
        VALUES (NEW.org_id, TG_ARGV[0], org_counter_slot(NEW.id), 1)
        ON CONFLICT (org_id, resource, slot) DO UPDATE SET n = c.n + 1;
    ELSE
        UPDATE org_counters
        SET n = n - 1
        WHERE org_id = OLD.org_id AND resource = TG_ARGV[0] AND slot = org_counter_slot(OLD.id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION org_counters_track('users');
CREATE TRIGGER groups_counted AFTER INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION org_counters_track('groups');

-- The triggers' lock on each table blocks writers until this commits, so the
-- backfill and the triggers together count every row exactly once.
INSERT INTO org_counters (org_id, resource, slot, n)
SELECT org_id, 'users', org_counter_slot(id), count(*)
FROM users
GROUP BY org_id, org_counter_slot(id);

INSERT INTO org_counters (org_id, resource, slot, n)
SELECT org_id, 'groups', org_counter_slot(id), count(*)
FROM groups
GROUP BY org_id, org_counter_slot(id);

-- Where index-paginated walks stopped: the page asking for `start_index` of
-- the listing `walk_key` (a hash of resource, scope and filter) continues
-- after (last_created, last_id) in the default order. A cache of positions in
-- Postgres rather than in one process, because a walk's pages reach any
-- replica; a missing or expired row only means an OFFSET read.
CREATE TABLE list_walks (
    org_id          text        NOT NULL REFERENCES orgs (org_id),
    walk_key        bytea       NOT NULL,
    start_index     integer     NOT NULL,
    last_created    timestamptz NOT NULL,
    last_id         uuid        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, walk_key, start_index)
);

-- Expired positions are deleted by the org's next walk, oldest first.
CREATE INDEX list_walks_updated ON list_walks (org_id, updated_at);
