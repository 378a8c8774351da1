-- Users' and groups' created / last_modified hold what SCIM returns: SCIM
-- shows meta.created and meta.lastModified to the millisecond, so a filter
-- `meta.created le "<that value>"` compared with a stored microsecond value
-- missed the very resource it came from (issue 9). Stored at the precision
-- returned, filters, sorts and keyset pages compare what clients see, through
-- the same indexes as before.

-- Truncated by the database on every write, however it is made (services,
-- Bulk, seeding scripts, replicas still running the previous release during
-- a rollout), as org_counters are kept in 0004. Only a write that sets one of
-- the columns pays for it.
CREATE FUNCTION timestamps_to_milliseconds() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created := date_trunc('milliseconds', NEW.created);
    NEW.last_modified := date_trunc('milliseconds', NEW.last_modified);
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_timestamps_to_milliseconds
    BEFORE INSERT OR UPDATE OF created, last_modified ON users
    FOR EACH ROW EXECUTE FUNCTION timestamps_to_milliseconds();
CREATE TRIGGER groups_timestamps_to_milliseconds
    BEFORE INSERT OR UPDATE OF created, last_modified ON groups
    FOR EACH ROW EXECUTE FUNCTION timestamps_to_milliseconds();

-- Existing rows: what they have shown all along. Neither version nor ETag
-- moves, since the representation does not change.
UPDATE users
SET created = date_trunc('milliseconds', created),
    last_modified = date_trunc('milliseconds', last_modified)
WHERE created <> date_trunc('milliseconds', created)
   OR last_modified <> date_trunc('milliseconds', last_modified);

UPDATE groups
SET created = date_trunc('milliseconds', created),
    last_modified = date_trunc('milliseconds', last_modified)
WHERE created <> date_trunc('milliseconds', created)
   OR last_modified <> date_trunc('milliseconds', last_modified);

-- Walk positions were taken at microseconds, in an order that ties within a
-- millisecond now break by id: forget them. A missing position only means the
-- next page of that walk is read by OFFSET (0004).
DELETE FROM list_walks;
