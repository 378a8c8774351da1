"""identityctl deprovisioning show|set|release and org show, against the real service."""

from __future__ import annotations

import grpc
import pytest

from identityctl.durations import duration_seconds
from tests.identity_svc.member_support import new_user, set_active
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org


async def test_a_tripped_brake_shows_in_org_show_and_release_lifts_it(env, prov):
    org = new_org()
    await create_org(env, org)
    set_ = await cli(
        env, "deprovisioning", "set", org, "--floor", "1", "--share", "0", "--window", "30m",
        "--actor", ADMIN, "--json",
    )  # fmt: skip
    assert set_.code == 0, set_.err
    assert (set_.json()["floor"], set_.json()["window_seconds"]) == (1, 1800)

    first, second = [await new_user(prov, org, f"u{n}@example.test") for n in range(2)]
    await set_active(prov, org, first, False)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await set_active(prov, org, second, False)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED

    shown = await cli(env, "org", "show", org)
    assert "deprovisioning: TRIPPED at" in shown.out
    assert "in window:    1" in shown.out
    data = (await cli(env, "org", "show", org, "--json")).json()
    assert data["deprovisioning"]["trip"] == {
        "in_window": 1, "requested": 1, "budget": 1, "window_seconds": 1800,
    }  # fmt: skip

    released = await cli(env, "deprovisioning", "release", org, "--for", "2h", "--actor", ADMIN)
    assert released.code == 0, released.err
    assert "released, off until" in released.out
    await set_active(prov, org, second, False)  # the IdP's retry goes through


async def test_release_by_someone_not_an_org_admin_is_refused(env):
    org = new_org()
    await create_org(env, org)
    refused = await cli(env, "deprovisioning", "release", org, "--actor", "eve@example.test")
    assert refused.code == 1
    assert "not an Org Admin" in refused.err


def test_durations_read_as_seconds():
    assert [duration_seconds(t) for t in ("90s", "15m", "2h", "1d")] == [90, 900, 7200, 86400]
    for bad in ("0m", "15", "m", "1w", "-5m"):
        with pytest.raises(Exception, match="not a duration"):
            duration_seconds(bad)
