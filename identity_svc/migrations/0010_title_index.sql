-- `title` is declared DocumentIndex in scim_schema/user.py: filters and sortBy
-- reach it through its path in the document, which this index serves
-- (CONTRIBUTING.md "Making an attribute indexed").
CREATE INDEX users_title ON users (org_id, lower(document ->> 'title'));
