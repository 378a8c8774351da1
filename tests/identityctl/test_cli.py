"""identityctl against the real identity service on a real Postgres.

The server runs in the test session's event loop and the CLI uses a
synchronous channel, so every CLI call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

import asyncpg
import pytest

from identityctl.cli import run

ADMIN = "admin@example.test"


class IdentityServer(Protocol):
    address: str
    operator_token: str


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


async def cli(env: Mapping[str, str], *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, list(argv), env, out, err)
    return Result(code, out.getvalue(), err.getvalue())


def new_org() -> str:
    return f"acme-{uuid4().hex[:8]}"


def split_token(token: str) -> tuple[str, str, str]:
    """Split `<prefix>_<key_id>_<secret>`; the secret may itself contain underscores."""
    prefix, key_id, secret = token.split("_", 2)
    return prefix, key_id, secret


# As the README's quick start creates an org: its admin has a name (SPEC §5).
ADMIN_NAME = ("--admin-given-name", "Ada", "--admin-family-name", "Admin")


async def create_org(env: Mapping[str, str], org: str, *extra: str) -> Result:
    result = await cli(
        env, "org", "create", org, "--name", "Acme", "--admin-email", ADMIN, *ADMIN_NAME, *extra
    )
    assert result.code == 0, result.err
    return result


async def test_org_create_json(env):
    org = new_org()
    result = await create_org(env, org, "--json")
    data = result.json()
    assert data["id"] == org
    assert data["name"] == "Acme"
    assert data["sso_configured"] is False
    assert data["scim_url"] == f"https://scim.example.test/scim/v2/{org}"
    assert data["created"].endswith("Z")
    assert result.err == ""


async def test_org_create_text_and_show(env):
    org = new_org()
    result = await create_org(env, org, "--sso-configured")
    assert f"https://scim.example.test/scim/v2/{org}" in result.out
    shown = await cli(env, "org", "show", org, "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["sso_configured"] is True
    # --json may also precede the command words.
    assert (await cli(env, "--json", "org", "show", org)).json()["id"] == org


async def test_org_create_duplicate_is_refused(env):
    org = new_org()
    await create_org(env, org)
    again = await cli(env, "org", "create", org, "--name", "X", "--admin-email", ADMIN, "--json")
    assert again.code == 1
    assert again.out == ""
    assert again.err.startswith("error: ")
    assert "Traceback" not in again.err


async def test_org_show_unknown_org(env):
    result = await cli(env, "org", "show", new_org())
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert len(result.err.strip().splitlines()) == 1


async def test_org_sso_toggles(env):
    org = new_org()
    await create_org(env, org)
    on = await cli(env, "org", "sso", org, "--configured", "--json")
    assert on.code == 0, on.err
    assert on.json()["sso_configured"] is True
    off = await cli(env, "org", "sso", org, "--not-configured", "--json")
    assert off.json()["sso_configured"] is False


async def test_member_role_set_and_clear(env):
    org = new_org()
    await create_org(env, org)
    # The admin gets a lower direct role, then has it cleared.
    set_ = await cli(env, "member", "role", org, ADMIN, "observer", "--json")
    assert set_.code == 0, set_.err
    assert set_.json()["direct_role"] == "OBSERVER"
    cleared = await cli(env, "member", "role", org, ADMIN, "--clear", "--json")
    assert cleared.code == 0, cleared.err
    assert cleared.json()["direct_role"] is None
    unknown = await cli(env, "member", "role", org, "nobody@example.test", "OBSERVER")
    assert unknown.code == 1
    assert unknown.err.startswith("error: ")


async def test_key_create_needs_sso(env):
    org = new_org()
    await create_org(env, org)
    result = await cli(env, "key", "create", org, "--name", "Okta", "--actor", ADMIN, "--json")
    assert result.code == 1
    assert result.out == ""
    assert "sso" in result.err.lower()
    assert result.err.startswith("error: ")
    assert len(result.err.strip().splitlines()) == 1


async def test_key_create_needs_an_org_admin(env):
    org = new_org()
    await create_org(env, org, "--sso-configured")
    stranger = "stranger@example.test"
    result = await cli(env, "key", "create", org, "--name", "Okta", "--actor", stranger)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: ")
    listed = await cli(env, "key", "list", org, "--actor", stranger, "--json")
    assert listed.code == 1
    assert listed.out == ""


async def test_key_lifecycle(env, db_pool: asyncpg.Pool):
    org = new_org()
    await create_org(env, org)
    refused = await cli(env, "key", "create", org, "--name", "Okta SCIM key", "--actor", ADMIN)
    assert refused.code != 0
    assert (await cli(env, "org", "sso", org, "--configured")).code == 0

    created = await cli(env, "key", "create", org, "--name", "Okta SCIM key", "--actor", ADMIN)
    assert created.code == 0, created.err
    token = next(
        line.split()[-1] for line in created.out.splitlines() if line.strip().startswith("token:")
    )
    _, key_id, secret = split_token(token)
    assert created.out.count(token) == 1
    assert "will not be shown again" in created.out
    assert key_id in created.out
    assert f"https://scim.example.test/scim/v2/{org}" in created.out

    await assert_only_hash_stored(db_pool, org, key_id, secret)
    await assert_listing_hides_secrets(env, org, [key_id], [token, secret])


async def test_key_create_json_and_revoke(env, db_pool: asyncpg.Pool):
    org = new_org()
    await create_org(env, org, "--sso-configured")
    created = await cli(env, "key", "create", org, "--name", "Entra", "--actor", ADMIN, "--json")
    assert created.code == 0, created.err
    data = created.json()
    assert {"id", "name", "token", "scim_url", "created"} <= data.keys()
    assert data["name"] == "Entra"
    assert data["scim_url"] == f"https://scim.example.test/scim/v2/{org}"
    assert data["revoked"] is None
    prefix, key_id, secret = split_token(data["token"])
    assert key_id == data["id"]
    assert "_" not in prefix
    assert len(secret) >= 43  # >= 256 bits, base64/hex encoded

    revoked = await cli(env, "key", "revoke", org, key_id, "--actor", ADMIN, "--json")
    assert revoked.code == 0, revoked.err
    assert revoked.json()["revoked"]

    listed = await cli(env, "key", "list", org, "--actor", ADMIN, "--json")
    (row,) = listed.json()
    assert row["id"] == key_id
    assert row["revoked"] is not None
    text = await cli(env, "key", "list", org, "--actor", ADMIN)
    (line,) = (ln for ln in text.out.splitlines() if ln.startswith(key_id))
    assert line.split()[-1] == row["revoked"]
    await assert_listing_hides_secrets(env, org, [key_id], [data["token"], secret])


async def test_key_revoke_unknown_key(env):
    org = new_org()
    await create_org(env, org, "--sso-configured")
    result = await cli(env, "key", "revoke", org, "nosuchkey", "--actor", ADMIN)
    assert result.code == 1
    assert result.err.startswith("error: ")


async def assert_only_hash_stored(pool: asyncpg.Pool, org: str, key_id: str, secret: str) -> None:
    row = await pool.fetchrow("SELECT * FROM scim_keys WHERE org_id = $1 AND id = $2", org, key_id)
    assert row is not None
    assert bytes(row["secret_sha256"]) == hashlib.sha256(secret.encode()).digest()
    for value in row.values():
        assert secret not in str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            assert secret.encode() not in bytes(value)


async def assert_listing_hides_secrets(
    env: Mapping[str, str], org: str, key_ids: list[str], secrets: list[str]
) -> None:
    text = await cli(env, "key", "list", org, "--actor", ADMIN)
    as_json = await cli(env, "key", "list", "--json", org, "--actor", ADMIN)
    assert text.code == 0, text.err
    assert as_json.code == 0, as_json.err
    assert [key["id"] for key in as_json.json()] == key_ids
    for header in ("ID", "NAME", "CREATED_BY", "CREATED", "LAST_USED", "REVOKED"):
        assert header in text.out
    for secret in secrets:
        assert secret not in text.out
        assert secret not in as_json.out


async def test_missing_operator_token_exits_2(env):
    del env["IDENTITY_OPERATOR_TOKEN"]
    result = await cli(env, "org", "show", "acme", "--json")
    assert result.code == 2
    assert result.out == ""
    assert "IDENTITY_OPERATOR_TOKEN" in result.err


async def test_operator_token_from_files(env, identity_server: IdentityServer, tmp_path: Path):
    org = new_org()
    await create_org(env, org)
    token = env.pop("IDENTITY_OPERATOR_TOKEN")
    # `make run` writes a dev token to ${DATA_DIR}/operator-token.
    (tmp_path / "operator-token").write_text(token + "\n")
    assert (await cli(env, "org", "show", org)).code == 0
    token_file = tmp_path / "explicit-token"
    token_file.write_text(identity_server.operator_token)
    env["IDENTITY_OPERATOR_TOKEN_FILE"] = str(token_file)
    assert (await cli(env, "org", "show", org)).code == 0
    env["IDENTITY_OPERATOR_TOKEN_FILE"] = str(tmp_path / "missing")
    missing = await cli(env, "org", "show", org)
    assert missing.code == 2
    assert "IDENTITY_OPERATOR_TOKEN_FILE" in missing.err


async def test_wrong_operator_token_exits_2(env):
    env["IDENTITY_OPERATOR_TOKEN"] = "not-the-operator-token"
    result = await cli(env, "org", "show", new_org(), "--json")
    assert result.code == 2
    assert result.out == ""
    assert "operator token" in result.err


async def test_unreachable_service_exits_3(env):
    env["IDENTITY_ADDR"] = "127.0.0.1:1"
    result = await cli(env, "org", "show", new_org(), "--json")
    assert result.code == 3
    assert result.out == ""
    assert result.err == "error: identity service unreachable at 127.0.0.1:1\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["org", "sso", "acme"],
        ["org", "sso", "acme", "--configured", "--not-configured"],
        ["member", "role", "acme", "bob"],
        ["member", "role", "acme", "bob", "NOT_A_ROLE"],
        ["key", "create", "acme", "--name", "k"],
        [],
    ],
)
async def test_usage_errors_exit_2(env, argv):
    result = await cli(env, *argv)
    assert result.code == 2
    assert result.out == ""
    assert "usage:" in result.err
