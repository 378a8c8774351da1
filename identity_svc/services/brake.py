"""The deprovisioning brake's use cases (README "When the IdP goes wrong").

Writes that deprovision call `admit_deprovisions` as their last step, inside
their own transaction: it holds the org's brake row, counts the window and
either records the deprovisions or raises DeprovisioningPaused, which rolls
the whole write back. `run_guarded_write` then records the trip in a
transaction of its own, so a refused request changes nothing but the brake.
Settings and release are for the operator or an Org Admin of the org.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from identity_svc.db.brake import BrakesRepository
from identity_svc.db.orgs import OrgsRepository
from identity_svc.domain.brake import RETRY_AFTER_SECONDS, BrakeSettings, BrakeState, admit
from identity_svc.domain.errors import DeprovisioningPaused, InvalidValue
from identity_svc.domain.models import Actor, WriteContext
from identity_svc.services.roles import require_org_admin
from identity_svc.services.transactions import UnitOfWork, run_read, run_write

if TYPE_CHECKING:
    import asyncpg

    from identity_svc.db.pool import Connection

T = TypeVar("T")

_RELEASE_HINT = (
    "an Org Admin must check the IdP's assignments and rules, then release it:"
    " identityctl deprovisioning release {org} --actor EMAIL"
)

MAX_WINDOW = timedelta(days=1)

# BrakeSettings fields to change, by name (enabled, floor, share_percent, window).
BrakeChanges = dict[str, Any]


@dataclass(frozen=True)
class BrakeStatus:
    """An org's brake as an operator sees it."""

    state: BrakeState
    now: datetime
    in_window: int
    budget: int
    active_members: int


def _minutes(window: timedelta) -> str:
    return f"{window.total_seconds() / 60:g} min"


def _paused(org_id: str, state: BrakeState) -> DeprovisioningPaused:
    since = state.tripped_at.isoformat() if state.tripped_at else "now"
    return DeprovisioningPaused(
        f"deprovisioning is paused for org {org_id} since {since}: the brake tripped on a"
        f" burst of deactivations or deletions; {_RELEASE_HINT.format(org=org_id)}",
        RETRY_AFTER_SECONDS,
    )


async def _budget(brakes: BrakesRepository, org_id: str, state: BrakeState, now: datetime) -> int:
    """This window's budget: the active members are counted once per window."""
    cached = state.cached_budget(now)
    if cached is not None:
        return cached
    budget = state.settings.budget(await brakes.active_members(org_id))
    await brakes.cache_budget(org_id, budget, now + state.settings.window)
    return budget


async def admit_deprovisions(
    uow: UnitOfWork, org_id: str, user_ids: Sequence[str], kind: str
) -> None:
    """Count these deprovisions against the org's budget, or refuse them all."""
    if not user_ids:
        return
    brakes = BrakesRepository(uow.conn)
    state, now = await brakes.lock(org_id)
    if state.off(now):
        return
    if state.tripped_at is not None:
        raise _paused(org_id, state)
    in_window = await brakes.in_window(org_id, state.window_start(now))
    requested = len(user_ids)
    floor = state.settings.floor
    budget = floor if in_window + requested <= floor else await _budget(brakes, org_id, state, now)
    admission = admit(in_window, requested, budget, state.allowance)
    if admission.refused is not None:
        figures = {
            **admission.refused,
            "window_seconds": int(state.settings.window.total_seconds()),
        }
        raise DeprovisioningPaused(
            f"deprovisioning is paused for org {org_id}: {in_window + requested} deactivations"
            f" or deletions within {_minutes(state.settings.window)} would exceed its budget"
            f" of {budget}; nothing was changed; {_RELEASE_HINT.format(org=org_id)}",
            RETRY_AFTER_SECONDS,
            trip=figures,
        )
    await brakes.record(org_id, user_ids[: admission.counted], kind)
    if admission.from_allowance:
        await brakes.consume_allowance(org_id, admission.from_allowance)
    await brakes.forget_before(org_id, now - state.settings.window)


