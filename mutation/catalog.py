"""The mutants: each one breaks a promise of SPEC.md the way a careless edit would.

Each names the exact text it replaces (which must occur once in its file, so
the catalog cannot silently drift from the code) and the tests that must fail
when it is applied. When a refactoring moves the code, move the mutant with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str
    # Further (path, find, replace) edits of the same mutant, where one
    # promise is kept in two places (each must still match exactly once).
    more: tuple[tuple[str, str, str], ...] = ()

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        return ((self.path, self.find, self.replace), *self.more)


MUTANTS: tuple[Mutant, ...] = (
    # --- Every write is one transaction (SPEC §4, §7) -----------------------
    Mutant(
        name="writes-autocommit",
        path="identity_svc/services/transactions.py",
        find="async with pool.acquire() as conn, conn.transaction():\n                uow",
        replace="async with pool.acquire() as conn:\n                uow",
        tests=("tests/gateway/test_resilience.py", "tests/identity_svc/test_atomicity.py"),
        why="each statement of a write commits on its own",
    ),
    Mutant(
        name="events-in-their-own-transaction",
        path="identity_svc/services/transactions.py",
        find=(
            "async with pool.acquire() as conn, conn.transaction():\n"
            "                uow = UnitOfWork(conn, context)\n"
            "                result = await work(uow)\n"
            "                if uow.events:\n"
            "                    await append_events("
        ),
        replace=(
            "async with pool.acquire() as conn:\n"
            "                uow = UnitOfWork(conn, context)\n"
            "                async with conn.transaction():\n"
            "                    result = await work(uow)\n"
            "                if uow.events:\n"
            "                  async with conn.transaction():\n"
            "                    await append_events("
        ),
        tests=("tests/identity_svc/test_atomicity.py", "tests/gateway/test_bulk_operations.py"),
        why="a write commits before its events, so a failed event insert leaves it unrecorded",
    ),
    Mutant(
        name="omitted-active-reactivates",
        path="identity_svc/services/users.py",
        find='document.setdefault("active", before.active)',
        replace="pass",
        tests=("tests/gateway/test_suspension.py",),
        why="a PUT without `active` lifts a suspension",
    ),
    Mutant(
        name="create-ignores-rules-lock",
        path="identity_svc/services/users.py",
        find="        await hold_rules(uow.conn, org_id)\n",
        replace="",
        tests=("tests/identity_svc/test_roles.py",),
        why="a member created during a default-role change keeps the old default role",
    ),
    # --- Tenancy: nothing crosses an org (SPEC §3 filters, §5 keys) ---------
    Mutant(
        name="listing-org-scope-dropped",
        path="identity_svc/db/listing.py",
        find='where = f"{alias}.org_id = $1"',
        replace='where = f"({alias}.org_id = $1 OR TRUE)"',
        tests=("tests/identity_svc/test_tenancy.py",),
        why="a listing returns every org's rows",
    ),
    Mutant(
        name="filter-unparenthesized",
        path="identity_svc/db/listing.py",
        find='where += f" AND ({compile_filter(resource, request.filter, params)})"',
        replace='where += f" AND {compile_filter(resource, request.filter, params)}"',
        # The compiler parenthesizes every and/or too: both must go for an `or` to escape.
        more=(
            (
                "identity_svc/db/filters.py",
                'return "(" + glue.join(_compile(operand, scope, params)'
                ' for operand in operands) + ")"',
                "return glue.join(_compile(operand, scope, params) for operand in operands)",
            ),
        ),
        tests=("tests/identity_svc/test_tenancy.py",),
        why="a client's top-level `or` escapes the tenant condition",
    ),
    Mutant(
        name="member-filter-org-scope-dropped",
        path="identity_svc/db/groups.py",
        find="WHERE gm.org_id = $1 AND gm.group_id = $2 AND ({condition})",
        replace="WHERE (gm.org_id = $1 OR TRUE) AND gm.group_id = $2 AND ({condition})",
        tests=("tests/identity_svc/test_tenancy.py",),
        why="PATCH remove members[filter] reaches another org's memberships",
    ),
    Mutant(
        name="member-filter-group-scope-dropped",
        path="identity_svc/db/groups.py",
        find="WHERE gm.org_id = $1 AND gm.group_id = $2 AND ({condition})",
        replace="WHERE gm.org_id = $1 AND ($2::uuid IS NOT NULL) AND ({condition})",
        tests=("tests/identity_svc/test_tenancy.py",),
        why="PATCH remove members[filter] removes matching members of every group",
    ),
    Mutant(
        name="members-filter-org-dropped",
        path="identity_svc/db/filter_attributes.py",
        find=(
            '"EXISTS (SELECT 1 FROM group_members gm'
            ' WHERE gm.org_id = g.org_id AND gm.group_id = g.id"'
        ),
        replace='"EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id"',
        tests=("tests/identity_svc/test_tenancy.py",),
        why="a groups filter on members matches through another org's memberships",
    ),
    Mutant(
        name="user-values-filter-org-dropped",
        path="identity_svc/db/filter_attributes.py",
        find=(
            '"EXISTS (SELECT 1 FROM user_values v WHERE v.org_id = u.org_id AND v.user_id = u.id"'
        ),
        replace='"EXISTS (SELECT 1 FROM user_values v WHERE v.user_id = u.id"',
        tests=("tests/identity_svc/test_tenancy.py",),
        why="an email filter matches through another org's values",
    ),
    Mutant(
        name="groups-of-users-org-dropped",
        path="identity_svc/db/users.py",
        find="WHERE gm.org_id = $1 AND gm.user_id = ANY($2::uuid[])",
        replace="WHERE $1::text IS NOT NULL AND gm.user_id = ANY($2::uuid[])",
        tests=("tests/identity_svc/test_tenancy.py",),
        why="a listed user shows groups of another org",
    ),
    Mutant(
        name="key-cache-ignores-org",
        path="gateway/key_cache.py",
        find="entry = self._entries.get((org_id, digest))",
        replace=(
            "entry = next((v for (_, d), v in self._entries.items() if d == digest), None)\n"
            "        org_id = next((o for (o, d) in self._entries if d == digest), org_id)"
        ),
        tests=("tests/gateway/test_protocol.py", "tests/unit/test_key_cache.py"),
        why="a key verified for one org is trusted on another org's URL",
    ),
    Mutant(
        name="key-secret-not-compared",
        path="identity_svc/services/keys.py",
        find="if not hmac.compare_digest(_hash(secret), stored) or not key.live(now):",
        replace="if not key.live(now):",
        tests=("tests/identity_svc/test_keys_and_auth.py",),
        why="any secret with a known key id is accepted",
    ),
    Mutant(
        name="revoked-key-accepted",
        path="identity_svc/domain/models.py",
        find="return self.revoked is None and (self.expires is None or now < self.expires)",
        replace="return self.expires is None or now < self.expires",
        tests=("tests/identity_svc/test_keys_and_auth.py",),
        why="a revoked key keeps working",
    ),
    Mutant(
        name="last-used-written-every-request",
        path="identity_svc/services/keys.py",
        find="_LAST_USED_GRANULARITY = timedelta(minutes=1)",
        replace="_LAST_USED_GRANULARITY = timedelta(seconds=0)",
        tests=("tests/identity_svc/test_keys_and_auth.py",),
        why="a key's last-used time is written on every request, not once a minute",
    ),
    # --- Revocation reaches the gateway (SPEC §6) ----------------------------
    Mutant(
        name="revocation-not-dropped",
        path="gateway/revocations.py",
        find="self._cache.drop_key(event.resource_id)",
        replace="pass",
        tests=("tests/gateway/test_revocation.py",),
        why="a revoked key stays cached until its TTL",
    ),
    Mutant(
        name="trust-limit-removed-on-disconnect",
        path="gateway/revocations.py",
        find="self.connected.clear()\n        self._cache.limit_trust(DISCONNECTED_TRUST_SECONDS)",
        replace="self.connected.clear()",
        tests=("tests/gateway/test_revocation.py",),
        why="while the stream is down, cached keys are trusted for the whole TTL",
    ),
    Mutant(
        name="trust-limit-removed-at-start",
        path="gateway/revocations.py",
        find='never raises."""\n        self._cache.limit_trust(DISCONNECTED_TRUST_SECONDS)\n',
        replace='never raises."""\n',
        tests=("tests/gateway/test_revocation.py",),
        why="before the stream first connects, cached keys are trusted for the whole TTL",
    ),
    Mutant(
        name="trust-limit-noop",
        path="gateway/key_cache.py",
        find="        self._trust_cap = seconds\n",
        replace="        return\n",
        tests=("tests/unit/test_key_cache.py", "tests/gateway/test_revocation.py"),
        why="the cache ignores the 2 s cap on trust while revocations are not pushed",
    ),
    # --- Events: exactly once, in order, per org (SPEC §6) -------------------
    Mutant(
        name="event-replay-repeats-last",
        path="identity_svc/db/events.py",
        find="WHERE org_id = $1 AND seq > $2\nORDER BY seq",
        replace="WHERE org_id = $1 AND seq >= $2\nORDER BY seq",
        tests=("tests/identity_svc/test_events.py",),
        why="a consumer that resumes from its position sees an event twice",
    ),
    Mutant(
        name="event-replay-other-orgs",
        path="identity_svc/db/events.py",
        find="WHERE org_id = $1 AND seq > $2\nORDER BY seq",
        replace="WHERE (org_id = $1 OR TRUE) AND seq > $2\nORDER BY seq",
        tests=("tests/identity_svc/test_events.py",),
        why="an org's stream carries other orgs' events",
    ),
    Mutant(
        name="sequencer-skips-org-lock",
        path="identity_svc/db/events.py",
        find="WHERE org_id = $1\nFOR NO KEY UPDATE",
        replace="WHERE org_id = $1",
        tests=("tests/identity_svc/test_sequencer.py",),
        why="sequencers number an org's staged events without serializing on its lock",
    ),
    Mutant(
        name="sequencer-orders-by-xid",
        path="identity_svc/db/events.py",
        find="row_number() OVER (ORDER BY staged_lsn, staged_xid, position)",
        replace="row_number() OVER (ORDER BY staged_xid, staged_lsn, position)",
        tests=("tests/identity_svc/test_sequencer.py",),
        why="a write that saw another's commit can be numbered before it",
    ),
    Mutant(
        name="writes-hold-org-row-to-commit",
        path="identity_svc/db/events.py",
        find="    await conn.execute(\n        _STAGE_EVENTS,",
        replace=(
            "    for org_id in {e.org_id for e in events}:\n"
            '        await conn.execute("UPDATE orgs SET event_seq = event_seq WHERE org_id = $1",'
            " org_id)\n"
            "    await conn.execute(\n        _STAGE_EVENTS,"
        ),
        tests=("tests/identity_svc/test_sequencer.py",),
        why="a write of an org waits for the previous one's commit again",
    ),
    # --- ETags (SPEC §3) ------------------------------------------------------
    Mutant(
        name="version-check-skipped",
        path="identity_svc/services/users.py",
        find="if expected is not None and current != expected:",
        replace="if False:",
        tests=("tests/gateway/test_protocol.py", "tests/identity_svc/test_users.py"),
        why="If-Match never fails in the identity service",
    ),
    Mutant(
        name="group-put-if-match-ignored",
        path="gateway/handlers/groups.py",
        find='group = await replace(request, request.match_info["id"], body, version)',
        replace='group = await replace(request, request.match_info["id"], body, None)',
        tests=("tests/gateway/test_group_etags.py",),
        why="PUT /Groups/{id} ignores If-Match",
    ),
    Mutant(
        name="group-patch-if-match-ignored",
        path="gateway/handlers/groups.py",
        find='group = await patch(request, request.match_info["id"], body, version)',
        replace='group = await patch(request, request.match_info["id"], body, None)',
        tests=("tests/gateway/test_group_etags.py",),
        why="PATCH /Groups/{id} ignores If-Match",
    ),
    Mutant(
        name="group-delete-if-match-ignored",
        path="gateway/handlers/groups.py",
        find='await delete(request, request.match_info["id"], await _preconditions(request))',
        replace='await delete(request, request.match_info["id"], None)',
        tests=("tests/gateway/test_group_etags.py",),
        why="DELETE /Groups/{id} ignores If-Match",
    ),
    Mutant(
        name="if-none-match-never-matches",
        path="gateway/handlers/common.py",
        find='return "*" in tags or any(parse_etag(t) == version for t in tags)',
        replace="return False",
        tests=("tests/gateway/test_protocol.py", "tests/gateway/test_group_etags.py"),
        why="If-None-Match never answers 304 or 412",
    ),
    Mutant(
        name="group-get-304-ignored",
        path="gateway/handlers/groups.py",
        find="    if none_match(request, group.meta.version):",
        replace="    if False:",
        tests=("tests/gateway/test_group_etags.py",),
        why="GET /Groups/{id} with a matching If-None-Match sends the body again",
    ),
    # --- excludedAttributes=members fetches no members (SPEC §3) -------------
    Mutant(
        name="members-always-fetched",
        path="gateway/handlers/groups.py",
        find="return pb.MemberInclusion(include=wanted, max_members=limit)",
        replace="return pb.MemberInclusion(include=True, max_members=limit)",
        tests=("tests/gateway/test_member_fetching.py",),
        why="excludedAttributes=members still loads every member",
    ),
    # --- Pages of any size answer whole (SPEC §8, Okta's group import) ------
    Mutant(
        name="page-in-one-message",
        path="identity_svc/servicers/provisioning.py",
        find="if batch and size + message.ByteSize() > CHUNK_BYTES:",
        replace="if False:",
        tests=("tests/gateway/test_big_pages.py",),
        why="a list page over gRPC's 4 MiB message limit answers 500",
    ),
    # --- Okta's import walk: every user once, at the same cost at any depth --
    Mutant(
        name="walk-continues-an-earlier-position",
        path="identity_svc/db/walks.py",
        find="  AND w.start_index = $3\n",
        replace="  AND w.start_index <= $3\n",
        tests=("tests/identity_svc/test_list_walks.py",),
        why="a jump to a startIndex continues where some earlier page of the walk stopped",
    ),
    Mutant(
        name="walk-always-by-offset",
        path="identity_svc/db/listing.py",
        find="if position is not None:  # the next page of a walk: no OFFSET",
        replace="if position is not None and not position:",
        tests=("tests/gateway/test_import_walk.py",),
        why="Okta's import skips users while Entra deletes others, and costs O(N) a page",
    ),
    Mutant(
        name="walk-key-ignores-filter",
        path="identity_svc/db/walks.py",
        find='    if request.HasField("filter"):\n        digest.update(',
        replace="    if False:\n        digest.update(",
        tests=("tests/identity_svc/test_list_walks.py",),
        why="a filtered walk's position is used by an unfiltered one",
    ),
    # --- RFC 9865 cursors: signed, dated, bound to their org, query and count
    Mutant(
        name="cursor-never-expires",
        path="gateway/cursors.py",
        find="if self._clock() - issued > self._timeout:",
        replace="if False:",
        tests=("tests/gateway/test_cursors.py",),
        why="cursorTimeout is advertised but a cursor is honoured forever",
    ),
    Mutant(
        name="cursor-unsigned",
        path="gateway/cursors.py",
        find="if len(body) < _HEAD.size or not hmac.compare_digest(tag, self._tag(query, body)):",
        replace="if len(body) < _HEAD.size:",
        tests=("tests/gateway/test_cursors.py",),
        why="a client forges cursors, or pushes back their issue time past cursorTimeout",
    ),
    Mutant(
        name="cursor-not-bound-to-its-org",
        path="gateway/cursors.py",
        find="            self.org_id.encode(),\n",
        replace='            b"",\n',
        tests=("tests/gateway/test_cursors.py",),
        why="another org's cursor is a valid position, not answered like a made-up one",
    ),
    Mutant(
        name="cursor-count-unchecked",
        path="gateway/cursors.py",
        find="if count != issued_count:",
        replace="if False:",
        tests=("tests/gateway/test_cursors.py",),
        why="a cursor page with another count than its first page's is not invalidCount",
    ),
    Mutant(
        name="cursor-count-capped",
        path="gateway/handlers/common.py",
        find="    if count > max_page_size:\n        raise errors.InvalidCount(",
        replace="    if False:\n        raise errors.InvalidCount(",
        tests=("tests/gateway/test_cursors.py",),
        why="a cursor count above maxPageSize is served instead of invalidCount",
    ),
    # --- totalResults from counters, right after every write (SPEC §3, §8) --
    Mutant(
        name="user-count-ignores-deletes",
        path="identity_svc/migrations/0004_list_walks.sql",
        find="CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users",
        replace="CREATE TRIGGER users_counted AFTER INSERT ON users",
        tests=("tests/gateway/test_list_totals.py",),
        why="totalResults keeps counting deleted users",
    ),
    # --- Values as clients see them (issue 9) -------------------------------
    Mutant(
        name="timestamps-stored-at-microseconds",
        path="identity_svc/migrations/0005_millisecond_timestamps.sql",
        find="    NEW.created := date_trunc('milliseconds', NEW.created);\n",
        replace="",
        tests=("tests/gateway/test_datetime_filters.py",),
        why="meta.created le the value returned misses the resource it came from",
    ),
    Mutant(
        name="indexed-values-counted-in-characters-only",
        path="identity_svc/domain/limits.py",
        find="    if len(value.encode()) > MAX_INDEXED_BYTES:",
        replace="    if False:",
        tests=("tests/gateway/test_multibyte_values.py",),
        why="1,000 CJK characters reach the index and fail as an unnamed value",
    ),
    Mutant(
        name="every-filtered-replace-adds",
        path="identity_svc/domain/user_patch.py",
        find="        creates = creates and _is_entra_work_email(target)\n",
        replace="        creates = creates and True\n",
        tests=("tests/gateway/test_patch_targets.py",),
        why="a replace through a filter that matches nothing adds a value instead of noTarget",
    ),
    # --- The restore window: deleted members come back, once (issue 10) -----
    Mutant(
        name="delete-keeps-no-copy",
        path="identity_svc/services/users.py",
        find="        await DeletedUsersRepository(uow.conn).archive(",
        replace="        0 and await DeletedUsersRepository(uow.conn).archive(",
        tests=("tests/identity_svc/test_restore.py",),
        why="a SCIM DELETE cannot be undone: the member is gone for good",
    ),
    Mutant(
        name="restore-forgets-the-groups",
        path="identity_svc/services/deleted_users.py",
        find="        await _rejoin(uow, user, groups)\n",
        replace="",
        tests=("tests/gateway/test_restore_window.py", "tests/identity_svc/test_restore.py"),
        why="a restored member is in none of its groups and loses their role",
    ),
    Mutant(
        name="purge-waits-for-held-copies",
        path="identity_svc/db/deleted_users.py",
        find="    FOR UPDATE SKIP LOCKED\n",
        replace="    FOR UPDATE\n",
        tests=("tests/identity_svc/test_purge.py",),
        why="replicas purging at once queue behind each other and behind restores",
    ),
    # --- Failures are mapped, once per boundary (SPEC §7) --------------------
    Mutant(
        name="deadline-not-503",
        path="gateway/identity_client.py",
        find="    grpc.StatusCode.DEADLINE_EXCEEDED,\n",
        replace="",
        tests=("tests/gateway/test_resilience.py",),
        why="a slow identity service answers 500 instead of 503 + Retry-After",
    ),
    Mutant(
        name="unavailable-not-503",
        path="gateway/identity_client.py",
        find="    grpc.StatusCode.UNAVAILABLE,\n",
        replace="",
        tests=("tests/gateway/test_resilience.py",),
        why="an identity service that is down answers 500 instead of 503 + Retry-After",
    ),
    Mutant(
        name="database-gone-not-unavailable",
        path="identity_svc/interceptors.py",
        find="    OSError,\n",
        replace="",
        tests=("tests/gateway/test_resilience.py",),
        why="Postgres going away mid-write answers 500 instead of 503",
    ),
    Mutant(
        name="program-limit-internal",
        path="identity_svc/interceptors.py",
        find="        if isinstance(exc, _TOO_LARGE):",
        replace="        if False:",
        tests=("tests/gateway/test_multibyte_values.py",),
        why="a value Postgres cannot index answers 500 instead of 400 invalidValue",
    ),
    Mutant(
        name="uniqueness-not-409",
        path="identity_svc/interceptors.py",
        find="errors.AlreadyExists: (grpc.StatusCode.ALREADY_EXISTS, Reason.UNIQUENESS),",
        replace="errors.AlreadyExists: (grpc.StatusCode.ALREADY_EXISTS, Reason.INVALID_VALUE),",
        tests=("tests/gateway/test_protocol.py",),
        why="a duplicate userName answers 400 instead of 409 uniqueness",
    ),
    # --- Every member carries a name; Okta's Spec Test reads the first (SPEC §5)
    Mutant(
        name="org-admin-unnamed",
        path="identity_svc/services/orgs.py",
        find="    return name.applied_to(document) if name is not None else document\n",
        replace="    return document\n",
        tests=("tests/identity_svc/test_member_names.py", "tests/gateway/test_okta_runscope.py"),
        why="org create drops the admin's name: Okta's Spec Test fails on the first user",
    ),
    Mutant(
        name="set-name-for-anyone",
        path="identity_svc/services/users.py",
        find="        await require_org_admin(uow.conn, org_id, context.actor)\n",
        replace="",
        tests=("tests/identity_svc/test_member_names.py", "tests/identityctl/test_names_cli.py"),
        why="any actor may rename a member, not only the operator or an Org Admin",
    ),
    Mutant(
        name="blank-member-names",
        path="identity_svc/domain/member_name.py",
        find="            if not value.strip():",
        replace="            if not value:",
        tests=("tests/identity_svc/test_member_names.py",),
        why="a whitespace-only givenName or familyName is stored as the member's name",
    ),
    # --- The org admin console: Org Admins of their own org only (SPEC §11) --
    Mutant(
        name="console-link-reusable",
        path="identity_svc/db/console_links.py",
        find="AND token_sha256 = $2 AND used IS NULL AND expires",
        replace="AND token_sha256 = $2 AND expires",
        tests=("tests/identity_svc/test_console_links.py", "tests/console/test_security.py"),
        why="a one-time console sign-in link signs in again and again",
    ),
    Mutant(
        name="console-csrf-unchecked",
        path="console/sessions.py",
        find="    return hmac.compare_digest(sent.encode(), session.csrf.encode())",
        replace="    return True",
        tests=("tests/console/test_security.py",),
        why="a form posted from another site changes the org for a signed-in admin",
    ),
    Mutant(
        name="console-proxy-trusts-any-peer",
        path="console/sessions.py",
        find=(
            "    if not any(peer in network for network in settings.trusted_proxies):\n"
            "        return False\n"
        ),
        replace="",
        tests=("tests/console/test_security.py",),
        why="X-Forwarded-Email counts from any address that has the secret",
    ),
    Mutant(
        name="console-gate-asks-as-operator",
        path="console/auth.py",
        find="ask = pb.ListRoleRulesRequest(context=as_admin(session.email), org_id=org)",
        replace=(
            "ask = pb.ListRoleRulesRequest("
            "context=pb.RequestContext(actor=pb.Actor(operator=True)), org_id=org)"
        ),
        tests=("tests/console/test_security.py",),
        why="the console checks nobody: any signed-in email sees every org",
    ),
)
