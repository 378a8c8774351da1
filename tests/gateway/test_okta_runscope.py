"""Okta's published Runscope tests, replayed on an org onboarded as the README says.

Okta's "SCIM 2.0 Spec Test" starts with GET /Users?count=1&startIndex=1 and
requires name.givenName, name.familyName, emails[0].value and active on that
first user: on a fresh org, the Org Admin `org create` made (SPEC §5). So the
org here is made by running the README's quick-start commands themselves
through identityctl, against the real identity service: if the README stops
naming the admin, these tests fail. Fixtures: tests/fixtures/okta-runscope/,
in the format of replay.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import shlex
import uuid
from pathlib import Path
from typing import Any

import pytest

from identityctl.cli import run
from tests.conftest import IdentityServer
from tests.gateway.conftest import PUBLIC_URL, Tenant
from tests.gateway.replay import ReplayMismatch, load, replay

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "okta-runscope").glob("*.json"))
SPEC_TEST = ROOT / "tests" / "fixtures" / "okta-runscope" / "okta-scim-20-spec-test.json"
README_ORG = "acme"  # the org slug the README's commands use
NAME_FLAGS = ("--admin-given-name", "--admin-family-name", "--admin-display-name")


def readme_commands() -> list[list[str]]:
    """The identityctl arguments of the first shell block in README's "Connecting Okta"."""
    section = (ROOT / "README.md").read_text().split("## Connecting Okta", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [words[1:] for words in lines if words and words[0].endswith("/identityctl")]


def without_name_flags(argv: list[str]) -> list[str]:
    """`argv` minus the admin name flags and their values."""
    kept: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in NAME_FLAGS:
            skip = True
        else:
            kept.append(word)
    return kept


def cli_env(identity_server: IdentityServer, data_dir: Path) -> dict[str, str]:
    return {
        "IDENTITY_ADDR": identity_server.address,
        "IDENTITY_OPERATOR_TOKEN": identity_server.operator_token,
        "SCIM_PUBLIC_URL": PUBLIC_URL,
        "DATA_DIR": str(data_dir),
    }


async def identityctl(env: dict[str, str], argv: list[str]) -> tuple[Any, str]:
    # The server runs in this event loop and the CLI's channel is synchronous.
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, [*argv, "--json"], env, out, err)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue()), err.getvalue()


async def readme_onboarding(
    identity_server: IdentityServer, data_dir: Path, *, named: bool = True
) -> tuple[Tenant, str]:
    """A fresh org made by the README's commands; the tenant and org create's stderr."""
    env = cli_env(identity_server, data_dir)
    org = f"acme-{uuid.uuid4().hex[:8]}"
    create, key_create = readme_commands()
    assert create[:2] == ["org", "create"], create
    assert key_create[:2] == ["key", "create"], key_create
    create = create if named else without_name_flags(create)
    _, warning = await identityctl(env, [org if w == README_ORG else w for w in create])
    key, _ = await identityctl(env, [org if w == README_ORG else w for w in key_create])
    tenant = Tenant(org, key["token"], key["id"])
    assert key["scim_url"] == tenant.public_base
    return tenant, warning


@pytest.fixture
async def readme_tenant(identity_server: IdentityServer, tmp_path: Path) -> Tenant:
    tenant, warning = await readme_onboarding(identity_server, tmp_path)
    assert warning == ""  # the README names the admin: no Spec Test warning
    return tenant


def test_the_readme_names_the_admin():
    create = readme_commands()[0]
    assert "--admin-given-name" in create
    assert "--admin-family-name" in create
    assert "--sso-configured" in create


def test_every_runscope_test_has_its_fixture():
    sources = {load(path)["source"].split(" ")[1] for path in FIXTURES}
    published = "packages/@okta/vuepress-site/.vuepress/public/standards/SCIM/SCIMFiles/"
    assert sources == {
        published + "Okta-SCIM-20-SPEC-Test.json",
        published + "Okta-SCIM-20-CRUD-Test.json",
    }


async def test_the_first_user_of_a_fresh_org_has_what_okta_reads(http, readme_tenant):
    async with http.get(
        f"{readme_tenant.base}/Users?count=1&startIndex=1", headers=readme_tenant.headers()
    ) as response:
        assert response.status == 200
        body = await response.json(content_type="application/scim+json")
    assert body["totalResults"] == 1
    (admin,) = body["Resources"]
    assert admin["userName"] == "admin@acme.example"
    assert admin["name"] == {
        "givenName": "Avery",
        "familyName": "Admin",
        "formatted": "Avery Admin",
    }
    assert admin["displayName"] == "Avery Admin"
    assert admin["emails"] == [{"value": "admin@acme.example", "type": "work", "primary": True}]
    assert admin["active"] is True


@pytest.mark.parametrize("fixture", FIXTURES, ids=[path.name for path in FIXTURES])
async def test_runscope_replay(http, readme_tenant, fixture):
    await replay(http, readme_tenant, f"okta-runscope/{fixture.name}", load(fixture))


async def test_the_spec_test_fails_on_an_org_whose_admin_has_no_name(
    http, identity_server, tmp_path
):
    tenant, warning = await readme_onboarding(identity_server, tmp_path, named=False)
    assert "Spec Test" in warning
    spec = load(SPEC_TEST)
    with pytest.raises(ReplayMismatch) as caught:
        await replay(http, tenant, "okta-scim-20-spec-test.json", spec)
    assert "step 1 " in str(caught.value)
    assert "$.body.Resources[0].name: expected" in str(caught.value)


async def test_the_command_the_warning_prints_makes_the_spec_test_pass(
    http, identity_server, tmp_path
):
    tenant, warning = await readme_onboarding(identity_server, tmp_path, named=False)
    (command,) = [line.strip() for line in warning.splitlines() if "member set-name" in line]
    words = shlex.split(command.replace("GIVEN", "Avery").replace("FAMILY", "Admin"))
    assert words[0] == "identityctl"
    renamed, _ = await identityctl(cli_env(identity_server, tmp_path), words[1:])
    assert renamed["name"]["givenName"] == "Avery"
    spec = load(SPEC_TEST)
    await replay(http, tenant, "okta-scim-20-spec-test.json", spec)