async def run_guarded_write(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    work: Callable[[UnitOfWork], Awaitable[T]],
) -> T:
    """run_write for writes that may deprovision.

    A refusal that trips the brake is recorded, with its event, once the
    refused write has rolled back.
    """
    try:
        return await run_write(pool, context, work)
    except DeprovisioningPaused as paused:
        if paused.trip is not None:
            figures = paused.trip

            async def trip(uow: UnitOfWork) -> None:
                if await BrakesRepository(uow.conn).trip(org_id, figures):
                    uow.record(org_id, "org.deprovisioning_paused", "Org", org_id, figures)

            await run_write(pool, context, trip)
        raise


async def brake_status(pool: asyncpg.Pool, org_id: str, actor: Actor) -> BrakeStatus:
    async def work(conn: Connection) -> BrakeStatus:
        await OrgsRepository(conn).get(org_id)  # NotFound for an unknown org
        await require_org_admin(conn, org_id, actor)
        brakes = BrakesRepository(conn)
        state, now = await brakes.get(org_id)
        active = await brakes.active_members(org_id)
        in_window = await brakes.in_window(org_id, state.window_start(now))
        cached = state.cached_budget(now)
        budget = state.settings.budget(active) if cached is None else cached
        return BrakeStatus(state, now, in_window, budget, active)

    return await run_read(pool, work)


def _check(settings: BrakeSettings) -> None:
    if settings.floor < 0:
        raise InvalidValue("the floor is a number of members, 0 or more")
    if not 0 <= settings.share_percent <= 100:
        raise InvalidValue("the share is a percentage from 0 to 100")
    if not timedelta(minutes=1) <= settings.window <= MAX_WINDOW:
        raise InvalidValue("the window is from 1 minute to 1 day")


async def configure_brake(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, changes: BrakeChanges
) -> BrakeStatus:
    """Change the settings `changes` names; the others keep their values."""

    async def work(uow: UnitOfWork) -> None:
        await OrgsRepository(uow.conn).get(org_id)
        await require_org_admin(uow.conn, org_id, context.actor)
        brakes = BrakesRepository(uow.conn)
        state, _ = await brakes.lock(org_id)
        settings = replace(state.settings, **changes)
        _check(settings)
        await brakes.configure(org_id, settings)
        data = {
            "enabled": settings.enabled,
            "floor": settings.floor,
            "share_percent": settings.share_percent,
            "window_seconds": int(settings.window.total_seconds()),
        }
        uow.record(org_id, "org.deprovisioning_brake_set", "Org", org_id, data)

    await run_write(pool, context, work)
    return await brake_status(pool, org_id, context.actor)


async def release_brake(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    allow: int,
    off_for: timedelta | None,
) -> BrakeStatus:
    """Lift a trip, so the IdP's retries go through.

    Counting restarts now, with `allow` more admitted beyond the budget, or
    the brake off for `off_for`.
    """
    if allow < 0:
        raise InvalidValue("--allow is a number of deprovisions, 0 or more")
    if off_for is not None and not timedelta(0) < off_for <= MAX_WINDOW * 7:
        raise InvalidValue("--for is a duration from 1 second to 7 days")

    async def work(uow: UnitOfWork) -> None:
        await OrgsRepository(uow.conn).get(org_id)
        await require_org_admin(uow.conn, org_id, context.actor)
        await BrakesRepository(uow.conn).release(org_id, allow, off_for)
        data: dict[str, object] = {"actor": str(context.actor), "allow": allow}
        if off_for is not None:
            data["off_for_seconds"] = int(off_for.total_seconds())
        uow.record(org_id, "org.deprovisioning_released", "Org", org_id, data)

    await run_write(pool, context, work)
    return await brake_status(pool, org_id, context.actor)
