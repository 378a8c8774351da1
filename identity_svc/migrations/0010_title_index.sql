-- `title` is declared DocumentIndex in scim_schema/user.py: filters and sortBy
-- reach it through its path in the document, which this index serves
-- (CONTRIBUTING.md "Making an attribute indexed"). Partial: a title stored
-- before titles were bounded (identity_svc/domain/limits.py, 1,700 bytes) may
-- not fit an index entry; comparisons state the same bound to use it.
CREATE INDEX users_title ON users (org_id, lower(document ->> 'title'))
    WHERE octet_length(document ->> 'title') <= 1700;
