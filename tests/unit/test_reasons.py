"""The error reasons: every domain error has one, every reason reaches a SCIM error or a 500.

Both tables are read as they are, and the round trip goes through the status
the identity service really builds and the gateway's real `map_rpc_errors()`.
"""

from __future__ import annotations

import grpc
import pytest

from gateway import errors as scim
from gateway.identity_client import BY_REASON, UNEXPECTED, map_rpc_errors
from identity_api.reasons import Reason
from identity_svc.domain import errors
from identity_svc.interceptors import ERRORS, _status_for


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    direct: list[type] = cls.__subclasses__()
    for subclass in direct:
        found |= {subclass} | _subclasses(subclass)
    return found


def _instance(error: type[errors.DomainError]) -> errors.DomainError:
    if error is errors.AlreadyExists:
        return errors.AlreadyExists("userName", "userName is taken")
    if error is errors.DeprovisioningPaused:
        return errors.DeprovisioningPaused("deprovisioning is paused", retry_after_seconds=7)
    return error(f"a {error.__name__}")


def _as_received(exc: errors.DomainError) -> grpc.aio.AioRpcError:
    """What the gateway's stub raises when the identity service answers with `exc`."""
    status = _status_for(exc)
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        status.details,
    )


def test_every_domain_error_has_an_entry():
    assert _subclasses(errors.DomainError) == set(ERRORS)


def test_every_reason_is_produced_by_some_domain_error():
    produced = [reason for _, reason in ERRORS.values()]
    assert set(produced) == set(Reason)
    assert all(type(reason) is Reason for reason in produced)


def test_every_reason_is_mapped_or_declared_a_bug():
    assert set(BY_REASON) | UNEXPECTED == set(Reason)
    assert not set(BY_REASON) & UNEXPECTED
    assert all(type(reason) is Reason for reason in BY_REASON)


def test_the_wire_strings_are_the_member_names():
    # The strings travel between services that may be deployed apart.
    assert [str(reason) for reason in Reason] == [reason.name for reason in Reason]


@pytest.mark.parametrize("error", list(ERRORS), ids=lambda error: error.__name__)
def test_each_domain_error_reaches_its_scim_error(error: type[errors.DomainError]):
    received = _as_received(_instance(error))
    reason = ERRORS[error][1]
    if reason in UNEXPECTED:
        with pytest.raises(grpc.aio.AioRpcError) as raised, map_rpc_errors():
            raise received
        assert raised.value is received  # left for the error middleware: a 500
        return
    with pytest.raises(scim.ScimError) as mapped, map_rpc_errors():
        raise received
    assert type(mapped.value) is BY_REASON[reason]
    assert mapped.value.detail == str(_instance(error))
    assert mapped.value.__cause__ is received


def test_the_brake_s_wait_becomes_retry_after():
    received = _as_received(_instance(errors.DeprovisioningPaused))
    with pytest.raises(scim.TooManyRequests) as mapped, map_rpc_errors():
        raise received
    assert mapped.value.headers == {"Retry-After": "7"}
